"""The new container's last log lines while it starts, for the rollout view.

The step events name the container a host brings up: ``create`` ends with the
new container's name, ``start``/``restart``/``restore`` carry the name of the
one they start. Once that step ends well the container runs, and
:class:`LogTails` follows it through the app's :class:`LogSource` (a few lines,
per host) until its operation ends. Lines arrive on the source's threads; the
flow's timer takes them (:meth:`LogTails.take`) into the operation's progress
on the event loop. No Textual here.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence

from jobtui.app.log_source import LogHandle, LogSource
from jobtui.backend.contract import StepEvent, StepStatus
from jobtui.backend.logs import LogLine
from jobtui.backend.model import ContainerInfo

TAIL_LINES = 5
"""Log lines kept per host: enough to see why a health check waits, not a log view."""

STARTING_STEPS = frozenset({"start", "restart", "restore"})
"""Steps after which a container runs and has something to say."""

TailKey = tuple[str, str]
"""(operation key, host)."""


class LogTails:
    """Follows the container each host of an operation starts (see the module doc)."""

    def __init__(self, source: LogSource | None, lines: int = TAIL_LINES) -> None:
        self._source = source
        self._lines = lines
        self._lock = threading.Lock()
        self._buffers: dict[TailKey, deque[str]] = {}
        self._dirty: set[TailKey] = set()
        self._created: dict[TailKey, str] = {}
        """The container each host's ``create`` made, until it is started."""
        self._handles: dict[str, list[LogHandle]] = {}
        self._following: dict[TailKey, str] = {}

    def feed(self, op: str, events: Iterable[StepEvent]) -> None:
        """Look at operation ``op``'s new events; follow each container that just started."""
        if self._source is None:
            return
        for event in events:
            key = (op, event.host)
            if event.status is not StepStatus.OK:
                continue
            if event.step == "create" and event.message:
                self._created[key] = event.message
            elif event.step in STARTING_STEPS:
                name = self._created.pop(key, "") or event.message
                if name and self._following.get(key) != name:
                    self._follow(key, name)

    def _follow(self, key: TailKey, name: str) -> None:
        assert self._source is not None
        op, host = key
        with self._lock:
            self._following[key] = name
            # A new container on the host (a restore after a failure): its own lines only.
            self._buffers[key] = deque(maxlen=self._lines)
            self._dirty.add(key)
        # Docker's API takes a container's name where it takes an id.
        container = ContainerInfo(id=name, name=name, host=host, image="", state="running")
        handle = self._source.follow(
            [container], lambda batch, _dropped: self._arrived(key, name, batch), tail=self._lines
        )
        self._handles.setdefault(op, []).append(handle)

    def _arrived(self, key: TailKey, name: str, batch: Sequence[LogLine]) -> None:
        # On the source's thread.
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None or self._following.get(key) != name:
                return  # a follow already replaced or stopped
            buffer.extend(line.text for line in batch if line.container == name)
            self._dirty.add(key)

    def take(self) -> dict[TailKey, tuple[str, ...]]:
        """The tails that changed since the last call (on the event loop)."""
        with self._lock:
            changed = {
                key: tuple(self._buffers[key]) for key in self._dirty if key in self._buffers
            }
            self._dirty.clear()
        return changed

    def stop(self, op: str) -> list[LogHandle]:
        """Stop looking at ``op``'s containers; the handles to stop (``stop()`` may block)."""
        with self._lock:
            for key in [k for k in self._buffers if k[0] == op]:
                del self._buffers[key]
                self._following.pop(key, None)
                self._created.pop(key, None)
        return self._handles.pop(op, [])

    def stop_all(self) -> list[LogHandle]:
        """Every handle still following (the app is going)."""
        handles = [h for op in list(self._handles) for h in self.stop(op)]
        return handles
