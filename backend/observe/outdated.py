"""What is out of date: each service's running versions against the registry's newest.

:func:`outdated` is pure (inventory + fleet + tags in, rows out), shared by
the TUI's ``newer`` column, ``jobtui status`` and ``jobtui outdated``.
:class:`TagCache` asks a :class:`~jobtui.backend.model.TagSource` for the
repositories of the inventory, at most once per ``ttl`` unless told to refresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from jobtui.backend.model import FleetSnapshot, RegistryError, TagInfo, TagSource
from jobtui.backend.observe.rows import service_rows
from jobtui.backend.registry import (
    is_moving_tag,
    newest_version,
    repository_in_registry,
    semver_key,
)
from jobtui.config.models import Inventory, Service

NO_REGISTRY = "no registry is configured"
"""The note of every row when the inventory names no registry."""

DEFAULT_TTL = 300.0
"""Seconds tags stay cached: registries change when someone pushes, not every second."""


@dataclass(frozen=True)
class RegistryTags:
    """What the registry said per repository, and why it said nothing about others."""

    tags: Mapping[str, Sequence[TagInfo]] = field(default_factory=dict)
    failures: Mapping[str, str] = field(default_factory=dict)
    """Repository → why its tags could not be read (the registry's words)."""
    fetched_at: float = 0.0


@dataclass(frozen=True)
class OutdatedRow:
    """One service: what runs, the registry's newest version, and which hosts lag."""

    service: str
    repository: str | None
    running: tuple[str, ...]
    """The versions running now, sorted."""
    newest: str | None
    """The registry's newest version (``None`` when unknown: see :attr:`note`)."""
    behind: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Host → the version it runs, older than :attr:`newest`."""
    moved: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Host → the moving tag it runs (``latest``) whose registry image is another one now."""
    note: str = ""
    """Why :attr:`newest` is unknown (the registry is down, the image lives elsewhere)."""

    @property
    def hosts(self) -> tuple[str, ...]:
        """Hosts that are out of date, sorted."""
        return tuple(sorted({*self.behind, *self.moved}))

    @property
    def is_outdated(self) -> bool:
        return bool(self.behind or self.moved)

    def newer_on(self, host: str) -> str | None:
        """What is newer for ``host``'s instance: the newest version, or ``<tag> moved``."""
        if host in self.behind:
            return self.newest
        if host in self.moved:
            return f"{self.moved[host]} moved"
        return None


def newer_by_key(rows: Sequence[OutdatedRow]) -> dict[str, str]:
    """``service@host`` (a services-table row key) → what is newer there."""
    return {
        f"{row.service}@{host}": text
        for row in rows
        for host in row.hosts
        if (text := row.newer_on(host))
    }


def repositories(inventory: Inventory) -> dict[str, str]:
    """Service name → its repository in the inventory's registry (services elsewhere left out)."""
    if inventory.registry is None:
        return {}
    found = {}
    for service in inventory.services:
        repository = repository_in_registry(service.image, inventory.registry)
        if repository is not None:
            found[service.name] = repository
    return found


def is_older(running: str, newest: TagInfo, by_name: Mapping[str, TagInfo]) -> bool:
    """Whether version ``running`` is older than ``newest``: by semver, else by creation time."""
    if running == newest.tag or is_moving_tag(running):
        return False
    mine, best = semver_key(running), semver_key(newest.tag)
    if mine is not None and best is not None:
        return mine < best
    info = by_name.get(running)
    if info is None or info.created is None or newest.created is None:
        return False  # not in the registry any more, or undated: cannot tell
    return info.created < newest.created


def outdated_rows(
    inventory: Inventory, fleet: FleetSnapshot, tags_by_repo: RegistryTags
) -> list[OutdatedRow]:
    """One row per inventory service, in inventory order."""
    repos = repositories(inventory)
    running: dict[str, list[tuple[str, str, str]]] = {}
    for row in service_rows(inventory, fleet):
        container = row.container
        if container is not None and container.running and row.running_version:
            running.setdefault(row.service, []).append(
                (row.host, row.running_version, container.image_id)
            )
    return [
        _row(service, repos.get(service.name), running.get(service.name, []), tags_by_repo,
             no_registry=inventory.registry is None)
        for service in inventory.services
    ]  # fmt: skip


def _row(
    service: Service,
    repository: str | None,
    instances: Sequence[tuple[str, str, str]],
    registry: RegistryTags,
    *,
    no_registry: bool,
) -> OutdatedRow:
    versions = tuple(sorted({version for _, version, _ in instances}))
    if repository is None:
        note = NO_REGISTRY if no_registry else f"{service.image} is not in the registry"
        return OutdatedRow(service.name, None, versions, None, note=note)
    if repository in registry.failures:
        note = f"registry unavailable: {registry.failures[repository]}"
        return OutdatedRow(service.name, repository, versions, None, note=note)
    tags = registry.tags.get(repository)
    if tags is None:
        return OutdatedRow(service.name, repository, versions, None, note="not asked yet")
    by_name = {t.tag: t for t in tags}
    newest = newest_version(tags)
    behind: dict[str, str] = {}
    moved: dict[str, str] = {}
    for host, version, image_id in instances:
        if newest is not None and is_older(version, newest, by_name):
            behind[host] = version
        elif is_moving_tag(version):
            info = by_name.get(version)
            if info is not None and info.image_id and image_id and info.image_id != image_id:
                moved[host] = version
    return OutdatedRow(
        service.name,
        repository,
        versions,
        newest.tag if newest else None,
        MappingProxyType(behind),
        MappingProxyType(moved),
        "" if newest or tags else "the registry holds no tags",
    )


class TagCache:
    """Tags of the inventory's repositories, fetched at most once per ``ttl`` seconds.

    Blocking: call it from a thread. One repository failing does not hide the others.
    """

    def __init__(
        self,
        source: TagSource,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: RegistryTags | None = None
        self._repos: frozenset[str] = frozenset()

    def get(self, repos: Sequence[str], *, refresh: bool = False) -> RegistryTags:
        """The tags of ``repos``; asks the registry when stale, forced or asked for others."""
        wanted = frozenset(repos)
        with self._lock:
            cached = self._cached
            fresh = cached is not None and self._clock() - cached.fetched_at < self._ttl
            if cached is not None and fresh and not refresh and wanted <= self._repos:
                return cached
        result = fetch_tags(self._source, sorted(wanted), now=self._clock())
        with self._lock:
            self._cached, self._repos = result, wanted
        return result


def fetch_tags(source: TagSource, repos: Sequence[str], *, now: float = 0.0) -> RegistryTags:
    """Ask ``source`` for every repository; failures are kept as words, not raised."""
    tags: dict[str, Sequence[TagInfo]] = {}
    failures: dict[str, str] = {}
    down: str | None = None
    for repository in repos:
        if down is not None:
            # Unreachable once: the others would each wait out the same timeout.
            failures[repository] = down
            continue
        try:
            tags[repository] = tuple(source.tags(repository))
        except RegistryError as exc:
            failures[repository] = str(exc)
            if "unreachable" in str(exc) or "did not answer" in str(exc):
                down = str(exc)
        except Exception as exc:  # a client bug must read as a note, not kill the caller
            failures[repository] = f"{type(exc).__name__}: {exc}"
    return RegistryTags(MappingProxyType(tags), MappingProxyType(failures), now)
