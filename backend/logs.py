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

import contextlib
import logging
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import quote

import docker.errors
import docker.types
import requests

from jobtui.backend.containers import parse_docker_time
from jobtui.backend.docker_hosts import HostConnection, HostPool, describe_error
from jobtui.backend.model import ContainerInfo

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 10_000
"""Lines a :class:`LineRing` keeps unless told otherwise."""
DEFAULT_TAIL = 1_000
"""Lines of history fetched per container before following."""
FLUSH_INTERVAL = 0.1
"""Seconds between deliveries to the consumer (one UI update per ~100 ms)."""
MAX_LINE_BYTES = 8 * 1024
"""Longer lines are cut into pieces, so that one endless line cannot grow memory."""
READ_SIZE = 64 * 1024

Stream = Literal["stdout", "stderr", "tty", "daemon", "jobtui"]
"""Where a line came from: the container's stdout or stderr, a TTY (both merged),
the daemon's own error stream, or a note from jobtui (e.g. a stream ended)."""

_STREAMS: dict[int, Stream] = {0: "tty", 1: "stdout", 2: "stderr", 3: "daemon"}
_FRAME_HEADER = struct.Struct(">BxxxL")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of one container's output."""

    host: str
    container: str
    """The container's name."""
    timestamp: float
    """Unix time Docker recorded the line (the ``timestamps=True`` prefix)."""
    text: str
    """The line without Docker's timestamp prefix and without its line ending."""
    stream: Stream = "stdout"

    @property
    def prefix(self) -> str:
        """``host/container``, the label of merged output."""
        return f"{self.host}/{self.container}"


class LineRing(Generic[T]):
    """The newest ``capacity`` items, thread-safe, counting the ones it pushed out."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"a ring needs room for at least one line, not {capacity}")
        self.capacity = capacity
        self._items: deque[T] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._dropped = 0
        self._dropped_at_drain = 0
        self._total = 0

    def append(self, item: T) -> None:
        self.extend((item,))

    def extend(self, items: Sequence[T]) -> None:
        with self._lock:
            self._dropped += max(0, len(self._items) + len(items) - self.capacity)
            self._total += len(items)
            self._items.extend(items)

    def snapshot(self) -> list[T]:
        """The items held, oldest first."""
        with self._lock:
            return list(self._items)

    def drain(self) -> tuple[list[T], int]:
        """Remove and return everything held, and how many were dropped since the last drain."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            dropped, self._dropped_at_drain = self._dropped - self._dropped_at_drain, self._dropped
            return items, dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    @property
    def dropped(self) -> int:
        """Items pushed out by newer ones since the ring was made."""
        return self._dropped

    @property
    def total(self) -> int:
        """Items ever appended."""
        return self._total

    def __len__(self) -> int:
        return len(self._items)


def parse_since(text: str, *, now: float | None = None) -> float:
    """The Unix time meant by ``jobtui logs --since TEXT``; ``ValueError`` if none.

    A duration back from now as the Docker CLI writes them (``30s``, ``10m``,
    ``1h30m``, ``1.5h``) plus days (``2d``); a Unix timestamp (``1700000000.5``);
    or an ISO 8601 time (``2024-05-01T12:00:00Z``, ``2024-05-01 12:00``), read
    as local time when it has no zone, like the Docker CLI.
    """
    value = text.strip()
    if _DURATION.fullmatch(value):
        seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
        return (time.time() if now is None else now) - seconds
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        pass
    raise ValueError(
        f"--since {text!r}: expected a duration (30s, 10m, 1h30m, 2d), "
        "a Unix timestamp or an ISO 8601 time (2024-05-01T12:00:00Z)"
    )


