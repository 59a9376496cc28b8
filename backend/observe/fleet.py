"""The fleet model: every host's containers, kept current from Docker events.

:class:`FleetObserver` is the real :class:`~jobtui.backend.model.FleetSource`.
Each host is followed by its own :class:`~jobtui.backend.observe.watch.HostWatch`;
their changes are merged into one immutable :class:`FleetSnapshot` that is
replaced atomically, so readers never lock and never see a half-applied change.
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
from jobtui.backend.observe.watch import HostWatch
from jobtui.config.models import Host

log = logging.getLogger(__name__)

OBSERVER_TIMEOUT = 5.0
"""Seconds a connect or list call may take before the host counts as down."""


class FleetObserver:
    """Observes every host of the inventory (one thread per host, plus its events reader)."""

    def __init__(
        self,
        hosts: Mapping[str, Host],
        *,
        ping_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        timeout: float = OBSERVER_TIMEOUT,
        pool: HostPool | None = None,
    ) -> None:
        """``pool`` shares connections (and SSH forwards) with other engine parts;
        without it the observer builds its own and closes it on :meth:`stop`."""
        self._hosts = dict(hosts)
        self._ping_interval = ping_interval
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
        for name in self._hosts:
            watch = HostWatch(
                self._pool[name],
                self._publish,
                self._stopping,
                ping_interval=self._ping_interval,
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
        stuck = [w.name for w in self._watches if not w.join(deadline - time.monotonic())]
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
