"""The contract of mutating operations: what a rollout reports and what guards it.

The executor (``backend/deploy/``), the coordination backends
(``backend/coordination/``: etcd or local files), the operation records
(``backend/ops/``), the CLI and the TUI all speak these types. Nothing here
does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from jobtui.backend.errors import JobtuiError
from jobtui.backend.times import utc_time

if TYPE_CHECKING:
    # Names in DeployEngine's signatures only: nothing here loads the deploy room.
    from jobtui.backend.deploy import Fingerprint, RollbackCandidate, RolloutControl, ServicePlan


class OpKind(StrEnum):
    """The mutating verbs an operator has."""

    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    RECOVER = "recover"
    """Finish or undo an operation that a crashed jobtui left unfinished."""
    UNLOCK = "unlock"
    """A deploy lock released without its holder: stale (holder gone) or forced."""
    READ_WRITE = "read-write"
    """An inventory's ``read_only: true`` lifted with ``--read-write``."""


class StepStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class Outcome(StrEnum):
    """How an operation ended, as the journal and the exit code see it."""

    DONE = "done"
    FAILED = "failed"
    """Failed and the previous version kept serving (or was restored)."""
    ABORTED = "aborted"
    """The operator aborted; finished hosts keep the new version."""
    LOCKED = "locked"
    """Someone else holds the service's deploy lock: nothing was touched."""
    CHANGED = "changed"
    """The service changed since the plan was shown (its fingerprint differs): nothing
    was touched; :attr:`OpResult.plan` is the new plan."""


class HostOutcome(StrEnum):
    """How one host ended an operation: what the rollout view shows per host."""

    UPDATED = "updated"
    """Replaced: the host serves the target version now."""
    DONE = "done"
    """A start, stop or restart carried out."""
    UNCHANGED = "unchanged"
    """Nothing to do: the host already ran what was asked."""
    RESTORED = "restored"
    """Updated, then put back on its previous container because the rollout
    failed (or was aborted with restore) elsewhere."""
    FAILED = "failed"
    """Failed here; the reason says whether the old container kept serving."""
    SKIPPED = "skipped"
    """Not attempted: the rollout stopped at a failure before this host."""
    ABORTED = "aborted"
    """Not attempted: the operator aborted before this host."""


@dataclass(frozen=True)
class StepEvent:
    """One step on one host, reported while an operation runs (for live views)."""

    op_id: str
    service: str
    host: str
    step: str
    """pull, create, start, health, stop-old, restore, remove-new, stop, …"""
    status: StepStatus
    message: str = ""
    time: float = 0.0


@dataclass(frozen=True)
class HostResult:
    host: str
    ok: bool
    from_version: str | None
    to_version: str | None
    container: str | None = None
    """The container that serves now."""
    reason: str = ""
    """Why it failed, in words an operator can act on."""
    logs: tuple[str, ...] = ()
    """The failed container's last log lines."""
    outcome: HostOutcome | None = None
    """How the host ended; ``None`` means ``DONE`` when ``ok``, else ``FAILED``."""

    @property
    def end(self) -> HostOutcome:
        """How the host ended (:attr:`outcome`, or what ``ok`` implies when it is unset)."""
        if self.outcome is not None:
            return self.outcome
        return HostOutcome.DONE if self.ok else HostOutcome.FAILED


@dataclass(frozen=True)
class OpResult:
    """The end of one operation on one service."""

    op_id: str
    kind: OpKind
    service: str
    outcome: Outcome
    hosts: tuple[HostResult, ...] = ()
    message: str = ""
    started: float = 0.0
    finished: float = 0.0
    plan: tuple[str, ...] = ()
    """With ``CHANGED``: the new plan as ``render_plan`` lines, for the operator to see."""


@dataclass(frozen=True)
class LockOwner:
    """Who runs an operation: shown to a second operator who is refused."""

    user: str
    """The OS user; the invoking user under sudo (SUDO_USER)."""
    host: str
    """The bastion's host name."""
    pid: int
    since: float
    """Unix time the lock was taken."""
    op: str = ""
    """What it is doing, e.g. ``deploy web v1 -> v2``."""
    start_time: int = 0
    """The holder process's start time in clock ticks since boot (``/proc/PID/stat``
    field 22): with ``pid`` it names one process, even after the pid is reused."""
    boot_id: str = ""
    """The bastion's ``/proc/sys/kernel/random/boot_id`` when the lock was taken:
    a pid means something only within the same boot."""

    def describe(self) -> str:
        when = utc_time(self.since)
        what = f" ({self.op})" if self.op else ""
        return f"{self.user}@{self.host} pid {self.pid} since {when}{what}"


