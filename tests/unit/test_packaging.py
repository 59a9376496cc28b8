"""The wheel installs one import package, `jobtui`, with the app's stylesheets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_has_jobtui_as_its_only_top_level_name(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("jobtui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"jobtui"}
    for module in (
        "jobtui/app/cli.py",
        "jobtui/backend/status.py",
        "jobtui/config/loader.py",
        "jobtui/widgets/__init__.py",
    ):
        assert module in names
    assert any(n.startswith("jobtui/app/") and n.endswith(".tcss") for n in names)
    assert not any(n.startswith(("jobtui/tests/", "jobtui/scripts/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "jobtui = jobtui.app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
