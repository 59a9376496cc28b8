"""``--no-lock`` records on the bastion, the lease keeper's rule, the pull's stall bound.

The files are real (a temporary state directory); the lock stand-ins answer
``refresh`` as etcd would in each case (lost, unreachable, fine), and the
keeper is given its clock so "27 s unrefreshed" needs no waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from jobtui.backend.contract import Instance, JournalEntry, LockedError, OpKind, Outcome
from jobtui.backend.coordination.factory import (
    CoordinationError,
    LockLost,
    current_owner,
    entry_from_json,
    entry_to_json,
    format_journal,
    make_coordinator,
)
from jobtui.backend.coordination.unlocked import UnlockedCoordinator, pending_replay
from jobtui.backend.deploy.batches import FleetResult
from jobtui.backend.deploy.create import PullFailed
from jobtui.backend.deploy.frame import LeaseKeeper
from jobtui.backend.deploy.pull_watch import until_quiet
from jobtui.backend.ops.records import OpRequest
from jobtui.config.models import Inventory


def _entry(op_id: str, state: str, at: float) -> JournalEntry:
    return JournalEntry(op_id, OpKind.DEPLOY, "web", "ann", ("host-a",), "v1", "v2", state, at,
                        2.0 if state != "started" else 0.0, "", "bastion-1")  # fmt: skip


# -- UnlockedCoordinator -------------------------------------------------------------------


def test_entries_are_marked_and_read_back_newest_first(tmp_path: Path) -> None:
    unlocked = UnlockedCoordinator(tmp_path)
    unlocked.record(_entry("op1", "started", 100.0))
    unlocked.record(_entry("op1", "done", 102.0))

    states = [(e.state, e.no_lock) for e in unlocked.journal("web")]
    assert states == [("done", True), ("started", True)]
    assert pending_replay(tmp_path)
    assert (tmp_path / "no-lock" / "journal.jsonl").is_file()


def test_the_local_lock_still_excludes_a_second_operator(tmp_path: Path) -> None:
    first = UnlockedCoordinator(tmp_path).acquire("web", current_owner("deploy web"))
    try:
        with pytest.raises(LockedError) as refused:
            UnlockedCoordinator(tmp_path).acquire("web", current_owner("deploy web"))
        assert refused.value.holder is not None
    finally:
        first.release()


def test_instances_are_kept_as_changes(tmp_path: Path) -> None:
    unlocked = UnlockedCoordinator(tmp_path)
    unlocked.register(Instance("web", "host-a", "127.0.0.1", 8080, "web_1", "v2"))
    unlocked.register(Instance("web", "host-b", "127.0.0.1", 8080, "web_2", "v2"))
    unlocked.deregister("web", "host-b")

    assert [(i.host, i.version) for i in unlocked.instances("web")] == [("host-a", "v2")]
    lines = (tmp_path / "no-lock" / "instances.jsonl").read_text().splitlines()
    assert len(lines) == 3 and '"instance": null' in lines[-1]


def test_no_lock_without_etcd_is_refused(tmp_path: Path) -> None:
    inventory = Inventory(source=tmp_path / "jobtui.yml", services=(), hosts={})
    with pytest.raises(CoordinationError, match="no etcd"):
        make_coordinator(inventory, state_dir=tmp_path, no_lock=True)


def test_the_mark_round_trips_and_old_entries_read_as_locked() -> None:
    marked = entry_from_json(entry_to_json(replace(_entry("op1", "done", 1.0), no_lock=True)))
    assert marked is not None and marked.no_lock
    old = entry_to_json(_entry("op2", "done", 1.0)).replace(', "no_lock": false', "")
    assert "no_lock" not in old
    read = entry_from_json(old)
    assert read is not None and not read.no_lock


def test_history_says_no_lock(tmp_path: Path) -> None:
    unlocked = UnlockedCoordinator(tmp_path)
    unlocked.record(_entry("op1", "started", 100.0))
    unlocked.record(_entry("op1", "done", 102.0))
    lines = format_journal(unlocked.journal())
    assert len(lines) == 2 and "done (no lock)" in lines[1]


def test_the_request_carries_no_lock() -> None:
    request = OpRequest("op1", OpKind.DEPLOY, "web", "/inv.yml", no_lock=True)
    assert OpRequest.from_json(request.to_json()).no_lock
    plain = OpRequest("op2", OpKind.DEPLOY, "web", "/inv.yml").to_json()
    assert not OpRequest.from_json(plain.replace(', "no_lock": false', "")).no_lock


# -- LeaseKeeper ---------------------------------------------------------------------------


class _Lock:
    """Answers ``refresh`` from a script; records how often it was asked."""

    replaced = None

    def __init__(self, answers: Iterator[BaseException | None]) -> None:
        self.answers, self.calls = answers, 0

    def refresh(self) -> None:
        self.calls += 1
        answer = next(self.answers, None)
        if answer is not None:
            raise answer

    def release(self) -> None:
        pass


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _keeper_until(lock: _Lock, clock: _Clock, step: float, calls: int) -> list[str]:
    """Run a keeper whose clock moves ``step`` s per refresh, until ``calls`` refreshes or it
    reported the lock lost; what it reported."""
    lost: list[str] = []
    done = threading.Event()

    def on_lost(reason: str) -> None:
        lost.append(reason)
        done.set()

    original = lock.refresh

    def ticking() -> None:
        clock.now += step
        try:
            original()
        finally:
            if lock.calls >= calls:
                done.set()

    lock.refresh = ticking  # type: ignore[method-assign]
    keeper = LeaseKeeper(lock, 0.001, ttl=30.0, on_lost=on_lost, clock=clock)
    assert done.wait(10), "the keeper stopped refreshing"
    keeper.stop()
    return lost


def test_a_lease_found_gone_is_lost_at_once() -> None:
    lock = _Lock(iter([None, LockLost("the deploy lock of web expired")]))
    lost = _keeper_until(lock, _Clock(), 10.0, 50)
    assert lost == ["the deploy lock of web expired"] and lock.calls == 2


def test_etcd_unreachable_for_nearly_the_ttl_counts_as_lost() -> None:
    down = (CoordinationError("etcd cannot be reached") for _ in range(1000))
    lock = _Lock(down)
    lost = _keeper_until(lock, _Clock(), 1.0, 1000)
    (reason,) = lost
    assert "could not be refreshed for 27 s" in reason and "etcd cannot be reached" in reason


def test_a_brief_outage_is_bridged() -> None:
    outage = [CoordinationError("etcd cannot be reached")] * 10
    lock = _Lock(iter([*outage, *[None] * 100]))
    lost = _keeper_until(lock, _Clock(), 1.0, 60)
    assert lost == [] and lock.calls >= 60


def test_the_result_of_a_lost_lock_says_so() -> None:
    from jobtui.backend.deploy.frame import _after_lost_lock

    class _Op:
        lost = "the deploy lock of web expired"

    aborted = FleetResult(Outcome.ABORTED, (), "aborted by the operator and restored")
    failed = _after_lost_lock(_Op(), aborted)  # type: ignore[arg-type]
    assert failed.outcome is Outcome.FAILED
    assert failed.message == "the deploy lock of web expired: stopped at a safe point and put back"
    done = _after_lost_lock(_Op(), FleetResult(Outcome.DONE, (), ""))  # type: ignore[arg-type]
    assert done.outcome is Outcome.DONE and "expired" in done.message


# -- until_quiet ---------------------------------------------------------------------------


def test_a_pull_that_goes_quiet_fails_within_its_bound() -> None:
    release = threading.Event()

    def stalls() -> Iterator[int]:
        yield 1
        release.wait(10)  # the registry stopped sending
        yield 2

    seen: list[int] = []
    start = time.monotonic()
    with pytest.raises(PullFailed, match=r"no progress for 0\.3 s"):
        for item in until_quiet(stalls(), 0.3, "demo/web:v2"):
            seen.append(item)
    took = time.monotonic() - start
    release.set()
    assert seen == [1] and took < 3


def test_a_pull_that_keeps_talking_passes_everything_and_its_errors() -> None:
    assert list(until_quiet(iter(range(5)), 1.0, "x")) == [0, 1, 2, 3, 4]

    def breaks() -> Iterator[int]:
        yield 1
        raise ConnectionError("connection lost")

    with pytest.raises(ConnectionError, match="connection lost"):
        list(until_quiet(breaks(), 1.0, "x"))
