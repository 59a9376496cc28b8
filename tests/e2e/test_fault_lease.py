"""The deploy lock's lease while a rollout runs: etcd gone for a moment, the lease lost.

Each test deploys web v2 through the CLI and holds the rollout at host-a's
``stop-old`` step (``JOBTUI_TEST_HOLD``; web is stop-first: the new container
is created, the old one still serves and is stopped once the hold ends),
breaks etcd there, then lets it go on.

Expected (RELIABILITY.md):

* etcd stopped and started again within the lease (30 s): the runner's
  refresh fails, is retried, works again; the rollout goes on to ``done``,
  web serves v2, and etcd's journal closes the operation (``started`` and
  ``done``);
* the lease revoked from outside (as an operator with etcdctl would): the
  next refresh finds it gone; the rollout stops at its next safe point and
  puts the old container back: ``failed``, naming the lost lock, web serves
  v1 from one container, the journal says ``failed``;
* etcd stopped until the lease may have run out (27 s unrefreshed): the
  same stop and restore, even though etcd is back by the time it restores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import pytest
from fault_support import CliRun, etcd_prefix_of_its_own, until
from rollout_support import answer

from jobtui.backend.coordination.etcd import EtcdCoordinator
from jobtui.config.loader import load_inventory

if TYPE_CHECKING:
    from conftest import Stack

ROLLOUT_BOUND = 120.0


@pytest.fixture
def own_prefix(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    with etcd_prefix_of_its_own(stack, tmp_path) as path:
        yield path


class HeldDeploy:
    """``deploy web --version v2`` through the CLI, held at host-a's stop-old step."""

    def __init__(self, inventory: Path, tmp_path: Path) -> None:
        self.state = tmp_path / "state"
        self.hold = tmp_path / "hold"
        self.hold.write_text("")
        self.run = CliRun("-i", str(inventory), "deploy", "web", "--version", "v2", "--yes",
                          state_dir=self.state,
                          env={"JOBTUI_TEST_HOLD": f"stop-old@host-a:{self.hold}"})  # fmt: skip
        until(lambda: self.run.saw("host-a", "stop-old", "running") or self.run.proc.poll(),
              60, "the deploy at its stop-old step")  # fmt: skip
        assert self.run.proc.poll() is None, self.run.text
        op_id = self.run.op_id()
        assert op_id, self.run.text
        self.op_id = op_id

    def runner_log(self) -> str:
        path = self.state / "ops" / f"{self.op_id}.log"
        return path.read_text() if path.exists() else ""

    def go_on(self) -> int:
        self.hold.unlink(missing_ok=True)
        return self.run.wait(ROLLOUT_BOUND)

    def close(self) -> None:
        self.hold.unlink(missing_ok=True)
        self.run.stop()

    def summary(self) -> str:
        (line,) = [ln for ln in self.run.lines if ln.startswith("deploy web:")]
        return line


def _etcd(inventory: Path) -> EtcdCoordinator:
    return EtcdCoordinator(load_inventory(inventory).etcd)  # type: ignore[arg-type]


def _journal_states(inventory: Path, op_id: str) -> list[str]:
    etcd = _etcd(inventory)
    try:
        return sorted(e.state for e in etcd.journal("web", limit=50) if e.op_id == op_id)
    finally:
        etcd.close()


def _running_web(stack: Stack) -> list[str]:
    api = docker.APIClient(base_url=stack.host_a_url, timeout=30)
    try:
        rows = api.containers(filters={"label": "jobtui.service=web", "status": "running"})
        return [r["Id"] for r in rows]
    finally:
        api.close()


def test_etcd_back_within_the_lease_the_rollout_goes_on(
    stack: Stack, own_prefix: Path, tmp_path: Path
) -> None:
    held = HeldDeploy(own_prefix, tmp_path)
    try:
        stack.stop_part("etcd")
        try:
            until(lambda: "refreshing the deploy lock failed (retrying)" in held.runner_log(),
                  20, "the runner seeing etcd gone")  # fmt: skip
        finally:
            stack.start_part("etcd")
        code = held.go_on()
    finally:
        held.close()
    print(held.run.text)
    no_traceback_text(held.run.text)
    assert code == 0 and "deploy web: done" in held.summary(), held.run.text
    assert answer(stack.web_port) == "web v2"
    assert _journal_states(own_prefix, held.op_id) == ["done", "started"]


def test_lease_revoked_mid_rollout_stops_at_a_safe_point_and_restores(
    stack: Stack, own_prefix: Path, tmp_path: Path
) -> None:
    held = HeldDeploy(own_prefix, tmp_path)
    try:
        etcd = _etcd(own_prefix)
        try:
            key = etcd.lock_key("web")
            value, meta = etcd._call("read the lock", lambda c: c.get(key))
            assert value is not None, "no deploy lock while the deploy runs"
            lease: Any = meta.lease_id
            etcd._call("revoke", lambda c: c.revoke_lease(lease))
        finally:
            etcd.close()
        until(lambda: "stopping at the next safe point" in held.runner_log(), 20,
              "the runner finding its lease gone")  # fmt: skip
        code = held.go_on()
    finally:
        held.close()
    print(held.run.text)
    no_traceback_text(held.run.text)
    summary = held.summary()
    assert code == 1 and "deploy web: failed" in summary, held.run.text
    assert "deploy lock of web expired" in summary and "put back" in summary, summary
    assert held.run.saw("host-a", "restore", "ok"), held.run.text
    assert answer(stack.web_port) == "web v1"
    assert len(_running_web(stack)) == 1
    assert _journal_states(own_prefix, held.op_id) == ["failed", "started"]


def test_etcd_down_past_the_lease_stops_the_rollout_and_restores(
    stack: Stack, own_prefix: Path, tmp_path: Path
) -> None:
    held = HeldDeploy(own_prefix, tmp_path)
    try:
        stack.stop_part("etcd")
        try:
            until(lambda: "could not be refreshed for" in held.runner_log(), 40,
                  "the runner giving its lease up")  # fmt: skip
        finally:
            stack.start_part("etcd")
        code = held.go_on()
    finally:
        held.close()
    print(held.run.text)
    no_traceback_text(held.run.text)
    summary = held.summary()
    assert code == 1 and "deploy web: failed" in summary, held.run.text
    assert "could not be refreshed" in summary and "put back" in summary, summary
    assert answer(stack.web_port) == "web v1"
    assert len(_running_web(stack)) == 1
    assert _journal_states(own_prefix, held.op_id) == ["failed", "started"]


def no_traceback_text(text: str) -> None:
    """What the operator saw of a live ``jobtui`` process: never a traceback."""
    assert "Traceback" not in text and "internal error" not in text, text
