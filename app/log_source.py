"""Where the TUI's log lines come from: the Docker logs API.

The app only sees :class:`LogSource`: ``follow`` a set of containers and get
their lines, merged, in batches through ``on_lines(batch, dropped)`` — called
from any thread, at most every ~100 ms — until the handle is stopped. No
Textual here: the same source serves any front end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from jobtui.backend.docker import HostConnection, HostPool
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
