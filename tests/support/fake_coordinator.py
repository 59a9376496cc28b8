"""A coordinator that only answers who holds a lock: for the lock-holder views."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from jobtui.backend.contract import LockOwner


class FakeCoordinator:
    """Answers :meth:`holder` from :attr:`holders`; raises :attr:`error` when set.

    Only what the TUI's lock poller calls is here; every question is counted.
    """

    def __init__(self, holders: Mapping[str, LockOwner] | None = None) -> None:
        self.holders: dict[str, LockOwner] = dict(holders or {})
        self.error: Exception | None = None
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def holder(self, service: str) -> LockOwner | None:
        with self._lock:
            self.asked.append(service)
        if self.error is not None:
            raise self.error
        return self.holders.get(service)

    def close(self) -> None:
        pass
