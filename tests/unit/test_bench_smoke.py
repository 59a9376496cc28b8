"""`scripts/bench --smoke` still runs every benchmark (no stack needed: fakes stand in)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_runs_every_section(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = out.read_text()
    for row in ("first complete paint", "key press to frame", "`jobtui validate`",
                "idle Docker API calls per host per minute", "observer threads"):  # fmt: skip
        assert row in table, row
