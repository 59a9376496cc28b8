"""`scripts/bench --smoke` still runs every benchmark (no stack needed: fakes stand in).

The rows that need the real stack (rollouts, log floods, real fleets) say
"not run: no stack" here; tests/e2e/test_bench_stack_rows.py runs them on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_runs_every_section(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    # Never the demo's (or anyone's) stack: this tier runs without one.
    env = {k: v for k, v in os.environ.items() if k != "JOBTUI_STACK_DIR"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True, text=True, timeout=240, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = out.read_text()
    for row in ("first complete paint", "key press to frame", "a refresh where 5%",
                "`jobtui validate`", "idle Docker API calls per host per minute",
                "observer threads"):  # fmt: skip
        assert row in table, row
    for section in ("rollouts", "logs flood"):
        assert f"| {section} | - | - |" in table and "not run: no stack" in table, section


def test_bench_rejects_an_unknown_section() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "nosuch"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no section 'nosuch'" in done.stderr and "Traceback" not in done.stderr
