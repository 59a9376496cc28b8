"""Finish or undo operations that a crashed jobtui (or a killed runner) left unfinished.

An operation is unfinished when the journal holds its ``started`` entry and no
end entry. Holding the service's deploy lock proves nobody runs it any more
(a crashed holder's lease has expired or it was found gone from this bastion,
a local lock died with its process). Recovery runs under that lock — at the
start of the next operation on the service, from ``jobtui``'s TUI at start,
or alone (``Deployer.recover``) — and looks at what Docker reports on each
host the operation targeted:

* **finishable**: the op's newest container (labelled ``jobtui.rollout`` with
  its id; for a rollback, start or restart, which create nothing, a running
  container of the target version) runs and passes the health gate;
* otherwise it is **undone**: the op's containers are removed (a failed
  candidate it did not create is stopped) and exactly one container of the
  previous version serves — the running one, or the newest retained one
  started again through the gate and registered.

A fleet rollout whose hosts are not all finishable follows the service's
``failure_action``: ``rollback`` undoes every host, ``pause`` finishes the
finishable ones and undoes the rest. A stop is finished (every instance
stopped and deregistered). Afterwards at most one container of the service
runs on each host, none of the op's containers is left unaccounted for, and
each unfinished entry is closed as ``recovered`` saying what was done — unless
a host could not be reached: then the entry stays open for the next attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

from jobtui.backend.contract import (
    END_STATES,
    Coordinator,
    HostResult,
    JournalEntry,
    LockedError,
    LockOwner,
    OpKind,
    OpResult,
    Outcome,
)
from jobtui.backend.coordination import LOCK_TTL, take_lock
from jobtui.backend.deploy.frame import new_op_id, refused
from jobtui.backend.deploy.host import FAILURES, HostRollout, StepFailed
from jobtui.backend.deploy.policy import retained_version
from jobtui.backend.docker import current_container
from jobtui.backend.model import LABEL_ROLLOUT, ContainerInfo
from jobtui.config.models import Service

log = logging.getLogger(__name__)

JOURNAL_SCAN = 500
"""Journal entries of the service read to find unfinished operations."""

_T = TypeVar("_T")
_R = TypeVar("_R")

RolloutFor = Callable[[str, str], HostRollout]
"""``rollout_for(op_id, host)``: the host executor whose events carry ``op_id``."""


def unfinished(entries: Iterable[JournalEntry]) -> list[JournalEntry]:
    """The ``started`` entries without an end entry of the same op id, newest first."""
    entries = list(entries)
    ended = {e.op_id for e in entries if e.state in END_STATES}
    seen: set[str] = set()
    found: list[JournalEntry] = []
    for entry in entries:
        if entry.state == "started" and entry.op_id not in ended and entry.op_id not in seen:
            seen.add(entry.op_id)
            found.append(entry)
    return found


@dataclass(frozen=True)
class HostRecovery:
    """What recovery decided and did on one host."""

    result: HostResult
    finished: bool
    """The op's new container was kept (``False``: undone, or nothing to do)."""
    reached: bool = True
    """``False``: the host could not be asked or acted on; the op stays unfinished."""


@dataclass(frozen=True)
class Assessment:
    """One host looked at, before anything is done there."""

    rollout: HostRollout
    containers: tuple[ContainerInfo, ...]
    leftovers: tuple[ContainerInfo, ...]
    """The op's own containers (labelled with its id)."""
    candidate: ContainerInfo | None
    """What would finish the op here."""
    healthy: bool
    """``candidate`` runs and passed its health gate."""


def assess(rollout: HostRollout, pending: Sequence[JournalEntry]) -> Assessment:
    """Read what a crash left on one host; only the health gate is waited for."""
    op_ids = {e.op_id for e in pending}
    newest = pending[0]
    mine = tuple(rollout.containers())
    leftovers = tuple(c for c in mine if c.labels.get(LABEL_ROLLOUT) in op_ids)
    candidate: ContainerInfo | None = None
    if newest.kind is not OpKind.STOP:
        pool = list(leftovers) or [c for c in mine if c.running and c.version == newest.to_version]
        candidate = max(pool, key=lambda c: (c.created, c.name)) if pool else None
    healthy = candidate is not None and candidate.running and rollout.gate(candidate.id).ok
    return Assessment(rollout, mine, leftovers, candidate, healthy)


