"""Faulty new versions of web on the real stack: the old version keeps serving or is restored.

Expected (RELIABILITY.md): a crash-looping release, one whose health check
never passes and one that is healthy and then dies inside
``update_config.monitor`` all end the rollout ``failed`` with the reason and
the new container's last log lines; the v1 container that served before is
running again, answers on web's port, and nothing of the attempt is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fault_support import build_variants
from rollout_support import PortWatch, Rollouts, answer, timed, write_inventory

from jobtui.backend.contract import Outcome
from jobtui.backend.model import LABEL_ROLLOUT

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture(scope="module")
def variants(stack: Stack) -> dict[str, str]:
    return build_variants(stack)


@pytest.fixture
def rollouts(stack: Stack, tmp_path: Path, variants: dict[str, str]) -> Iterator[Rollouts]:
    found = Rollouts(stack.inventory, tmp_path)
    try:
        yield found
    finally:
        found.close()


def _failed_and_restored(rollouts: Rollouts, result_op: str, original: str) -> None:
    running = [c.id for c in rollouts.guard.containers("host-a", "web") if c.running]
    assert running == [original]
    assert answer(rollouts.port("web")) == "web v1"
    leftovers = [
        c for c in rollouts.guard.containers("host-a", "web")
        if c.labels.get(LABEL_ROLLOUT) == result_op
    ]  # fmt: skip
    assert leftovers == []


def test_crash_looping_release_is_refused_and_v1_restored(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    inventory = write_inventory(stack.inventory, tmp_path, {"web": {"restart": "always"}})
    run = rollouts.run(inventory)
    original = rollouts.guard.serving[("web", "host-a")]

    with PortWatch(rollouts.port("web")) as watch:
        result, seconds = timed(lambda: run.deployer.deploy("web", "crashloop"))
    print(f"crash-loop deploy failed in {seconds:.1f} s; web silent {watch.longest_gap:.1f} s")

    assert result.outcome is Outcome.FAILED, result
    (host,) = result.hosts
    assert "restarted" in host.reason or "exited" in host.reason, host.reason
    assert "restored" in host.reason
    assert any("out of memory" in line for line in host.logs), host.logs
    assert watch.answers <= {"web v1", None}
    assert seconds < 30
    _failed_and_restored(rollouts, result.op_id, original)
    states = [e.state for e in run.coordinator.journal("web") if e.op_id == result.op_id]
    assert states == ["failed", "started"]


def test_release_whose_health_check_never_passes_is_refused(rollouts: Rollouts) -> None:
    run = rollouts.run()
    original = rollouts.guard.serving[("web", "host-a")]

    result, seconds = timed(lambda: run.deployer.deploy("web", "unhealthy"))
    print(f"unhealthy deploy failed in {seconds:.1f} s")

    assert result.outcome is Outcome.FAILED, result
    (host,) = result.hosts
    assert "unhealthy" in host.reason or "not healthy" in host.reason, host.reason
    assert "restored" in host.reason
    assert seconds < 30
    _failed_and_restored(rollouts, result.op_id, original)


def test_release_dying_during_monitor_is_refused(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    changes = {"web": {"update_config": {"monitor": "10s"}}}
    run = rollouts.run(write_inventory(stack.inventory, tmp_path, changes))
    original = rollouts.guard.serving[("web", "host-a")]

    result, seconds = timed(lambda: run.deployer.deploy("web", "dies"))
    print(f"dies-during-monitor deploy ended in {seconds:.1f} s: {result.outcome}")

    assert result.outcome is Outcome.FAILED, result
    (host,) = result.hosts
    assert "exited with code 4" in host.reason and "restored" in host.reason, host.reason
    assert any("lost its database" in line for line in host.logs), host.logs
    _failed_and_restored(rollouts, result.op_id, original)
