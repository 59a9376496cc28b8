"""A service's hosts in batches: canary first, delay, pause/abort, failure action.

:func:`roll` runs one per-host task per host, ``update_config.parallelism``
hosts at a time, and decides the operation's outcome:

* a batch with a failed host stops the rollout. With ``failure_action:
  rollback`` every host already updated (in earlier batches or beside the
  failure) is reverted to its retained previous container; with ``pause``
  they are left on the new version. The failed host itself always keeps (or
  got back) its old container. Hosts of later batches are untouched.
* between batches: ``update_config.delay``, then a paused
  :class:`~jobtui.backend.deploy.policy.RolloutControl` waits; an abort stops there
  (finished hosts keep the new version).
* an abort with restore stops at the next safe point of the hosts under way
  (they put their old container back) and reverts every host already updated,
  whatever the failure action: the service is back where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from jobtui.backend.contract import HostOutcome, HostResult, Outcome, StepStatus
from jobtui.backend.deploy.host import HostRollout, Replaced
from jobtui.backend.deploy.policy import RolloutControl, batches
from jobtui.backend.deploy.slots import HostSlots
from jobtui.config.models import Service

HostTask = Callable[[HostRollout], Replaced]
_T = TypeVar("_T")


@dataclass(frozen=True)
class FleetResult:
    outcome: Outcome
    hosts: tuple[HostResult, ...]
    message: str
    plan: tuple[str, ...] = ()
    """With ``CHANGED``: the new plan's lines."""


def roll(
    service: Service,
    tasks: Sequence[tuple[HostRollout, HostTask]],
    control: RolloutControl,
    slots: HostSlots,
) -> FleetResult:
    """Run ``tasks`` (host order = rollout order) in batches; see the module doc."""
    config = service.update_config
    results: dict[str, HostResult] = {}
    updated: list[tuple[HostRollout, Replaced]] = []
    hosts = [rollout.host.name for rollout, _ in tasks]
    groups = batches(hosts, config.batch_size(len(hosts)))
    by_host = {rollout.host.name: (rollout, task) for rollout, task in tasks}
    for index, group in enumerate(groups):
        if index > 0 and not (control.sleep(config.delay) and control.wait_while_paused()):
            rest = [h for g in groups[index:] for h in g]
            for host in rest:
                results[host] = _untouched(host, "aborted before this host", HostOutcome.ABORTED)
            if control.restore:
                return _restored(tasks, results, updated, slots, rest)
            done = ", ".join(r.host.name for r, _ in updated) or "none"
            message = f"aborted by the operator; updated: {done}; untouched: {', '.join(rest)}"
            return FleetResult(Outcome.ABORTED, _ordered(tasks, results), message)
        outcomes = _run_batch([by_host[h] for h in group], slots)
        failed = [(r, o) for r, o in outcomes if not o.result.ok]
        updated += [(r, o) for r, o in outcomes if o.result.ok]
        for rollout, outcome in outcomes:
            results[rollout.host.name] = outcome.result
        if control.restore:
            rest = [h for g in groups[index + 1 :] for h in g]
            for host in rest:
                results[host] = _untouched(host, "aborted before this host", HostOutcome.ABORTED)
            return _restored(tasks, results, updated, slots, rest)
        if not failed:
            continue
        what = "canary " if index == 0 and len(groups) > 1 else ""
        names = ", ".join(r.host.name for r, _ in failed)
        message = f"{what}{names} failed: {failed[0][1].result.reason}"
        if config.failure_action == "rollback":
            for rollout, outcome in updated:
                revert = partial(rollout.revert, outcome)
                results[rollout.host.name] = with_slot(rollout, slots, revert)
            if updated:
                message += "; rolled back " + ", ".join(r.host.name for r, _ in updated)
        elif updated:
            message += "; paused, left on the new version: " + ", ".join(
                r.host.name for r, _ in updated
            )
        rest = [h for g in groups[index + 1 :] for h in g]
        for host in rest:
            results[host] = _untouched(host, "not attempted after the failure")
        if rest:
            message += "; untouched: " + ", ".join(rest)
        return FleetResult(Outcome.FAILED, _ordered(tasks, results), message)
    return FleetResult(Outcome.DONE, _ordered(tasks, results), "")


def _restored(
    tasks: Sequence[tuple[HostRollout, HostTask]],
    results: dict[str, HostResult],
    updated: Sequence[tuple[HostRollout, Replaced]],
    slots: HostSlots,
    untouched: Sequence[str],
) -> FleetResult:
    """After an abort with restore: every updated host reverted; the result says so."""
    for rollout, outcome in updated:
        results[rollout.host.name] = with_slot(rollout, slots, partial(rollout.revert, outcome))
    message = "aborted by the operator and restored"
    if updated:
        message += "; reverted " + ", ".join(r.host.name for r, _ in updated)
    if untouched:
        message += "; untouched: " + ", ".join(untouched)
    return FleetResult(Outcome.ABORTED, _ordered(tasks, results), message)


def _run_batch(
    batch: Sequence[tuple[HostRollout, HostTask]], slots: HostSlots
) -> list[tuple[HostRollout, Replaced]]:
    if len(batch) == 1:
        rollout, task = batch[0]
        return [(rollout, with_slot(rollout, slots, lambda: task(rollout)))]
    with ThreadPoolExecutor(len(batch)) as pool:
        futures = [
            (rollout, pool.submit(with_slot, rollout, slots, partial(task, rollout)))
            for rollout, task in batch
        ]
        return [(rollout, future.result()) for rollout, future in futures]


def with_slot(rollout: HostRollout, slots: HostSlots, work: Callable[[], _T]) -> _T:
    """Run ``work`` holding one of the host's slots (bounded concurrency per host)."""
    host = rollout.host.name

    def waiting(taken: int) -> None:
        rollout.emit("slot", StepStatus.RUNNING, f"waiting: {taken} operations work on {host}")

    with slots.hold(host, waiting):
        return work()


def _untouched(host: str, reason: str, outcome: HostOutcome = HostOutcome.SKIPPED) -> HostResult:
    return HostResult(host, False, None, None, None, reason, outcome=outcome)


def _ordered(
    tasks: Sequence[tuple[HostRollout, HostTask]], results: dict[str, HostResult]
) -> tuple[HostResult, ...]:
    return tuple(results[r.host.name] for r, _ in tasks if r.host.name in results)