def finish_host(found: Assessment) -> HostResult:
    """Keep the healthy candidate: registered, every other running one stopped, the op's
    other containers removed."""
    rollout, keep = found.rollout, found.candidate
    assert keep is not None
    rollout.step("register", partial(rollout.register, keep.id, keep.version), keep.name)
    for other in found.containers:
        if other.running and other.id != keep.id:
            rollout.step("stop-old", partial(rollout.stop_container, other.id), other.name)
    for extra in found.leftovers:
        if extra.id != keep.id:
            remove = partial(rollout.api.remove_container, extra.id, force=True)
            rollout.step("remove-new", remove, extra.name)
    reason = f"finished: {keep.name} ({keep.version}) serves"
    return HostResult(rollout.host.name, True, None, keep.version, keep.name, reason)


def undo_host(found: Assessment, from_version: str | None) -> HostResult:
    """Remove the op's containers and let exactly one of the previous version serve."""
    rollout, host = found.rollout, found.rollout.host.name
    for container in found.leftovers:
        remove = partial(rollout.api.remove_container, container.id, force=True)
        rollout.step("remove-new", remove, container.name)
    failed = found.candidate
    if failed is not None and failed not in found.leftovers and failed.running:
        # A retained container a rollback started: it failed its gate; stop it, keep it.
        rollout.step("stop-new", partial(rollout.stop_container, failed.id), failed.name)
    rest = [
        c for c in found.containers
        if c not in found.leftovers and (failed is None or c.id != failed.id)
    ]  # fmt: skip
    touched = bool(found.leftovers) or failed is not None
    running = [c for c in rest if c.running]
    if running:
        previous = [c for c in running if c.version == from_version] or running
        serving = max(previous, key=lambda c: (c.created, c.name))
        for other in running:
            if other.id != serving.id:
                rollout.step("stop-old", partial(rollout.stop_container, other.id), other.name)
        rollout.step("register", partial(rollout.register, serving.id, serving.version))
        reason = f"undone: {serving.name} serves" if touched else "nothing to recover"
        return HostResult(host, True, None, serving.version, serving.name, reason)
    old = (retained_version(rest, from_version) if from_version else None) or current_container(
        rest
    )
    if old is None:
        return HostResult(host, not touched, None, None, None, "no container of this service")
    rollout.bring_up("restore", old, partial(rollout.api.start, old.id), "restored container")
    return HostResult(host, True, None, old.version, old.name, f"undone: {old.name} restarted")


def finish_stop(rollout: HostRollout) -> HostResult:
    """A stop that crashed: deregister and stop what still runs (kept, not removed)."""
    running = [c for c in rollout.containers() if c.running]
    rollout.step("deregister", rollout.deregister)
    for container in running:
        rollout.step("stop", partial(rollout.stop_container, container.id), container.name)
    version = running[0].version if running else None
    return HostResult(rollout.host.name, True, version, version, None, "finished: stopped")


def recover_hosts(
    service: Service, pending: Sequence[JournalEntry], rollouts: Sequence[HostRollout]
) -> list[HostRecovery]:
    """Assess every host, decide for the fleet (see the module doc), then act."""
    newest = pending[0]
    from_version = _single(e.from_version for e in pending)
    if newest.kind is OpKind.STOP:
        return _each(rollouts, lambda r: _guarded(r, lambda: HostRecovery(finish_stop(r), True)))
    found = _each(rollouts, lambda r: _guarded(r, lambda: assess(r, pending)))
    fleet = newest.kind in (OpKind.DEPLOY, OpKind.ROLLBACK) and len(rollouts) > 1
    undo_all = (
        fleet
        and service.update_config.failure_action == "rollback"
        and not all(isinstance(a, Assessment) and a.healthy for a in found)
    )

    def act(item: Assessment | HostRecovery) -> HostRecovery:
        if isinstance(item, HostRecovery):
            return item  # the host could not even be looked at
        if item.healthy and not undo_all:
            return _guarded(item.rollout, lambda: HostRecovery(finish_host(item), True))
        return _guarded(item.rollout, lambda: HostRecovery(undo_host(item, from_version), False))

    return _each(found, act)


def _each(items: Sequence[_T], work: Callable[[_T], _R]) -> list[_R]:
    with ThreadPoolExecutor(max(len(items), 1)) as pool:
        return list(pool.map(work, items))


