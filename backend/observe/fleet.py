"""The fleet model: every host's containers, kept current from Docker events.

:class:`FleetObserver` is the real :class:`~jobtui.backend.model.FleetSource`.
Each host is followed by its own :class:`~jobtui.backend.observe.watch.HostWatch`
(one events reader thread per connected host; connects, lists and probes run on
one shared :class:`~jobtui.backend.observe.watch.WatchPool`); their changes
are merged into one immutable :class:`FleetSnapshot` that is replaced
atomically, so readers never lock and never see a half-applied change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from types import MappingProxyType

from jobtui.backend.docker import HostPool
from jobtui.backend.model import FleetSnapshot, HostState, HostStatus
from jobtui.backend.observe.watch import (
    MAX_WORKERS,
    PROBE_TIMEOUT,
    QUIET_PROBE,
    HostWatch,
    WatchPool,
)
from jobtui.config.models import Host

log = logging.getLogger(__name__)

OBSERVER_TIMEOUT = 5.0
"""Seconds a connect or list call may take before the host counts as down."""


class FleetObserver:
    """Observes every host of the inventory.

    Threads: one events reader per connected host plus at most ``workers``
    shared ones (``MAX_WORKERS``); a host that is down has no thread.
    """

    def __init__(
        self,
        hosts: Mapping[str, Host],
        *,
        quiet_probe: float = QUIET_PROBE,
        probe_timeout: float = PROBE_TIMEOUT,
        workers: int = MAX_WORKERS,
        clock: Callable[[], float] = time.time,
        timeout: float = OBSERVER_TIMEOUT,
        pool: HostPool | None = None,
    ) -> None:
        """``pool`` shares connections (and SSH forwards) with other engine parts;
        without it the observer builds its own and closes it on :meth:`stop`."""
        self._hosts = dict(hosts)
        self._quiet_probe = quiet_probe
        self._probe_timeout = probe_timeout
        self._workers = max(1, min(workers, len(self._hosts)))
        self._tasks: WatchPool | None = None
        self._clock = clock
        self._timeout = timeout
        self._pool = pool
        self._owns_pool = pool is None
        self._changed = threading.Condition()
        self._snapshot = FleetSnapshot(
            MappingProxyType({name: HostState(name, h.url) for name, h in self._hosts.items()})
        )
        self._on_change: Callable[[], None] | None = None
        self._stopping = threading.Event()
        self._watches: list[HostWatch] = []

    def start(self, on_change: Callable[[], None]) -> None:
        """Start one watch per host; ``on_change`` is called from their threads."""
        if self._watches or self._stopping.is_set():
            raise RuntimeError("a FleetObserver starts once")
        self._on_change = on_change
        if self._pool is None:
            self._pool = HostPool(self._hosts, timeout=self._timeout)
        self._tasks = WatchPool(self._workers)
        for name in self._hosts:
            watch = HostWatch(
                self._pool[name],
                self._publish,
                self._stopping,
                pool=self._tasks,
                quiet_probe=self._quiet_probe,
                probe_timeout=self._probe_timeout,
                clock=self._clock,
            )
            self._watches.append(watch)
            watch.start()

    def snapshot(self) -> FleetSnapshot:
        """The latest state (a reference read: never blocks)."""
        return self._snapshot

    def wait_settled(self, timeout: float) -> bool:
        """Wait until every host is UP or DOWN; whether that happened within ``timeout``."""
        with self._changed:
            return self._changed.wait_for(self._settled, timeout)

    def _settled(self) -> bool:
        return all(h.status is not HostStatus.CONNECTING for h in self._snapshot.hosts.values())

    def stop(self, timeout: float = 3.0) -> None:
        """Stop every thread (joined up to ``timeout`` in total) and release connections."""
        self._stopping.set()
        for watch in self._watches:
            watch.interrupt()
        deadline = time.monotonic() + timeout
        stuck = []
        if self._tasks is not None and not self._tasks.stop(timeout):
            stuck.append("shared workers")
        stuck += [w.name for w in self._watches if not w.join(deadline - time.monotonic())]
        if stuck:
            # Daemon threads blocked in a connect: they end at its timeout.
            log.warning("observer threads still busy after stop: %s", ", ".join(stuck))
        if self._owns_pool and self._pool is not None:
            self._pool.close()

    @property
    def api_calls(self) -> Counter[str]:
        """Docker API calls made so far across all hosts, by kind (for measurements)."""
        total: Counter[str] = Counter()
        for watch in self._watches:
            total.update(watch.calls)
        return total

    @property
    def threads(self) -> int:
        """Observer threads alive now: shared workers plus events readers (for measurements)."""
        prefixes = ("jobtui-watch-", "jobtui-events-")
        return sum(1 for t in threading.enumerate() if t.name.startswith(prefixes))

    def _publish(self, state: HostState) -> None:
        with self._changed:
            hosts = dict(self._snapshot.hosts)
            hosts[state.name] = state
            self._snapshot = FleetSnapshot(MappingProxyType(hosts), self._snapshot.generation + 1)
            self._changed.notify_all()
        callback = self._on_change
        if callback is not None:
            try:
                callback()
            except Exception:  # a viewer's bug must not stop the host's thread
                log.exception("fleet on_change callback failed")
