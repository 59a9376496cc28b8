"""A coordinator that only answers who holds a lock: for the lock-holder views."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from jobtui.backend.contract import LockOwner


class FakeCoordinator:
    """Answers :meth:`holder` and :meth:`holders` from :attr:`held`; raises :attr:`error` when set.

    Only what the TUI's lock poller calls is here; every question is counted:
    :attr:`asked` lists the services asked one by one, :attr:`polls` counts
    the questions about every lock at once.
    """

    def __init__(self, held: Mapping[str, LockOwner] | None = None) -> None:
        self.held: dict[str, LockOwner] = dict(held or {})
        self.error: Exception | None = None
        self.asked: list[str] = []
        self.polls = 0
        self._lock = threading.Lock()

    def holder(self, service: str) -> LockOwner | None:
        with self._lock:
            self.asked.append(service)
        if self.error is not None:
            raise self.error
        return self.held.get(service)

    def holders(self) -> dict[str, LockOwner]:
        with self._lock:
            self.polls += 1
        if self.error is not None:
            raise self.error
        return dict(self.held)

    def close(self) -> None:
        pass
