"""Where the TUI's log lines come from: the Docker logs API, or fixed lines for tests.

The app only sees :class:`LogSource`: ``follow`` a set of containers and get
their lines, merged, in batches through ``on_lines(batch, dropped)`` — called
from any thread, at most every ~100 ms — until the handle is stopped. No
Textual here: the same source serves any front end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from jobtui.backend.docker_hosts import HostConnection, HostPool
from jobtui.backend.logs import LogFollower, LogLine, LogTarget
from jobtui.backend.model import ContainerInfo

LinesCallback = Callable[[list[LogLine], int], None]
"""``on_lines(batch, dropped)``: new lines in time order, and how many were lost before them."""

UI_QUEUE_SIZE = 5_000
"""Lines that may pile up between two deliveries before the oldest are dropped.

At one delivery per ~100 ms that is 50,000 lines/s into the view, far more than
anyone reads; a ``yes`` flood (~110,000 lines/s here) is counted, not hoarded."""


class LogHandle(Protocol):
    """One running follow."""

    def pause(self) -> None:
        """Stop delivering; lines keep arriving into a bounded queue."""

    def resume(self) -> None:
        """Deliver again: the newest queued lines, and the count of those dropped."""

    def stop(self) -> bool | None:
        """Close the streams and end the threads (may block briefly: not on the UI loop)."""


class LogSource(Protocol):
    """Follows containers' logs for the TUI."""

    def follow(
        self,
        containers: Sequence[ContainerInfo],
        on_lines: LinesCallback,
        *,
        tail: int | None,
        since: float | None = None,
    ) -> LogHandle:
        """Start following ``containers`` (last ``tail`` lines of each first); never blocks."""
        ...


class DockerLogSource:
    """A :class:`LogSource` over the Docker logs API of the hosts in ``pool``.

    Shares the pool (one client per host) with the fleet observer; closing
    the pool is its owner's business.
    """

    def __init__(
        self,
        pool: HostPool | Mapping[str, HostConnection],
        *,
        queue_size: int = UI_QUEUE_SIZE,
    ) -> None:
        self._pool = pool
        self._queue_size = queue_size

    def follow(
        self,
        containers: Sequence[ContainerInfo],
        on_lines: LinesCallback,
        *,
        tail: int | None,
        since: float | None = None,
    ) -> LogFollower:
        known = set(self._pool)
        targets = [LogTarget.of(self._pool[c.host], c) for c in containers if c.host in known]
        follower = LogFollower(
            targets,
            on_lines,
            tail=tail,
            since=since,
            # The view keeps its own buffer; the follower's ring would only duplicate it.
            capacity=1,
            queue_size=self._queue_size,
        )
        follower.start()
        return follower


class FixedLogHandle:
    """A follow of :class:`FixedLogSource`; records what the app asked of it."""

    def __init__(
        self,
        containers: Sequence[ContainerInfo],
        on_lines: LinesCallback,
        tail: int | None,
        since: float | None,
    ) -> None:
        self.containers = tuple(containers)
        self.on_lines = on_lines
        self.tail, self.since = tail, since
        self.paused = False
        self.stopped = threading.Event()
        self.pauses = 0

    def pause(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume(self) -> None:
        self.paused = False

    def stop(self) -> None:
        self.stopped.set()


class FixedLogSource:
    """Fixed lines for snapshots and Pilot tests.

    ``follow`` delivers, at once and in one batch, the given lines of the
    containers asked for (matched by host and name), with ``dropped`` as the
    count lost before them; :meth:`push` delivers more to every live follow.
    """

    def __init__(self, lines: Sequence[LogLine] = (), *, dropped: int = 0) -> None:
        self._lines = tuple(lines)
        self._dropped = dropped
        self.handles: list[FixedLogHandle] = []

    def follow(
        self,
        containers: Sequence[ContainerInfo],
        on_lines: LinesCallback,
        *,
        tail: int | None,
        since: float | None = None,
    ) -> FixedLogHandle:
        handle = FixedLogHandle(containers, on_lines, tail, since)
        self.handles.append(handle)
        wanted = {(c.host, c.name) for c in containers}
        mine = [ln for ln in self._lines if (ln.host, ln.container) in wanted]
        if since is not None:
            mine = [ln for ln in mine if ln.timestamp >= since]
        if tail is not None:
            per: dict[tuple[str, str], list[LogLine]] = {}
            for line in mine:
                per.setdefault((line.host, line.container), []).append(line)
            mine = sorted(
                (ln for group in per.values() for ln in group[max(0, len(group) - tail) :]),
                key=lambda ln: ln.timestamp,
            )
        if mine or self._dropped:
            on_lines(mine, self._dropped)
        return handle

    def push(self, lines: Sequence[LogLine], dropped: int = 0) -> None:
        """Deliver ``lines`` to every follow that is neither paused nor stopped."""
        for handle in self.handles:
            if not handle.paused and not handle.stopped.is_set():
                handle.on_lines(list(lines), dropped)
