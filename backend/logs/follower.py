"""Tail and follow container logs through the Docker logs API, merged and bounded.

Only ``GET /containers/{id}/logs`` is used, never attach: the seed describes
attached floods leaking the daemon's memory, whereas the logs endpoint reads
the daemon's log file at the reader's pace. One reader thread per container
turns bytes into :class:`LogLine` values; a flusher thread hands them to the
consumer in batches at most every ``interval`` seconds. Between the two sits
a bounded queue that drops the oldest lines, and counts them, when the
consumer cannot keep up, so a ``yes`` flood costs bounded memory.

The request is made here rather than through ``APIClient.logs()`` because
docker-py's stream drops the stdout/stderr marker of each frame, reads a TTY
container's output one byte per step, and was measured ~25% slower on a flood.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jobtui.backend.docker import describe_error
from jobtui.backend.logs.decode import MAX_LINE_BYTES, LogDecoder
from jobtui.backend.logs.lines import DEFAULT_CAPACITY, LineRing, LogLine
from jobtui.backend.logs.stream import LogStream, LogTarget, Opener, open_docker_logs

log = logging.getLogger(__name__)

DEFAULT_TAIL = 1_000
"""Lines of history fetched per container before following."""
FLUSH_INTERVAL = 0.1
"""Seconds between deliveries to the consumer (one UI update per ~100 ms)."""


@dataclass(frozen=True)
class FollowStats:
    """Counters of a :class:`LogFollower`; ``received == delivered + dropped + pending``."""

    received: int
    delivered: int
    dropped: int
    """Lines lost because the consumer (or a pause) fell more than the queue size behind."""
    pending: int


class LogFollower:
    """Follows containers' logs and delivers their lines merged, in batches.

    ``on_lines(batch, dropped)`` runs on the flusher thread at most every
    ``interval`` seconds, with the lines received since the previous call in
    timestamp order (already appended to :attr:`ring`) and how many lines were
    dropped in between because more than ``queue_size`` piled up. It must not
    wait for the thread that calls :meth:`stop` (the UI: post a message rather
    than block on ``call_from_thread``).

    While paused, lines keep being read into the bounded queue, not into the
    ring: on resume the consumer gets the newest ``queue_size`` of them and
    the count of the older ones. The ring therefore holds exactly what was
    delivered, so a paused view searches what it shows.
    """

    def __init__(
        self,
        targets: Sequence[LogTarget],
        on_lines: Callable[[list[LogLine], int], None],
        *,
        tail: int | None = DEFAULT_TAIL,
        since: float | None = None,
        follow: bool = True,
        capacity: int = DEFAULT_CAPACITY,
        queue_size: int | None = None,
        interval: float = FLUSH_INTERVAL,
        max_line: int = MAX_LINE_BYTES,
        opener: Opener = open_docker_logs,
    ) -> None:
        self.targets = tuple(targets)
        self.ring: LineRing[LogLine] = LineRing(capacity)
        self._pending: LineRing[LogLine] = LineRing(queue_size or capacity)
        self._on_lines = on_lines
        self._tail, self._since, self._follow = tail, since, follow
        self._interval, self._max_line, self._opener = interval, max_line, opener
        self._lock = threading.Lock()
        self._streams: list[LogStream] = []
        self._errors: dict[str, str] = {}
        self._stopping = threading.Event()
        self._paused = threading.Event()
        self._finished = threading.Event()
        self._threads: list[threading.Thread] = []
        self._readers_left = len(self.targets)

    def start(self) -> None:
        """Start one reader thread per target and the flusher."""
        if self._threads:
            raise RuntimeError("a LogFollower starts only once")
        for target in self.targets:
            name = f"jobtui-logs {target.label}"
            self._threads.append(threading.Thread(target=self._read, args=(target,), name=name))
        self._threads.append(threading.Thread(target=self._flush_loop, name="jobtui-logs flush"))
        for thread in self._threads:
            thread.daemon = True  # a reader stuck in a hung daemon must not block exit
            thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Cancel every stream and join the threads; whether they all ended in ``timeout``.

        No batch is delivered after it returned ``True`` (it waits for one under way).
        """
        with self._lock:
            self._stopping.set()
            streams, self._streams = self._streams, []
        for stream in streams:
            stream.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads if t is not threading.current_thread())

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every stream has ended and its lines were delivered (no ``follow``)."""
        return self._finished.wait(timeout)

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    @property
    def errors(self) -> dict[str, str]:
        """Why streams failed, by ``host/container``."""
        with self._lock:
            return dict(self._errors)

    def stats(self) -> FollowStats:
        pending = self._pending
        return FollowStats(pending.total, self.ring.total, pending.dropped, len(pending))

    def __enter__(self) -> LogFollower:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _read(self, target: LogTarget) -> None:
        stream: LogStream | None = None
        try:
            stream = self._opener(target, self._tail, self._since, self._follow)
            with self._lock:
                cancelled = self._stopping.is_set()
                if not cancelled:
                    self._streams.append(stream)
            if cancelled:
                return
            decoder = LogDecoder(target.host, target.container, tty=stream.tty,
                                 max_line=self._max_line)  # fmt: skip
            while data := stream.read():
                if lines := decoder.feed(data):
                    self._pending.extend(lines)
            self._pending.extend(decoder.finish())
            if self._follow and not self._stopping.is_set():
                self._note(target, "log stream ended (container stopped or removed)")
        except Exception as exc:
            if not self._stopping.is_set():
                reason = describe_error(exc, target.url())
                with self._lock:
                    self._errors[target.label] = reason
                self._note(target, f"log stream failed: {reason}")
        finally:
            if stream is not None:
                stream.close()
            with self._lock:
                self._readers_left -= 1

    def _note(self, target: LogTarget, text: str) -> None:
        self._pending.append(LogLine(target.host, target.container, time.time(), text, "jobtui"))

    def _flush_loop(self) -> None:
        while not self._stopping.wait(self._interval):
            if self._paused.is_set():
                continue
            with self._lock:
                readers_done = self._readers_left == 0
            batch, dropped = self._pending.drain()
            if batch or dropped:
                # Stable sort: one container's lines keep their order on equal stamps.
                batch.sort(key=_timestamp)
                self.ring.extend(batch)
                try:
                    self._on_lines(batch, dropped)
                except Exception:
                    log.exception("log consumer failed on a batch of %d lines", len(batch))
            if readers_done:
                self._finished.set()
                return


def _timestamp(line: LogLine) -> float:
    return line.timestamp
