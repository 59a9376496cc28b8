"""When host-ssh cannot be used: a changed or unknown host key, sshd stopped.

Each is one sentence naming the host and what to do (never a traceback),
every mutating verb exits 1 with nothing changed, `plan` shows the host
unreachable, and no ssh process is left behind.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from bastion_support import Cli, answer, edited_inventory

if TYPE_CHECKING:
    from conftest import Stack


def _inventory_with_known_hosts(stack: Stack, tmp_path: Path, known_hosts: Path) -> Path:
    return edited_inventory(
        stack.inventory,
        tmp_path / "jobtui.yml",
        keep_services=("shop",),
        top={
            "ssh": {"identity_file": str(stack.ssh_identity), "known_hosts_file": str(known_hosts)}
        },
    )


def _host(cli: Cli, name: str) -> dict[str, object]:
    result = cli("status", "--json")
    assert result.returncode == 1, result.stdout + result.stderr  # a host is down
    (host,) = [h for h in json.loads(result.stdout)["hosts"] if h["name"] == name]
    return dict(host)


def _refused(cli: Cli, *verb: str) -> str:
    result = cli(*verb, "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{verb[0]} shop: host host-ssh is unreachable" in result.stderr
    assert f"{verb[0]} shop: nothing changed" in result.stderr
    return result.stderr


def test_a_changed_host_key_is_refused_with_the_fix_named(stack: Stack, tmp_path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")],
        check=True,
    )
    key = (tmp_path / "impostor.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{stack.sshd_port} {' '.join(key)}\n")
    cli = Cli(_inventory_with_known_hosts(stack, tmp_path, known), tmp_path)

    host = _host(cli, "host-ssh")
    assert host["status"] == "down"
    error = str(host["error"])
    assert error.startswith(
        f"host-ssh: the ssh host key of [127.0.0.1]:{stack.sshd_port} has CHANGED"
    )
    assert f"ssh-keygen -R '[127.0.0.1]:{stack.sshd_port}' -f {known}" in error
    assert error.endswith(f"ssh-keyscan -p {stack.sshd_port} 127.0.0.1 >> {known}")
    cli.no_ssh_left()

    said = _refused(cli, "deploy", "shop", "--version", "v2")
    assert "has CHANGED" in said
    assert answer(stack.ports["shop"]) == "web v1"  # nothing was touched
    cli.no_ssh_left()


def test_an_unknown_host_key_is_refused_and_the_named_fix_works(
    stack: Stack, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    cli = Cli(_inventory_with_known_hosts(stack, tmp_path, known), tmp_path)
    error = str(_host(cli, "host-ssh")["error"])
    assert f"[127.0.0.1]:{stack.sshd_port} is not in {known}: refused" in error
    fix = error.rsplit(": ", 1)[1]
    assert fix == f"ssh-keyscan -p {stack.sshd_port} 127.0.0.1 >> {known}"
    _refused(cli, "restart", "shop")
    cli.no_ssh_left()

    # The sentence's command, as an operator would paste it.
    subprocess.run(["bash", "-c", fix], check=True, capture_output=True, timeout=30)
    assert known.read_text().strip()
    result = cli("status", "--json")
    hosts = {h["name"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts["host-ssh"]["status"] == "up", hosts["host-ssh"]
    cli.no_ssh_left()


def test_sshd_stopped_means_host_down_and_every_verb_exits_1(stack: Stack, tmp_path: Path) -> None:
    cli = Cli(stack.inventory, tmp_path)
    stack.stop_part("sshd")
    try:
        host = _host(cli, "host-ssh")
        assert host["status"] == "down"
        assert "host-ssh" in str(host["error"]) and "Connection refused" in str(host["error"])

        plan = cli("plan", "shop", "--version", "v2")
        assert plan.returncode == 1, plan.stdout + plan.stderr
        assert plan.stdout.startswith("shop@host-ssh: unreachable (")
        for verb in (("deploy", "shop", "--version", "v2"), ("rollback", "shop"),
                     ("start", "shop"), ("stop", "shop")):  # fmt: skip
            _refused(cli, *verb)
        # Hosts that do answer still work meanwhile.
        other = cli("plan", "web")
        assert other.returncode == 0, other.stdout + other.stderr
        cli.no_ssh_left()
    finally:
        stack.start_part("sshd")
    result = cli("status", "--json")
    hosts = {h["name"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts["host-ssh"]["status"] == "up", hosts["host-ssh"]
    assert answer(stack.ports["shop"]) == "web v1"
    cli.no_ssh_left()
