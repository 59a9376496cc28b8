"""Fleet rollouts on the real daemons: batches, abort, retention, start/stop/restart.

The demo worker runs on host-a and host-b with no port and no healthcheck, so
its gate is "still running after monitor seconds"; these tests shorten
monitor to 1 s through an inventory in tmp_path. Every test starts with the
worker on v1 on both hosts, put there first if it is not, and leaves the
demo as it found it (see ``rollout_support.settle`` and ``DemoGuard``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rollout_support import Rollouts, wait_for, write_inventory

from jobtui.backend.contract import JournalEntry, OpKind, Outcome, StepEvent, StepStatus
from jobtui.backend.deploy.policy import RolloutControl
from jobtui.backend.model import LABEL_ROLLOUT, LABEL_SERVICE, LABEL_VERSION
from jobtui.config.models import Inventory

if TYPE_CHECKING:
    from conftest import Stack

FAST_WORKER = {"worker": {"update_config": {"parallelism": 1, "monitor": "1s"}}}


@pytest.fixture
def rollouts(stack: Stack, tmp_path: Path) -> Iterator[Rollouts]:
    """Deployers on the stack, with every demo service first on its inventory version."""
    found = Rollouts(stack.inventory, tmp_path)
    try:
        # What these tests start from, whatever an earlier run or a person left.
        assert running_versions(found, "worker") == {"host-a": ["v1"], "host-b": ["v1"]}
        yield found
    finally:
        found.close()


@pytest.fixture
def fast(stack: Stack, tmp_path: Path) -> Inventory:
    return write_inventory(stack.inventory, tmp_path, FAST_WORKER)


def running_versions(rollouts: Rollouts, service: str) -> dict[str, list[str]]:
    return {
        host: [c.version for c in rollouts.guard.containers(host, service) if c.running]
        for host in ("host-a", "host-b")
    }


def test_worker_rolls_one_host_after_the_other(rollouts: Rollouts, fast: Inventory) -> None:
    run = rollouts.run(fast)

    result = run.deployer.deploy("worker", "v2")

    assert result.outcome is Outcome.DONE, result
    assert running_versions(rollouts, "worker") == {"host-a": ["v2"], "host-b": ["v2"]}
    hosts = [host for host, _, _ in run.steps(result.op_id)]
    first_b = hosts.index("host-b")
    assert set(hosts[:first_b]) == {"host-a"} and set(hosts[first_b:]) == {"host-b"}
    gate = [e.message for e in run.events if e.step == "health" and e.message.startswith("still")]
    # The gate, then the monitor window every new version must stay up for.
    assert gate and gate[0] == "still running after 1 s, then up for 1 s"

    back = run.deployer.rollback("worker", "v1")
    assert back.outcome is Outcome.DONE, back
    reused = [h for h, s, status in run.steps(back.op_id) if (s, status) == ("reuse", "ok")]
    assert reused == ["host-a", "host-b"]
    assert running_versions(rollouts, "worker") == {"host-a": ["v1"], "host-b": ["v1"]}


def test_abort_between_batches_leaves_the_rest_untouched(
    rollouts: Rollouts, fast: Inventory
) -> None:
    control = RolloutControl()

    def abort_after_canary(event: StepEvent) -> None:
        if (event.host, event.step, event.status) == ("host-a", "stop-old", StepStatus.OK):
            control.abort()

    run = rollouts.run(fast, on_step=abort_after_canary)
    result = run.deployer.deploy("worker", "v2", control=control)

    assert result.outcome is Outcome.ABORTED, result
    assert [h.ok for h in result.hosts] == [True, False]
    assert running_versions(rollouts, "worker") == {"host-a": ["v2"], "host-b": ["v1"]}
    assert run.steps(result.op_id, "host-b") == []
    states = [e.state for e in run.coordinator.journal("worker") if e.op_id == result.op_id]
    assert states == ["aborted", "started"]


def test_pause_holds_the_next_batch_until_resumed(rollouts: Rollouts, fast: Inventory) -> None:
    control = RolloutControl()

    def pause_after_canary(event: StepEvent) -> None:
        if (event.host, event.step, event.status) == ("host-a", "stop-old", StepStatus.OK):
            control.pause()

    run = rollouts.run(fast, on_step=pause_after_canary)
    done: list[Outcome] = []
    worker = threading.Thread(target=lambda: done.append(
        run.deployer.deploy("worker", "v2", control=control).outcome))  # fmt: skip
    worker.start()
    try:
        wait_for(lambda: control.paused, 30, "the pause after the canary")
        time.sleep(0.5)  # not readiness: proves nothing moves while paused
        assert not [e for e in run.events if e.host == "host-b"]
        control.resume()
        worker.join(30)
    finally:
        control.abort()
        worker.join(30)
    assert done == [Outcome.DONE]
    assert running_versions(rollouts, "worker") == {"host-a": ["v2"], "host-b": ["v2"]}


def test_retention_prunes_beyond_keep_oldest_first(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    service = {
        "name": "rt-retain", "image": stack.image("worker:v1"), "run_on_host": "host-a",
        "network_mode": "host", "update_config": {"monitor": "0.3s"}, "stop_grace_period": 2,
    }  # fmt: skip
    run = rollouts.run(write_inventory(stack.inventory, tmp_path, extra=[service]), keep=2)

    for version in ("v1", "v2", "v3", "v4"):
        result = run.deployer.deploy("rt-retain", version)
        assert result.outcome is Outcome.DONE, result

    left = sorted((c.version, c.running) for c in rollouts.guard.containers("host-a", "rt-retain"))
    assert left == [("v2", False), ("v3", False), ("v4", True)]
    pruned = [e.message for e in run.events if e.step == "prune" and e.status is StepStatus.OK]
    assert len(pruned) == 1 and pruned[0].endswith("(v1)")


def test_stop_start_restart_worker_on_one_host(rollouts: Rollouts, fast: Inventory) -> None:
    run = rollouts.run(fast)
    (before,) = [c for c in rollouts.guard.containers("host-b", "worker") if c.running]

    stopped = run.deployer.stop("worker", "host-b")
    assert stopped.outcome is Outcome.DONE, stopped
    assert running_versions(rollouts, "worker") == {"host-a": ["v1"], "host-b": []}
    assert [i.host for i in run.coordinator.instances("worker")] == []

    started = run.deployer.start("worker", "host-b")
    assert started.outcome is Outcome.DONE, started
    assert [(i.host, i.container) for i in run.coordinator.instances("worker")] == [
        ("host-b", before.name)
    ]

    api = rollouts.pool["host-b"].client.api
    first_start = api.inspect_container(before.id)["State"]["StartedAt"]
    restarted = run.deployer.restart("worker", "host-b")
    assert restarted.outcome is Outcome.DONE, restarted
    assert api.inspect_container(before.id)["State"]["StartedAt"] != first_start
    assert running_versions(rollouts, "worker") == {"host-a": ["v1"], "host-b": ["v1"]}
    kinds = [e.kind.value for e in reversed(run.coordinator.journal("worker"))]
    assert kinds == ["stop", "stop", "start", "start", "restart", "restart"]


def test_recover_undoes_an_orphan_and_finishes_a_healthy_new_container(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    service = {
        "name": "rt-crash", "image": stack.image("worker:v1"), "run_on_host": "host-a",
        "network_mode": "host", "update_config": {"monitor": "0.5s"}, "stop_grace_period": 2,
    }  # fmt: skip
    run = rollouts.run(write_inventory(stack.inventory, tmp_path, extra=[service]))
    assert run.deployer.deploy("rt-crash", "v1").outcome is Outcome.DONE
    (old,) = rollouts.guard.containers("host-a", "rt-crash")
    api = rollouts.pool["host-a"].client.api

    def crashed_rollout(op_id: str, name: str, *, start: bool) -> str:
        """What a jobtui killed mid-rollout leaves: a journaled start and a labelled container."""
        hosts = ("host-a",)
        started = JournalEntry(
            op_id, OpKind.DEPLOY, "rt-crash", "test", hosts, "v1", "v2", "started", time.time()
        )
        run.coordinator.record(started)
        labels = {
            LABEL_SERVICE: "rt-crash", LABEL_VERSION: "v2", LABEL_ROLLOUT: op_id,
            "jobtui.test": "rollout-recover",
        }  # fmt: skip
        made = api.create_container(
            stack.image("worker:v2"), name=name, labels=labels,
            host_config=api.create_host_config(network_mode="host"),
        )  # fmt: skip
        if start:
            api.start(made["Id"])
        return str(made["Id"])

    # Killed after create, before start: an orphan, undone; v1 kept serving.
    crashed_rollout("crash001", "rt-crash_1000000001", start=False)
    assert [e.op_id for e in run.deployer.unfinished("rt-crash")] == ["crash001"]
    undone = run.deployer.recover("rt-crash")
    assert undone.outcome is Outcome.DONE, undone
    left = [(c.id, c.running) for c in rollouts.guard.containers("host-a", "rt-crash")]
    assert left == [(old.id, True)]
    closed = run.coordinator.journal("rt-crash")[0]
    assert (closed.op_id, closed.state) == ("crash001", "recovered")
    assert "undone" in closed.message

    # Killed after the new one was up, before the old one stopped: two running, finished.
    new_id = crashed_rollout("crash002", "rt-crash_1000000002", start=True)
    finished = run.deployer.recover("rt-crash")
    assert finished.outcome is Outcome.DONE, finished
    running = [c.id for c in rollouts.guard.containers("host-a", "rt-crash") if c.running]
    assert running == [new_id]
    assert [i.version for i in run.coordinator.instances("rt-crash")] == ["v2"]
    closed = run.coordinator.journal("rt-crash")[0]
    assert (closed.op_id, closed.state) == ("crash002", "recovered")
    assert "finished" in closed.message
    assert run.deployer.unfinished("rt-crash") == []
    assert run.deployer.recover("rt-crash").message == "nothing to recover"


def test_deploy_many_runs_services_at_once_bounded_per_host(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    def service(name: str, host: str) -> dict[str, object]:
        return {
            "name": name, "image": stack.image("worker:v1"), "run_on_host": host,
            "network_mode": "host", "update_config": {"monitor": "0.5s"}, "stop_grace_period": 2,
        }  # fmt: skip

    services = [
        service("rt-one", "host-a"),
        service("rt-two", "host-a"),
        service("rt-three", "host-b"),
    ]
    inventory = write_inventory(stack.inventory, tmp_path, extra=services)
    run = rollouts.run(inventory, per_host=1)

    results = run.deployer.deploy_many(["rt-one", "rt-two", "rt-three"])

    assert [r.outcome for r in results] == [Outcome.DONE] * 3, results
    on_a = [e.service for e in run.events if e.host == "host-a" and e.step != "slot"]
    # One slot on host-a: one service's steps there all come before the other's,
    # and the one that waited said so.
    first = on_a[0]
    waited = [e for e in run.events if e.step == "slot"]
    assert [(e.service, e.host) for e in waited] == [
        ("rt-two" if first == "rt-one" else "rt-one", "host-a")
    ], waited
    assert "1 operations work on host-a" in waited[0].message
    switch = on_a.index("rt-two" if first == "rt-one" else "rt-one")
    assert set(on_a[:switch]) == {first} and first not in on_a[switch:]
    # host-b has its own slot: rt-three ran while host-a was busy.
    b_start = next(e.time for e in run.events if e.service == "rt-three")
    a_end = max(e.time for e in run.events if e.host == "host-a")
    assert b_start < a_end


def test_start_after_stop_brings_back_what_served_not_the_newest(
    rollouts: Rollouts, fast: Inventory
) -> None:
    run = rollouts.run(fast)
    (before,) = [c for c in rollouts.guard.containers("host-b", "worker") if c.running]
    assert run.deployer.deploy("worker", "v2", hosts=["host-b"]).outcome is Outcome.DONE
    assert run.deployer.rollback("worker", "v1", hosts=["host-b"]).outcome is Outcome.DONE
    # Now the retained v2 container is newer than the v1 one that serves.
    assert run.deployer.stop("worker", "host-b").outcome is Outcome.DONE
    assert run.deployer.start("worker", "host-b").outcome is Outcome.DONE
    running = [c for c in rollouts.guard.containers("host-b", "worker") if c.running]
    assert [c.id for c in running] == [before.id]
    assert running_versions(rollouts, "worker")["host-b"] == ["v1"]
