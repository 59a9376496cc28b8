"""How step events fold into per-host progress, and how the relay hands them over."""

from __future__ import annotations

import threading

from support.fleet_data import NOW, failed_result, failed_steps, rollout_steps

from jobtui.app.deploy_flow import StepRelay
from jobtui.backend.contract import (
    HostOutcome,
    HostResult,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
    StepStatus,
)
from jobtui.widgets.steps_view import HOST_ENDS, RolloutProgress, summarize


def _event(step: str, status: StepStatus, message: str = "", at: float = 0.0) -> StepEvent:
    return StepEvent("op", "web", "host-a", step, status, message, NOW + at)


def test_a_running_step_is_updated_in_place_and_a_repeated_one_is_new() -> None:
    progress = RolloutProgress(["host-a", "host-b"])
    progress.extend(
        [
            _event("health", StepStatus.RUNNING, at=1),
            _event("health", StepStatus.RUNNING, "Docker healthcheck healthy within 60 s", at=1),
            _event("health", StepStatus.FAILED, "unhealthy", at=4),
            _event("restore", StepStatus.OK, "web_1", at=5),
            _event("health", StepStatus.RUNNING, "restored container", at=5),
        ]
    )
    steps = progress.hosts["host-a"].steps
    assert [(s.step, s.status, s.message) for s in steps] == [
        ("health", StepStatus.FAILED, "unhealthy"),
        ("restore", StepStatus.OK, "web_1"),
        ("health", StepStatus.RUNNING, "restored container"),
    ]
    assert steps[0].duration == 3.0
    assert progress.hosts["host-a"].state == "failed"
    assert progress.hosts["host-b"].state == "waiting"


def test_the_end_settles_every_host() -> None:
    progress = RolloutProgress(["web-1", "web-2"])
    progress.extend(failed_steps())
    progress.finish(failed_result())
    assert [h.state for h in progress.hosts.values()] == ["failed", "untouched"]
    assert summarize(list(progress.hosts.values())) == "1 failed · 1 untouched"
    # web-2 was never attempted: it ended, but it did not fail.
    assert [h.host for h in progress.failures] == ["web-1"]

    reverted = RolloutProgress()
    reverted.extend(rollout_steps())
    result = OpResult(
        "op", OpKind.DEPLOY, "shop-web", Outcome.FAILED,
        (HostResult("web-1", False, "2.5.0", "2.4.1", "c", "back on 2.4.1",
                    outcome=HostOutcome.RESTORED),
         HostResult("web-2", False, "2.4.0", "2.4.0", "d", "reverted: health: unhealthy")),
    )  # fmt: skip
    reverted.finish(result)
    # The engine's end state decides, whatever the reason's words.
    assert [h.state for h in reverted.hosts.values()] == ["reverted", "failed"]


def test_every_end_state_of_the_engine_has_a_word_in_the_view() -> None:
    assert set(HOST_ENDS) == set(HostOutcome)
    progress = RolloutProgress(["web-1", "web-2", "web-3"])
    result = OpResult(
        "op", OpKind.DEPLOY, "shop-web", Outcome.ABORTED,
        (HostResult("web-1", True, "2.4.1", "2.5.0", "c", outcome=HostOutcome.UPDATED),
         HostResult("web-2", True, "2.5.0", "2.5.0", "d", "up to date",
                    outcome=HostOutcome.UNCHANGED),
         HostResult("web-3", False, None, None, None, "aborted before this host",
                    outcome=HostOutcome.ABORTED)),
    )  # fmt: skip
    progress.finish(result)
    assert [h.state for h in progress.hosts.values()] == ["done", "done", "untouched"]
    # A host that failed before its first step is a failure, not "untouched".
    failed = RolloutProgress(["web-1"])
    no_answer = HostResult("web-1", False, None, None, None, "no answer")
    failed.finish(OpResult("op", OpKind.STOP, "shop-web", Outcome.FAILED, (no_answer,)))
    assert failed.hosts["web-1"].state == "failed"


def test_the_relay_keeps_every_event_from_many_threads_in_order_per_thread() -> None:
    relay = StepRelay()

    def report(host: str) -> None:
        for i in range(500):
            relay(StepEvent("op", "web", host, f"s{i}", StepStatus.OK))

    threads = [threading.Thread(target=report, args=(f"h{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    drained: list[StepEvent] = []
    while any(t.is_alive() for t in threads):
        drained += relay.drain()
    for thread in threads:
        thread.join()
    drained += relay.drain()
    assert len(drained) == 2000
    for n in range(4):
        mine = [e.step for e in drained if e.host == f"h{n}"]
        assert mine == [f"s{i}" for i in range(500)]
    assert relay.drain() == []
