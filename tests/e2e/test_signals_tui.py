"""The TUI killed during a rollout, and the TUI settling at start what a crash left.

The TUI here is a real jobtui App on the real engine in a process of its own
(``tui_driver.py`` presses its keys with Pilot); its operations run in
detached runners, so SIGHUP (the SSH session dropped), SIGTERM or SIGKILL to
it never stop a rollout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ops_support import Ops, answer, free_port, poll_until, web_service

from jobtui.backend.contract import Outcome
from jobtui.backend.deploy.failpoint import HOLD_ENV

if TYPE_CHECKING:
    from conftest import Stack

PORT = free_port()
DRIVER = str(Path(__file__).with_name("tui_driver.py"))
SETTLE = 12.0
"""Seconds after the signal (2 s stop grace, a 0.3 s healthcheck) for the service to settle."""


@pytest.fixture(scope="module")
def ops(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    found = Ops(stack, tmp_path_factory.mktemp("tui"), [web_service("rt-tui", PORT)])
    try:
        found.deploy("rt-tui", "v1")
        yield found
    finally:
        found.close()


def driver(ops: Ops, *args: str, hold: str = "") -> subprocess.Popen[str]:
    env = dict(ops.env)
    if hold:
        ops.hold_file.touch()
        env[HOLD_ENV] = f"{hold}:{ops.hold_file}"
    out = (ops.tmp_path / f"tui-{time.monotonic_ns()}.txt").open("w")
    process = subprocess.Popen(
        [sys.executable, DRIVER, str(ops.inventory.source), *args],
        stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    process.output_path = out.name  # type: ignore[attr-defined]
    ops.started.append(process)
    return process


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGKILL],
                         ids=lambda s: s.name)  # fmt: skip
def test_the_tui_killed_during_a_rollout_never_stops_it(ops: Ops, sig: signal.Signals) -> None:
    (current,) = ops.running("rt-tui")
    target = "v2" if current.version == "v1" else "v1"
    began = time.time()
    tui = driver(ops, "update", "rt-tui", target, hold="health")
    op = ops.wait_op("rt-tui", after=began)
    assert op.request.requested_by == tui.pid and op.request.fingerprint is not None
    ops.wait_step(op.op_id, "health")  # stop-first: the old container is stopped by now
    tui.send_signal(sig)
    sent = time.monotonic()
    assert tui.wait(timeout=15) != 0
    ops.release()
    ended = ops.wait_ended(op.op_id)
    assert ended.result is not None and ended.result.outcome is Outcome.DONE, ended.result
    poll_until(lambda: ops.settled("rt-tui") and answer(PORT) == f"web {target}", SETTLE,
               "rt-tui settled on the new version")  # fmt: skip
    print(f"TUI {sig.name}: settled {time.monotonic() - sent:.1f} s after the signal")


def test_the_tui_recovers_at_start_what_a_killed_runner_left(ops: Ops) -> None:
    (current,) = ops.running("rt-tui")
    target = "v2" if current.version == "v1" else "v1"
    began = time.time()
    cli = ops.spawn("deploy", "rt-tui", "--version", target, "-y", hold="start")
    op = ops.wait_op("rt-tui", after=began)
    ops.wait_step(op.op_id, "start")  # old stopped, new created: the service is down
    summary = ops.store.summary(op.op_id)
    assert summary.runner is not None
    os.kill(summary.runner.pid, signal.SIGKILL)
    ops.release()
    assert cli.wait(timeout=15) == 1
    assert ops.running("rt-tui") == [] and answer(PORT) is None

    tui = driver(ops, "recover", "rt-tui")
    assert tui.wait(timeout=90) == 0, Path(tui.output_path).read_text()  # type: ignore[attr-defined]
    said = Path(tui.output_path).read_text()  # type: ignore[attr-defined]
    assert "RECOVERED done" in said and "undone" in said
    poll_until(lambda: ops.settled("rt-tui") and answer(PORT) == f"web {current.version}", 10,
               "the old version restored")  # fmt: skip
    assert [c.id for c in ops.running("rt-tui")] == [current.id]
    closed = [e.state for e in ops.coordinator.journal("rt-tui", limit=10) if e.op_id == op.op_id]
    assert closed == ["recovered", "started"]
    assert [c for c in ops.containers("rt-tui") if c.labels.get("jobtui.rollout") == op.op_id] == []
