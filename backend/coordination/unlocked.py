"""``--no-lock``: an operation run while etcd is down, under this bastion's lock only.

With etcd down no deploy lock can be taken, so mutating verbs refuse. An
operator who must act anyway passes ``--no-lock`` (confirmed: operators on
other bastions cannot see this operation). The operation then runs with an
:class:`UnlockedCoordinator`, whose files live under ``<state>/no-lock/``:

``locks/<service>.lock``
    :class:`~jobtui.backend.coordination.local.LocalCoordinator`'s flocks: two
    operators on this bastion still exclude each other, and an etcd operation
    started here while one runs is refused naming it
    (:meth:`EtcdCoordinator.acquire <jobtui.backend.coordination.etcd.EtcdCoordinator.acquire>`).

``journal.jsonl``
    The operation's journal entries, each marked ``no_lock``.

``instances.jsonl``
    One line per instance registered (``instance`` an object) or deregistered
    (``null``), with the time of the change: what confd would have been told.

The first coordinator made for the inventory once etcd answers again
(:func:`~jobtui.backend.coordination.factory.make_coordinator`) copies them
there with :func:`replay_unlocked`: the files are renamed to
``replaying-*.jsonl`` first (so an operation still running appends to fresh
ones), copied, then deleted. Replaying is idempotent: a journal key is made of
the entry's time, op id and state, so an entry copied twice is one key; an
instance change is applied only when etcd holds no newer one. The entries of
an operation that has not ended and still holds its local lock are kept back
for a later replay (etcd's recovery must not mistake it for a crash).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobtui.backend.contract import END_STATES, Instance, JournalEntry, LockOwner
from jobtui.backend.coordination.factory import (
    CoordinationError,
    entry_from_json,
    entry_to_json,
    instance_from_dict,
    instance_to_dict,
)
from jobtui.backend.coordination.local import LocalCoordinator, LocalServiceLock

if TYPE_CHECKING:
    from jobtui.backend.coordination.etcd import EtcdCoordinator

log = logging.getLogger(__name__)

NO_LOCK_DIR = "no-lock"


class UnlockedCoordinator:
    """The coordinator of a ``--no-lock`` operation (see the module doc)."""

    def __init__(self, state_dir: Path, reason: str = "") -> None:
        self.dir = state_dir / NO_LOCK_DIR
        self.local = LocalCoordinator(self.dir)
        self.instances_path = self.dir / "instances.jsonl"
        self.reason = reason
        """Why etcd could not be used (for the operator)."""

    @staticmethod
    def locks_in(state_dir: Path) -> Path:
        """Where ``--no-lock`` operations of this state directory hold their locks."""
        return state_dir / NO_LOCK_DIR / "locks"

    @classmethod
    def instead_of(cls, etcd: EtcdCoordinator, state_dir: Path) -> UnlockedCoordinator:
        """The unlocked coordinator, only when ``etcd`` cannot be reached: with etcd up the
        cluster lock is there to be taken, and ``CoordinationError`` says so."""
        try:
            etcd.ping()
        except CoordinationError as exc:
            return cls(state_dir, str(exc))
        finally:
            etcd.close()
        raise CoordinationError(
            f"--no-lock refused: etcd at {etcd.endpoint} answers, so the cluster lock can be "
            "taken: run without --no-lock"
        )

    # Locks: this bastion's only.

    def acquire(self, service: str, owner: LockOwner, ttl: float = 60.0) -> LocalServiceLock:
        return self.local.acquire(service, owner, ttl)

    def holder(self, service: str) -> LockOwner | None:
        return self.local.holder(service)

    def holders(self) -> dict[str, LockOwner]:
        return self.local.holders()

    def break_lock(self, service: str, holder: LockOwner | None) -> bool:
        return self.local.break_lock(service, holder)

    # Instances: kept as changes, for etcd later.

    def register(self, instance: Instance) -> None:
        data = instance_to_dict(instance)
        self._change(instance.service, instance.host, data, float(data["updated"]))

    def deregister(self, service: str, host: str) -> None:
        self._change(service, host, None, time.time())

    def _change(self, service: str, host: str, data: dict[str, Any] | None, at: float) -> None:
        line = json.dumps(
            {"service": service, "host": host, "instance": data, "updated": at}, sort_keys=True
        )
        _append(self.instances_path, line)

    def instances(self, service: str) -> Sequence[Instance]:
        latest: dict[str, dict[str, Any] | None] = {}
        for change in _changes(self.instances_path):
            if change["service"] == service:
                latest[change["host"]] = change["instance"]
        found = (
            instance_from_dict(service, host, data)
            for host, data in sorted(latest.items())
            if data is not None
        )
        return [instance for instance in found if instance is not None]

    # Journal: local, every entry marked.

    def record(self, entry: JournalEntry) -> None:
        self.local.record(replace(entry, no_lock=True))

    def journal(self, service: str | None = None, limit: int = 50) -> Sequence[JournalEntry]:
        return self.local.journal(service, limit)

    def close(self) -> None:
        self.local.close()


def pending_replay(state_dir: Path) -> bool:
    """Whether this bastion holds ``--no-lock`` records etcd has not got yet (no I/O
    beyond a few file look-ups)."""
    where = state_dir / NO_LOCK_DIR
    if not where.is_dir():
        return False
    names = ("journal.jsonl", "instances.jsonl")
    return any((where / n).exists() for n in names) or any(where.glob("replaying-*.jsonl"))


def replay_unlocked(etcd: EtcdCoordinator, state_dir: Path) -> int:
    """Copy this bastion's ``--no-lock`` records to etcd (see the module doc); how many
    journal entries were copied. Quietly 0 when there are none, another process is
    replaying them, or etcd cannot be reached (they wait for the next attempt)."""
    if not pending_replay(state_dir):
        return 0
    where = state_dir / NO_LOCK_DIR
    with _exclusive(where / "replay.lock") as mine:
        if not mine:
            return 0
        stamp = time.time_ns()
        for name in ("journal", "instances"):
            current = where / f"{name}.jsonl"
            with contextlib.suppress(FileNotFoundError):
                current.rename(where / f"replaying-{name}-{stamp}.jsonl")
        copied = 0
        try:
            for path in sorted(where.glob("replaying-journal-*.jsonl")):
                copied += _replay_journal(etcd, path, UnlockedCoordinator(state_dir))
                path.unlink()
            for path in sorted(where.glob("replaying-instances-*.jsonl")):
                for change in _changes(path):
                    data = change["instance"]
                    instance = None
                    if data is not None:
                        instance = instance_from_dict(change["service"], change["host"], data)
                    etcd.put_instance_if_newer(
                        change["service"], change["host"], instance, float(change["updated"])
                    )
                path.unlink()
        except CoordinationError as exc:
            log.warning("--no-lock records not copied to etcd yet: %s", exc)
        if copied:
            log.warning("copied %d --no-lock journal entries to etcd", copied)
        return copied


def _replay_journal(etcd: EtcdCoordinator, path: Path, unlocked: UnlockedCoordinator) -> int:
    entries = [e for e in map(entry_from_json, _lines(path)) if e is not None]
    ended = {e.op_id for e in entries if e.state in END_STATES}
    running = {
        e.op_id for e in entries if e.op_id not in ended and unlocked.holder(e.service) is not None
    }
    copied = 0
    for entry in entries:
        if entry.op_id in running:
            # Still under way here: back to the live journal, for a later replay.
            _append(unlocked.local.journal_path, entry_to_json(entry))
            continue
        etcd.record(entry)
        copied += 1
    return copied


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """A non-blocking flock on ``path``: ``True`` when this process has it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        log.warning("cannot open %s: %s", path, exc)
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # drops the flock


def _append(path: Path, line: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise CoordinationError(f"cannot open {path}: {exc}") from exc
    try:
        # One write per line: O_APPEND keeps concurrent writers' lines whole.
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    except OSError as exc:
        raise CoordinationError(f"cannot write {path}: {exc}") from exc
    finally:
        os.close(fd)


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CoordinationError(f"cannot read {path}: {exc}") from exc


def _changes(path: Path) -> Iterator[dict[str, Any]]:
    """The well-formed instance changes of ``path``, oldest first (a torn line is skipped)."""
    for line in _lines(path):
        try:
            data = json.loads(line)
            change = {
                "service": str(data["service"]),
                "host": str(data["host"]),
                "instance": data["instance"] if isinstance(data["instance"], dict) else None,
                "updated": float(data["updated"]),
            }
        except (ValueError, TypeError, KeyError):
            continue
        yield change
