"""``--no-lock``: etcd down, the operator runs a deploy anyway, and etcd learns of it later.

Expected (RELIABILITY.md):

* etcd answers: ``deploy web --no-lock`` is refused in one line (the cluster
  lock can be taken), exit 2, nothing changed;
* etcd down, no terminal and no ``--yes``: the risk is named, then refused
  (``pass --yes``), exit 2, nothing changed;
* etcd down, ``--yes``: the deploy runs under this bastion's lock, ``done``,
  web serves v2; the local journal holds its ``started`` and ``done``
  entries, both marked ``no_lock``;
* etcd back: the first jobtui that reaches it (here ``history``) copies them
  to etcd's journal, once: ``history`` shows the operation as
  ``done (no lock)``, a second ``history`` still one operation, etcd's
  journal holds exactly the two entries, and the instance key of web on
  host-a names v2.

Runs under an etcd prefix of its own; web is deployed back to v1 at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fault_support import etcd_prefix_of_its_own, no_traceback, part_down, run_cli
from rollout_support import answer

from jobtui.backend.coordination.etcd import EtcdCoordinator
from jobtui.config.loader import load_inventory

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture
def own_prefix(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    with etcd_prefix_of_its_own(stack, tmp_path) as path:
        yield path


def test_no_lock_is_refused_while_etcd_answers(
    stack: Stack, own_prefix: Path, tmp_path: Path
) -> None:
    done, _ = run_cli("-i", str(own_prefix), "deploy", "web", "--version", "v2", "--no-lock",
                      "--yes", state_dir=tmp_path / "state")  # fmt: skip
    no_traceback(done)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "--no-lock refused" in line and "answers" in line, line
    assert answer(stack.web_port) == "web v1"


def test_no_lock_with_etcd_down_runs_journals_locally_and_replays_once(
    stack: Stack, own_prefix: Path, tmp_path: Path
) -> None:
    inv, state = str(own_prefix), tmp_path / "state"
    with part_down(stack, "etcd"):
        unasked, _ = run_cli("-i", inv, "deploy", "web", "--version", "v2", "--no-lock",
                             state_dir=state)  # fmt: skip
        unasked_serving = answer(stack.web_port)
        deploy, deploy_s = run_cli("-i", inv, "deploy", "web", "--version", "v2", "--no-lock",
                                   "--yes", state_dir=state, timeout=120)  # fmt: skip
        serving = answer(stack.web_port)
        journal = state / "no-lock" / "journal.jsonl"
        local = [json.loads(line) for line in journal.read_text().splitlines()]
    print(f"--no-lock deploy with etcd down: {deploy_s:.1f} s\n{deploy.stdout}{deploy.stderr}")

    for done in (unasked, deploy):
        no_traceback(done)
    # Without --yes and no terminal: the risk is named, nothing runs.
    assert unasked.returncode == 2, unasked.stdout + unasked.stderr
    assert "another bastion" in unasked.stderr and "pass --yes" in unasked.stderr
    assert unasked_serving == "web v1"
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "deploy web: done" in deploy.stdout
    assert serving == "web v2"
    assert [e["state"] for e in local] == ["started", "done"], local
    assert all(e["no_lock"] for e in local) and len({e["op_id"] for e in local}) == 1
    op_id = local[0]["op_id"]

    # etcd is back: the first jobtui that reaches it copies the records there, once.
    first, _ = run_cli("-i", inv, "history", "web", state_dir=state)
    second, _ = run_cli("-i", inv, "history", "web", state_dir=state)
    for done in (first, second):
        no_traceback(done)
        assert done.returncode == 0, done.stderr
    rows = [ln for ln in second.stdout.splitlines()[1:] if ln.strip()]
    assert len(rows) == 1 and "done (no lock)" in rows[0] and "v1 -> v2" in rows[0], second.stdout
    assert first.stdout == second.stdout
    assert not journal.exists() and not list(journal.parent.glob("replaying-*"))

    etcd = EtcdCoordinator(load_inventory(own_prefix).etcd)  # type: ignore[arg-type]
    try:
        entries = [e for e in etcd.journal("web", limit=50) if e.op_id == op_id]
        instances = {i.host: i.version for i in etcd.instances("web")}
    finally:
        etcd.close()
    assert sorted(e.state for e in entries) == ["done", "started"], entries
    assert all(e.no_lock for e in entries)
    assert instances == {"host-a": "v2"}, instances
