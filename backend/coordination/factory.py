"""Choosing a coordinator, who the operator is, and the journal as text.

Two backends implement :class:`~jobtui.backend.contract.Coordinator`:

* ``coordination/etcd.py`` — etcd v3, when the inventory has ``etcd:``;
  its key layout is documented there;
* ``coordination/local.py`` — files under a state directory
  (``$JOBTUI_STATE_DIR`` or ``~/.local/state/jobtui``) when it has not.

Both store the same JSON shapes, built here, so a journal or a lock holder
reads the same whichever backend wrote it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jobtui.backend.contract import (
    END_STATES,
    Coordinator,
    Instance,
    JournalEntry,
    LockOwner,
    OpKind,
)

# Re-exported: callers and tests knew them here first.
from jobtui.backend.coordination.identity import (
    current_owner as current_owner,
    login_user as login_user,
)
from jobtui.backend.errors import JobtuiError
from jobtui.backend.times import format_duration, utc_time
from jobtui.config.models import Inventory

STATE_DIR_ENV = "JOBTUI_STATE_DIR"


class CoordinationError(JobtuiError):
    """The coordination store (etcd or the state directory) cannot be used."""


class LockLost(CoordinationError):
    """A held deploy lock is no longer ours: its lease ran out or was revoked, or it was
    deleted or broken from outside. An operation holding it must stop."""


def default_state_dir() -> Path:
    """Where the local coordinator keeps its files: ``$JOBTUI_STATE_DIR`` or XDG state."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".local" / "state" / "jobtui"


def make_coordinator(
    inventory: Inventory, *, state_dir: Path | None = None, no_lock: bool = False
) -> Coordinator:
    """etcd when the inventory configures it, else local files in ``state_dir``.

    With etcd, what ``--no-lock`` operations journalled on this bastion while it
    was down is copied to it first (see :mod:`.unlocked`). ``no_lock``: the
    coordinator of such an operation, refused with ``CoordinationError`` unless
    the inventory has etcd and etcd cannot be reached.
    """
    state = state_dir if state_dir is not None else default_state_dir()
    # Imported here so an inventory without etcd never loads grpc and protobuf.
    if inventory.etcd is not None:
        from jobtui.backend.coordination.etcd import EtcdCoordinator
        from jobtui.backend.coordination.unlocked import UnlockedCoordinator, replay_unlocked

        etcd = EtcdCoordinator(inventory.etcd, local_locks=UnlockedCoordinator.locks_in(state))
        if no_lock:
            return UnlockedCoordinator.instead_of(etcd, state)
        replay_unlocked(etcd, state)
        return etcd
    if no_lock:
        raise CoordinationError(
            "--no-lock: this inventory has no etcd; its deploy locks are this bastion's "
            "already (run without --no-lock)"
        )
    from jobtui.backend.coordination.local import LocalCoordinator

    return LocalCoordinator(state)


# JSON shapes shared by both backends.


def owner_to_json(owner: LockOwner) -> str:
    """A lock holder as stored (a JSON object with LockOwner's fields)."""
    return json.dumps(asdict(owner), sort_keys=True)


