"""Rollout policy: batches, pause/abort control, retention and rollback choices.

Pure helpers shared by the executor (:mod:`jobtui.backend.deploy.deployer`) and its
unit tests, plus :class:`RolloutControl`, the thread-safe handle an operator
(the TUI, or Ctrl-C in the CLI) uses to pause, resume or abort a fleet
rollout between batches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from jobtui.backend.model import ContainerInfo
from jobtui.config.models import Service

STOP_FIRST = "stop-first"


class RolloutControl:
    """Pause, resume or abort a running rollout.

    A plain abort is checked between batches (hosts already done keep the new
    version). An abort with ``restore`` (Ctrl-C in the CLI, SIGTERM to a
    runner) also acts at the next safe point of the host under way and puts
    every host back on the version it had (see :mod:`jobtui.backend.deploy.host`).
    """

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._aborted = threading.Event()
        self._restore = False

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def abort(self, *, restore: bool = False) -> None:
        if restore:
            self._restore = True
        self._aborted.set()
        # A paused rollout must wake up to see the abort.
        self._running.set()

    @property
    def restore(self) -> bool:
        """Aborted with ``restore``: stop at the next safe point and put the old version back."""
        return self._restore and self.aborted

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused; ``True`` when the rollout may go on (not aborted)."""
        self._running.wait(timeout)
        return not self.aborted

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` (the delay between batches) unless aborted first; ``True``: go on."""
        if seconds > 0:
            self._aborted.wait(seconds)
        return not self.aborted


@dataclass(frozen=True)
class RollbackCandidate:
    """A version a service can be rolled back to."""

    version: str
    retained_on: tuple[str, ...]
    """Hosts that keep a stopped container of this version (restarted without a pull)."""
    in_registry: bool


def batches(hosts: Sequence[str], parallelism: int) -> list[tuple[str, ...]]:
    """Hosts in rollout order, ``parallelism`` at a time; the first batch is the canary."""
    size = max(parallelism, 1)
    return [tuple(hosts[i : i + size]) for i in range(0, len(hosts), size)]


def is_stop_first(service: Service, old_running: bool) -> bool:
    """Whether the old container must stop before the new one starts.

    Asked for with ``update_config.order: stop-first``, or forced when the
    service listens on a fixed port in the host's network and the old
    container is running: two processes cannot bind one port.
    """
    if service.update_config.order == STOP_FIRST:
        return True
    host_network = service.network_mode == "host"
    return host_network and service.port is not None and old_running


def to_prune(
    retained: Iterable[ContainerInfo], keep: int, protect: Iterable[str] = ()
) -> list[ContainerInfo]:
    """Stopped containers beyond the newest ``keep``, oldest first.

    The newest stopped container (the rollback target) is always kept, even
    with ``keep`` 0; running containers and ``protect``-ed ids are never pruned
    (a protected one still takes one of the ``keep`` places).
    """
    protected = set(protect)
    stopped = [c for c in retained if not c.running]
    stopped.sort(key=lambda c: (c.created, c.name), reverse=True)
    # Protected containers count towards ``keep`` but are never chosen.
    victims = [c for c in stopped[max(keep, 1) :] if c.id not in protected]
    return list(reversed(victims))


def retained_version(containers: Iterable[ContainerInfo], version: str) -> ContainerInfo | None:
    """The newest stopped container of ``version``: what a rollback restarts."""
    found = [c for c in containers if not c.running and c.version == version]
    return max(found, key=lambda c: (c.created, c.name)) if found else None


def order_candidates(
    retained: Mapping[str, Sequence[tuple[str, float]]],
    registry_tags: Sequence[str],
    current: Iterable[str],
) -> list[RollbackCandidate]:
    """Rollback choices: versions retained on hosts first, most recently stopped first,
    then the registry's other tags newest first (``registry_tags`` is newest first).

    ``retained`` maps host to ``(version, last stopped)`` of its stopped containers;
    ``current`` are versions running everywhere, which are no rollback.
    """
    running = set(current)
    latest: dict[str, float] = {}
    hosts: dict[str, list[str]] = {}
    for host, containers in retained.items():
        for version, stopped in containers:
            if version in running:
                continue
            latest[version] = max(latest.get(version, stopped), stopped)
            if host not in hosts.setdefault(version, []):
                hosts[version].append(host)
    in_registry = set(registry_tags)
    found = [
        RollbackCandidate(v, tuple(sorted(hosts[v])), v in in_registry)
        for v in sorted(latest, key=lambda v: (-latest[v], v))
    ]
    found += [
        RollbackCandidate(tag, (), True)
        for tag in registry_tags
        if tag not in latest and tag not in running
    ]
    return found


def op_description(kind: str, service: str, from_versions: Iterable[str | None], to: str) -> str:
    """``deploy web v1 -> v2``: what a lock holder is doing, for a refused operator."""
    before = sorted({v for v in from_versions if v})
    source = ",".join(before) if before else "(none)"
    return f"{kind} {service} {source} -> {to}"
