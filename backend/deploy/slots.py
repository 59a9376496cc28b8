"""Bounded work per host, shared by every operation of this bastion.

Each operation runs in a runner process of its own (so it outlives its
operator), and independent services run at the same time: ``jobtui deploy a
b c`` starts three runners. What keeps eight services from pulling,
creating and health-checking on one daemon at once is a small number of
*slots* per host, held for as long as a host's part of an operation works on
it.

A slot is an exclusive ``flock`` on one of ``per_host`` files of the host in
a directory of the state dir. The kernel drops a flock when its holder dies,
so a killed runner never leaks a slot, and locks taken through separate
opens exclude each other between threads of one process as well as between
processes. Without a directory (tests, a bare engine) slots are in-process
semaphores.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PER_HOST = 4
"""Operations that may work on one host at once (more wait for a slot)."""
WAIT_POLL = 0.1
"""Seconds between two tries for a free slot (flock cannot wait on any of several files)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class HostSlots:
    """At most ``per_host`` holders per host at once (see the module doc)."""

    def __init__(self, directory: Path | None = None, per_host: int = PER_HOST) -> None:
        self.directory = directory
        self.per_host = max(per_host, 1)
        self._guard = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}

    @contextmanager
    def hold(self, host: str, waiting: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold one of ``host``'s slots for the block; ``waiting(n)`` is told once if all
        ``n`` are taken (so the operator sees why nothing happens yet)."""
        if self.directory is None:
            with self._semaphore(host, waiting):
                yield
            return
        fd = self._take(host, waiting)
        try:
            yield
        finally:
            os.close(fd)  # closing the descriptor drops its flock

    @contextmanager
    def _semaphore(self, host: str, waiting: Callable[[int], None] | None) -> Iterator[None]:
        with self._guard:
            semaphore = self._semaphores.setdefault(host, threading.BoundedSemaphore(self.per_host))
        if not semaphore.acquire(blocking=False):
            if waiting is not None:
                waiting(self.per_host)
            semaphore.acquire()
        try:
            yield
        finally:
            semaphore.release()

    def _take(self, host: str, waiting: Callable[[int], None] | None) -> int:
        assert self.directory is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        name = _UNSAFE.sub("_", host)
        paths = [self.directory / f"{name}.{index}.slot" for index in range(self.per_host)]
        told = False
        while True:
            for path in paths:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                except BaseException:
                    os.close(fd)
                    raise
                return fd
            if not told and waiting is not None:
                told = True
                waiting(self.per_host)
            time.sleep(WAIT_POLL)  # another operation's host work ends in its own time