def owner_from_json(text: str | bytes) -> LockOwner | None:
    """A stored lock holder, or ``None`` when the text is not one."""
    data = _load_object(text)
    if data is None:
        return None
    try:
        return LockOwner(
            user=str(data["user"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            since=float(data["since"]),
            op=str(data.get("op", "")),
            start_time=int(data.get("start_time") or 0),
            boot_id=str(data.get("boot_id") or ""),
        )
    except (KeyError, TypeError, ValueError):
        return None


def entry_to_json(entry: JournalEntry) -> str:
    """A journal entry as one line of JSON."""
    data = asdict(entry)
    data["kind"] = entry.kind.value
    data["hosts"] = list(entry.hosts)
    return json.dumps(data, sort_keys=True)


def entry_from_json(text: str | bytes) -> JournalEntry | None:
    """A stored journal entry, or ``None`` when the text is not one (e.g. a torn line)."""
    data = _load_object(text)
    if data is None:
        return None
    try:
        return JournalEntry(
            op_id=str(data["op_id"]),
            kind=OpKind(data["kind"]),
            service=str(data["service"]),
            user=str(data["user"]),
            hosts=tuple(str(h) for h in data["hosts"]),
            from_version=_optional_str(data.get("from_version")),
            to_version=_optional_str(data.get("to_version")),
            state=str(data["state"]),
            time=float(data["time"]),
            duration=float(data.get("duration", 0.0)),
            message=str(data.get("message", "")),
            bastion=str(data.get("bastion") or ""),
            no_lock=bool(data.get("no_lock")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def instance_to_dict(instance: Instance, updated: float | None = None) -> dict[str, Any]:
    """What a load balancer template reads about one instance (service and host are keys)."""
    return {
        "address": instance.address,
        "port": instance.port,
        "container": instance.container,
        "version": instance.version,
        "updated": time.time() if updated is None else updated,
    }


def instance_to_json(instance: Instance, updated: float | None = None) -> str:
    """An instance as the JSON object stored for it."""
    return json.dumps(instance_to_dict(instance, updated), sort_keys=True)


def instance_from_json(service: str, host: str, text: str | bytes) -> Instance | None:
    """An instance read back from its stored JSON, or ``None`` when malformed."""
    data = _load_object(text)
    return None if data is None else instance_from_dict(service, host, data)


def instance_from_dict(service: str, host: str, data: Mapping[str, Any]) -> Instance | None:
    """An instance read back from its stored object, or ``None`` when malformed."""
    try:
        port = data.get("port")
        return Instance(
            service=service,
            host=host,
            address=str(data["address"]),
            port=None if port is None else int(port),
            container=str(data["container"]),
            version=str(data["version"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _load_object(text: str | bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# `jobtui history`.

HISTORY_HEADER = ("time", "user", "kind", "service", "from -> to", "hosts", "result", "duration")


def per_operation(entries: Iterable[JournalEntry]) -> list[tuple[JournalEntry, JournalEntry]]:
    """``(first, last)`` entry of each operation, newest operation first.

    ``entries`` are newest first, as :meth:`Coordinator.journal` returns them;
    ``first`` is the ``started`` entry when it is among them (else the oldest
    one seen), ``last`` the newest: the operation's end once it has one.
    """
    order: list[str] = []
    first: dict[str, JournalEntry] = {}
    last: dict[str, JournalEntry] = {}
    for entry in entries:
        if entry.op_id not in last:
            order.append(entry.op_id)
            last[entry.op_id] = entry
        known = first.get(entry.op_id)
        if known is None or known.state != "started":
            first[entry.op_id] = entry
    return [(first[op], last[op]) for op in order]


def format_journal(entries: Iterable[JournalEntry], limit: int | None = None) -> list[str]:
    """Aligned lines for ``jobtui history``: a header, then one line per operation
    (at most ``limit``): when it started, who on which bastion, what, how it ended.

    No entries give no lines (the caller says "no history" its own way).
    """
    operations = per_operation(entries)
    rows = [_history_row(first, last) for first, last in operations[:limit]]
    if not rows:
        return []
    table = [HISTORY_HEADER, *rows]
    widths = [max(len(row[col]) for row in table) for col in range(len(HISTORY_HEADER))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def _history_row(first: JournalEntry, last: JournalEntry) -> tuple[str, ...]:
    when = utc_time(first.time)
    from_version = last.from_version or first.from_version
    to_version = last.to_version or first.to_version
    change = f"{from_version or '-'} -> {to_version or '-'}"
    # A "started" entry has no duration yet; an empty cell says so better than 0.0s.
    ended = last.state in END_STATES
    duration = format_duration(last.duration) if ended or last.state != "started" else ""
    who = f"{first.user}@{first.bastion}" if first.bastion else first.user
    # Taken without the cluster lock: whoever reads the history must see it.
    result = f"{last.state} (no lock)" if first.no_lock or last.no_lock else last.state
    return (
        when,
        who,
        last.kind.value,
        last.service,
        change,
        ",".join(last.hosts) or "-",
        result,
        duration,
    )
