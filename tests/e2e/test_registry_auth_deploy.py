"""The htpasswd registry (registry-auth): tags, deploys (the daemons pull with the
inventory's login) and rollbacks work with the password from the environment; a wrong
or missing password fails cleanly; the password never appears anywhere jobtui writes.

The service is the stack's ``ledger`` renamed ``rt-ledger`` (so nothing of the demo
is touched); its containers are removed at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import pytest
from bastion_support import Cli, edited_inventory

if TYPE_CHECKING:
    from conftest import Stack

SERVICE = "rt-ledger"


@pytest.fixture
def ledger(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    inventory = edited_inventory(
        stack.registry_auth_inventory,
        tmp_path / "jobtui.yml",
        rename={"ledger": SERVICE},
        services={"ledger": {"update_config": {"parallelism": 2, "monitor": 1}}},
    )
    try:
        yield inventory
    finally:
        for url in stack.host_urls.values():
            client = docker.DockerClient(base_url=url, version="1.41", timeout=30)
            try:
                for c in client.containers.list(
                    all=True, filters={"label": f"jobtui.service={SERVICE}"}
                ):
                    c.remove(force=True)
            finally:
                client.close()


def _cli(stack: Stack, inventory: Path, tmp: Path, password: str | None) -> Cli:
    env = {k: v for k, v in os.environ.items() if k != stack.registry_auth_password_env}
    cli = Cli(inventory, tmp)
    cli.env = {**env, "JOBTUI_RUNTIME_DIR": str(cli.runtime), "JOBTUI_STATE_DIR": str(cli.state)}
    if password is not None:
        cli.env[stack.registry_auth_password_env] = password
    return cli


def _running_versions(stack: Stack) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, url in stack.host_urls.items():
        client = docker.DockerClient(base_url=url, version="1.41", timeout=30)
        try:
            found[name] = sorted(
                c.labels["jobtui.version"]
                for c in client.containers.list(filters={"label": f"jobtui.service={SERVICE}"})
            )
        finally:
            client.close()
    return found


def test_wrong_or_missing_password_fails_cleanly(
    stack: Stack, ledger: Path, tmp_path: Path
) -> None:
    password = stack.registry_auth_password()
    wrong = _cli(stack, ledger, tmp_path / "wrong", password[::-1])
    tags = wrong("tags", SERVICE)
    assert tags.returncode == 1
    assert f"refused the login of '{stack.registry_auth_username}'" in tags.stderr
    deploy = wrong("deploy", SERVICE, "--yes")
    assert deploy.returncode == 1, deploy.stdout + deploy.stderr
    assert "pull" in deploy.stdout and "FAILED" in deploy.stdout
    assert _running_versions(stack) == {"host-a": [], "host-b": []}

    missing = _cli(stack, ledger, tmp_path / "missing", None)
    tags = missing("tags", SERVICE)
    assert tags.returncode == 1
    assert f"${stack.registry_auth_password_env} is not set" in tags.stderr
    deploy = missing("deploy", SERVICE, "--yes")
    assert deploy.returncode == 1, deploy.stdout + deploy.stderr
    for cli in (wrong, missing):
        for output in cli.outputs:
            assert password not in output and password[::-1] not in output
            assert "Traceback" not in output


def test_tags_deploy_update_and_rollback_through_the_auth_registry(
    stack: Stack, ledger: Path, tmp_path: Path
) -> None:
    password = stack.registry_auth_password()
    cli = _cli(stack, ledger, tmp_path, password)
    tags = cli("tags", SERVICE)
    assert tags.returncode == 0, tags.stderr
    assert {"v1", "v2", "v3", "v4"} <= set(tags.stdout.replace("*", " ").split())

    first = cli("deploy", SERVICE, "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert _running_versions(stack) == {"host-a": ["v1"], "host-b": ["v1"]}
    update = cli("deploy", SERVICE, "--version", "v2", "--yes")
    assert update.returncode == 0, update.stdout + update.stderr
    assert _running_versions(stack) == {"host-a": ["v2"], "host-b": ["v2"]}
    # v3 was never on the hosts: the rollback recreates it from the registry (a pull).
    recreate = cli("rollback", SERVICE, "--to", "v3", "--yes")
    assert recreate.returncode == 0, recreate.stdout + recreate.stderr
    assert "from the registry" in recreate.stdout
    assert _running_versions(stack) == {"host-a": ["v3"], "host-b": ["v3"]}
    back = cli("rollback", SERVICE, "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert _running_versions(stack) == {"host-a": ["v2"], "host-b": ["v2"]}
    history = cli("history", SERVICE)
    assert history.returncode == 0 and "rollback" in history.stdout

    written = [p for p in cli.state.rglob("*") if p.is_file()]
    for output in [*cli.outputs, *(p.read_text(errors="replace") for p in written)]:
        assert password not in output
