"""LocalCoordinator: real flock between real processes, the journal file, instances."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobtui.backend.contract import Instance, JournalEntry, LockedError, LockOwner, OpKind
from jobtui.backend.coordination import local as coordination_local
from jobtui.backend.coordination.factory import CoordinationError
from jobtui.backend.coordination.local import LocalCoordinator

# A second process that takes the lock of `web`, says so, and holds it until
# stdin closes (or it is killed).
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from jobtui.backend.coordination.factory import current_owner
    from jobtui.backend.coordination.local import LocalCoordinator

    lock = LocalCoordinator(Path(sys.argv[1])).acquire("web", current_owner("deploy web v1 -> v2"))
    print("held", flush=True)
    sys.stdin.read()
    lock.release()
    """
)

# Appends entries for one service, to check concurrent writers keep lines whole.
APPENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from jobtui.backend.coordination.local import LocalCoordinator
    from jobtui.backend.contract import JournalEntry, OpKind

    coordinator = LocalCoordinator(Path(sys.argv[1]))
    for n in range(int(sys.argv[3])):
        coordinator.record(JournalEntry(
            op_id=f"{sys.argv[2]}-{n}", kind=OpKind.DEPLOY, service=sys.argv[2], user="u",
            hosts=("host-a",), from_version="v1", to_version="v2", state="done",
            time=float(n), message="x" * 300,
        ))
    """
)


@pytest.fixture
def holder_process(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate process holding `web`'s lock (SUDO_USER=alice), stopped afterwards."""
    env = dict(os.environ, SUDO_USER="alice")
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def owner(user: str = "bob", pid: int = 4242) -> LockOwner:
    return LockOwner(user=user, host="bastion", pid=pid, since=1_700_000_000.0, op="deploy")


def entry(op_id: str, service: str, state: str, at: float) -> JournalEntry:
    return JournalEntry(
        op_id=op_id,
        kind=OpKind.DEPLOY,
        service=service,
        user="bob",
        hosts=("host-a", "host-b"),
        from_version="v1",
        to_version="v2",
        state=state,
        time=at,
        duration=0.0 if state == "started" else 3.5,
    )


def test_second_process_is_refused_with_the_holders_details(
    tmp_path: Path, holder_process: subprocess.Popen[str]
) -> None:
    coordinator = LocalCoordinator(tmp_path)
    with pytest.raises(LockedError) as refused:
        coordinator.acquire("web", owner())
    holder = refused.value.holder
    assert holder is not None
    assert (holder.user, holder.pid, holder.op) == (
        "alice",
        holder_process.pid,
        "deploy web v1 -> v2",
    )
    assert refused.value.service == "web"
    assert f"alice@{holder.host} pid {holder_process.pid}" in str(refused.value)
    assert coordinator.holder("web") == holder
    # Another service is not affected.
    coordinator.acquire("api", owner()).release()

    assert holder_process.stdin is not None
    holder_process.stdin.close()  # the holder releases and exits
    assert holder_process.wait(timeout=10) == 0
    assert coordinator.holder("web") is None
    lock = coordinator.acquire("web", owner())
    lock.release()


def test_a_killed_holder_leaves_no_stale_lock(
    tmp_path: Path, holder_process: subprocess.Popen[str]
) -> None:
    coordinator = LocalCoordinator(tmp_path)
    assert coordinator.holder("web") is not None
    holder_process.send_signal(signal.SIGKILL)
    holder_process.wait(timeout=10)
    # The kernel dropped the flock with the process; its name is still in the
    # file but nobody holds the lock.
    assert coordinator.holder("web") is None
    coordinator.acquire("web", owner()).release()


def test_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    lock = coordinator.acquire("web", owner(pid=1))
    with pytest.raises(LockedError) as refused:
        LocalCoordinator(tmp_path).acquire("web", owner(pid=2))
    assert refused.value.holder == owner(pid=1)
    lock.refresh()
    lock.release()
    lock.release()  # idempotent
    with pytest.raises(CoordinationError, match="already released"):
        lock.refresh()
    assert coordinator.holder("web") is None
    assert coordinator.lock_path("web").read_bytes() == b""


def test_bad_service_names_cannot_escape_the_locks_directory(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    for name in ("", "../web", ".hidden"):
        with pytest.raises(CoordinationError, match="cannot name a lock file"):
            coordinator.acquire(name, owner())


def test_journal_newest_first_filtered_and_limited(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    written = [
        entry("op1", "web", "started", 100.0),
        entry("op1", "web", "done", 103.5),
        entry("op2", "api", "started", 200.0),
        entry("op2", "api", "failed", 201.0),
        entry("op3", "web", "started", 300.0),
    ]
    for item in written:
        coordinator.record(item)
    assert list(coordinator.journal()) == written[::-1]
    assert list(coordinator.journal("web")) == [written[4], written[1], written[0]]
    assert list(coordinator.journal("web", limit=2)) == [written[4], written[1]]
    assert list(coordinator.journal("nothing")) == []
    assert list(coordinator.journal(limit=0)) == []
    lines = coordinator.journal_path.read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["kind"] == "deploy"


def test_journal_reads_back_across_chunks_and_skips_a_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coordination_local, "TAIL_CHUNK", 7)  # lines span many chunks
    coordinator = LocalCoordinator(tmp_path)
    written = [entry(f"op{n}", "web", "done", float(n)) for n in range(20)]
    for item in written:
        coordinator.record(item)
    with coordinator.journal_path.open("a") as out:
        out.write('{"op_id": "crashed mid-wri')  # what a crash during a write leaves
    assert list(coordinator.journal(limit=100)) == written[::-1]


def test_journal_of_a_fresh_state_dir_is_empty(tmp_path: Path) -> None:
    assert list(LocalCoordinator(tmp_path / "new").journal()) == []


def test_concurrent_writers_keep_every_line_whole(tmp_path: Path) -> None:
    count = 150
    writers = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path), name, str(count)])
        for name in ("web", "api")
    ]
    for writer in writers:
        assert writer.wait(timeout=60) == 0
    coordinator = LocalCoordinator(tmp_path)
    lines = coordinator.journal_path.read_text().splitlines()
    assert len(lines) == 2 * count
    assert all(json.loads(line)["message"] == "x" * 300 for line in lines)
    assert len(coordinator.journal("web", limit=1000)) == count


def test_instances_register_and_deregister(tmp_path: Path) -> None:
    coordinator = LocalCoordinator(tmp_path)
    a = Instance("worker", "host-a", "127.0.0.1", None, "worker_1700000000", "v1")
    b = Instance("worker", "host-b", "127.0.0.1", None, "worker_1700000001", "v1")
    web = Instance("web", "host-a", "127.0.0.1", 18080, "web_1700000000", "v2")
    for instance in (b, a, web):
        coordinator.register(instance)
    assert list(coordinator.instances("worker")) == [a, b]
    assert list(coordinator.instances("web")) == [web]
    stored = json.loads(coordinator.instances_path.read_text())
    assert stored["web"]["host-a"]["port"] == 18080
    assert stored["web"]["host-a"]["updated"] == pytest.approx(time.time(), abs=60)

    coordinator.deregister("worker", "host-a")
    coordinator.deregister("web", "host-a")
    coordinator.deregister("web", "host-a")  # already gone: no error
    assert list(coordinator.instances("worker")) == [b]
    assert list(coordinator.instances("web")) == []
    assert "web" not in json.loads(coordinator.instances_path.read_text())
    coordinator.close()
