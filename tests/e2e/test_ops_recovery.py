"""A runner killed mid-batch is recovered by the next operation; one told to stop restores.

A fleet rollout of a test worker over host-a and host-b, one host per batch:
the runner is held at host-b's ``create`` (host-a done), then killed with
SIGKILL (a crash, a power loss) or sent SIGTERM (an operator's ``kill``).
Also ``jobtui ops`` and ``jobtui history`` as an operator reads them.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ops_support import Ops, poll_until, worker_service

from jobtui.backend.contract import Outcome
from jobtui.backend.coordination.identity import login_user

if TYPE_CHECKING:
    from conftest import Stack

HOSTS = ("host-a", "host-b")


def fleet(name: str, failure_action: str) -> dict[str, object]:
    config = {"parallelism": 1, "failure_action": failure_action}
    return {**worker_service(name, HOSTS, update_config=config), "image_name": "worker"}


@pytest.fixture
def ops(stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Ops]:
    action = request.param
    name = f"rt-batch-{action}"
    found = Ops(stack, tmp_path, [fleet(name, action)])
    found.name = name  # type: ignore[attr-defined]
    try:
        found.deploy(name, "v1")
        yield found
    finally:
        found.close()


def versions(ops: Ops, name: str) -> dict[str, list[str]]:
    return {h: [c.version for c in ops.running(name, h)] for h in HOSTS}


def _held_at_host_b(ops: Ops, name: str) -> tuple[str, int]:
    """A deploy to v2 whose runner waits at host-b's start: host-a is done, host-b's new
    container is created (not started), its old one still runs."""
    began = time.time()
    launcher = ops.spawn("deploy", name, "--version", "v2", "-y", hold="start@host-b")
    op = ops.wait_op(name, after=began)
    ops.wait_step(op.op_id, "start", host="host-b")
    assert versions(ops, name) == {"host-a": ["v2"], "host-b": ["v1"]}
    assert {c.version for c in ops.containers(name, "host-b")} == {"v1", "v2"}
    runner = ops.store.summary(op.op_id).runner
    assert runner is not None
    del launcher
    return op.op_id, runner.pid


@pytest.mark.parametrize("ops", ["pause", "rollback"], indirect=True)
def test_a_runner_killed_mid_batch_is_recovered_by_the_next_operation(ops: Ops) -> None:
    name: str = ops.name  # type: ignore[attr-defined]
    op_id, runner = _held_at_host_b(ops, name)
    os.kill(runner, signal.SIGKILL)
    ops.release()
    listed = ops.jobtui("ops")
    assert listed.returncode == 0
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith(op_id)]
    assert " died " in line and f"{login_user()}@{socket.gethostname()}" in line

    # The next operation on the service settles what the crash left, first.
    after = ops.jobtui("start", name, "-y")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "recovering it first" in after.stdout
    entries = ops.coordinator.journal(name, limit=20)
    closed = next(e for e in entries if e.op_id == op_id)
    assert closed.state == "recovered"
    if "pause" in name:
        # Pause: host-a keeps the version it finished; host-b is back on its old one.
        assert "host-a: finished" in closed.message and "host-b: undone" in closed.message
        assert versions(ops, name) == {"host-a": ["v2"], "host-b": ["v1"]}
    else:
        # Rollback: a rollout that could not finish everywhere is undone everywhere.
        assert "host-a: undone" in closed.message and "host-b: undone" in closed.message
        assert versions(ops, name) == {"host-a": ["v1"], "host-b": ["v1"]}
    assert ops.settled(name, HOSTS)
    leftovers = [c for h in HOSTS for c in ops.containers(name, h)
                 if c.labels.get("jobtui.rollout") == op_id and not c.running]  # fmt: skip
    assert leftovers == []  # never an orphan

    history = ops.jobtui("history", name)
    rows = history.stdout.splitlines()[1:]
    mine = [row for row in rows if "deploy" in row and "recovered" in row]
    assert len(mine) == 1, history.stdout  # one line per operation, not one per state
    assert f"{login_user()}@{socket.gethostname()}" in mine[0] and "v1 -> v2" in mine[0]


@pytest.mark.parametrize("ops", ["pause"], indirect=True)
def test_sigterm_to_a_runner_aborts_at_a_safe_point_and_restores(ops: Ops) -> None:
    name: str = ops.name  # type: ignore[attr-defined]
    op_id, runner = _held_at_host_b(ops, name)
    os.kill(runner, signal.SIGTERM)  # noted at once, acted on at the next safe point
    ops.release()
    ended = ops.wait_ended(op_id)
    assert ended.result is not None and ended.result.outcome is Outcome.ABORTED
    assert "restored" in ended.result.message and "reverted host-a" in ended.result.message
    poll_until(lambda: ops.settled(name, HOSTS), 20, f"{name} settled")
    assert versions(ops, name) == {"host-a": ["v1"], "host-b": ["v1"]}
    states = [e.state for e in ops.coordinator.journal(name, limit=10) if e.op_id == op_id]
    assert states == ["aborted", "started"]
