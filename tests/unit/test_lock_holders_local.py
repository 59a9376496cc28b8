"""LocalCoordinator.holders(): every held lock of the state dir in one look, none that is free."""

from __future__ import annotations

from pathlib import Path

from jobtui.backend.contract import LockOwner
from jobtui.backend.coordination.local import LocalCoordinator

ALICE = LockOwner("alice", "bastion-1", 101, 1_700_000_000.0, op="deploy web v1 -> v2")
BOB = LockOwner("bob", "bastion-1", 202, 1_700_000_100.0, op="restart api")


def test_holders_lists_held_locks_only(tmp_path: Path) -> None:
    # Separate LocalCoordinators open the files separately: their flocks
    # conflict as two processes' would.
    mine, theirs = LocalCoordinator(tmp_path), LocalCoordinator(tmp_path)
    assert theirs.holders() == {}
    web = mine.acquire("web", ALICE)
    api = mine.acquire("api", BOB)
    mine.acquire("worker", ALICE).release()  # its file stays, nobody holds it
    assert theirs.holders() == {"web": ALICE, "api": BOB}
    api.release()
    assert theirs.holders() == {"web": ALICE}
    # Broken away while its holder lives on: the renamed file is nobody's lock.
    assert theirs.break_lock("web", ALICE)
    assert theirs.holders() == {}
    web.release()
