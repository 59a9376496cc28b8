"""Several services in one CLI call, on the real stack: ``jobtui deploy a b c`` and friends.

One combined plan and one confirmation; each service runs as its own operation
(own runner, lock, health gate, result) at the same time as the others; one
failing never stops the rest and the call exits 1. One of the services lives
on host-ssh, reached through the stack's sshd, as from a bastion.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import yaml
from ops_support import Ops, Terminal, answer, free_port, web_service, worker_service
from rollout_support import wait_for

from jobtui.backend.contract import Outcome
from jobtui.backend.coordination.factory import current_owner
from jobtui.backend.model import LABEL_SERVICE, LABEL_VERSION
from jobtui.backend.times import parse_rfc3339

if TYPE_CHECKING:
    from conftest import Stack

WHERE = {"rt-m1": "host-a", "rt-m2": "host-a", "rt-m3": "host-ssh", "rt-m4": "host-b"}
WEBS = ("rt-m1", "rt-m2", "rt-m3")


@pytest.fixture(scope="module")
def ops(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    services = [web_service(name, free_port(), run_on_host=WHERE[name]) for name in WEBS]
    services.append(worker_service("rt-m4", ("host-b",), image_name="worker"))
    found = Ops(stack, tmp_path_factory.mktemp("many"), services)
    try:
        yield found
    finally:
        found.close()


def port_of(ops: Ops, name: str) -> int:
    port = ops.inventory.service(name).port
    assert port is not None
    return port


def serving(ops: Ops, name: str) -> str:
    """The version the one running container of ``name`` carries, checked on its daemon."""
    (container,) = ops.running(name, WHERE[name])
    assert container.labels[LABEL_SERVICE] == name
    return container.labels[LABEL_VERSION]


def retag(ops: Ops, tags: dict[str, str]) -> None:
    """Change some test services' image tags in the inventory file (as an operator edits it)."""
    path = ops.inventory.source
    data = yaml.safe_load(path.read_text())
    for service in data["services"]:
        if service["name"] in tags:
            service["image"] = ops.stack.image(f"web:{tags[service['name']]}")
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_names_or_all_are_required_and_exclusive(ops: Ops) -> None:
    nothing = ops.jobtui("deploy", "-y")
    assert nothing.returncode == 2, nothing.stdout + nothing.stderr
    assert nothing.stderr.strip().splitlines() == [
        "jobtui: deploy: name at least one service, or pass --all or --outdated"
    ]
    both = ops.jobtui("restart", "--all", "rt-m1", "-y")
    assert both.returncode == 2
    assert "not both" in both.stderr and "Traceback" not in both.stderr
    unknown = ops.jobtui("deploy", "rt-m1", "nope", "-y")
    assert unknown.returncode == 2 and "no service 'nope'" in unknown.stderr


def test_three_services_deploy_at_once_in_one_call(ops: Ops) -> None:
    first = ops.jobtui("deploy", *WEBS, "rt-m4", "-y")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 of 4 done" in first.stdout
    began = time.time()
    moved = ops.jobtui("deploy", *WEBS, "--version", "v2", "-y")
    took = time.time() - began
    assert moved.returncode == 0, moved.stdout + moved.stderr
    # One combined plan, then one line per service at the end.
    for name in WEBS:
        assert f"{name}@{WHERE[name]}: update v1 -> v2" in moved.stdout
        assert serving(ops, name) == "v2"
        assert answer(port_of(ops, name)) == "web v2"
    assert serving(ops, "rt-m4") == "v1"  # not named: untouched
    results = [s.result for s in ops.store.summaries(limit=10) if s.request.created >= began]
    assert len(results) == 3 and all(r is not None for r in results)
    ended = [r for r in results if r is not None]
    assert {r.service for r in ended} == set(WEBS)
    # In parallel: every one had started before any had finished, and the call
    # took less than the operations one after another would have.
    assert max(r.started for r in ended) < min(r.finished for r in ended), ended
    assert took < sum(r.finished - r.started for r in ended), (took, ended)


