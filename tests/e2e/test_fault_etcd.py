"""etcd down or misconfigured, through the ``jobtui`` CLI as an operator runs it.

Expected (RELIABILITY.md): read views answer without etcd (``status``,
``plan``) or fail with one line naming etcd (``history``: the journal lives
there), exit 1, never a traceback; a mutating verb refuses before touching
anything because it cannot take the deploy lock, and web keeps serving v1.
A rollback to an empty version is a usage error (exit 2), nothing touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fault_support import no_traceback, part_down, run_cli
from rollout_support import answer

if TYPE_CHECKING:
    from conftest import Stack


def test_etcd_down_reads_answer_and_deploy_refuses(stack: Stack, tmp_path: Path) -> None:
    inv = str(stack.inventory)
    state = tmp_path / "state"
    with part_down(stack, "etcd"):
        status, status_s = run_cli("-i", inv, "status", state_dir=state)
        plan, plan_s = run_cli("-i", inv, "plan", "web", state_dir=state)
        history, history_s = run_cli("-i", inv, "history", state_dir=state)
        deploy, deploy_s = run_cli(
            "-i", inv, "deploy", "web", "--version", "v2", "--yes", state_dir=state
        )
        serving = answer(stack.web_port)
    print(f"etcd down: status {status_s:.1f}s plan {plan_s:.1f}s history {history_s:.1f}s "
          f"deploy {deploy_s:.1f}s")  # fmt: skip

    for done in (status, plan, history, deploy):
        no_traceback(done)
    assert status.returncode == 0 and "web" in status.stdout, status.stderr
    assert plan.returncode == 0 and "web@host-a: noop v1" in plan.stdout, plan.stderr
    assert history.returncode == 1
    assert history.stderr.strip().count("\n") == 0 and "etcd" in history.stderr
    assert deploy.returncode != 0 and "etcd" in deploy.stderr, deploy.stderr
    assert serving == "web v1"
    for seconds in (status_s, plan_s, history_s, deploy_s):
        assert seconds < 30


def test_bad_etcd_settings_say_so_in_one_line(stack: Stack, tmp_path: Path) -> None:
    text = stack.inventory.read_text().replace(stack.etcd_endpoint, "127.0.0.1:1")
    inv = tmp_path / "jobtui.yml"
    inv.write_text(text)
    state = tmp_path / "state"

    plan, _ = run_cli("-i", str(inv), "plan", "web", state_dir=state)
    history, _ = run_cli("-i", str(inv), "history", state_dir=state)
    restart, _ = run_cli("-i", str(inv), "restart", "web", "--yes", state_dir=state)

    for done in (plan, history, restart):
        no_traceback(done)
    assert plan.returncode == 0, plan.stderr
    assert history.returncode == 1 and "127.0.0.1:1" in history.stderr
    assert restart.returncode != 0 and "etcd" in restart.stderr
    assert answer(stack.web_port) == "web v1"


def test_rollback_to_an_empty_version_is_a_usage_error(stack: Stack, tmp_path: Path) -> None:
    done, _ = run_cli(
        "-i", str(stack.inventory), "rollback", "web", "--to", "", "--yes",
        state_dir=tmp_path / "state",
    )  # fmt: skip

    no_traceback(done)
    assert done.returncode == 2, done.stdout + done.stderr
    # Checked with the tag grammar before anything runs (app/arguments.py).
    assert "--to: '' is not a valid tag" in done.stderr, done.stderr
    assert answer(stack.web_port) == "web v1"
