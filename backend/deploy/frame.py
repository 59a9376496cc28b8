"""The frame around every mutating operation: deploy lock, lease, journal, result.

:func:`run_operation` takes the service's lock (``LOCKED`` if refused: nothing
touched), keeps its lease alive, lets the body journal ``started`` before it
touches anything (:meth:`Operation.started`), turns operational failures into
a ``FAILED`` result, journals the end state with its duration and releases
the lock. It never raises for an operational failure.

A lock that is lost while the operation runs (its lease ran out or was
revoked, its key deleted, or etcd unreachable for nearly the lease's TTL, so
another operator may hold it by now) stops the operation at its next safe
point, as an abort with restore does: every host is put back on its old
container, and the result is ``FAILED`` naming the lost lock. The operation
never goes on unlocked.

A failed operation that could not put a host's old container back (its
daemon went away during the rollout: ``RESTORE FAILED``) is not ended in the
journal: its last entry is ``unrestored``, so it stays unfinished and the next
operation on the service recovers it first, under its lock (see
:mod:`.recovery`): the operation's leftovers are removed and the retained old
container is started again through the gate.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace

from jobtui.backend.contract import (
    Coordinator,
    JournalEntry,
    LockedError,
    LockOwner,
    OpKind,
    OpResult,
    Outcome,
    ServiceLock,
)
from jobtui.backend.coordination import LOCK_TTL, LockLost, take_lock
from jobtui.backend.deploy.batches import FleetResult
from jobtui.backend.deploy.host import FAILURES, HostRollout, left_unrestored
from jobtui.backend.deploy.policy import RolloutControl, op_description
from jobtui.backend.errors import JobtuiError
from jobtui.config.models import Inventory, Service

log = logging.getLogger(__name__)

UNRESTORED = "unrestored"
"""The journal state of a failed operation that left a host without its old container:
not an end state, so recovery takes it up (see the module doc)."""


class OperationFailed(JobtuiError):
    """An operation cannot go on; nothing (more) is touched. ``str()`` says why."""


def new_op_id() -> str:
    """A short id for an operation: in the journal and on every container it creates."""
    return uuid.uuid4().hex[:8]


class Operation:
    """One running operation: its id, target hosts and journal entries."""

    def __init__(
        self,
        kind: OpKind,
        service: Service,
        hosts: tuple[str, ...],
        *,
        coordinator: Coordinator,
        user: str,
        clock: Callable[[], float],
        host_rollout: Callable[[Operation, str], HostRollout],
        op_id: str | None = None,
        bastion: str = "",
        control: RolloutControl | None = None,
    ) -> None:
        self.kind, self.service, self.hosts = kind, service, hosts
        self.id = op_id or new_op_id()
        self.coordinator, self.user, self.clock = coordinator, user, clock
        self.bastion = bastion
        self.control = control or RolloutControl()
        self.start = clock()
        self.from_versions: list[str | None] = []
        self.to_version: str | None = None
        self.journaled = False
        self.lost: str | None = None
        """Why the deploy lock is no longer ours, once the lease keeper found out."""
        self._host_rollout = host_rollout

    def aborting(self) -> bool | str:
        """Whether hosts stop at their next safe point: the operator aborted with restore
        (``True``), or the lock was lost (the reason)."""
        if self.lost is not None:
            return self.lost
        return self.control.restore

    def lock_lost(self, reason: str) -> None:
        """The lease keeper lost the lock: stop at the next safe point and restore."""
        self.lost = reason
        log.warning("%s [%s]: stopping at the next safe point and restoring", reason, self.id)
        self.control.abort(restore=True)

    def host_rollout(self, host: str) -> HostRollout:
        """The executor of this operation on ``host``."""
        return self._host_rollout(self, host)

    @property
    def from_version(self) -> str | None:
        found = sorted({v for v in self.from_versions if v})
        return ",".join(found) if found else None

    def entry(self, state: str, duration: float = 0.0, message: str = "") -> JournalEntry:
        return JournalEntry(
            self.id, self.kind, self.service.name, self.user, self.hosts, self.from_version,
            self.to_version, state, self.clock(), duration, message, self.bastion,
        )  # fmt: skip

    def started(self) -> None:
        """Journal ``started``: call before anything is touched."""
        self.journaled = True
        try:
            self.coordinator.record(self.entry("started"))
        except Exception as exc:  # etcd down, disk full: better not to start at all
            raise OperationFailed(f"cannot write the journal: {exc}") from exc

    def finish(self, body: FleetResult) -> OpResult:
        end = self.clock()
        state, message = body.outcome.value, body.message
        unrestored = [h.host for h in body.hosts if left_unrestored(h)]
        if unrestored:
            state = UNRESTORED
            message = (
                f"{message}; nothing serves {self.service.name} on {', '.join(unrestored)}: "
                "the next operation on it starts the old container again (recovery)"
            ).lstrip("; ")
            body = replace(body, message=message)
        try:
            entry = self.entry(state, end - self.start, message)
            self.coordinator.record(entry)
        except Exception as exc:
            log.warning("journal entry of %s not written: %s", self.id, exc)
        return OpResult(
            self.id, self.kind, self.service.name, body.outcome, body.hosts, body.message,
            self.start, end, body.plan,
        )  # fmt: skip


def refused(kind: OpKind, service: str, message: str, now: float) -> OpResult:
    """A result for an operation that could not even begin (nothing journaled)."""
    return OpResult(new_op_id(), kind, service, Outcome.FAILED, (), message, now, now)


def run_operation(
    *,
    inventory: Inventory,
    coordinator: Coordinator,
    owner: LockOwner,
    clock: Callable[[], float],
    kind: OpKind,
    service: str,
    hosts: Sequence[str] | None,
    version: str | None,
    host_rollout: Callable[[Operation, str], HostRollout],
    body: Callable[[Operation], FleetResult],
    op_id: str | None = None,
    control: RolloutControl | None = None,
    recover: Callable[[], object] | None = None,
) -> OpResult:
    """Run ``body`` inside the lock/journal frame (see the module doc).

    ``recover`` runs under the lock before ``body``: it finishes or undoes the
    service's operations that a crash left unfinished.
    """
    try:
        svc = inventory.service(service)
    except KeyError:
        return refused(kind, service, f"unknown service {service!r}", clock())
    targets = tuple(hosts) if hosts else svc.run_on_host
    strangers = [h for h in targets if h not in svc.run_on_host]
    if strangers:
        message = f"{service} does not run on {', '.join(strangers)}"
        return refused(kind, service, message, clock())
    op = Operation(
        kind, svc, targets, coordinator=coordinator, user=owner.user, clock=clock,
        host_rollout=host_rollout, op_id=op_id, bastion=owner.host, control=control,
    )  # fmt: skip
    what = f"{op_description(kind.value, service, (), version or svc.tag)} [{op.id}]"
    try:
        lock = take_lock(
            coordinator, service, replace(owner, since=op.start, op=what), LOCK_TTL, clock=clock
        )
    except LockedError as exc:
        return OpResult(op.id, kind, service, Outcome.LOCKED, (), str(exc), op.start, clock())
    except Exception as exc:  # the coordinator's backend (etcd, files) failed
        message = f"cannot take the deploy lock: {exc}"
        return OpResult(op.id, kind, service, Outcome.FAILED, (), message, op.start, clock())
    keeper = LeaseKeeper(lock, LOCK_TTL / 3, on_lost=op.lock_lost)
    try:
        try:
            if recover is not None:
                recover()
            if op.lost is not None:  # lost during recovery: nothing of ours started yet
                raise OperationFailed(f"{op.lost}; nothing changed")
            result = body(op)
            if not op.journaled and result.outcome is not Outcome.CHANGED:
                op.started()
        except OperationFailed as exc:
            result = FleetResult(Outcome.FAILED, (), str(exc))
        except FAILURES as exc:
            result = FleetResult(Outcome.FAILED, (), f"{exc.__class__.__name__}: {exc}")
        return op.finish(_after_lost_lock(op, result))
    finally:
        keeper.stop()
        try:
            lock.release()
        except Exception:  # an expired lease is gone already
            log.warning("releasing the lock of %s failed", service, exc_info=True)


def _after_lost_lock(op: Operation, result: FleetResult) -> FleetResult:
    """The result of an operation whose lock was lost: ``FAILED``, saying so first."""
    if op.lost is None:
        return result
    if result.outcome is Outcome.DONE:
        # Past its last safe point: it finished; whoever looks must still learn of it.
        return replace(result, message=f"done, but {op.lost}")
    rest = result.message.removeprefix("aborted by the operator and restored").lstrip("; ")
    if op.lost in rest:
        rest = ""  # a host's reason already names it
    message = f"{op.lost}: stopped at a safe point and put back" + (f"; {rest}" if rest else "")
    return replace(result, outcome=Outcome.FAILED, message=message)


RETRY_AFTER_FAILURE = 1.0
"""Seconds between refreshes while etcd does not answer (a brief outage is bridged)."""

LOST_MARGIN = 3.0
"""Seconds before the lease's TTL is over, counted from the last refresh that worked,
at which an unanswered lock counts as lost: the holder gives up before etcd would."""


class LeaseKeeper:
    """Refreshes the deploy lock's lease while an operation runs; ``on_lost(reason)`` once
    the lock is no longer ours, or may not be (unrefreshed for nearly its TTL)."""

    def __init__(
        self,
        lock: ServiceLock,
        interval: float,
        *,
        ttl: float = LOCK_TTL,
        on_lost: Callable[[str], object] = lambda _reason: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = lock
        self._ttl, self._on_lost, self._clock = ttl, on_lost, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), daemon=True, name="jobtui-lease"
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        last_ok = self._clock()
        wait = interval
        while not self._stop.wait(wait):
            try:
                self._lock.refresh()
            except LockLost as exc:
                self._on_lost(str(exc))
                return
            except Exception as exc:  # etcd unreachable: the lease may still be ours
                unrefreshed = self._clock() - last_ok
                if unrefreshed >= self._ttl - LOST_MARGIN:
                    self._on_lost(
                        f"the deploy lock could not be refreshed for {unrefreshed:.0f} s "
                        f"({exc}); its {self._ttl:g} s lease may have run out"
                    )
                    return
                log.warning("refreshing the deploy lock failed (retrying): %s", exc)
                wait = min(interval, RETRY_AFTER_FAILURE)
                continue
            last_ok, wait = self._clock(), interval

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