def test_one_failing_service_does_not_stop_the_others_and_exits_1(ops: Ops) -> None:
    retag(ops, {"rt-m1": "v3", "rt-m2": "broken"})
    result = ops.jobtui("deploy", "rt-m1", "rt-m2", "-y")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 of 2 done" in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("rt-")}
    assert " done " in lines["rt-m1"] and " failed " in lines["rt-m2"], result.stdout
    assert serving(ops, "rt-m1") == "v3"
    # The failed one: its old version keeps serving.
    assert serving(ops, "rt-m2") == "v2" and answer(port_of(ops, "rt-m2")) == "web v2"
    wait_for(lambda: ops.settled("rt-m2"), 30, "rt-m2's lock and journal closed")


def test_outdated_deploys_each_to_the_newest_version_then_nothing(ops: Ops) -> None:
    result = ops.jobtui("deploy", *WEBS, "--outdated", "-y", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in WEBS:
        # v4 is the newest semver tag; `broken` (built after it) never counts.
        assert serving(ops, name) == "v4", result.stdout
    again = ops.jobtui("deploy", *WEBS, "--outdated", "-y")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout


def started_at(ops: Ops, name: str) -> tuple[str, float]:
    """The id and start time of ``name``'s running container, as its daemon says."""
    (container,) = ops.running(name, WHERE[name])
    state = ops.pool[WHERE[name]].client.api.inspect_container(container.id)["State"]
    started = parse_rfc3339(state["StartedAt"])
    assert started is not None, state
    return container.id, started


def test_restart_of_several_services_restarts_each(ops: Ops) -> None:
    before = {n: started_at(ops, n) for n in ("rt-m3", "rt-m4")}
    result = ops.jobtui("restart", "rt-m3", "rt-m4", "-y")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 done" in result.stdout
    for name, (old_id, old_start) in before.items():
        now_id, now_start = started_at(ops, name)
        assert now_id == old_id and now_start > old_start


def test_a_held_lock_refuses_the_whole_set_before_anything_changes(ops: Ops) -> None:
    lock = ops.coordinator.acquire("rt-m2", current_owner("test"), ttl=60)
    try:
        result = ops.jobtui("deploy", "rt-m1", "rt-m2", "--version", "v1", "-y")
        assert result.returncode == 3, result.stdout + result.stderr
        assert "rt-m2" in result.stderr and "test" in result.stderr
    finally:
        lock.release()
    assert serving(ops, "rt-m1") == "v4"  # nothing started, the other service included


def test_a_hang_up_detaches_from_all_and_every_operation_goes_on(ops: Ops) -> None:
    began = time.time()
    follower = ops.spawn("deploy", "rt-m1", "rt-m3", "--version", "v2", "-y", hold="health")
    ids = [ops.wait_op(name, after=began).op_id for name in ("rt-m1", "rt-m3")]
    for op_id, name in zip(ids, ("rt-m1", "rt-m3"), strict=True):
        ops.wait_step(op_id, "health", host=WHERE[name])
    follower.send_signal(signal.SIGHUP)  # the operator's SSH session dropped
    assert follower.wait(timeout=30) == 128 + signal.SIGHUP
    assert "detached" in ops.output(follower)
    ops.release()
    for op_id in ids:
        ended = ops.wait_ended(op_id)
        assert ended.result is not None and ended.result.outcome is Outcome.DONE, ended
    assert serving(ops, "rt-m1") == "v2" and serving(ops, "rt-m3") == "v2"


def test_ctrl_c_on_a_terminal_aborts_all_and_restores_each(ops: Ops) -> None:
    before = {name: serving(ops, name) for name in ("rt-m1", "rt-m3")}
    began = time.time()
    terminal = Terminal(ops, "deploy", "rt-m1", "rt-m3", "--version", "v3", "-y", hold="health")
    try:
        ids = [ops.wait_op(name, after=began).op_id for name in ("rt-m1", "rt-m3")]
        for op_id, name in zip(ids, ("rt-m1", "rt-m3"), strict=True):
            ops.wait_step(op_id, "health", host=WHERE[name])
        terminal.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        terminal.read_until("[d/a]")
        terminal.type("a\n")
        terminal.read_until("aborting")
        ops.release()
        assert terminal.wait() == 1, terminal.seen
    finally:
        terminal.close()
    assert "0 of 2 done" in terminal.seen
    for op_id in ids:
        ended = ops.wait_ended(op_id)
        assert ended.result is not None and ended.result.outcome is Outcome.ABORTED, ended
    for name, version in before.items():
        wait_for(lambda n=name: ops.settled(n, (WHERE[n],)), 30, f"{name} settled")
        assert serving(ops, name) == version
