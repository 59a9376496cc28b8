"""The benchmark rows that need the real stack execute on it (one short round each).

`bench/run.py --smoke --only rollouts,flood --stack DIR` deploys its own bench
services (ports the kernel hands out) and floods its own containers; it must
measure every row and leave no container or scratch dir behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stack_support import Stack

ROOT = Path(__file__).resolve().parents[2]
BENCH_SERVICES = ("b1", "b2", "roll1", "roll2", "flood", "bigflood", "chorus")


def _labelled(stack: Stack, url: str) -> list[str]:
    done = subprocess.run(
        ["docker", "-H", url, "ps", "-a", "--format", '{{.Label "jobtui.service"}}'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [s for s in done.stdout.split() if s in BENCH_SERVICES]


def test_stack_rows_measure_and_clean_up(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    before = set(Path("/tmp").glob("jobtui-bench-*"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--only", "rollouts,flood",
         "--stack", str(stack.dir), "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = out.read_text()
    for row in ("`jobtui deploy` of one service", "phase: request to runner up",
                "2-host rolling deploy", "services on one host in one `jobtui deploy",
                "`jobtui logs -f` of a `yes` flood", "RSS growth of the follower",
                "merged follow of 10 containers"):  # fmt: skip
        line = next((ln for ln in table.splitlines() if row in ln), "")
        assert line, row
        assert "not run" not in line, line
    assert _labelled(stack, stack.host_a_url) == []
    assert _labelled(stack, stack.host_b_url) == []
    assert set(Path("/tmp").glob("jobtui-bench-*")) <= before
