"""A pull that goes quiet ends: the stall bound on Docker's pull stream.

docker-py reads the pull stream without any socket timeout, and dockerd
keeps a pull waiting on a registry that stopped sending mid-layer (measured:
the deploy hung for minutes, even after the registry's connections closed,
while dockerd retried). :func:`until_quiet` hands on the stream's events
while they keep coming and raises :class:`~jobtui.backend.deploy.create.PullFailed`
once none came for ``quiet`` seconds. The stream is read in a thread of its
own so a read blocked in the socket cannot hold the operation: that thread
is left to end with dockerd's pull (it holds nothing of the operation).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

from jobtui.backend.deploy.create import PullFailed

_T = TypeVar("_T")

_END = object()


def until_quiet(stream: Iterable[_T], quiet: float, what: str) -> Iterator[_T]:
    """``stream``'s items, as they come; ``PullFailed`` after ``quiet`` seconds without one.

    An exception of the stream is raised here, in the caller's thread.
    """
    items: queue.Queue[object] = queue.Queue()

    def read() -> None:
        try:
            for item in stream:
                items.put(item)
        except BaseException as exc:  # handed to the caller below
            items.put(exc)
            return
        items.put(_END)

    threading.Thread(target=read, daemon=True, name="jobtui-pull").start()
    while True:
        try:
            item = items.get(timeout=quiet)
        except queue.Empty:
            raise PullFailed(
                f"{what}: no progress for {quiet:g} s (the registry stalled?); gave up"
            ) from None
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield cast(_T, item)
