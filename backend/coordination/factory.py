"""Choosing a coordinator, who the operator is, and the journal as text.

Two backends implement :class:`~jobtui.backend.contract.Coordinator`:

* ``backend/coordination_etcd.py`` — etcd v3, when the inventory has ``etcd:``;
  its key layout is documented there;
* ``backend/coordination_local.py`` — files under a state directory
  (``$JOBTUI_STATE_DIR`` or ``~/.local/state/jobtui``) when it has not.

Both store the same JSON shapes, built here, so a journal or a lock holder
reads the same whichever backend wrote it.
"""

from __future__ import annotations

import getpass
import json
import os
import pwd
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jobtui.backend.contract import Coordinator, Instance, JournalEntry, LockOwner, OpKind
from jobtui.backend.errors import JobtuiError
from jobtui.backend.times import format_duration, utc_time
from jobtui.config.models import Inventory

STATE_DIR_ENV = "JOBTUI_STATE_DIR"


class CoordinationError(JobtuiError):
    """The coordination store (etcd or the state directory) cannot be used."""


def default_state_dir() -> Path:
    """Where the local coordinator keeps its files: ``$JOBTUI_STATE_DIR`` or XDG state."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".local" / "state" / "jobtui"


def make_coordinator(inventory: Inventory, *, state_dir: Path | None = None) -> Coordinator:
    """etcd when the inventory configures it, else local files in ``state_dir``."""
    # Imported here so an inventory without etcd never loads grpc and protobuf.
    if inventory.etcd is not None:
        from jobtui.backend.coordination.etcd import EtcdCoordinator

        return EtcdCoordinator(inventory.etcd)
    from jobtui.backend.coordination.local import LocalCoordinator

    return LocalCoordinator(state_dir if state_dir is not None else default_state_dir())


def login_user() -> str:
    """The operator: the invoking user under sudo, else the login user."""
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        return sudo_user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        pass
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        # A uid without a passwd entry (some containers): the number still identifies.
        return str(os.getuid())


def current_owner(op: str = "") -> LockOwner:
    """The lock owner this process would be: user, bastion host, pid, now."""
    return LockOwner(
        user=login_user(), host=socket.gethostname(), pid=os.getpid(), since=time.time(), op=op
    )


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


def format_journal(entries: Iterable[JournalEntry]) -> list[str]:
    """Aligned lines for ``jobtui history``: a header, then one line per entry.

    No entries give no lines (the caller says "no history" its own way).
    """
    rows = [_history_row(entry) for entry in entries]
    if not rows:
        return []
    table = [HISTORY_HEADER, *rows]
    widths = [max(len(row[col]) for row in table) for col in range(len(HISTORY_HEADER))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def _history_row(entry: JournalEntry) -> tuple[str, ...]:
    when = utc_time(entry.time)
    change = f"{entry.from_version or '-'} -> {entry.to_version or '-'}"
    # A "started" entry has no duration yet; an empty cell says so better than 0.0s.
    duration = format_duration(entry.duration) if entry.state != "started" else ""
    return (
        when,
        entry.user,
        entry.kind.value,
        entry.service,
        change,
        ",".join(entry.hosts) or "-",
        entry.state,
        duration,
    )
