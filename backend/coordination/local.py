"""Deploy locks, the journal and instances in local files, for inventories without etcd.

Layout of the state directory (``$JOBTUI_STATE_DIR`` or ``~/.local/state/jobtui``):

``locks/<service>.lock``
    Held with ``flock(LOCK_EX | LOCK_NB)`` by the process that runs an
    operation; the holder's LockOwner JSON is written inside so a refused
    operator is told who holds it. The kernel drops the flock when the holder
    exits or crashes, so a stale lock cannot outlive its process; the name a
    crashed holder leaves in the file is reported as the lock it
    :attr:`~LocalServiceLock.replaced`. A lock whose holder lives on (an
    inherited descriptor, ``force-unlock``) is broken by renaming the file
    away: the holder keeps a flock on a file nobody opens any more.

``locks/.guard``
    Flocked for a moment around taking, reading and breaking a lock, so a
    lock file is never renamed away between someone's open and flock.

``journal.jsonl``
    The deploy journal, one JSON object per line (the same fields as in
    etcd), appended with a single ``write`` and ``fsync`` per entry.

``instances.json``
    ``{"<service>": {"<host>": {"address", "port", "container", "version",
    "updated"}}}``. No load balancer reads it; it keeps the views alike with
    and without etcd.

Locks only exclude operators who share the state directory: point
``JOBTUI_STATE_DIR`` at one shared directory on a bastion with several users.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jobtui.backend.contract import Instance, JournalEntry, LockedError, LockOwner
from jobtui.backend.coordination.factory import (
    CoordinationError,
    LockLost,
    entry_from_json,
    entry_to_json,
    instance_from_dict,
    instance_to_dict,
    owner_from_json,
    owner_to_json,
)

HOLDER_READ_WAIT = 0.2
"""How long to wait for a holder that has the flock but has not written its name yet."""

TAIL_CHUNK = 64 * 1024


class LocalCoordinator:
    """The :class:`~jobtui.backend.contract.Coordinator` on files in ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.locks_dir = state_dir / "locks"
        self.journal_path = state_dir / "journal.jsonl"
        self.instances_path = state_dir / "instances.json"
        try:
            self.locks_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CoordinationError(
                f"cannot create the state directory {state_dir}: {exc}"
            ) from exc

    # Locks.

    def lock_path(self, service: str) -> Path:
        if not service or "/" in service or service.startswith("."):
            raise CoordinationError(f"{service!r} cannot name a lock file")
        return self.locks_dir / f"{service}.lock"

    def acquire(self, service: str, owner: LockOwner, ttl: float = 60.0) -> LocalServiceLock:
        """Take the service's lock or raise ``LockedError`` naming the holder.

        ``ttl`` is not needed here: the kernel releases the lock with its process.
        """
        path = self.lock_path(service)
        with self._guard():
            # O_CLOEXEC: a child we spawn (ssh for a host) must not inherit and keep the lock.
            fd = self._open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise LockedError(service, holder) from None
            except OSError as exc:
                os.close(fd)
                raise CoordinationError(f"cannot lock {path}: {exc}") from exc
            try:
                # A name left in the file is a holder that died holding the lock.
                previous = os.pread(fd, 4096, 0)
                os.ftruncate(fd, 0)
                os.pwrite(fd, owner_to_json(owner).encode(), 0)
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)  # closing drops the flock too
                raise CoordinationError(f"cannot write {path}: {exc}") from exc
        replaced = owner_from_json(previous) if previous.strip() else None
        return LocalServiceLock(service, path, fd, replaced)

    def holder(self, service: str) -> LockOwner | None:
        path = self.lock_path(service)
        with self._guard():
            if not path.exists():
                return None
            fd = self._open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return _read_holder(fd)
                # We got it, so nobody holds the lock (closing the fd lets it go).
                return None
            finally:
                os.close(fd)

    def holders(self) -> dict[str, LockOwner]:
        """Service → holder of every lock held now (one look at each lock file; no network)."""
        found = {}
        for path in sorted(self.locks_dir.glob("*.lock")):
            if path.name.startswith("."):
                continue  # a lock broken away (see break_lock), not a service's
            owner = self.holder(path.name.removesuffix(".lock"))
            if owner is not None:
                found[path.name.removesuffix(".lock")] = owner
        return found

    def break_lock(self, service: str, holder: LockOwner | None) -> bool:
        """Release the lock without its holder if ``holder`` (any, when ``None``) holds it.

        A free lock only loses the name a crashed holder left in it. A held one
        is renamed away: its holder keeps a flock on a file nobody opens again.
        """
        path = self.lock_path(service)
        with self._guard():
            if not path.exists():
                return True
            fd = self._open(path, os.O_RDWR | os.O_CLOEXEC)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    current = owner_from_json(os.pread(fd, 4096, 0))
                    if holder is not None and current != holder:
                        return False
                    broken = path.with_name(f".{path.name}.broken-{time.time_ns()}")
                    os.rename(path, broken)
                    broken.unlink()  # the holder's descriptor keeps the inode alive
                    return True
                os.ftruncate(fd, 0)
                return True
            except OSError as exc:
                raise CoordinationError(f"cannot break the lock {path}: {exc}") from exc
            finally:
                os.close(fd)

    # Instances.

    def register(self, instance: Instance) -> None:
        with self._instances_for_update() as table:
            table.setdefault(instance.service, {})[instance.host] = instance_to_dict(instance)

    def deregister(self, service: str, host: str) -> None:
        with self._instances_for_update() as table:
            hosts = table.get(service, {})
            hosts.pop(host, None)
            if not hosts:
                table.pop(service, None)

    def instances(self, service: str) -> Sequence[Instance]:
        hosts = self._read_instances().get(service, {})
        found = (instance_from_dict(service, host, data) for host, data in sorted(hosts.items()))
        return [instance for instance in found if instance is not None]

    # Journal.

    def record(self, entry: JournalEntry) -> None:
        line = (entry_to_json(entry) + "\n").encode()
        fd = self._open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
        try:
            # One write of the whole line: O_APPEND keeps concurrent writers' lines whole.
            os.write(fd, line)
            os.fsync(fd)
        except OSError as exc:
            raise CoordinationError(f"cannot write {self.journal_path}: {exc}") from exc
        finally:
            os.close(fd)

    def journal(self, service: str | None = None, limit: int = 50) -> Sequence[JournalEntry]:
        """Newest first (the reverse of the order written); only ``service``'s if given."""
        found: list[JournalEntry] = []
        if limit <= 0 or not self.journal_path.exists():
            return found
        for line in _lines_backwards(self.journal_path):
            entry = entry_from_json(line)  # a torn last line from a crash is skipped
            if entry is not None and (service is None or entry.service == service):
                found.append(entry)
                if len(found) >= limit:
                    break
        return found

    def close(self) -> None:
        """Nothing stays open between calls; held locks are released by their owners."""

    # Files.

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Excludes breaking a lock while anyone opens, takes or reads one (held briefly)."""
        fd = self._open(self.locks_dir / ".guard", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _open(self, path: Path, flags: int) -> int:
        try:
            return os.open(path, flags, 0o644)
        except OSError as exc:
            raise CoordinationError(f"cannot open {path}: {exc}") from exc

    def _read_instances(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            data = json.loads(self.instances_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CoordinationError(f"cannot read {self.instances_path}: {exc}") from exc
        if not isinstance(data, dict):
            return {}
        return {
            str(service): {str(h): d for h, d in hosts.items() if isinstance(d, dict)}
            for service, hosts in data.items()
            if isinstance(hosts, dict)
        }

    @contextlib.contextmanager
    def _instances_for_update(self) -> Iterator[dict[str, dict[str, dict[str, Any]]]]:
        """The instance table, written back atomically, one writer at a time."""
        guard = self._open(self.state_dir / "instances.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
        try:
            # Blocking is fine: writers hold this only for a read and a rename.
            fcntl.flock(guard, fcntl.LOCK_EX)
            table = self._read_instances()
            yield table
            temp = self.instances_path.with_name(
                f".{self.instances_path.name}.{os.getpid()}.{threading.get_ident()}"
            )
            try:
                with temp.open("w") as out:
                    json.dump(table, out, indent=2, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, self.instances_path)
            except OSError as exc:
                temp.unlink(missing_ok=True)
                raise CoordinationError(f"cannot write {self.instances_path}: {exc}") from exc
        finally:
            os.close(guard)


class LocalServiceLock:
    """A held flock on ``locks/<service>.lock``."""

    def __init__(
        self, service: str, path: Path, fd: int, replaced: LockOwner | None = None
    ) -> None:
        self.service, self.path = service, path
        self.replaced = replaced
        self._fd: int | None = fd
        self._guard = threading.Lock()

    def refresh(self) -> None:
        """Nothing to extend: the lock lasts as long as it is held. An error once released,
        or when someone broke it (``force-unlock``: the file is no longer ours)."""
        fd = self._fd
        if fd is None:
            raise CoordinationError(f"the lock of {self.service} was already released")
        try:
            ours = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            ours = False
        if not ours:
            raise LockLost(f"the lock of {self.service} was broken by someone else")

    def release(self) -> None:
        """Clear the holder's name and let the lock go (idempotent)."""
        with self._guard:
            fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Truncate before unlocking so no reader sees our name after we let go.
            os.ftruncate(fd, 0)
        except OSError:
            pass  # the lock goes with close() either way; a stale name is only cosmetic
        finally:
            os.close(fd)


def _read_holder(fd: int) -> LockOwner | None:
    # The holder writes its name just after taking the flock: give it a moment.
    deadline = time.monotonic() + HOLDER_READ_WAIT
    while True:
        try:
            text = os.pread(fd, 4096, 0)
        except OSError:
            return None
        if text or time.monotonic() >= deadline:
            return owner_from_json(text) if text else None
        time.sleep(0.01)


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """The file's non-empty lines, last first, reading from the end in chunks."""
    with path.open("rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(TAIL_CHUNK, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step) + rest
            lines = chunk.split(b"\n")
            rest = lines[0]  # may continue in the previous chunk
            for line in reversed(lines[1:]):
                if line.strip():
                    yield line
        if rest.strip():
            yield rest
