"""Disk full on the bastion's state dir, for an inventory without etcd (the local journal).

Expected (RELIABILITY.md): the operation refuses to start rather than run
unjournalled: exit 1 with a one-line reason naming the full device, nothing
changed on the host (the same web container serves ``web v1``). In the
engine, whichever write comes first fails the operation before a step runs:
the lock file's holder name when the disk is full, the journal's
``started`` when only the lock still fits.

The state dir is a 64 KiB tmpfs (we run as root), unmounted at the end.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from fault_support import no_traceback, run_cli
from rollout_support import Rollouts, answer

from jobtui.backend.contract import Outcome
from jobtui.backend.coordination.factory import current_owner
from jobtui.backend.coordination.local import LocalCoordinator

if TYPE_CHECKING:
    from conftest import Stack

PAGE = 4096


@contextlib.contextmanager
def tiny_tmpfs(where: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted on ``where``; always unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def fill(where: Path, leave: int = 0) -> Path:
    """Write a filler until the device is full, then free ``leave`` bytes of it."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                os.write(fd, b"\0" * PAGE)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, filler.stat().st_size - leave)
    return filler


def inventory_without_etcd(stack: Stack, tmp_path: Path) -> Path:
    data = yaml.safe_load(stack.inventory.read_text())
    data.pop("etcd")
    path = tmp_path / "jobtui.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def rollouts(stack: Stack, tmp_path: Path) -> Iterator[Rollouts]:
    found = Rollouts(stack.inventory, tmp_path)
    try:
        yield found
    finally:
        found.close()


def test_cli_refuses_to_start_on_a_full_state_dir(
    stack: Stack, rollouts: Rollouts, tmp_path: Path
) -> None:
    inv = str(inventory_without_etcd(stack, tmp_path))
    original = rollouts.guard.serving[("web", "host-a")]
    with tiny_tmpfs(tmp_path / "state") as state:
        # A bastion used before: its spec-hash key is there already.
        plan, _ = run_cli("-i", inv, "plan", "web", state_dir=state)
        assert plan.returncode == 0, plan.stderr
        fill(state)
        deploy, deploy_s = run_cli("-i", inv, "deploy", "web", "--version", "v2", "--yes",
                                   state_dir=state)  # fmt: skip
        restart, restart_s = run_cli("-i", inv, "restart", "web", "--yes", state_dir=state)
        journal = state / "journal.jsonl"
        journalled = journal.read_text() if journal.exists() else ""
    print(f"disk full: deploy {deploy_s:.1f} s {deploy.stderr.strip()!r}; "
          f"restart {restart_s:.1f} s {restart.stderr.strip()!r}")  # fmt: skip
    for done in (deploy, restart):
        no_traceback(done)
        assert done.returncode == 1, done.stdout + done.stderr
        (reason,) = done.stderr.strip().splitlines()  # one line
        assert reason.startswith("jobtui: ") and "No space left on device" in reason, reason
    assert journalled == ""
    running = [c.id for c in rollouts.guard.containers("host-a", "web") if c.running]
    assert running == [original] and answer(rollouts.port("web")) == "web v1"


@pytest.mark.parametrize(
    ("leave", "refused_at"),
    [(0, "cannot take the deploy lock"), (PAGE, "cannot write the journal")],
    ids=["full", "room-for-the-lock-only"],
)
def test_engine_refuses_before_any_step_when_it_cannot_write(
    rollouts: Rollouts, tmp_path: Path, leave: int, refused_at: str
) -> None:
    original = rollouts.guard.serving[("web", "host-a")]
    with tiny_tmpfs(tmp_path / "state") as state:
        coordinator = LocalCoordinator(state)
        coordinator.acquire("web", current_owner()).release()  # the lock file exists, empty
        fill(state, leave=leave)
        run = rollouts.run(coordinator=coordinator)
        result = run.deployer.deploy("web", "v2")
        journal = state / "journal.jsonl"
        journalled = journal.read_text() if journal.exists() else ""
    print(f"{leave} bytes free: {result.outcome.value}: {result.message}")
    assert result.outcome is Outcome.FAILED, result
    assert result.message.startswith(refused_at), result.message
    assert "No space left on device" in result.message
    assert run.steps(result.op_id) == [], "a step ran unjournalled"
    assert journalled == ""
    running = [c.id for c in rollouts.guard.containers("host-a", "web") if c.running]
    assert running == [original] and answer(rollouts.port("web")) == "web v1"
