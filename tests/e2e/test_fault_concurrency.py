"""Concurrency: two jobtui processes deploying one service at once, and two services at once.

Expected (RELIABILITY.md): of two processes each trying ten deploys of one
service at the same moment, never two run at once (their journal intervals
never overlap); every attempt ends ``done``, or ``locked`` naming the holder
("being changed by user@bastion pid …"); every ``started`` entry in the
journal has its end. Two different services deploying at once on one host
both finish and overlap in time (neither waits for the other's lock).
Runs against the stack's etcd under a prefix of its own, on test services.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from rollout_support import Rollouts

from jobtui.backend.coordination.etcd import EtcdCoordinator
from jobtui.config.loader import load_inventory

if TYPE_CHECKING:
    from conftest import Stack

DEPLOYER = textwrap.dedent(
    """
    import json, sys, time
    from jobtui.app.engine import Engine
    from jobtui.config.loader import load_inventory

    inventory = load_inventory(sys.argv[1])
    service, attempts, go = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    out = []
    with Engine(inventory) as engine:
        deployer = engine.deployer("fault-test")
        deployer.plan(service)  # clients connected before the common start
        while time.time() < go:
            time.sleep(0.01)
        for i in range(attempts):
            result = deployer.deploy(service, "v2" if i % 2 == 0 else "v1")
            out.append({"outcome": result.outcome.value, "message": result.message,
                        "op": result.op_id, "start": result.started, "end": result.finished})
    print(json.dumps(out))
    """
)


def _service(name: str, stack: Stack) -> dict[str, Any]:
    return {
        "name": name, "image": stack.image("worker:v1"), "run_on_host": "host-a",
        "network_mode": "host", "update_config": {"monitor": "1s"}, "stop_grace_period": 1,
    }  # fmt: skip


@pytest.fixture
def setup(stack: Stack, tmp_path: Path) -> Iterator[tuple[Path, str, Rollouts]]:
    prefix = f"/jobtui-fault-{uuid.uuid4().hex[:8]}"
    data = yaml.safe_load(stack.inventory.read_text())
    data["etcd"]["prefix"] = prefix
    data["services"].extend([_service("rt-conc-a", stack), _service("rt-conc-b", stack)])
    path = tmp_path / "jobtui.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    rollouts = Rollouts(stack.inventory, tmp_path)
    guard_inventory = load_inventory(path)
    rollouts.run(guard_inventory)  # registers a guard that removes the rt- containers
    try:
        yield path, prefix, rollouts
    finally:
        rollouts.close()
        etcd = EtcdCoordinator(guard_inventory.etcd)  # type: ignore[arg-type]
        with contextlib.suppress(Exception):
            etcd._call("cleanup", lambda c: c.delete_prefix(prefix))
        etcd.close()


def _spawn(path: Path, service: str, attempts: int, go: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DEPLOYER, str(path), service, str(attempts), str(go)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _results(procs: list[subprocess.Popen[str]]) -> list[list[dict[str, Any]]]:
    found = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        found.append(json.loads(out.strip().splitlines()[-1]))
    return found


def test_two_processes_ten_deploys_each_never_overlap(
    setup: tuple[Path, str, Rollouts],
) -> None:
    path, _, _ = setup
    go = time.time() + 3
    first, second = _results([_spawn(path, "rt-conc-a", 10, go) for _ in range(2)])
    attempts = first + second
    outcomes = [a["outcome"] for a in attempts]
    print(f"20 attempts: {outcomes.count('done')} done, {outcomes.count('locked')} locked")

    assert len(attempts) == 20
    assert set(outcomes) <= {"done", "locked"}, attempts
    assert outcomes.count("done") >= 2
    for refused in (a for a in attempts if a["outcome"] == "locked"):
        assert "being changed by" in refused["message"] and "pid" in refused["message"]
    done = sorted((a["start"], a["end"]) for a in attempts if a["outcome"] == "done")
    for (_, end), (start, _) in itertools.pairwise(done):
        assert start >= end - 0.05, f"two deploys overlapped: {done}"
    etcd = EtcdCoordinator(load_inventory(path).etcd)  # type: ignore[arg-type]
    try:
        journal = etcd.journal("rt-conc-a", limit=200)
    finally:
        etcd.close()
    by_op: dict[str, set[str]] = {}
    for entry in journal:
        by_op.setdefault(entry.op_id, set()).add(entry.state)
    assert by_op, "nothing journalled"
    unclosed = [op for op, states in by_op.items() if states == {"started"}]
    assert unclosed == []
    assert {a["op"] for a in attempts if a["outcome"] == "done"} <= set(by_op)


def test_two_services_on_one_host_deploy_at_once(setup: tuple[Path, str, Rollouts]) -> None:
    path, _, _ = setup
    go = time.time() + 3
    a, b = _results([_spawn(path, name, 1, go) for name in ("rt-conc-a", "rt-conc-b")])
    (ra,), (rb,) = a, b

    assert ra["outcome"] == "done" and rb["outcome"] == "done", (ra, rb)
    assert ra["start"] < rb["end"] and rb["start"] < ra["end"], "one waited for the other"
