"""The operation frame (lock, journal) and the batch runner, without Docker.

The frame runs against the real file-based coordinator in a temporary
directory; the batch runner gets per-host tasks that only report results,
so its ordering, canary, failure-action and abort rules are checked alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from jobtui.backend.contract import HostResult, JournalEntry, OpKind, Outcome
from jobtui.backend.coordination.factory import current_owner
from jobtui.backend.coordination.local import LocalCoordinator
from jobtui.backend.deploy.batches import FleetResult, HostTask, roll
from jobtui.backend.deploy.frame import Operation, OperationFailed, run_operation
from jobtui.backend.deploy.host import HostRollout, Replaced
from jobtui.backend.deploy.policy import RolloutControl
from jobtui.backend.deploy.recovery import HostRecovery, close_entries, unfinished
from jobtui.backend.deploy.slots import HostSlots
from jobtui.backend.docker.hosts import HostConnection
from jobtui.config.loader import parse_inventory
from jobtui.config.models import Service, UpdateConfig

INVENTORY = parse_inventory(
    """
hosts:
  h1: "unix:///nonexistent/h1.sock"
  h2: "unix:///nonexistent/h2.sock"
  h3: "unix:///nonexistent/h3.sock"
services:
  - name: worker
    image: "r/worker:v2"
    run_on_host: [h1, h2, h3]
