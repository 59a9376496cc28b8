"""The TLS-only host (host-tls: dockerd with --tlsverify on 127.0.0.1): listed, deployed
to and rolled back with the inventory's CA and client certificate; a wrong CA or no
client certificate is a readable "down", and verbs on it exit 1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from bastion_support import Cli, answer, edited_inventory
from rollout_support import Rollouts

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture
def guarded(stack: Stack, tmp_path: Path) -> Iterator[Rollouts]:
    rollouts = Rollouts(stack.inventory, tmp_path / "guard")
    try:
        yield rollouts
    finally:
        rollouts.close()


def _hosts(cli: Cli) -> dict[str, Any]:
    result = cli("status", "--json")
    return {h["name"]: h for h in json.loads(result.stdout)["hosts"]}


def test_tls_host_is_listed_deployed_to_and_rolled_back(
    stack: Stack, guarded: Rollouts, tmp_path: Path
) -> None:
    cli = Cli(stack.inventory, tmp_path)
    port = stack.ports["billing"]
    hosts = _hosts(cli)
    assert hosts["host-tls"]["status"] == "up", hosts["host-tls"]
    assert answer(port) == "web v1"

    deploy = cli("deploy", "billing", "--version", "v2", "--yes")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "billing@host-tls: v1 -> v2 ok" in deploy.stdout
    assert answer(port) == "web v2"
    rollback = cli("rollback", "billing", "--yes")
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert answer(port) == "web v1"
    logs = cli("logs", "billing", "--tail", "3")
    assert logs.returncode == 0, logs.stderr
    assert all(line.startswith("host-tls/billing_") for line in logs.stdout.splitlines())


def _other_ca(where: Path) -> Path:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=not the stack's CA", "-keyout", str(where / "other-ca.key"),
         "-out", str(where / "other-ca.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return where / "other-ca.pem"


def _with_tls(stack: Stack, tmp_path: Path, tls: dict[str, str]) -> Path:
    hosts = yaml.safe_load(stack.inventory.read_text())["hosts"]
    hosts["host-tls"] = {"url": stack.host_tls_url, "tls": tls}
    return edited_inventory(
        stack.inventory, tmp_path / "jobtui.yml", keep_services=("billing",), top={"hosts": hosts}
    )


def test_a_daemon_certificate_from_another_ca_is_refused(stack: Stack, tmp_path: Path) -> None:
    where = stack.host_tls_cert_dir
    tls = {
        "ca_cert": str(_other_ca(tmp_path)),
        "client_cert": str(where / "cert.pem"),
        "client_key": str(where / "key.pem"),
    }
    cli = Cli(_with_tls(stack, tmp_path, tls), tmp_path)
    host = _hosts(cli)["host-tls"]
    assert host["status"] == "down"
    assert host["error"].startswith(f"{stack.host_tls_url}: TLS failed"), host["error"]
    assert "not signed by tls.ca_cert" in host["error"]
    deploy = cli("deploy", "billing", "--version", "v2", "--yes")
    assert deploy.returncode == 1, deploy.stdout + deploy.stderr
    assert "deploy billing: host host-tls is unreachable" in deploy.stderr
    assert "Traceback" not in deploy.stdout + deploy.stderr
    assert answer(stack.ports["billing"]) == "web v1"


def test_without_a_client_certificate_the_daemon_says_no(stack: Stack, tmp_path: Path) -> None:
    tls = {"ca_cert": str(stack.host_tls_cert_dir / "ca.pem")}
    cli = Cli(_with_tls(stack, tmp_path, tls), tmp_path)
    host = _hosts(cli)["host-tls"]
    assert host["status"] == "down"
    assert str(host["error"]).startswith(f"{stack.host_tls_url}: TLS failed"), host["error"]
    assert "refused our client certificate" in str(host["error"])
    assert "Traceback" not in "".join(cli.outputs)
