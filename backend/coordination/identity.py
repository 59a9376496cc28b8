"""Who runs an operation, and whether a recorded process still exists on this bastion.

A pid alone does not name a process: pids are reused, and mean nothing after a
reboot. A lock therefore records the holder's host name, pid, process start
time (``/proc/PID/stat`` field 22, clock ticks since boot) and the kernel's
boot id. A holder recorded on this host in this boot is **gone** when its pid
no longer exists or now belongs to a process that started at another time;
then its lock can be released at once. A holder elsewhere (another bastion,
or this one before a reboot, which a shared host name cannot tell apart from
another machine) is left to its lease.
"""

from __future__ import annotations

import getpass
import os
import pwd
import socket
import time
from enum import StrEnum
from functools import cache
from pathlib import Path

from jobtui.backend.contract import LockOwner

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


class HolderState(StrEnum):
    ALIVE = "alive"
    """On this bastion, and the very process still runs."""
    GONE = "gone"
    """On this bastion in this boot, and the process no longer exists."""
    ELSEWHERE = "elsewhere"
    """On another bastion, another boot, or recorded without the means to tell."""


@cache
def boot_id() -> str:
    """This boot's id, ``""`` when the kernel does not say (not Linux)."""
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return ""


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat`` (start time in clock ticks); ``None`` when no such
    process runs (a zombie, dead but not yet reaped by its parent, counts as none)."""
    if pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    rest = stat[stat.rfind(")") + 2 :].split()
    try:
        state, started = rest[0], int(rest[22 - 3])  # rest starts at field 3 (state)
    except (IndexError, ValueError):
        return None
    return None if state in ("Z", "X") else started


def login_user() -> str:
    """The operator: the invoking user under sudo, else the login user."""
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        return sudo_user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        pass
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        # A uid without a passwd entry (some containers): the number still identifies.
        return str(os.getuid())


def current_owner(op: str = "") -> LockOwner:
    """The lock owner this process would be: user, bastion host, pid, start time, boot, now."""
    pid = os.getpid()
    return LockOwner(
        user=login_user(),
        host=socket.gethostname(),
        pid=pid,
        since=time.time(),
        op=op,
        start_time=process_start_time(pid) or 0,
        boot_id=boot_id(),
    )


def holder_state(owner: LockOwner) -> HolderState:
    """Whether ``owner``'s process still exists (see the module doc)."""
    here = owner.host == socket.gethostname() and bool(owner.boot_id)
    if not here or owner.boot_id != boot_id():
        return HolderState.ELSEWHERE
    started = process_start_time(owner.pid)
    if started is None:
        return HolderState.GONE
    if owner.start_time and started != owner.start_time:
        return HolderState.GONE  # the pid was reused by another process
    return HolderState.ALIVE