class LockedError(JobtuiError):
    """The service's deploy lock is held by someone else."""

    def __init__(self, service: str, holder: LockOwner | None) -> None:
        self.service, self.holder = service, holder
        who = holder.describe() if holder else "an unknown holder"
        super().__init__(f"{service} is being changed by {who}")


@dataclass(frozen=True)
class JournalEntry:
    """One record of the deploy journal (who, when, what, from -> to, result)."""

    op_id: str
    kind: OpKind
    service: str
    user: str
    hosts: tuple[str, ...]
    from_version: str | None
    to_version: str | None
    state: str
    """``started`` first, then one of :data:`END_STATES`: ``done``, ``failed``, ``aborted``,
    ``changed`` (refused: the plan was stale) or ``recovered`` (closed by crash recovery)."""
    time: float
    duration: float = 0.0
    message: str = ""
    bastion: str = ""
    """The host name of the bastion the operation ran on."""
    no_lock: bool = False
    """Run with ``--no-lock`` while etcd was down: under this bastion's local lock only,
    journalled locally first and copied to etcd once it was back."""


END_STATES = frozenset({"done", "failed", "aborted", "changed", "recovered"})
"""Journal states that end an operation (``started`` is the only other one)."""


@dataclass(frozen=True)
class Instance:
    """A running instance as the load balancers see it (confd reads these)."""

    service: str
    host: str
    address: str
    port: int | None
    container: str
    version: str


class ServiceLock(Protocol):
    replaced: LockOwner | None
    """A previous holder whose lock this one replaced because it was gone (local files:
    it died holding the lock); ``None`` normally."""

    def release(self) -> None: ...

    def refresh(self) -> None:
        """Keep the lease alive during a long rollout."""


class Coordinator(Protocol):
    """Locks, instance registration and the journal: etcd, or local files."""

    def acquire(self, service: str, owner: LockOwner, ttl: float = 60.0) -> ServiceLock:
        """Take the service's deploy lock or raise ``LockedError`` naming the holder."""
        ...

    def holder(self, service: str) -> LockOwner | None: ...

    def holders(self) -> Mapping[str, LockOwner]:
        """Service → holder of every lock held now, in one question (views poll this)."""
        ...

    def break_lock(self, service: str, holder: LockOwner | None) -> bool:
        """Delete the service's lock without its holder if ``holder`` still holds it
        (any holder when ``None``); ``False`` when someone else holds it now."""
        ...

    def register(self, instance: Instance) -> None: ...

    def deregister(self, service: str, host: str) -> None: ...

    def instances(self, service: str) -> Sequence[Instance]: ...

    def record(self, entry: JournalEntry) -> None: ...

    def journal(self, service: str | None = None, limit: int = 50) -> Sequence[JournalEntry]:
        """Newest first."""
        ...

    def close(self) -> None: ...


StepListener = Callable[[StepEvent], None]


class DeployEngine(Protocol):
    """The mutating verbs and their plans, as the app drives them; every call blocks.

    :class:`~jobtui.backend.deploy.Deployer` runs them in this process,
    :class:`~jobtui.backend.deploy.DetachedDeployer` in detached runners (the
    CLI's and the TUI's engine); tests hand the TUI a fixed one. Callers use
    ``plan_rollback`` and ``expect`` when an engine offers them.
    """

    def plan(self, service: str, version: str | None = None) -> ServicePlan: ...

    def deploy(
        self,
        service: str,
        version: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult: ...

    def rollback(
        self,
        service: str,
        to: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult: ...

    def rollback_candidates(self, service: str) -> Sequence[RollbackCandidate]: ...

    def start(self, service: str, host: str | None = None) -> OpResult: ...

    def stop(self, service: str, host: str | None = None) -> OpResult: ...

    def restart(self, service: str, host: str | None = None) -> OpResult: ...
