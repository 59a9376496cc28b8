"""Fixed log lines behind the app's :class:`LogSource`, for snapshots and Pilot tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from jobtui.app.log_source import LinesCallback
from jobtui.backend.logs import LogLine
from jobtui.backend.model import ContainerInfo


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
