"""Noticing edits of the inventory file while the TUI runs (no Textual here).

:class:`InventoryWatch` is polled from a thread worker about once a second:
a ``stat`` each time, and a hash of the bytes only when size or mtime moved,
so a ``touch`` or an editor rewriting the same bytes reloads nothing. A
changed file is loaded with the same loader (and host URL pattern) the CLI
used; a valid one comes back with :class:`InventoryChange`, a broken one as
its :class:`~jobtui.config.errors.InventoryError`, and the loaded inventory
is kept.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobtui.config.errors import InventoryError, Problem
from jobtui.config.models import Inventory

POLL_INTERVAL = 1.0
"""Seconds between looks at the inventory file."""


@dataclass(frozen=True)
class InventoryChange:
    """What differs between two valid inventories, by name."""

    services_added: tuple[str, ...] = ()
    services_removed: tuple[str, ...] = ()
    services_changed: tuple[str, ...] = ()
    hosts_added: tuple[str, ...] = ()
    hosts_removed: tuple[str, ...] = ()
    hosts_changed: tuple[str, ...] = ()
    settings_changed: tuple[str, ...] = ()
    """Top-level sections other than services and hosts: ``registry``, ``etcd`` …"""

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.__dataclass_fields__)

    def summary(self) -> str:
        """One line per kind of change, e.g. ``services added: api, web``."""
        lines = []
        for label, names in (
            ("services added", self.services_added),
            ("services removed", self.services_removed),
            ("services changed", self.services_changed),
            ("hosts added", self.hosts_added),
            ("hosts removed", self.hosts_removed),
            ("hosts changed", self.hosts_changed),
            ("settings changed", self.settings_changed),
        ):
            if names:
                lines.append(f"{label}: {', '.join(names)}")
        return "\n".join(lines) or "no change in services or hosts"


SETTINGS = ("registry", "etcd", "prometheus", "ssh", "bare_list")


def compare(old: Inventory, new: Inventory) -> InventoryChange:
    """How ``new`` differs from ``old``."""
    before = {s.name: s for s in old.services}
    after = {s.name: s for s in new.services}
    return InventoryChange(
        services_added=tuple(n for n in after if n not in before),
        services_removed=tuple(n for n in before if n not in after),
        services_changed=tuple(n for n in after if n in before and before[n] != after[n]),
        hosts_added=tuple(sorted(set(new.hosts) - set(old.hosts))),
        hosts_removed=tuple(sorted(set(old.hosts) - set(new.hosts))),
        hosts_changed=tuple(
            sorted(n for n in set(old.hosts) & set(new.hosts) if old.hosts[n] != new.hosts[n])
        ),
        settings_changed=tuple(s for s in SETTINGS if getattr(old, s) != getattr(new, s)),
    )


@dataclass(frozen=True)
class Reloaded:
    """The file changed and is valid."""

    inventory: Inventory
    change: InventoryChange


@dataclass(frozen=True)
class Refused:
    """The file changed and is invalid (or unreadable); the loaded inventory stays."""

    problems: tuple[Problem, ...]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class InventoryWatch:
    """Polls one inventory file; :meth:`poll` says whether it changed and how."""

    def __init__(self, current: Inventory, load: Callable[[], Inventory]) -> None:
        self.current = current
        """The inventory in use (the last valid one)."""
        self.path = Path(current.source)
        self._load = load
        self._stamp = _stamp(self.path)
        self._digest = _digest(self.path)

    def poll(self) -> Reloaded | Refused | None:
        """``None`` when the file's bytes are as last seen (blocking: file I/O)."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        digest = _digest(self.path)
        if digest == self._digest:
            return None
        self._digest = digest
        if digest is None:
            return Refused((Problem(str(self.path), 0, "", "cannot be read (removed?)"),))
        try:
            new = self._load()
        except InventoryError as exc:
            return Refused(exc.problems)
        change = compare(self.current, new)
        self.current = new
        return Reloaded(new, change)
