"""Operation records without Docker: requests, events files, following a runner, the
plan fingerprint, and ``jobtui history`` as one line per operation."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from jobtui.backend.contract import (
    HostOutcome,
    HostResult,
    JournalEntry,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
    StepStatus,
)
from jobtui.backend.coordination.factory import format_journal, per_operation
from jobtui.backend.coordination.identity import boot_id, process_start_time
from jobtui.backend.deploy.fingerprint import (
    Fingerprint,
    HostPrint,
    differences,
    from_data,
    to_data as fingerprint_data,
)
from jobtui.backend.ops.records import OpRequest, RunnerInfo, decode_line, result_line
from jobtui.backend.ops.runners import Follower, RunnerDied, follow
from jobtui.backend.ops.store import OpStore

RESULT = OpResult(
    "op1", OpKind.DEPLOY, "web", Outcome.FAILED,
    (HostResult("host-a", False, "v1", "v2", "web_1", "health: exited", ("boom",),
                HostOutcome.FAILED),),
    "host-a failed", 10.0, 12.5, ("web@host-a: update v1 -> v2",),
)  # fmt: skip


def request(op_id: str = "op1", created: float | None = None) -> OpRequest:
    return OpRequest(
        op_id, OpKind.DEPLOY, "web", "/srv/jobtui.yml", "v2", ("host-a",),
        fingerprint={"spec": "abc", "hosts": []}, user="alice", bastion="vm",
        requested_by=42, created=time.time() if created is None else created,
        title="deploy web v1 -> v2",
    )  # fmt: skip


def test_requests_and_results_round_trip() -> None:
    asked = request()
    assert OpRequest.from_json(asked.to_json()) == asked
    assert decode_line(result_line(RESULT)) == RESULT
    assert decode_line("not json") is None and decode_line('{"type": "dance"}') is None


def me() -> RunnerInfo:
    pid = os.getpid()
    return RunnerInfo(pid, process_start_time(pid) or 0, boot_id(), socket.gethostname(), 1.0)


def test_an_operation_is_running_ended_or_died(tmp_path: Path) -> None:
    store = OpStore(tmp_path)
    store.write_request(request("op1"))
    assert store.summary("op1").state == "starting"
    writer = store.writer("op1")
    writer.runner(me())
    event = StepEvent("op1", "web", "host-a", "health", StepStatus.RUNNING, "gate", 2.0)
    writer.step(event)
    summary = store.summary("op1")
    assert (summary.state, summary.steps, summary.progress()) == (
        "running", [event], "host-a health running"
    )  # fmt: skip
    writer.result(RESULT)
    assert store.summary("op1").state == "ended" and store.summary("op1").result == RESULT
    # A runner that is gone without a result: died (recovery's business).
    store.write_request(request("op2"))
    gone = store.writer("op2")
    gone.runner(RunnerInfo(os.getpid(), 1, boot_id(), socket.gethostname(), 1.0))
    assert store.summary("op2").state == "died"
    # Never started at all, long ago: died too.
    store.write_request(request("op3", created=time.time() - 3600))
    assert store.summary("op3").state == "died"
    assert store.resolve("op2") == "op2"
    with pytest.raises(Exception, match="3 operations"):
        store.resolve("op")


def test_a_torn_last_line_waits_for_the_rest(tmp_path: Path) -> None:
    store = OpStore(tmp_path)
    store.write_request(request())
    path = store.path("op1", "events.jsonl")
    line = result_line(RESULT)
    path.write_text(line[:20])
    assert store.records("op1") == ([], 0)
    path.write_text(line + "\n")
    assert store.records("op1") == ([RESULT], len(line) + 1)


# A runner stand-in: writes its runner line, two steps, then (unless told to die) a result.
FAKE_RUNNER = textwrap.dedent(
    """
    import os, socket, sys, time
    from pathlib import Path
    from jobtui.backend.contract import StepEvent, StepStatus
    from jobtui.backend.coordination.identity import boot_id, process_start_time
    from jobtui.backend.ops.records import RunnerInfo
    from jobtui.backend.ops.store import OpStore
    sys.path.insert(0, sys.argv[3])
    from test_ops_records import RESULT

    store = OpStore(Path(sys.argv[1]))
    writer = store.writer("op1")
    pid = os.getpid()
    writer.runner(RunnerInfo(pid, process_start_time(pid), boot_id(), socket.gethostname(), 0))
    for step in ("pull", "create"):
        writer.step(StepEvent("op1", "web", "host-a", step, StepStatus.OK, "", 1.0))
        time.sleep(0.2)
    if sys.argv[2] == "die":
        os._exit(9)
    writer.result(RESULT)
    """
)


def fake_runner(tmp_path: Path, how: str) -> subprocess.Popen[bytes]:
    here = str(Path(__file__).parent)
    return subprocess.Popen([sys.executable, "-c", FAKE_RUNNER, str(tmp_path), how, here])


def test_following_a_runner_to_its_result(tmp_path: Path) -> None:
    store = OpStore(tmp_path)
    store.write_request(request())
    runner = fake_runner(tmp_path, "finish")
    seen: list[object] = []
    result = follow(store, "op1", seen.append, process=runner)
    assert result == RESULT
    steps = [r.step for r in seen if isinstance(r, StepEvent)]
    assert steps == ["pull", "create"] and isinstance(seen[0], RunnerInfo)
    runner.wait(timeout=10)


def test_a_runner_that_dies_is_told_and_a_stopped_follower_resumes(tmp_path: Path) -> None:
    store = OpStore(tmp_path)
    store.write_request(request())
    runner = fake_runner(tmp_path, "die")
    follower = Follower(store, "op1")  # as `jobtui attach` does: not the runner's parent
    stop = threading.Event()
    stop.set()
    first: list[object] = []
    assert follower.run(first.append, stop) is None  # stopped at once, after what was there
    rest: list[object] = []
    with pytest.raises(RunnerDied, match="gone without finishing"):
        follower.run(rest.append)
    runner.wait(timeout=10)
    # Nothing is handed over twice, nothing is lost.
    steps = [r.step for r in [*first, *rest] if isinstance(r, StepEvent)]
    assert steps == ["pull", "create"]


# -- the plan fingerprint ----------------------------------------------------------------


def test_fingerprints_name_what_changed() -> None:
    shown = Fingerprint(
        "spec1",
        (
            HostPrint("host-a", "update", "c1", True, "h1", "sha256:aaa"),
            HostPrint("host-b", "noop", "c2", True, "h2", ""),
        ),
    )
    assert differences(shown, shown) == []
    assert from_data(fingerprint_data(shown)) == shown
    redeployed = Fingerprint(
        "spec1",
        (
            HostPrint("host-a", "update", "c9", True, "h9", "sha256:aaa"),
            HostPrint("host-b", "noop", "c2", False, "h2", ""),
        ),
    )
    assert differences(shown, redeployed) == [
        "host-a: current container c1 is now c9",
        "host-b: the current container stopped",
    ]
    assert differences(shown, redeployed, hosts=["host-b"]) == [
        "host-b: the current container stopped"
    ]
    repushed = Fingerprint("spec2", (HostPrint("host-a", "update", "c1", True, "h1", "sha256:bbb"),
                                     shown.hosts[1]))  # fmt: skip
    assert differences(shown, repushed) == [
        "the inventory's spec changed",
        "host-a: the target changed (aaa -> bbb)",
    ]
    # A digest the registry could not tell is not compared.
    unknown = Fingerprint("spec1", (HostPrint("host-a", "update", "c1", True, "h1", ""),
                                    shown.hosts[1]))  # fmt: skip
    assert differences(shown, unknown) == []


# -- jobtui history: one line per operation ------------------------------------------------


def entry(
    op_id: str, state: str, at: float, user: str = "alice", bastion: str = ""
) -> JournalEntry:
    duration = 0.0 if state == "started" else 2.0
    return JournalEntry(op_id, OpKind.DEPLOY, "web", user, ("host-a",), "v1", "v2", state, at,
                        duration, "", bastion)  # fmt: skip


def test_history_shows_each_operation_once() -> None:
    at = 1_714_566_600.0  # 2024-05-01 12:30:00 UTC
    newest_first = [
        entry("b", "recovered", at + 30, user="bob", bastion="b2"),
        entry("c", "started", at + 20, bastion="b1"),
        entry("a", "done", at + 12, bastion="b1"),
        entry("b", "started", at + 10, bastion="b1"),
        entry("a", "started", at, bastion="b1"),
    ]
    pairs = per_operation(newest_first)
    assert [(f.op_id, f.state, last.state) for f, last in pairs] == [
        ("b", "started", "recovered"), ("c", "started", "started"), ("a", "started", "done"),
    ]  # fmt: skip
    lines = format_journal(newest_first)
    assert len(lines) == 4
    assert lines[1].split() == [
        "2024-05-01", "12:30:10", "UTC", "alice@b1", "deploy", "web", "v1", "->", "v2",
        "host-a", "recovered", "2.0s",
    ]  # fmt: skip
    assert lines[2].split()[-1] == "started" and lines[3].split()[-2:] == ["done", "2.0s"]
    assert len(format_journal(newest_first, limit=1)) == 2
