"""The frame around every mutating operation: deploy lock, lease, journal, result.

:func:`run_operation` takes the service's lock (``LOCKED`` if refused: nothing
touched), keeps its lease alive, lets the body journal ``started`` before it
touches anything (:meth:`Operation.started`), turns operational failures into
a ``FAILED`` result, journals the end state with its duration and releases
the lock. It never raises for an operational failure.
"""

from __future__ import annotations

import logging
import threading
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
from jobtui.backend.coordination import LOCK_TTL, take_lock
from jobtui.backend.deploy.batches import FleetResult
from jobtui.backend.deploy.host import FAILURES, HostRollout
from jobtui.backend.deploy.policy import RolloutControl, op_description
from jobtui.backend.errors import JobtuiError
from jobtui.config.models import Inventory, Service

log = logging.getLogger(__name__)


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
        self._host_rollout = host_rollout

    def aborting(self) -> bool:
        """Whether the operator aborted with restore (hosts stop at their next safe point)."""
        return self.control.restore

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
        try:
            entry = self.entry(body.outcome.value, end - self.start, body.message)
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
    keeper = LeaseKeeper(lock, LOCK_TTL / 3)
    try:
        try:
            if recover is not None:
                recover()
            result = body(op)
            if not op.journaled and result.outcome is not Outcome.CHANGED:
                op.started()
        except OperationFailed as exc:
            result = FleetResult(Outcome.FAILED, (), str(exc))
        except FAILURES as exc:
            result = FleetResult(Outcome.FAILED, (), f"{exc.__class__.__name__}: {exc}")
        return op.finish(result)
    finally:
        keeper.stop()
        try:
            lock.release()
        except Exception:  # an expired lease is gone already
            log.warning("releasing the lock of %s failed", service, exc_info=True)


class LeaseKeeper:
    """Refreshes the deploy lock's lease while an operation runs."""

    def __init__(self, lock: ServiceLock, interval: float) -> None:
        self._lock = lock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), daemon=True, name="jobtui-lease"
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._lock.refresh()
            except Exception:
                log.warning("refreshing the deploy lock failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
