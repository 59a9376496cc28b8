"""Docker's logs response, read in arbitrary pieces, turned into lines.

The multiplexed stream's 8-byte frame headers (stdout/stderr) or a TTY's raw
bytes; timestamps parsed once per second of text; over-long lines cut.
"""


from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from datetime import datetime

from jobtui.backend.docker import parse_docker_time
from jobtui.backend.logs.lines import LogLine, Stream

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 8 * 1024
"""Longer lines are cut into pieces, so that one endless line cannot grow memory."""


_STREAMS: dict[int, Stream] = {0: "tty", 1: "stdout", 2: "stderr", 3: "daemon"}
_FRAME_HEADER = struct.Struct(">BxxxL")



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


