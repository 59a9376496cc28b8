"""The contract of mutating operations: what a rollout reports and what guards it.

The executor (``backend/rollout*.py``), the coordination backends
(``backend/coordination*.py``: etcd or local files), the CLI and the TUI all
speak these types. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from jobtui.backend.errors import JobtuiError
from jobtui.backend.times import utc_time


class OpKind(StrEnum):
    """The mutating verbs an operator has."""

    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    START = "start"
    STOP = "stop"
    RESTART = "restart"


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
    """``started`` first, then ``done``, ``failed`` or ``aborted``."""
    time: float
    duration: float = 0.0
    message: str = ""


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
    def release(self) -> None: ...

    def refresh(self) -> None:
        """Keep the lease alive during a long rollout."""


class Coordinator(Protocol):
    """Locks, instance registration and the journal: etcd, or local files."""

    def acquire(self, service: str, owner: LockOwner, ttl: float = 60.0) -> ServiceLock:
        """Take the service's deploy lock or raise ``LockedError`` naming the holder."""
        ...

    def holder(self, service: str) -> LockOwner | None: ...

    def register(self, instance: Instance) -> None: ...

    def deregister(self, service: str, host: str) -> None: ...

    def instances(self, service: str) -> Sequence[Instance]: ...

    def record(self, entry: JournalEntry) -> None: ...

    def journal(self, service: str | None = None, limit: int = 50) -> Sequence[JournalEntry]:
        """Newest first."""
        ...

    def close(self) -> None: ...


StepListener = Callable[[StepEvent], None]

