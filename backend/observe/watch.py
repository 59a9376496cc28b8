"""Follow one Docker host: list once, then keep current from its events stream.

Threads are bounded by the fleet, not doubled per host: a connected host
has exactly one thread, its events reader, blocked in ``recv`` (no polling).
Everything else — connecting and reconnecting with backoff, re-listing the
containers that events named, probing a quiet stream — runs as timed tasks
on one :class:`WatchPool` of at most ``MAX_WORKERS`` threads shared by every
host of a :class:`~jobtui.backend.observe.fleet.FleetObserver`; a host that
is down costs no thread of its own.

Idle cost: the events stream itself shows a daemon that stops (it ends, and
a ping with a short timeout tells a dropped proxy from an outage). A hung
daemon keeps the stream open and silent, so a host whose stream has been
quiet for ``QUIET_PROBE`` seconds gets one ``/_ping`` with ``PROBE_TIMEOUT``:
about ``60 / QUIET_PROBE`` calls per host per minute while nothing happens,
none while events flow, and a hung daemon is DOWN within
``QUIET_PROBE + PROBE_TIMEOUT`` seconds.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
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
from jobtui.backend.model import ContainerInfo, HostState, HostStatus

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

QUIET_PROBE = 12.0
"""Seconds of silence on a host's events stream before it is pinged (hung-daemon check)."""

PROBE_TIMEOUT = 3.0
"""How long that ping, and the one after a stream ends, may take before the host is DOWN."""

MAX_WORKERS = 8
"""Threads a :class:`WatchPool` grows to at most (connects, lists, probes of every host)."""

_UPTIME_SLACK = 5.0
"""Seconds of clock difference tolerated between us and a daemon when checking uptimes."""


