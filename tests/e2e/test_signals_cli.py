"""Signals to `jobtui deploy` at every step of a stop-first and of a start-first rollout.

The operation runs in a detached runner, so whatever the terminal gets —
SIGHUP (the SSH session dropped), SIGTERM, SIGINT without a terminal, SIGKILL —
the rollout goes on to its end. Each case deploys once, with the launching
CLI and three `jobtui attach` followers of the same operation; when the runner
reports the step, each of the four gets a different signal (rotated by step,
so every signal hits the launching CLI at some step of each order). Then,
within a few seconds of the old container's stop grace: the service answers
the new version, exactly one container runs, the lock is free and the journal
entry is closed.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ops_support import (
    Ops,
    answer,
    exit_code_of,
    free_port,
    poll_until,
    web_service,
    worker_service as worker,
)

from jobtui.backend.contract import Outcome

if TYPE_CHECKING:
    from conftest import Stack

STOP_FIRST = ("pull", "create", "stop-old", "start", "health", "register")
START_FIRST = ("pull", "create", "start", "health", "register", "stop-old")
SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGKILL)
GRACE = 2.0
"""The test services' stop_grace_period."""
SETTLE = GRACE + 10.0
"""How soon after the signals the service must be settled and answering."""

PORT = free_port()


@pytest.fixture(scope="module")
def ops(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    found = Ops(
        stack,
        tmp_path_factory.mktemp("signals"),
        [web_service("rt-sig-stop", PORT), {**worker("rt-sig-start"), "image_name": "worker"}],
    )
    try:
        found.deploy("rt-sig-stop", "v1")
        found.deploy("rt-sig-start", "v1")
        yield found
    finally:
        found.close()


def _serving(ops: Ops, service: str, version: str) -> bool:
    running = ops.running(service)
    if len(running) != 1 or running[0].version != version:
        return False
    return service != "rt-sig-stop" or answer(PORT) == f"web {version}"


CASES = [("stop-first", at, step) for at, step in enumerate(STOP_FIRST)] + [
    ("start-first", at, step) for at, step in enumerate(START_FIRST)
]


@pytest.mark.parametrize(("order", "at", "step"), CASES, ids=[f"{o}-{s}" for o, _, s in CASES])
def test_signals_to_the_cli_never_stop_the_rollout(
    ops: Ops, order: str, at: int, step: str
) -> None:
    service = "rt-sig-stop" if order == "stop-first" else "rt-sig-start"
    (current,) = ops.running(service)
    target = "v2" if current.version == "v1" else "v1"
    began = time.time()
    # The runner holds at the step (after its "running" event) until released.
    launcher = ops.spawn("deploy", service, "--version", target, "-y", hold=step)
    op = ops.wait_op(service, after=began)
    followers = [ops.spawn("attach", op.op_id) for _ in range(3)]
    for follower in followers:
        poll_until(lambda f=follower: f"{op.op_id}: " in ops.output(f), 30, "attach to start")
    ops.wait_step(op.op_id, step)
    assert ops.store.summary(op.op_id).steps[-1].step == step  # held there

    signals = SIGNALS[at % 4 :] + SIGNALS[: at % 4]
    processes = [launcher, *followers]
    for process, sig in zip(processes, signals, strict=True):
        process.send_signal(sig)
    sent = time.monotonic()
    codes = [p.wait(timeout=15) for p in processes]
    assert codes == [exit_code_of(s) for s in signals], [ops.output(p) for p in processes]
    assert ops.store.summary(op.op_id).running  # the followers are gone, the runner is not
    ops.release()
    for process, sig in zip(processes, signals, strict=True):
        if sig is not signal.SIGKILL:
            assert f"detached; operation {op.op_id} goes on" in ops.output(process)

    ended = ops.wait_ended(op.op_id)
    assert ended.result is not None and ended.result.outcome is Outcome.DONE, ended.result
    poll_until(lambda: ops.settled(service) and _serving(ops, service, target), SETTLE,
               f"{service} settled on {target}")  # fmt: skip
    took = time.monotonic() - sent
    print(f"{order} {step}: {[s.name for s in signals]} -> settled {took:.1f}s after the signals")
    assert took < SETTLE
    states = [e.state for e in ops.coordinator.journal(service, limit=10) if e.op_id == op.op_id]
    assert states == ["done", "started"]


def test_ctrl_c_on_a_terminal_can_abort_and_restore(ops: Ops, tmp_path: Path) -> None:
    from ops_support import Terminal

    (current,) = ops.running("rt-sig-stop")
    target = "v2" if current.version == "v1" else "v1"
    began = time.time()
    terminal = Terminal(ops, "deploy", "rt-sig-stop", "--version", target, "-y", hold="health")
    try:
        op = ops.wait_op("rt-sig-stop", after=began)
        ops.wait_step(op.op_id, "health")  # the old one is stopped, the new one starting
        terminal.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        terminal.read_until("[d/a]")
        terminal.type("a\n")
        terminal.read_until("aborting")
        ops.release()
        assert terminal.wait() == 1, terminal.seen
    finally:
        terminal.close()
    assert "aborting" in terminal.seen and "old container restored" in terminal.seen
    ended = ops.wait_ended(op.op_id)
    assert ended.result is not None and ended.result.outcome is Outcome.ABORTED
    poll_until(lambda: ops.settled("rt-sig-stop") and _serving(ops, "rt-sig-stop", current.version),
               SETTLE, "the old version restored")  # fmt: skip
    assert [c.id for c in ops.running("rt-sig-stop")] == [current.id]
    # Nothing of the aborted attempt is left.
    assert [c.labels.get("jobtui.rollout") for c in ops.containers("rt-sig-stop")].count(
        op.op_id
    ) == 0
