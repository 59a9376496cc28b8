"""Deploy locks whose holder is gone: released at once on this bastion; others by lease
or by a confirmed, journalled `--force-unlock`. Both backends (etcd, local files)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ops_support import Ops, poll_until, worker_service

from jobtui.backend.contract import LockOwner, OpKind
from jobtui.backend.coordination.identity import boot_id

if TYPE_CHECKING:
    from conftest import Stack

# Takes the service's lock in the state directory, forks a child that keeps the
# locked descriptor (so the flock outlives the holder), says so, and waits.
HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from jobtui.backend.coordination.factory import current_owner
    from jobtui.backend.coordination.local import LocalCoordinator

    coordinator = LocalCoordinator(Path(sys.argv[1]))
    lock = coordinator.acquire(sys.argv[2], current_owner("deploy " + sys.argv[2]))
    child = os.fork()
    if child == 0:
        os.setsid()
        time.sleep(120)
        os._exit(0)
    print("held", os.getpid(), child, flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def local_ops(stack: Stack, tmp_path: Path) -> Iterator[Ops]:
    found = Ops(stack, tmp_path, [{**worker_service("rt-lock-local"), "image_name": "worker"}],
                etcd=False)  # fmt: skip
    try:
        found.deploy("rt-lock-local", "v1")
        yield found
    finally:
        found.close()


@pytest.fixture
def etcd_ops(stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Ops]:
    # One service per test: the stack's etcd journal is shared by the session.
    name = "rt-lock-" + request.node.name.split("_")[2]
    found = Ops(stack, tmp_path, [{**worker_service(name), "image_name": "worker"}])
    found.name = name  # type: ignore[attr-defined]
    try:
        found.deploy(name, "v1")
        yield found
    finally:
        found.close()


def test_a_stale_local_lock_is_released_at_once(local_ops: Ops) -> None:
    ops = local_ops
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(ops.state), "rt-lock-local"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert holder.stdout is not None
    word, pid, child = holder.stdout.readline().split()
    assert word == "held" and int(pid) == holder.pid
    try:
        refused = ops.jobtui("deploy", "rt-lock-local", "--version", "v2", "-y")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert f"pid {holder.pid}" in refused.stdout + refused.stderr
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        # Its child still holds the flock; the recorded holder is gone: released at once.
        start = time.monotonic()
        done = ops.jobtui("deploy", "rt-lock-local", "--version", "v2", "-y")
        took = time.monotonic() - start
        assert done.returncode == 0, done.stdout + done.stderr
        print(f"deploy after a stale local lock took {took:.1f} s (no waiting for any lease)")
    finally:
        for process in (holder.pid, int(child)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGKILL)
        holder.wait(timeout=10)
        holder.stdout.close()
    (unlock,) = [e for e in ops.coordinator.journal("rt-lock-local") if e.kind is OpKind.UNLOCK]
    assert f"pid {holder.pid} is gone from {socket.gethostname()}" in unlock.message
    assert unlock.bastion == socket.gethostname()
    assert ops.settled("rt-lock-local")
    assert [c.version for c in ops.running("rt-lock-local")] == ["v2"]


def test_a_runner_killed_holding_the_etcd_lock_blocks_nobody(etcd_ops: Ops) -> None:
    ops, name = etcd_ops, etcd_ops.name  # type: ignore[attr-defined]
    began = time.time()
    launcher = ops.spawn("deploy", name, "--version", "v2", "-y", hold="start")
    op = ops.wait_op(name, after=began)
    ops.wait_step(op.op_id, "start")
    summary = ops.store.summary(op.op_id)
    assert summary.runner is not None
    holder = ops.coordinator.holder(name)
    assert holder is not None and holder.pid == summary.runner.pid
    assert holder.boot_id == boot_id() and holder.start_time > 0
    os.kill(summary.runner.pid, signal.SIGKILL)  # power loss, as far as the lock can tell
    assert launcher.wait(timeout=15) == 1
    assert "gone without finishing" in ops.output(launcher)
    ops.release()
    # The lease would hold the lock for 30 s more: its holder is gone from this
    # bastion, so the next operation takes it at once, recovers, then deploys.
    start = time.monotonic()
    again = ops.jobtui("deploy", name, "--version", "v2", "-y")
    took = time.monotonic() - start
    assert again.returncode == 0, again.stdout + again.stderr
    assert took < 20, f"{took:.1f} s"
    assert "recovering it first" in again.stdout
    entries = ops.coordinator.journal(name, limit=20)
    assert any(e.kind is OpKind.UNLOCK and f"pid {holder.pid} is gone" in e.message
               for e in entries)  # fmt: skip
    closed = [e.state for e in entries if e.op_id == op.op_id]
    assert closed == ["recovered", "started"]
    assert ops.settled(name)


def test_a_remote_holder_waits_for_its_lease_or_a_forced_unlock(etcd_ops: Ops) -> None:
    ops, name = etcd_ops, etcd_ops.name  # type: ignore[attr-defined]
    remote = LockOwner("carol", "bastion-2", 4242, time.time(), f"deploy {name} v1 -> v9",
                       start_time=777, boot_id="another-machine")  # fmt: skip
    held = ops.coordinator.acquire(name, remote, ttl=30)
    try:
        refused = ops.jobtui("deploy", name, "--version", "v2", "-y")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "carol@bastion-2 pid 4242" in refused.stdout + refused.stderr
        no_terminal = ops.jobtui("--force-unlock", name)
        assert no_terminal.returncode == 2 and "pass -y" in no_terminal.stderr
        assert ops.coordinator.holder(name) == remote
        forced = ops.jobtui("--force-unlock", name, "-y")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "another bastion" in forced.stdout and "lock released" in forced.stdout
        assert ops.coordinator.holder(name) is None
    finally:
        held.release()  # its own lease: must not free anyone else's lock
    (entry,) = [e for e in ops.coordinator.journal(name, limit=20)
                if e.kind is OpKind.UNLOCK]  # fmt: skip
    assert "carol@bastion-2" in entry.message and "forced open by" in entry.message
    done = ops.jobtui("deploy", name, "--version", "v2", "-y")
    assert done.returncode == 0, done.stdout + done.stderr
    poll_until(lambda: ops.settled(name), 10, "settled")
