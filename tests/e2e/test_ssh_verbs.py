"""Every verb through the ssh-only host (host-ssh: a daemon behind the stack's sshd).

The stack's inventory reaches it as ``ssh://user@127.0.0.1:PORT/…/docker.sock``
with its ``ssh:`` settings (identity file, known_hosts file): no ~/.ssh
involved. Each verb runs the real console script; after each one no ssh
process of it (or of the detached runner that carried the operation out)
is left, nor a socket or pid file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bastion_support import Cli, answer, edited_inventory, wait_for
from rollout_support import Rollouts

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture
def guarded(stack: Stack, tmp_path: Path) -> Iterator[Rollouts]:
    """The demo settled first and put back as found afterwards (shop on v1 on host-ssh)."""
    assert stack.host_ssh_in_inventory, "the stack's inventory must list host-ssh"
    rollouts = Rollouts(stack.inventory, tmp_path / "guard")
    try:
        yield rollouts
    finally:
        rollouts.close()


def test_deploy_update_failed_update_rollback_and_lifecycle_over_ssh(
    stack: Stack, guarded: Rollouts, tmp_path: Path
) -> None:
    cli = Cli(stack.inventory, tmp_path)
    port = stack.ports["shop"]
    assert answer(port) == "web v1"

    plan = cli("plan", "shop", "--version", "v2")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[0] == "shop@host-ssh: update v1 -> v2"
    cli.no_ssh_left()

    deploy = cli("deploy", "shop", "--version", "v2", "--yes")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "shop@host-ssh: v1 -> v2 ok" in deploy.stdout
    assert answer(port) == "web v2"
    cli.no_ssh_left()

    # The broken image exits at start: the old container (stop-first: the port
    # is fixed on host networking) is started again and serves.
    broken = cli("deploy", "shop", "--version", "broken", "--yes")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "old container restored" in broken.stdout
    wait_for(lambda: answer(port) == "web v2", 15, "v2 serving again after the failed update")
    cli.no_ssh_left()

    rollback = cli("rollback", "shop", "--yes")
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "rollback shop to v1 (retained on host-ssh)" in rollback.stdout
    assert answer(port) == "web v1"
    cli.no_ssh_left()

    stop = cli("stop", "shop", "--yes")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    wait_for(lambda: answer(port) is None, 15, "shop stopped")
    cli.no_ssh_left()
    start = cli("start", "shop", "--yes")
    assert start.returncode == 0, start.stdout + start.stderr
    assert answer(port) == "web v1"
    restart = cli("restart", "shop", "--host", "host-ssh", "--yes")
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert answer(port) == "web v1"
    cli.no_ssh_left()

    logs = cli("logs", "shop", "--tail", "5")
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert lines and all(line.startswith("host-ssh/shop_") for line in lines), lines
    cli.no_ssh_left()

    history = cli("history", "shop", "--limit", "10")
    assert history.returncode == 0, history.stderr
    text = history.stdout
    for kind in ("deploy", "rollback", "stop", "start", "restart"):
        assert kind in text, text
    status = cli("status")
    assert status.returncode == 0, status.stdout + status.stderr
    (row,) = [line for line in status.stdout.splitlines() if line.startswith("host-ssh ")]
    assert row.split()[1] == "up"
    cli.no_ssh_left()
    for output in cli.outputs:
        assert "Traceback" not in output


def test_a_jump_host_gets_the_inventorys_key_and_known_hosts(stack: Stack, tmp_path: Path) -> None:
    # The stack's sshd is its own jump host: ssh -J user@sshd, then on to the same
    # sshd. ssh hands only -F to the jump's ssh, so the settings must travel in
    # the forward's own ssh_config (~/.ssh is not the stack's).
    # (Named localhost for the hop: ssh refuses a jump to the very name it jumps to.)
    user = stack.host_ssh_url.removeprefix("ssh://").split("@", 1)[0]
    known = tmp_path / "known_hosts"
    line = stack.ssh_known_hosts.read_text().strip().splitlines()[0]
    known.write_text(f"{line}\n{line.replace('[127.0.0.1]', '[localhost]', 1)}\n")
    settings = {
        "identity_file": str(stack.ssh_identity),
        "known_hosts_file": str(known),
        "jump_host": f"{user}@localhost:{stack.sshd_port}",
    }
    inventory = edited_inventory(
        stack.inventory, tmp_path / "jobtui.yml", keep_services=("shop",), top={"ssh": settings}
    )
    cli = Cli(inventory, tmp_path)
    status = cli("status", "--json")
    hosts = {h["name"]: h for h in json.loads(status.stdout)["hosts"]}
    assert hosts["host-ssh"]["status"] == "up", hosts["host-ssh"]
    logs = cli("logs", "shop", "--tail", "2")
    assert logs.returncode == 0, logs.stderr
    assert all(line.startswith("host-ssh/shop_") for line in logs.stdout.splitlines())
    cli.no_ssh_left()  # the jump's ssh too: its command line names our ssh_config
