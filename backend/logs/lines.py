"""Log lines and the bounded ring that keeps the newest of them."""


from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 10_000
"""Lines a :class:`LineRing` keeps unless told otherwise."""

Stream = Literal["stdout", "stderr", "tty", "daemon", "jobtui"]
"""Where a line came from: the container's stdout or stderr, a TTY (both merged),
the daemon's own error stream, or a note from jobtui (e.g. a stream ended)."""


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


