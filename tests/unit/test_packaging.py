"""The wheel installs one import package, `jobtui`, holding every source module."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("app", "widgets", "backend", "config")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-tree build/ keeps modules that were moved or
    # deleted since, and the wheel would ship them.
    tree = where / "src"
    for folder in SOURCE_FOLDERS:
        shutil.copytree(ROOT / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "__init__.py"):
        shutil.copy2(ROOT / name, tree / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(where), str(tree)],
        check=True,
        cwd=where,
    )  # fmt: skip
    (built,) = where.glob("jobtui-*.whl")
    return built


def _source_modules() -> set[str]:
    """``jobtui/<folder>/…py`` for every module of the source tree."""
    return {
        f"jobtui/{path.relative_to(ROOT).as_posix()}"
        for folder in SOURCE_FOLDERS
        for path in (ROOT / folder).rglob("*.py")
    }


def test_wheel_has_jobtui_as_its_only_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"jobtui"}
    assert any(n.startswith("jobtui/app/") and n.endswith(".tcss") for n in names)
    assert not any(n.startswith(("jobtui/tests/", "jobtui/scripts/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "jobtui = jobtui.app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_holds_every_source_module(wheel: Path) -> None:
    # A subpackage missing from pyproject's package list would be missing here.
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _source_modules() - names == set()


def test_wheel_ships_no_test_doubles(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for name in names:
        if name.endswith(".py"):
            text = zipfile.ZipFile(wheel).read(name).decode()
            assert "class Fixed" not in text and "class Fake" not in text, name


def test_every_module_imports_from_the_built_wheel(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    modules = sorted(
        name[: -len(".py")].replace("/", ".").removesuffix(".__init__")
        for name in zipfile.ZipFile(wheel).namelist()
        if name.endswith(".py")
    )
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(unpacked)!r}), module.__file__\n"
    )
    # -I: no PYTHONPATH, no user site, no source checkout on sys.path; the
    # unpacked wheel goes first so the editable install cannot answer.
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(unpacked)!r})\n"
         + probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
