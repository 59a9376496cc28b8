"""Ask the coordinator, on a timer and from a thread worker, who holds each lock.

A service being changed by someone else (another bastion, a CI job, a
``jobtui deploy`` in another terminal) holds its deploy lock; the screens
showing that service show who, since when and what. Every held lock is read
in one question (one etcd range read, however many services are on screen),
only while a screen showing services is on top, and never twice at once;
the answer is cut down to the services on screen. etcd being down is a
:class:`~jobtui.app.messages.LocksChecked` with an ``error``, which screens
show as a note.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from jobtui.app.messages import LocksChecked
from jobtui.app.screens.base import JobtuiScreen
from jobtui.backend.contract import Coordinator, LockOwner
from jobtui.widgets.format import uptime

LOCK_INTERVAL = 2.0
"""Seconds between questions: a rollout takes longer than that, etcd barely notices."""


def ask_holders(locks: Callable[[], Coordinator], services: Sequence[str]) -> LocksChecked:
    """Who holds the lock of each of ``services`` (blocking; never raises)."""
    try:
        held = locks().holders()
        holders = {service: held.get(service) for service in services}
    except Exception as exc:
        # etcd down, a bad certificate, a bug: a note on screen, not a crash.
        return LocksChecked({}, error=str(exc) or type(exc).__name__)
    return LocksChecked(holders)


def holder_text(owner: LockOwner, now: float) -> str:
    """``alice@bastion pid 42 since 12:00:00 UTC (deploy web v1 -> v2), 3m ago``."""
    return f"{owner.describe()}, for {uptime(owner.since, now)}"


class LockFeed:
    """Polls the app's coordinator for the services ``screen`` shows, while it is on top."""

    def __init__(
        self,
        screen: JobtuiScreen,
        services: Callable[[], Sequence[str]],
        interval: float = LOCK_INTERVAL,
    ) -> None:
        self._screen = screen
        self._services = services
        self._interval = interval
        self._busy = threading.Event()

    def start(self) -> None:
        """Ask now and every ``interval`` seconds (nothing when the app has no coordinator)."""
        if self._screen.jobtui.locks is None:
            return
        self._screen.set_interval(self._interval, self.poll)
        self.poll(force=True)

    def poll(self, *, force: bool = False) -> None:
        locks = self._screen.jobtui.locks
        if locks is None or self._busy.is_set():
            return
        if not force and not self._screen.is_current:
            return
        # Read on the event loop: the screen's state is not for the worker thread.
        services = tuple(dict.fromkeys(self._services()))
        if not services:
            return
        self._busy.set()
        self._screen.run_worker(
            lambda: self._run(locks, services),
            name="locks",
            group="locks",
            thread=True,
            exit_on_error=False,
        )

    def _run(self, locks: Callable[[], Coordinator], services: Sequence[str]) -> None:
        try:
            message = ask_holders(locks, services)
        finally:
            self._busy.clear()
        self._screen.post_message(message)
