"""Rollouts of the demo's web and api on the real daemons, registry and etcd.

web (host-a, on the stack's web port) has a Docker HEALTHCHECK and a fixed port in
the host network, so its updates are stop-first with automatic restore. Every
test leaves the demo as it found it (see ``rollout_support.DemoGuard``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rollout_support import PortWatch, Rollouts, answer, timed, write_inventory

from jobtui.backend.contract import Outcome
from jobtui.backend.coordination.etcd import EtcdCoordinator
from jobtui.backend.model import LABEL_ROLLOUT, LABEL_SERVICE, LABEL_SPEC_HASH, LABEL_VERSION

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture
def rollouts(stack: Stack, tmp_path: Path) -> Iterator[Rollouts]:
    found = Rollouts(stack.inventory, tmp_path)
    try:
        yield found
    finally:
        found.close()


def test_update_web_v1_to_v2_keeps_v1_stopped_for_rollback(rollouts: Rollouts) -> None:
    run = rollouts.run()
    original = rollouts.guard.serving[("web", "host-a")]
    expected_hash = run.deployer.plan("web", "v2").spec_hash

    result, seconds = timed(lambda: run.deployer.deploy("web", "v2"))
    print(f"web v1 -> v2 deploy took {seconds:.2f} s")

    assert result.outcome is Outcome.DONE, result
    (host,) = result.hosts
    assert (host.host, host.ok, host.from_version, host.to_version) == ("host-a", True, "v1", "v2")
    assert host.container is not None and re.fullmatch(r"web_\d{10}", host.container)
    web = {c.name: c for c in rollouts.guard.containers("host-a", "web")}
    new = web[host.container]
    assert new.running and new.labels[LABEL_SERVICE] == "web"
    assert new.labels[LABEL_VERSION] == "v2"
    assert new.labels[LABEL_SPEC_HASH] == expected_hash
    assert new.labels[LABEL_ROLLOUT] == result.op_id
    old = next(c for c in web.values() if c.id == original)
    assert old.state == "exited"  # stopped, kept for rollback
    assert answer(rollouts.port("web")) == "web v2"
    states = [e.state for e in run.coordinator.journal("web") if e.op_id == result.op_id]
    assert states == ["done", "started"]  # newest first
    steps = [s for _, s, status in run.steps(result.op_id) if status == "ok"]
    assert steps[:2] == ["pull", "create"] and "health" in steps
    pull_messages = [e.message for e in run.events if e.step == "pull" and e.message]
    assert any("image" in m.lower() or "layers" in m for m in pull_messages)


def test_broken_tag_fails_and_v1_keeps_answering(rollouts: Rollouts) -> None:
    run = rollouts.run()
    original = rollouts.guard.serving[("web", "host-a")]

    with PortWatch(rollouts.port("web")) as watch:
        result, seconds = timed(lambda: run.deployer.deploy("web", "broken"))
    print(f"failed web broken deploy took {seconds:.2f} s; "
          f"web silent for at most {watch.longest_gap:.2f} s (stop-first)")  # fmt: skip

    assert result.outcome is Outcome.FAILED
    (host,) = result.hosts
    assert not host.ok and "exited with code 1" in host.reason and "restored" in host.reason
    assert any("cannot load configuration" in line for line in host.logs)
    assert watch.answers <= {"web v1", None} and "web v1" in watch.answers
    assert answer(rollouts.port("web")) == "web v1"
    running = [c.id for c in rollouts.guard.containers("host-a", "web") if c.running]
    assert running == [original]
    # Nothing of the failed attempt is left.
    leftovers = [
        c for c in rollouts.guard.containers("host-a", "web")
        if c.labels.get(LABEL_ROLLOUT) == result.op_id
    ]  # fmt: skip
    assert leftovers == []
    steps = [(s, status) for _, s, status in run.steps(result.op_id)]
    assert ("remove-new", "ok") in steps and ("restore", "ok") in steps
    states = [e.state for e in run.coordinator.journal("web") if e.op_id == result.op_id]
    assert states == ["failed", "started"]


def test_rollback_restarts_the_retained_container_without_a_pull(rollouts: Rollouts) -> None:
    run = rollouts.run()
    original = rollouts.guard.serving[("web", "host-a")]
    assert run.deployer.deploy("web", "v2").outcome is Outcome.DONE

    candidates = run.deployer.rollback_candidates("web")
    assert candidates[0].version == "v1" and candidates[0].retained_on == ("host-a",)
    assert "v2" not in [c.version for c in candidates]  # it runs everywhere

    result = run.deployer.rollback("web")  # the previous version
    assert result.outcome is Outcome.DONE, result
    assert result.hosts[0].to_version == "v1"
    steps = [s for _, s, _ in run.steps(result.op_id)]
    assert "reuse" in steps and "pull" not in steps and "create" not in steps
    running = [c.id for c in rollouts.guard.containers("host-a", "web") if c.running]
    assert running == [original]
    assert answer(rollouts.port("web")) == "web v1"


def test_stop_first_api_is_restored_after_a_failed_update(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    stop_first = {"api": {"update_config": {"order": "stop-first"}}}
    run = rollouts.run(write_inventory(stack.inventory, tmp_path, stop_first))
    original = rollouts.guard.serving[("api", "host-b")]

    result = run.deployer.deploy("api", "broken")

    assert result.outcome is Outcome.FAILED
    ok_steps = [s for _, s, status in run.steps(result.op_id) if status == "ok"]
    order = [s for s in ok_steps if s in ("stop-old", "remove-new", "restore")]
    assert order == ["stop-old", "remove-new", "restore"]
    running = [c.id for c in rollouts.guard.containers("host-b", "api") if c.running]
    assert running == [original]
    assert answer(rollouts.port("api")) == "web v1"


def test_start_first_failure_never_interrupts_the_old_container(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    # No `port:` here, so nothing forces stop-first: the broken one runs beside v1.
    probe = {
        "name": "rt-probe", "image": stack.image("web:v1"), "run_on_host": "host-a",
        "envs": [{"key": "PORT", "value": stack.ports["probe"]}], "network_mode": "host",
        "update_config": {"monitor": "1s"}, "stop_grace_period": 2,
    }  # fmt: skip
    run = rollouts.run(write_inventory(stack.inventory, tmp_path, extra=[probe]))
    assert run.deployer.deploy("rt-probe").outcome is Outcome.DONE
    assert answer(stack.ports["probe"]) == "web v1"

    with PortWatch(stack.ports["probe"]) as watch:
        result = run.deployer.deploy("rt-probe", "broken")

    assert result.outcome is Outcome.FAILED
    assert watch.answers == {"web v1"}  # answered every time, throughout
    steps = [s for _, s, _ in run.steps(result.op_id)]
    assert "stop-old" not in steps and "restore" not in steps


def test_etcd_holds_the_instance_and_the_journal(rollouts: Rollouts, stack: Stack) -> None:
    assert rollouts.inventory.etcd is not None
    etcd = EtcdCoordinator(rollouts.inventory.etcd)
    try:
        run = rollouts.run(coordinator=etcd)
        result = run.deployer.deploy("web", "v2")
        assert result.outcome is Outcome.DONE, result
        (instance,) = [i for i in etcd.instances("web") if i.host == "host-a"]
        assert (instance.address, instance.version) == ("127.0.0.1", "v2")
        assert instance.port == rollouts.port("web")
        assert instance.container == result.hosts[0].container
        states = [e.state for e in etcd.journal("web") if e.op_id == result.op_id]
        assert states == ["done", "started"]
        back = run.deployer.rollback("web", "v1")
        assert back.outcome is Outcome.DONE, back
        (instance,) = [i for i in etcd.instances("web") if i.host == "host-a"]
        assert instance.version == "v1"
        assert etcd.holder("web") is None
    finally:
        etcd.close()