class WatchPool:
    """Timed tasks on a few worker threads, shared by the watches of one fleet.

    Workers are started on demand (one while idle, more only when due tasks
    wait and every worker is busy in a blocking call) and sleep on a
    condition until the earliest task is due: an idle fleet wakes them once
    per probe, nothing more.
    """

    def __init__(self, workers: int = MAX_WORKERS) -> None:
        self._max = max(1, workers)
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._stopped = False

    @property
    def threads(self) -> int:
        """Worker threads started so far (for measuring)."""
        return len(self._threads)

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.call_later(0.0, fn, *args)

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), fn, args))
            if self._idle == 0 and len(self._threads) < self._max:
                self._spawn()
            else:
                self._cond.notify()

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"jobtui-watch-{len(self._threads) + 1}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._idle += 1
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                    self._idle -= 1
                _, _, fn, args = heapq.heappop(self._heap)
                if self._heap:
                    if (
                        self._heap[0][0] <= now
                        and self._idle == 0
                        and len(self._threads) < self._max
                    ):
                        self._spawn()
                    else:
                        self._cond.notify()  # someone must watch the next deadline
            try:
                fn(*args)
            except Exception:  # one host's bug must not kill a shared worker
                log.exception("observer task %s failed", getattr(fn, "__qualname__", fn))

    def stop(self, timeout: float) -> bool:
        """Drop pending tasks and wait for the workers; whether they all ended."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)


class HostWatch:
    """Keeps one host's :class:`HostState` current and hands every change to ``publish``."""

    def __init__(
        self,
        connection: HostConnection,
        publish: Callable[[HostState], None],
        stopping: threading.Event,
        *,
        pool: WatchPool,
        quiet_probe: float = QUIET_PROBE,
        probe_timeout: float = PROBE_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = connection.host.name
        self.url = connection.host.url
        self._conn = connection
        self._publish = publish
        self._stopping = stopping
        self._pool = pool
        self._quiet = quiet_probe
        self._probe_timeout = probe_timeout
        self._clock = clock
        self._lock = threading.Lock()  # guards the fields the reader thread touches
        self._work = threading.RLock()  # one task at a time changes this host's model
        self._dirty: set[str] = set()
        self._refresh_queued = False
        self._heard = 0.0  # monotonic time the daemon last showed it is alive
        self._started: dict[str, float] = {}
        # Stop times of jobtui's stopped containers: which one served last.
        self._finished: dict[str, float] = {}
        self._last_event_ns: int | None = None
        self._stream: Any = None
        self._session = 0
        self._ended = 0  # the last session that ended (== _session: none is live)
        self._began = 0.0
        self._backoff = MIN_BACKOFF
        self._version: str | None = None
        self._containers: dict[str, ContainerInfo] = {}
        self._state = HostState(self.name, self.url)
        self._reader: threading.Thread | None = None
        self.calls: Counter[str] = Counter()
        """Docker API calls made, by kind (for measuring; read without locking)."""

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self._pool.submit(self._connect)

    def interrupt(self) -> None:
        """Make the reader return soon: close the events stream (``stopping`` is set)."""
        self._close_stream()

    def join(self, timeout: float) -> bool:
        """Wait for the events reader; whether it ended."""
        reader = self._reader
        if reader is not None:
            reader.join(max(0.0, timeout))
        return not (reader and reader.is_alive())

    # -- sessions (pool tasks) -----------------------------------------------

    def _connect(self) -> None:
        """Connect, subscribe, list everything, start the reader; or DOWN and retry later."""
        if self._stopping.is_set():
            return
        with self._work:
            self._session += 1
            session = self._session
            self._began = time.monotonic()
            try:
                self.calls["version"] += 1
                version = self._conn.connect().version
                stream = self._subscribe()
                if self._stopping.is_set():
                    self._close_stream()
                    return
                self._relist(version)
            except Exception as exc:
                self._ended = session
                self._close_stream()
                if self._stopping.is_set():
                    return
                self._mark_down(describe_error(exc, self.url))
                self._retry_later()
                return
            self._version = version
            self._heard = time.monotonic()
            reader = threading.Thread(
                target=self._read_events,
                args=(stream, session),
                name=f"jobtui-events-{self.name}",
                daemon=True,
            )
            self._reader = reader
            reader.start()
        self._pool.call_later(self._quiet, self._probe, session)

    def _subscribe(self) -> Iterable[dict[str, Any]]:
        api = self._conn.client.api
        with self._lock:
            since = self._last_event_ns
            self._dirty.clear()  # the full list that follows covers them
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
        return stream  # type: ignore[no-any-return]

    def _end_session(self, session: int, error: str | None) -> None:
        """The session is over (stream ended, probe or list failed): DOWN if it is, then retry.

        Runs once per session, whichever noticed first.
        """
        with self._work:
            if session != self._session or self._ended == session:
                return
            self._ended = session
            self._close_stream()
            if self._stopping.is_set():
                return
            if error is None and not self._answers():
                error = f"{self.url}: events stream ended (daemon stopped?)"
            # A dropped stream on a daemon that still answers (proxy idle
            # timeout, sshd restart) is no outage: resubscribe without DOWN.
            if error is not None:
                self._mark_down(error)
            self._retry_later()

    def _retry_later(self) -> None:
        if self._stopping.is_set():
            return
        if time.monotonic() - self._began > STABLE_SESSION:
            self._backoff = MIN_BACKOFF  # a session that lasted: the next failure is news
        delay, self._backoff = self._backoff, min(self._backoff * 2, MAX_BACKOFF)
        self._pool.call_later(delay, self._connect)

    def _probe(self, session: int) -> None:
        """Ping a host whose stream has been quiet ``QUIET_PROBE`` s: a hung daemon is silent."""
        if self._stopping.is_set() or session != self._session or self._ended == session:
            return
        quiet_for = time.monotonic() - self._heard
        if quiet_for < self._quiet:
            self._pool.call_later(self._quiet - quiet_for, self._probe, session)
            return
        try:
            self.calls["ping"] += 1
            self._conn.ping(self._probe_timeout)
        except HostUnavailable as exc:
            self._end_session(session, str(exc))
            return
        self._heard = time.monotonic()
        self._pool.call_later(self._quiet, self._probe, session)

    def _answers(self) -> bool:
        try:
            self.calls["ping"] += 1
            self._conn.ping(self._probe_timeout)
        except HostUnavailable:
            return False
        return True

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()  # docker's CancellableStream shuts the socket: recv returns

    # -- events reader (the host's one thread) -------------------------------

    def _read_events(self, stream: Iterable[dict[str, Any]], session: int) -> None:
        try:
            for event in stream:
                container_id, action, when = event_fields(event)
                nanos = event.get("timeNano")
                with self._lock:
                    self._heard = time.monotonic()
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
                    queue, self._refresh_queued = not self._refresh_queued, True
                if queue:
                    # Events come in bursts (kill, die, stop, destroy): let one list cover them.
                    self._pool.call_later(COALESCE, self._refresh_dirty, session)
        except Exception as exc:  # a broken stream ends the session either way
            log.debug("%s: events stream failed: %s", self.name, exc)
        finally:
            if not self._stopping.is_set():
                self._pool.submit(self._end_session, session, None)

    def _refresh_dirty(self, session: int) -> None:
        with self._work:
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                self._refresh_queued = False
            if not dirty or session != self._session or self._ended == session:
                return  # the next session's full list covers them
            if self._stopping.is_set():
                return
            try:
                self._refresh(dirty, self._version)
            except Exception as exc:
                log.debug("%s: re-list failed: %s", self.name, exc)
                # Resubscribe and list everything (DOWN only if it does not answer).
                self._end_session(session, None)

    # -- listing -------------------------------------------------------------

    def _relist(self, version: str | None) -> None:
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

    def _refresh(self, ids: set[str], version: str | None) -> None:
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
        # A container that stopped before we watched has its stop time asked
        # once (managed or not: every screen ages "Exited (0) … ago" from it,
        # Docker's own text is true only when listed); one stopped while we
        # watch gets it from its die event.
        ended = row.get("State") in ("exited", "dead")
        if (started is None and up) or (finished is None and ended):
            # Once per container: afterwards its start and die events carry the times.
            started, finished = self._inspect_times(container_id)
            if ended:
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
