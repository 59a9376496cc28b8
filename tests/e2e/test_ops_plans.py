"""What was confirmed is what runs: a stale plan is refused; a rollback's plan is what it does."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ops_support import Ops, Terminal, answer, free_port, web_service

from jobtui.backend.contract import OpKind, StepStatus

if TYPE_CHECKING:
    from conftest import Stack

PORT = free_port()


@pytest.fixture
def ops(stack: Stack, tmp_path: Path) -> Iterator[Ops]:
    found = Ops(stack, tmp_path, [web_service("rt-plan", PORT)])
    try:
        found.deploy("rt-plan", "v1")
        yield found
    finally:
        found.close()


def test_two_terminals_racing_on_a_stale_plan(ops: Ops) -> None:
    first = Terminal(ops, "deploy", "rt-plan", "--version", "v2")
    try:
        shown = first.read_until("deploy rt-plan v2? [y/N]")
        assert "rt-plan@host-a: update v1 -> v2" in shown
        # Meanwhile someone else deploys v3, on another terminal.
        other = ops.jobtui("deploy", "rt-plan", "--version", "v3", "-y")
        assert other.returncode == 0, other.stdout + other.stderr
        assert answer(PORT) == "web v3"
        first.type("y\n")
        code = first.wait()
    finally:
        first.close()
    assert code == 1, first.seen
    assert "the service changed since the plan was shown" in first.seen
    assert re.search(r"current container \w+ is now \w+", first.seen)
    new_plan = first.seen[first.seen.index("the new plan:") :]
    assert "rt-plan@host-a: update v3 -> v2" in new_plan
    # Nothing of the stale plan ran: v3 still serves, one container, journalled as refused.
    assert answer(PORT) == "web v3"
    assert [c.version for c in ops.running("rt-plan")] == ["v3"]
    assert ops.settled("rt-plan")
    newest = ops.coordinator.journal("rt-plan", limit=5)[0]
    assert (newest.state, newest.to_version, newest.from_version) == ("changed", "v2", "v3")


def test_a_rollback_plan_is_what_the_rollback_does(ops: Ops) -> None:
    ops.deploy("rt-plan", "v2")  # v1 retained
    (v1,) = [c for c in ops.containers("rt-plan") if c.version == "v1" and not c.running]
    plan = ops.jobtui("plan", "rt-plan")  # the deploy plan says v1 is the inventory's…
    assert "update v2 -> v1" in plan.stdout

    began = time.time()
    back = ops.jobtui("rollback", "rt-plan", "--to", "v1", "-y")
    assert back.returncode == 0, back.stdout + back.stderr
    # …the rollback's plan says what it will do: restart the retained container.
    assert f"rt-plan@host-a: restart retained {v1.name} (v2 -> v1)" in back.stdout
    op = ops.wait_op("rt-plan", after=began)
    steps = [(e.step, e.status) for e in ops.store.summary(op.op_id).steps]
    assert ("reuse", StepStatus.OK) in steps
    assert not {s for s, _ in steps} & {"pull", "create"}
    assert [c.id for c in ops.running("rt-plan")] == [v1.id] and answer(PORT) == "web v1"

    # A version no host retains: the plan says it is recreated from the registry.
    began = time.time()
    forward = ops.jobtui("rollback", "rt-plan", "--to", "v3", "-y")
    assert forward.returncode == 0, forward.stdout + forward.stderr
    assert "rt-plan@host-a: update v1 -> v3" in forward.stdout
    op = ops.wait_op("rt-plan", after=began)
    done = [e.step for e in ops.store.summary(op.op_id).steps if e.status is StepStatus.OK]
    assert done[:2] == ["pull", "create"] and "reuse" not in done
    assert answer(PORT) == "web v3"
    kinds = [e.kind for e in ops.coordinator.journal("rt-plan", limit=4)]
    assert kinds == [OpKind.ROLLBACK] * 4  # two operations, started and done each