class LogDecoder:
    """Turns one container's logs response, read in arbitrary pieces, into lines.

    With ``timestamps=True`` Docker writes each log message as ``<RFC 3339 nano>
    <text>``; without a TTY every message is a frame tagged stdout/stderr.
    Frames are not lines: a read may end inside a frame, and a line longer
    than Docker's 16 KiB message size arrives as several messages, each with
    its own timestamp, of which the first one counts. A TTY container's output
    is one unframed stream (in which such over-long lines keep the inner
    timestamps: nothing marks where a message ends).
    """

    def __init__(
        self,
        host: str,
        container: str,
        *,
        tty: bool = False,
        max_line: int = MAX_LINE_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host, self.container, self.tty = host, container, tty
        self._max_line = max_line
        self._clock = clock
        self._buffer = b""
        # Per stream id: a line begun in an earlier message, and its timestamp.
        self._partial: dict[int, tuple[float, bytes]] = {}
        # Timestamps of consecutive lines share their second: parse it once.
        self._second = b""
        self._second_epoch = 0.0

    def feed(self, data: bytes) -> list[LogLine]:
        """The lines completed by ``data``."""
        out: list[LogLine] = []
        buffer = self._buffer + data if self._buffer else data
        if self.tty:
            *lines, rest = buffer.split(b"\n")
            for line in lines:
                stamp, body = self._split_stamp(line)
                self._emit(0, self._clock() if stamp is None else stamp, body, out)
            if len(rest) > self._max_line:
                stamp, body = self._split_stamp(rest)
                self._emit(0, self._clock() if stamp is None else stamp, body, out)
                rest = b""
            self._buffer = rest
            return out
        # A frame holds one log message (at most 16 KiB), so the buffer stays small.
        pos, size = 0, len(buffer)
        while size - pos >= _FRAME_HEADER.size:
            stream, length = _FRAME_HEADER.unpack_from(buffer, pos)
            end = pos + _FRAME_HEADER.size + length
            if end > size:
                break
            self._message(stream, buffer[pos + _FRAME_HEADER.size : end], out)
            pos = end
        self._buffer = buffer[pos:]
        return out

    def finish(self) -> list[LogLine]:
        """Lines left unterminated when the stream ended (a last line without newline)."""
        out: list[LogLine] = []
        if self.tty and self._buffer:
            stamp, body = self._split_stamp(self._buffer)
            self._emit(0, self._clock() if stamp is None else stamp, body, out)
        for stream, (stamp, body) in sorted(self._partial.items()):
            self._emit(stream, stamp, body, out)
        self._buffer, self._partial = b"", {}
        return out

    def _message(self, stream: int, payload: bytes, out: list[LogLine]) -> None:
        stamp, body = self._split_stamp(payload)
        begun = self._partial.pop(stream, None)
        if begun is not None:
            stamp, body = begun[0], begun[1] + body
        elif stamp is None:  # the daemon's own errors carry no timestamp
            stamp = self._clock()
        *lines, rest = body.split(b"\n")
        for line in lines:
            self._emit(stream, stamp, line, out)
        if len(rest) > self._max_line:
            self._emit(stream, stamp, rest, out)
        elif rest:
            self._partial[stream] = (stamp, rest)

    def _emit(self, stream: int, stamp: float, line: bytes, out: list[LogLine]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        name = _STREAMS.get(stream, "stdout")
        for start in range(0, max(len(line), 1), self._max_line):
            text = line[start : start + self._max_line].decode("utf-8", "replace")
            out.append(LogLine(self.host, self.container, stamp, text, name))

    def _split_stamp(self, payload: bytes) -> tuple[float | None, bytes]:
        space = payload.find(b" ", 0, 40)
        if space < 19 or payload[10:11] != b"T":
            return None, payload
        stamp = payload[:space]
        value: float | None = None
        if stamp.endswith(b"Z") and stamp[19:20] in (b".", b"Z"):
            # Fast path for Docker's fixed UTC format, 2024-05-01T12:00:00.123456789Z.
            second = stamp[:19]
            try:
                if second != self._second:
                    epoch = datetime.fromisoformat(second.decode() + "+00:00").timestamp()
                    self._second, self._second_epoch = second, epoch
                fraction = stamp[19:-1]
                value = self._second_epoch + (float(fraction) if fraction else 0.0)
            except ValueError:
                value = None
        else:
            value = parse_docker_time(stamp.decode("ascii", "replace"))
        return (None, payload) if value is None else (value, payload[space + 1 :])


@dataclass(frozen=True)
class LogTarget:
    """One container to follow and the Docker host that runs it."""

    connection: HostConnection | Any
    """The host's :class:`HostConnection`, or a ``docker.DockerClient``."""
    container_id: str
    host: str
    container: str
    """The name shown in the ``host/container`` prefix."""

    @classmethod
    def of(cls, connection: HostConnection | Any, info: ContainerInfo) -> LogTarget:
        return cls(connection, info.id, info.host, info.name)

    @property
    def label(self) -> str:
        return f"{self.host}/{self.container}"

    def client(self) -> Any:
        """The ``docker.DockerClient`` (built without network I/O for a HostConnection)."""
        connection = self.connection
        return connection.client if isinstance(connection, HostConnection) else connection

    def url(self) -> str:
        if isinstance(self.connection, HostConnection):
            return self.connection.host.url
        return str(getattr(getattr(self.connection, "api", None), "base_url", self.host))


def service_targets(
    containers: Iterable[ContainerInfo],
    service: str,
    connections: HostPool | Mapping[str, HostConnection],
) -> list[LogTarget]:
    """The running containers of ``service`` on hosts in ``connections``, by host and name."""
    hosts = set(connections)
    chosen = [c for c in containers if c.service == service and c.running and c.host in hosts]
    chosen.sort(key=lambda c: (c.host, c.name))
    return [LogTarget.of(connections[c.host], c) for c in chosen]


class LogStream(Protocol):
    """An open logs response."""

    tty: bool

    def read(self) -> bytes:
        """The next bytes, as soon as some arrive; ``b""`` at the end."""
        ...

    def close(self) -> None:
        """Cancel the stream; callable from any thread, wakes a blocked ``read``."""


Opener = Callable[[LogTarget, int | None, float | None, bool], LogStream]
"""Opens ``target``'s logs with tail, since and follow: :func:`open_docker_logs` or a fake."""


class DockerLogStream:
    """``GET /containers/{id}/logs`` as a byte stream."""

    def __init__(self, response: requests.Response, tty: bool) -> None:
        self.tty = tty
        self._response = response
        # docker-py's wrapper knows where urllib3 keeps the socket (unix, TCP, TLS);
        # shutting that down is what wakes a blocked read.
        self._cancel = docker.types.CancellableStream(iter(()), response)

    def read(self) -> bytes:
        # read1 returns whatever HTTP chunk has arrived instead of waiting for READ_SIZE.
        return self._response.raw.read1(READ_SIZE) or b""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cancel.close()
        with contextlib.suppress(Exception):
            self._response.close()  # hands the dead connection back to the pool


def open_docker_logs(
    target: LogTarget, tail: int | None, since: float | None, follow: bool
) -> DockerLogStream:
    """Open ``target``'s logs with timestamps; raises ``docker.errors.APIError`` on refusal."""
    api = target.client().api
    config = api.inspect_container(target.container_id).get("Config") or {}
    params: dict[str, str | int] = {
        "stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow),
        "tail": "all" if tail is None else max(0, tail),
    }  # fmt: skip
    if since is not None and since > 0:
        params["since"] = f"{since:.6f}"
    url = f"{api.base_url}/v{api.api_version}/containers/{quote(target.container_id, safe='')}/logs"
    # No read timeout: a followed container may stay quiet for hours; stop() cancels instead.
    response = api.get(url, params=params, stream=True, timeout=(api.timeout, None))
    try:
        response.raise_for_status()
    except requests.HTTPError as exc:
        response.close()
        docker.errors.create_api_error_from_http_exception(exc)
    return DockerLogStream(response, bool(config.get("Tty")))


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