def _guarded(rollout: HostRollout, work: Callable[[], _R]) -> _R | HostRecovery:
    try:
        return work()
    except FAILURES as exc:
        reason = str(exc) if isinstance(exc, StepFailed) else rollout.explain(exc)
        host = rollout.host.name
        return HostRecovery(HostResult(host, False, None, None, None, reason), False, False)


def _single(values: Iterable[str | None]) -> str | None:
    found = [v for v in values if v]
    return found[-1] if found else None  # the oldest op's: what served before them all


def close_entries(
    pending: Sequence[JournalEntry],
    results: Sequence[HostRecovery],
    by: LockOwner | str,
    now: float,
) -> list[JournalEntry]:
    """The ``recovered`` entries that close ``pending`` after ``results``; none while a
    host could not be reached (the next attempt tries again)."""
    if not results or not all(r.reached for r in results):
        return []
    user = by if isinstance(by, str) else by.user
    bastion = "" if isinstance(by, str) else by.host
    summary = "; ".join(f"{r.result.host}: {r.result.reason}" for r in results)
    message = f"recovered by {user}: {summary}"
    return [
        replace(
            entry,
            user=user,
            bastion=bastion or entry.bastion,
            state="recovered",
            time=now,
            duration=now - entry.time,
            message=message,
        )
        for entry in pending
    ]


def recovery_result(
    pending: Sequence[JournalEntry], results: Sequence[HostRecovery], start: float, end: float
) -> OpResult:
    """One result for the recovery of ``pending`` (named after the newest of them)."""
    first = pending[0]
    hosts = tuple(r.result for r in results)
    ok = all(h.ok for h in hosts) and all(r.reached for r in results)
    outcome = Outcome.DONE if ok else Outcome.FAILED
    ids = ", ".join(e.op_id for e in pending)
    message = f"recovered {ids}: " + "; ".join(f"{h.host}: {h.reason}" for h in hosts)
    if not all(r.reached for r in results):
        message += " (left unfinished: a host could not be reached)"
    return OpResult(first.op_id, OpKind.RECOVER, first.service, outcome, hosts, message,
                    start, end)  # fmt: skip


def recover_pending(
    *,
    service: Service,
    coordinator: Coordinator,
    owner: LockOwner,
    clock: Callable[[], float],
    rollout_for: RolloutFor,
    scan: int = JOURNAL_SCAN,
) -> OpResult | None:
    """Recover the service's unfinished operations; the caller holds its lock.

    ``None`` when there is nothing to recover.
    """
    start = clock()
    pending = unfinished(coordinator.journal(service.name, limit=scan))
    if not pending:
        return None
    hosts = [h for h in service.run_on_host if any(h in e.hosts for e in pending)]
    hosts = hosts or list(service.run_on_host)
    rollouts = [rollout_for(pending[0].op_id, h) for h in hosts]
    results = recover_hosts(service, pending, rollouts)
    for entry in close_entries(pending, results, owner, clock()):
        try:
            coordinator.record(entry)
        except Exception as exc:
            log.warning("journal entry of %s not written: %s", entry.op_id, exc)
    return recovery_result(pending, results, start, clock())


def run_recovery(
    *,
    service: Service,
    coordinator: Coordinator,
    owner: LockOwner,
    clock: Callable[[], float],
    rollout_for: RolloutFor,
) -> OpResult:
    """Take the lock, then finish or undo every unfinished operation of ``service``."""
    start = clock()
    who = replace(owner, since=start, op=f"recover {service.name}")
    try:
        lock = take_lock(coordinator, service.name, who, LOCK_TTL, clock=clock)
    except LockedError as exc:
        return OpResult(new_op_id(), OpKind.RECOVER, service.name, Outcome.LOCKED, (), str(exc),
                        start, clock())  # fmt: skip
    except Exception as exc:  # the coordination store failed
        return refused(OpKind.RECOVER, service.name, f"cannot take the deploy lock: {exc}", start)
    try:
        try:
            done = recover_pending(service=service, coordinator=coordinator, owner=who,
                                   clock=clock, rollout_for=rollout_for)  # fmt: skip
        except FAILURES as exc:  # the journal could not be read
            return refused(OpKind.RECOVER, service.name, f"cannot recover: {exc}", start)
        if done is None:
            return OpResult(new_op_id(), OpKind.RECOVER, service.name, Outcome.DONE, (),
                            "nothing to recover", start, clock())  # fmt: skip
        return done
    finally:
        try:
            lock.release()
        except Exception:
            log.warning("releasing the lock of %s failed", service.name, exc_info=True)
