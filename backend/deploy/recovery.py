"""Finish or undo operations that a crashed jobtui left unfinished.

An operation is unfinished when the journal holds its ``started`` entry and no
end entry. Holding the service's deploy lock proves nobody runs it any more
(a crashed holder's lease has expired, a local lock died with its process).
Then, on each host, the containers labelled with the unfinished op id decide:

* the newest of them runs and passes the health gate: the operation is
  **finished** (other running containers of the service stop, the instance is
  registered, the op's older containers are removed);
* otherwise it is **undone**: the op's containers are removed and, if nothing
  of the service runs any more, the newest retained container is started
  again through the gate (the old version serves, as after a failed rollout).

Each unfinished operation then gets its end entry (``done`` when every host
finished, else ``failed``) saying what recovery did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

from jobtui.backend.contract import (
    Coordinator,
    HostResult,
    JournalEntry,
    LockedError,
    LockOwner,
    OpKind,
    OpResult,
    Outcome,
)
from jobtui.backend.deploy.frame import LOCK_TTL, new_op_id, refused
from jobtui.backend.deploy.host import FAILURES, HostRollout, StepFailed
from jobtui.backend.docker import current_container
from jobtui.backend.model import LABEL_ROLLOUT, ContainerInfo
from jobtui.config.models import Service

log = logging.getLogger(__name__)

END_STATES = frozenset({"done", "failed", "aborted"})
JOURNAL_SCAN = 500
"""Journal entries of the service read to find unfinished operations."""


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
    """What recovery decided on one host."""

    result: HostResult
    finished: bool
    """The op's new container was kept (``False``: undone, or nothing to do)."""


def recover_host(rollout: HostRollout, op_ids: Sequence[str]) -> HostRecovery:
    """Finish or undo the unfinished ``op_ids`` on one host (see the module doc)."""
    host = rollout.host.name
    try:
        mine = rollout.containers()
        leftovers = [c for c in mine if c.labels.get(LABEL_ROLLOUT) in op_ids]
        if leftovers:
            newest = max(leftovers, key=lambda c: (c.created, c.name))
            if newest.running and rollout.gate(newest.id).ok:
                return HostRecovery(_finish(rollout, newest, leftovers, mine), True)
            for container in leftovers:
                remove = partial(rollout.api.remove_container, container.id, force=True)
                rollout.step("remove-new", remove, container.name)
        rest = [c for c in mine if c not in leftovers]
        return HostRecovery(_undo(rollout, rest, bool(leftovers)), False)
    except FAILURES as exc:
        reason = str(exc) if isinstance(exc, StepFailed) else rollout.explain(exc)
        return HostRecovery(HostResult(host, False, None, None, None, reason), False)


def _finish(
    rollout: HostRollout,
    newest: ContainerInfo,
    leftovers: list[ContainerInfo],
    mine: list[ContainerInfo],
) -> HostResult:
    version = newest.version
    rollout.step("register", partial(rollout.register, newest.id, version))
    for other in mine:
        if other.running and other.id != newest.id:
            rollout.step("stop-old", partial(rollout.stop_container, other.id), other.name)
    for extra in leftovers:
        if extra.id != newest.id:
            remove = partial(rollout.api.remove_container, extra.id, force=True)
            rollout.step("remove-new", remove, extra.name)
    reason = f"finished: {newest.name} passed its health gate"
    return HostResult(rollout.host.name, True, None, version, newest.name, reason)


def _undo(rollout: HostRollout, rest: list[ContainerInfo], touched: bool) -> HostResult:
    host = rollout.host.name
    running = [c for c in rest if c.running]
    if running:
        serving = max(running, key=lambda c: (c.created, c.name))
        reason = "undone: the old container serves" if touched else "nothing to recover"
        return HostResult(host, True, None, serving.version, serving.name, reason)
    old = current_container(rest)
    if old is None:
        return HostResult(host, not touched, None, None, None, "no container of this service")
    rollout.step("restore", partial(rollout.api.start, old.id), old.name)
    rollout.step("health", partial(rollout.healthy, old.id), "restored container")
    rollout.step("register", partial(rollout.register, old.id, old.version))
    return HostResult(host, True, None, old.version, old.name, f"undone: {old.name} restarted")


def close_entries(
    pending: Sequence[JournalEntry], results: Sequence[HostRecovery], user: str, now: float
) -> list[JournalEntry]:
    """The end entries that close ``pending`` after recovery produced ``results``."""
    all_finished = bool(results) and all(r.finished for r in results)
    summary = "; ".join(f"{r.result.host}: {r.result.reason}" for r in results)
    state = "done" if all_finished else "failed"
    message = f"recovered by {user}: {summary}"
    return [
        replace(entry, user=user, state=state, time=now, duration=now - entry.time, message=message)
        for entry in pending
    ]


def recovery_result(
    pending: Sequence[JournalEntry], results: Sequence[HostRecovery], start: float, end: float
) -> OpResult:
    """One result for the recovery of ``pending`` (named after the newest of them)."""
    first = pending[0]
    hosts = tuple(r.result for r in results)
    ok = all(h.ok for h in hosts)
    outcome = Outcome.DONE if ok else Outcome.FAILED
    ids = ", ".join(e.op_id for e in pending)
    message = f"recovered {ids}: " + "; ".join(f"{h.host}: {h.reason}" for h in hosts)
    return OpResult(first.op_id, OpKind(first.kind), first.service, outcome, hosts, message,
                    start, end)  # fmt: skip


def run_recovery(
    *,
    service: Service,
    coordinator: Coordinator,
    owner: LockOwner,
    clock: Callable[[], float],
    rollout_for: Callable[[str, str], HostRollout],
) -> OpResult:
    """Take the lock, then finish or undo every unfinished operation of ``service``.

    ``rollout_for(op_id, host)`` builds the host executor (its events carry ``op_id``).
    """
    start = clock()
    who = replace(owner, since=start, op=f"recover {service.name}")
    try:
        lock = coordinator.acquire(service.name, who, LOCK_TTL)
    except LockedError as exc:
        return OpResult(new_op_id(), OpKind.DEPLOY, service.name, Outcome.LOCKED, (), str(exc),
                        start, clock())  # fmt: skip
    except Exception as exc:  # the coordination store failed
        return refused(OpKind.DEPLOY, service.name, f"cannot take the deploy lock: {exc}", start)
    try:
        try:
            pending = unfinished(coordinator.journal(service.name, limit=JOURNAL_SCAN))
        except Exception as exc:
            return refused(OpKind.DEPLOY, service.name, f"cannot read the journal: {exc}", start)
        if not pending:
            return OpResult(new_op_id(), OpKind.DEPLOY, service.name, Outcome.DONE, (),
                            "nothing to recover", start, clock())  # fmt: skip
        ids = [e.op_id for e in pending]
        hosts = service.run_on_host
        with ThreadPoolExecutor(len(hosts)) as pool:
            results = list(pool.map(lambda h: recover_host(rollout_for(ids[0], h), ids), hosts))
        for entry in close_entries(pending, results, owner.user, clock()):
            try:
                coordinator.record(entry)
            except Exception as exc:
                log.warning("journal entry of %s not written: %s", entry.op_id, exc)
        return recovery_result(pending, results, start, clock())
    finally:
        try:
            lock.release()
        except Exception:
            log.warning("releasing the lock of %s failed", service.name, exc_info=True)