""",
    file="inv.yml",
)
WORKER = INVENTORY.service("worker")


class Rollout(HostRollout):
    """A host executor whose revert is recorded instead of carried out on Docker."""

    reverted: list[str]

    def revert(self, done: Replaced) -> HostResult:
        self.reverted.append(self.host.name)
        return HostResult(self.host.name, False, "v2", "v1", None, "reverted")


def rollouts(service: Service, coordinator: LocalCoordinator) -> list[Rollout]:
    reverted: list[str] = []
    found = []
    for name in service.run_on_host:
        host = INVENTORY.hosts[name]
        rollout = Rollout(
            op_id="op", service=service, host=host, connection=HostConnection(host),
            coordinator=coordinator, emit=lambda *_: None, clock=lambda: 0.0,
        )  # fmt: skip
        rollout.reverted = reverted
        found.append(rollout)
    return found


def run(
    service: Service,
    coordinator: LocalCoordinator,
    failing: set[str] = frozenset(),  # type: ignore[assignment]
    control: RolloutControl | None = None,
    after: Callable[[str], None] = lambda _: None,
) -> tuple[FleetResult, list[str], list[str]]:
    order: list[str] = []
    hosts = rollouts(service, coordinator)

    def task(rollout: HostRollout) -> Replaced:
        name = rollout.host.name
        order.append(name)
        after(name)
        ok = name not in failing
        return Replaced(HostResult(name, ok, "v1", "v2", None, "" if ok else "boom"), "n", "o")

    tasks: list[tuple[HostRollout, HostTask]] = [(r, task) for r in hosts]
    slots = HostSlots(per_host=1)
    result = roll(service, tasks, control or RolloutControl(), slots)
    return result, order, hosts[0].reverted


def with_update(parallelism: int = 1, failure_action: str = "rollback") -> Service:
    config = UpdateConfig(parallelism=parallelism, failure_action=failure_action)
    return replace(WORKER, update_config=config)


def test_hosts_roll_one_batch_at_a_time(tmp_path: Path) -> None:
    result, order, reverted = run(with_update(parallelism=1), LocalCoordinator(tmp_path))
    assert result.outcome is Outcome.DONE
    assert order == ["h1", "h2", "h3"] and reverted == []
    assert [h.host for h in result.hosts] == ["h1", "h2", "h3"]


def test_a_failed_canary_stops_the_rollout(tmp_path: Path) -> None:
    result, order, reverted = run(with_update(), LocalCoordinator(tmp_path), failing={"h1"})
    assert result.outcome is Outcome.FAILED and order == ["h1"] and reverted == []
    assert result.message == "canary h1 failed: boom; untouched: h2, h3"
    assert [h.reason for h in result.hosts[1:]] == ["not attempted after the failure"] * 2


def test_a_later_failure_rolls_back_the_updated_hosts(tmp_path: Path) -> None:
    result, order, reverted = run(with_update(), LocalCoordinator(tmp_path), failing={"h2"})
    assert result.outcome is Outcome.FAILED and order == ["h1", "h2"] and reverted == ["h1"]
    assert result.message == "h2 failed: boom; rolled back h1; untouched: h3"


def test_failure_action_pause_leaves_updated_hosts_on_the_new_version(tmp_path: Path) -> None:
    service = with_update(failure_action="pause")
    result, _, reverted = run(service, LocalCoordinator(tmp_path), failing={"h2"})
    assert result.outcome is Outcome.FAILED and reverted == []
    assert "paused, left on the new version: h1" in result.message


def test_abort_between_batches_keeps_finished_hosts(tmp_path: Path) -> None:
    control = RolloutControl()

    def after(host: str) -> None:
        if host == "h1":
            control.abort()

    result, order, reverted = run(with_update(), LocalCoordinator(tmp_path), control=control,
                                  after=after)  # fmt: skip
    assert result.outcome is Outcome.ABORTED and order == ["h1"] and reverted == []
    assert result.hosts[0].ok and not result.hosts[1].ok
    assert result.message == "aborted by the operator; updated: h1; untouched: h2, h3"


def test_abort_with_restore_reverts_every_updated_host(tmp_path: Path) -> None:
    control = RolloutControl()

    def after(host: str) -> None:
        if host == "h2":
            control.abort(restore=True)

    # failure_action pause would leave h1 on the new version; a restore never does.
    service = with_update(failure_action="pause")
    result, order, reverted = run(service, LocalCoordinator(tmp_path), control=control,
                                  after=after)  # fmt: skip
    assert result.outcome is Outcome.ABORTED and order == ["h1", "h2"]
    assert sorted(reverted) == ["h1", "h2"] and control.restore
    assert result.message == "aborted by the operator and restored; reverted h1, h2; untouched: h3"
    assert result.hosts[2].reason == "aborted before this host"


def test_a_plain_abort_is_no_restore() -> None:
    control = RolloutControl()
    assert not control.restore
    control.abort()
    assert control.aborted and not control.restore
    control.abort(restore=True)
    assert control.restore


# -- the frame ------------------------------------------------------------------------


def frame(
    coordinator: LocalCoordinator, body: Callable[[Operation], FleetResult], service: str = "worker"
) -> tuple[Outcome, str, list[str]]:
    result = run_operation(
        inventory=INVENTORY, coordinator=coordinator, owner=current_owner(), clock=lambda: 1.0,
        kind=OpKind.DEPLOY, service=service, hosts=None, version="v2",
        host_rollout=lambda op, host: rollouts(op.service, coordinator)[0], body=body,
    )  # fmt: skip
    states = [e.state for e in reversed(coordinator.journal(service)) if e.op_id == result.op_id]
    return result.outcome, result.message, states


def test_started_is_journaled_before_the_body_touches_anything(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    seen: list[list[str]] = []

    def body(op: Operation) -> FleetResult:
        op.started()
        seen.append([e.state for e in coordinator.journal("worker") if e.op_id == op.id])
        assert coordinator.holder("worker") is not None  # the lock is held meanwhile
        return FleetResult(Outcome.DONE, (), "")

    assert frame(coordinator, body) == (Outcome.DONE, "", ["started", "done"])
    assert seen == [["started"]]
    assert coordinator.holder("worker") is None  # released at the end


def test_a_held_lock_refuses_and_touches_nothing(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    held = coordinator.acquire("worker", current_owner("deploy worker v1 -> v2"))
    ran: list[bool] = []

    def body(op: Operation) -> FleetResult:
        ran.append(True)
        return FleetResult(Outcome.DONE, (), "")

    try:
        outcome, message, states = frame(coordinator, body)
    finally:
        held.release()
    assert outcome is Outcome.LOCKED and ran == [] and states == []
    assert "is being changed by" in message and "deploy worker v1 -> v2" in message


def test_a_changed_plan_is_one_journal_entry_and_touches_nothing(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)

    def body(op: Operation) -> FleetResult:
        return FleetResult(Outcome.CHANGED, (), "the service changed", ("h1: update v1 -> v3",))

    outcome, message, states = frame(coordinator, body)
    assert (outcome, message, states) == (Outcome.CHANGED, "the service changed", ["changed"])
    assert unfinished(coordinator.journal("worker")) == []
    assert coordinator.holder("worker") is None


def test_recovery_runs_under_the_lock_before_the_body(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    order: list[str] = []

    def recover() -> None:
        assert coordinator.holder("worker") is not None
        order.append("recover")

    def body(op: Operation) -> FleetResult:
        order.append("body")
        return FleetResult(Outcome.DONE, (), "")

    result = run_operation(
        inventory=INVENTORY, coordinator=coordinator, owner=current_owner(), clock=lambda: 1.0,
        kind=OpKind.DEPLOY, service="worker", hosts=None, version="v2", op_id="given01",
        host_rollout=lambda op, host: rollouts(op.service, coordinator)[0], body=body,
        recover=recover,
    )  # fmt: skip
    assert order == ["recover", "body"] and result.op_id == "given01"
    (done, started) = coordinator.journal("worker")
    assert (started.state, done.state) == ("started", "done")
    assert done.bastion == current_owner().host


def test_failures_are_results_and_journaled(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)

    def body(op: Operation) -> FleetResult:
        op.started()
        raise OperationFailed("unreachable, nothing changed: h2: down")

    outcome, message, states = frame(coordinator, body)
    assert (outcome, message, states) == (
        Outcome.FAILED, "unreachable, nothing changed: h2: down", ["started", "failed"]
    )  # fmt: skip
    outcome, message, states = frame(coordinator, body, service="nope")
    assert (outcome, message, states) == (Outcome.FAILED, "unknown service 'nope'", [])


# -- recovery bookkeeping ---------------------------------------------------------------


def entry(op_id: str, state: str, at: float) -> JournalEntry:
    return JournalEntry(op_id, OpKind.DEPLOY, "worker", "ann", ("h1",), "v1", "v2", state, at)


def test_unfinished_operations_are_started_without_an_end() -> None:
    newest_first = [
        entry("c", "started", 5.0),
        entry("b", "done", 4.0),
        entry("b", "started", 3.0),
        entry("a", "started", 1.0),
    ]
    assert [e.op_id for e in unfinished(newest_first)] == ["c", "a"]
    assert unfinished([entry("x", "aborted", 2.0), entry("x", "started", 1.0)]) == []


def test_recovery_closes_each_pending_operation() -> None:
    pending = [entry("a", "started", 1.0)]
    finished = HostRecovery(HostResult("h1", True, None, "v2", "w_1", "finished: w_1"), True)
    undone = HostRecovery(HostResult("h2", True, None, "v1", "w_0", "undone"), False)
    (closed,) = close_entries(pending, [finished], "bob", 11.0)
    assert (closed.op_id, closed.state, closed.user, closed.duration) == (
        "a", "recovered", "bob", 10.0
    )  # fmt: skip
    assert closed.message == "recovered by bob: h1: finished: w_1"
    (closed,) = close_entries(pending, [finished, undone], "bob", 11.0)
    assert closed.state == "recovered"
    assert closed.message == "recovered by bob: h1: finished: w_1; h2: undone"
    # A host that could not be reached: the operation stays open for the next attempt.
    unreached = HostRecovery(HostResult("h2", False, None, None, None, "down"), False, False)
    assert close_entries(pending, [finished, unreached], "bob", 11.0) == []
    assert unfinished([closed, *pending]) == []
