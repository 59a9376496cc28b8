"""Stale deploy locks: who a holder is, when it is gone, and releasing its lock at once.

Real processes and the real file-based coordinator: a holder killed with
SIGKILL, one whose descriptor a surviving child still holds, a pid reused by
another process, a holder on another bastion.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from jobtui.backend.contract import LockedError, LockOwner, OpKind
from jobtui.backend.coordination.factory import current_owner
from jobtui.backend.coordination.identity import (
    HolderState,
    boot_id,
    holder_state,
    process_start_time,
)
from jobtui.backend.coordination.local import LocalCoordinator
from jobtui.backend.coordination.stale import LOCK_TTL, take_lock

# Takes web's lock, says "held", then (with "fork") forks a child that keeps the
# descriptor (and so the flock) and outlives it, and waits to be killed.
HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from jobtui.backend.coordination.factory import current_owner
    from jobtui.backend.coordination.local import LocalCoordinator

    lock = LocalCoordinator(Path(sys.argv[1])).acquire("web", current_owner("deploy web"))
    if sys.argv[2] == "fork" and os.fork() == 0:
        # The child inherits the locked descriptor: the flock stays held after the parent dies.
        os.setsid()
        print("child", os.getpid(), flush=True)
        time.sleep(60)
        os._exit(0)
    print("held", os.getpid(), flush=True)
    time.sleep(60)
    """
)


def _holder(state: Path, mode: str) -> tuple[subprocess.Popen[str], list[int]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state), mode], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    pids = []
    for _ in range(2 if mode == "fork" else 1):
        word, pid = process.stdout.readline().split()
        assert word in ("held", "child")
        pids.append(int(pid))
    return process, pids


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_a_process_is_named_by_pid_start_time_and_boot() -> None:
    me = current_owner("deploy web")
    assert me.pid == os.getpid() and me.start_time == process_start_time(os.getpid()) > 0
    assert me.boot_id == boot_id() and len(me.boot_id) == 36
    assert holder_state(me) is HolderState.ALIVE
    # The same pid with another start time is another process: ours is gone.
    assert holder_state(replace(me, start_time=me.start_time + 1)) is HolderState.GONE
    # Another bastion, or this one in another boot: only its lease can tell.
    assert holder_state(replace(me, host="elsewhere")) is HolderState.ELSEWHERE
    assert holder_state(replace(me, boot_id="0" * 36)) is HolderState.ELSEWHERE
    assert holder_state(replace(me, boot_id="")) is HolderState.ELSEWHERE


def test_a_dead_or_zombie_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start_time(child.pid)
    deadline = time.monotonic() + 10
    while process_start_time(child.pid) is not None:  # a zombie until reaped: gone already
        assert time.monotonic() < deadline
        time.sleep(0.01)
    owner = LockOwner("u", socket.gethostname(), child.pid, 0.0, "", start or 1, boot_id())
    assert holder_state(owner) is HolderState.GONE
    child.wait()
    assert holder_state(owner) is HolderState.GONE


def test_a_holder_killed_on_this_bastion_is_released_at_once_and_journalled(
    tmp_path: Path,
) -> None:
    coordinator = LocalCoordinator(tmp_path)
    process, (pid,) = _holder(tmp_path, "plain")
    with pytest.raises(LockedError) as refused:
        take_lock(coordinator, "web", current_owner("deploy web"), clock=time.time)
    assert refused.value.holder is not None and refused.value.holder.pid == pid
    _kill(pid)
    process.wait(timeout=10)
    start = time.monotonic()
    lock = take_lock(coordinator, "web", current_owner("deploy web"), clock=time.time)
    assert time.monotonic() - start < 1.0
    assert lock.replaced is not None and lock.replaced.pid == pid
    (entry,) = coordinator.journal("web")
    assert entry.kind is OpKind.UNLOCK and entry.state == "done"
    assert f"pid {pid} is gone" in entry.message and entry.bastion == socket.gethostname()
    lock.release()
    # Released properly this time: no stale name, nothing journalled again.
    take_lock(coordinator, "web", current_owner(), clock=time.time).release()
    assert len(coordinator.journal("web")) == 1


def test_a_lock_kept_by_a_dead_holders_child_is_broken_at_once(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    process, (holder, child) = _holder(tmp_path, "fork")
    try:
        _kill(holder)
        process.wait(timeout=10)
        # The flock is still held (by the child) but its recorded holder is gone.
        assert coordinator.holder("web") is not None
        lock = take_lock(coordinator, "web", current_owner("deploy web"), clock=time.time)
        now = coordinator.holder("web")
        assert now is not None and now.pid == os.getpid()
        (entry,) = coordinator.journal("web")
        assert entry.kind is OpKind.UNLOCK and f"pid {holder} is gone" in entry.message
        lock.release()
    finally:
        _kill(child)


def test_a_live_holder_is_never_released(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    process, (pid,) = _holder(tmp_path, "plain")
    try:
        with pytest.raises(LockedError):
            take_lock(coordinator, "web", current_owner(), clock=time.time)
        assert coordinator.journal("web") == []
    finally:
        _kill(pid)
        process.wait(timeout=10)


def test_force_breaking_a_live_lock_moves_it_away_from_its_holder(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    first = coordinator.acquire("web", current_owner("deploy web"))
    holder = coordinator.holder("web")
    assert holder is not None
    stranger = replace(holder, pid=holder.pid + 1)
    assert not coordinator.break_lock("web", stranger)  # not who holds it: nothing done
    assert coordinator.break_lock("web", holder)
    second = coordinator.acquire("web", current_owner("deploy web again"))
    with pytest.raises(Exception, match="broken by someone else"):
        first.refresh()
    first.release()  # must not free the new holder's lock
    assert coordinator.holder("web") is not None
    second.refresh()
    second.release()
    assert coordinator.holder("web") is None


def test_the_lease_ttl_is_half_a_minute() -> None:
    assert LOCK_TTL == 30.0
