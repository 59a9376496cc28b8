"""Waiting for something to happen, with a deadline: never a fixed sleep.

Tests wait for the condition they are about to assert, polled until it holds
or a deadline passes, so a fast machine does not wait for nothing and a slow
one does not fail by chance.

* :func:`until` — Pilot tests: lets the app run (``pilot.pause``) between checks.
* :func:`on_screen` — Pilot tests: until the app shows a screen of a kind, mounted.
* :func:`wait_until` — plain code (threads, subprocesses, the real stack).
* :func:`seconds_until` — the same, answering how long it took (for measurements).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from textual.pilot import Pilot
    from textual.screen import Screen

T = TypeVar("T")
S = TypeVar("S", bound="Screen[Any]")

DEADLINE = 5.0
"""Seconds a Pilot test waits by default: far above what a fixed app needs."""

PILOT_INTERVAL = 0.02
"""Seconds the app runs between two checks of a Pilot test."""

INTERVAL = 0.05
"""Seconds between two checks in plain code."""


async def until(
    pilot: Pilot[Any],
    check: Callable[[], T],
    what: str = "the condition",
    *,
    timeout: float = DEADLINE,
    interval: float = PILOT_INTERVAL,
) -> T:
    """Let the app run until ``check()`` is truthy and return it; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last: {value!r})")
        await pilot.pause(interval)


async def on_screen(pilot: Pilot[Any], kind: type[S], *, timeout: float = DEADLINE) -> S:
    """Wait until the app shows a ``kind`` screen and it has mounted its widgets; return it."""
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__, timeout=timeout)
    await pilot.pause()  # the screen's own mount messages
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


def wait_until(
    check: Callable[[], T],
    what: str = "the condition",
    *,
    timeout: float = DEADLINE,
    interval: float = INTERVAL,
) -> T:
    """Poll ``check()`` until it is truthy and return it; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


def seconds_until(
    check: Callable[[], object],
    what: str = "the condition",
    *,
    timeout: float = DEADLINE,
    interval: float = INTERVAL,
) -> float:
    """Like :func:`wait_until`, but return how many seconds it took."""
    start = time.monotonic()
    wait_until(check, what, timeout=timeout, interval=interval)
    return time.monotonic() - start
