"""Follow one Docker host: list once, then keep current from its events stream.

Each host gets a supervisor thread and, while connected, an events reader
thread. The reader only notes which containers changed; the supervisor then
re-lists just those (one ``/containers/json?filters=id`` call per wake-up,
however many events arrived) and pings the daemon every ``ping_interval``
with a short timeout, because a blocking events stream alone cannot tell a
quiet host from a dead one. Steady-state cost is one ping per host per
interval, independent of the number of containers.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from jobtui.backend.docker import (
    STARTED_ACTIONS,
    STOPPED_ACTIONS,
    HostConnection,
    HostUnavailable,
    container_from_api,
    describe_error,
    event_changes_listing,
    event_fields,
    parse_docker_time,
    uptime_upper_bound,
)
from jobtui.backend.model import LABEL_SERVICE, ContainerInfo, HostState, HostStatus

log = logging.getLogger(__name__)

MIN_BACKOFF = 0.25
MAX_BACKOFF = 3.0
"""Longest wait between reconnect attempts: a restarted daemon is seen within this."""

STABLE_SESSION = 10.0
"""A session that lasted this long resets the backoff (a flapping one keeps backing off)."""

COALESCE = 0.025
"""Seconds to let a burst of events gather before re-listing what they name."""

MAX_TARGETED_IDS = 50
"""Above this many changed containers one full list is cheaper than a filtered one."""

_UPTIME_SLACK = 5.0
"""Seconds of clock difference tolerated between us and a daemon when checking uptimes."""


class _StreamEnded(Exception):
    """The events stream closed while we were not stopping."""


class HostWatch:
    """Keeps one host's :class:`HostState` current and hands every change to ``publish``."""

    def __init__(
        self,
        connection: HostConnection,
        publish: Callable[[HostState], None],
        stopping: threading.Event,
        *,
        ping_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = connection.host.name
        self.url = connection.host.url
        self._conn = connection
        self._publish = publish
        self._stopping = stopping
        self._ping_interval = ping_interval
        # Short enough that a hung daemon is DOWN within ~3 s at the default interval.
        self._ping_timeout = max(0.5, min(2.0, 2 * ping_interval))
        self._clock = clock
        self._lock = threading.Lock()  # guards the fields the reader thread touches
        self._wake = threading.Event()
        self._dirty: set[str] = set()
        self._started: dict[str, float] = {}
        # Stop times of jobtui's stopped containers: which one served last.
        self._finished: dict[str, float] = {}
        self._last_event_ns: int | None = None
        self._stream: Any = None
        self._containers: dict[str, ContainerInfo] = {}
        self._state = HostState(self.name, self.url)
        self._thread = threading.Thread(target=self._run, name=f"jobtui-watch-{self.name}")
        self._thread.daemon = True
        self._reader: threading.Thread | None = None
        self.calls: Counter[str] = Counter()
        """Docker API calls made, by kind (for measuring; read without locking)."""

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def interrupt(self) -> None:
        """Make the threads return soon: close the events stream and wake the supervisor."""
        self._close_stream()
        self._wake.set()

    def join(self, timeout: float) -> bool:
        """Wait for both threads; whether they ended."""
        deadline = time.monotonic() + timeout
        self._thread.join(max(0.0, deadline - time.monotonic()))
        reader = self._reader
        if reader is not None:
            reader.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive() and not (reader and reader.is_alive())

    # -- supervisor ----------------------------------------------------------

    def _run(self) -> None:
        backoff = MIN_BACKOFF
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                self.calls["version"] += 1
                self._follow(self._conn.connect().version)
            except _StreamEnded as exc:
                # A dropped stream on a daemon that still answers (proxy idle
                # timeout, sshd restart) is no outage: resubscribe without DOWN.
                if not self._stopping.is_set() and not self._answers():
                    self._mark_down(str(exc))
            except Exception as exc:
                if not self._stopping.is_set():
                    self._mark_down(describe_error(exc, self.url))
            finally:
                self._close_stream()
                if self._reader is not None:
                    self._reader.join(timeout=2.0)
            if time.monotonic() - began > STABLE_SESSION:
                backoff = MIN_BACKOFF  # a session that lasted: the next failure is news
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _answers(self) -> bool:
        try:
            self.calls["ping"] += 1
            self._conn.ping(self._ping_timeout)
        except HostUnavailable:
            return False
        return True

    def _follow(self, version: str) -> None:
        """One connected session; returns on stop, raises when the host is lost."""
        api = self._conn.client.api
        with self._lock:
            since = self._last_event_ns
        # Subscribe before listing so nothing that happens during the list is
        # missed; ``since`` replays what happened while we were disconnected
        # (start times included), and the full list heals whatever it cannot.
        self.calls["events"] += 1
        stream = api.events(
            since=f"{since // 10**9}.{since % 10**9:09d}" if since else None,
            filters={"type": ["container"]},
            decode=True,
        )
        with self._lock:
            self._stream = stream
        if self._stopping.is_set():
            return
        self._relist(version)
        self._reader = threading.Thread(
            target=self._read_events, args=(stream,), name=f"jobtui-events-{self.name}"
        )
        self._reader.daemon = True
        self._reader.start()
        next_ping = time.monotonic() + self._ping_interval
        while True:
            self._wake.wait(max(0.0, next_ping - time.monotonic()))
            self._wake.clear()
            if self._stopping.is_set():
                return
            if not self._reader.is_alive():
                raise _StreamEnded(f"{self.url}: events stream ended (daemon stopped?)")
            with self._lock:
                pending = bool(self._dirty)
            if pending:
                # Events come in bursts (kill, die, stop, destroy): let one list cover them.
                self._stopping.wait(COALESCE)
            with self._lock:
                dirty, self._dirty = self._dirty, set()
            if dirty:
                self._refresh(dirty, version)
            if time.monotonic() >= next_ping:
                self.calls["ping"] += 1
                self._conn.ping(self._ping_timeout)
                next_ping = time.monotonic() + self._ping_interval

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    # -- events reader -------------------------------------------------------

    def _read_events(self, stream: Iterable[dict[str, Any]]) -> None:
        try:
            for event in stream:
                container_id, action, when = event_fields(event)
                nanos = event.get("timeNano")
                with self._lock:
                    if isinstance(nanos, int):
                        self._last_event_ns = max(self._last_event_ns or 0, nanos)
                    if not container_id or not event_changes_listing(action):
                        continue
                    if action in STARTED_ACTIONS and when:
                        # max(): a replayed older start must not hide a newer one.
                        self._started[container_id] = max(
                            self._started.get(container_id, 0.0), when
                        )
                    if action in STOPPED_ACTIONS and when:
                        self._finished[container_id] = when
                    self._dirty.add(container_id)
                self._wake.set()
        except Exception as exc:  # a broken stream ends the session either way
            log.debug("%s: events stream failed: %s", self.name, exc)
        finally:
            self._wake.set()

    # -- listing -------------------------------------------------------------

    def _relist(self, version: str) -> None:
        """List every container (one call) and publish the host as UP."""
        self.calls["list"] += 1
        rows = self._conn.client.api.containers(all=True)
        now = self._clock()
        with self._lock:
            for row in rows:
                known = self._started.get(row["Id"])
                bound = uptime_upper_bound(str(row.get("Status") or ""))
                if known is not None and bound is not None and now - known > bound + _UPTIME_SLACK:
                    # It restarted while we were not listening: ask again.
                    del self._started[row["Id"]]
            present = {row["Id"] for row in rows}
            self._started = {k: v for k, v in self._started.items() if k in present}
            self._finished = {k: v for k, v in self._finished.items() if k in present}
        self._containers = {row["Id"]: self._convert(row) for row in rows}
        self._set_state(HostStatus.UP, None, version)

    def _refresh(self, ids: set[str], version: str) -> None:
        """Re-list only the containers that events named."""
        if len(ids) > MAX_TARGETED_IDS:
            self._relist(version)
            return
        self.calls["list"] += 1
        rows = self._conn.client.api.containers(all=True, filters={"id": sorted(ids)})
        found = {row["Id"]: row for row in rows if row.get("Id") in ids}
        for container_id in ids:
            row = found.get(container_id)
            if row is None:
                self._containers.pop(container_id, None)
                with self._lock:
                    self._started.pop(container_id, None)
                    self._finished.pop(container_id, None)
            else:
                self._containers[container_id] = self._convert(row)
        self._set_state(HostStatus.UP, None, version)

    def _convert(self, row: dict[str, Any]) -> ContainerInfo:
        container_id = row["Id"]
        up = row.get("State") in ("running", "paused")
        with self._lock:
            started = self._started.get(container_id)
            finished = self._finished.get(container_id)
        # Only a managed container that ran and stopped has a stop time worth
        # one inspect; one stopped while we watch gets it from its die event.
        ended = row.get("State") in ("exited", "dead")
        managed = LABEL_SERVICE in (row.get("Labels") or {})
        if (started is None and up) or (finished is None and ended and managed):
            # Once per container: afterwards its start and die events carry the times.
            started, finished = self._inspect_times(container_id)
            if ended and managed:
                with self._lock:  # 0.0: asked once, Docker had no time; never ask again
                    self._finished.setdefault(container_id, finished or 0.0)
        container = container_from_api(row, self.name, started)
        return container if up else replace(container, finished_at=finished or None)

    def _inspect_times(self, container_id: str) -> tuple[float | None, float | None]:
        """StartedAt and FinishedAt of one container, remembered for later lists."""
        self.calls["inspect"] += 1
        try:
            data = self._conn.client.api.inspect_container(container_id)
        except Exception as exc:  # removed meanwhile: its destroy event follows
            log.debug("%s: inspect %s failed: %s", self.name, container_id[:12], exc)
            return None, None
        state = data.get("State") or {}
        started = parse_docker_time(state.get("StartedAt"))
        finished = parse_docker_time(state.get("FinishedAt"))
        with self._lock:
            if started is not None:
                self._started[container_id] = max(self._started.get(container_id, 0.0), started)
            if finished is not None:
                self._finished[container_id] = max(self._finished.get(container_id, 0.0), finished)
        return started, finished

    # -- publishing ----------------------------------------------------------

    def _set_state(self, status: HostStatus, error: str | None, version: str | None) -> None:
        containers = tuple(sorted(self._containers.values(), key=lambda c: (c.name, c.id)))
        old = self._state
        if (old.status, old.error, old.docker_version, old.containers) == (
            status,
            error,
            version,
            containers,
        ):
            return
        self._state = HostState(
            name=self.name,
            url=self.url,
            status=status,
            error=error,
            docker_version=version,
            containers=containers,
            updated=self._clock(),
        )
        self._publish(self._state)

    def _mark_down(self, error: str) -> None:
        # What ran there is unknown now; showing the last list would look current.
        self._containers = {}
        self._set_state(HostStatus.DOWN, error, self._state.docker_version)
