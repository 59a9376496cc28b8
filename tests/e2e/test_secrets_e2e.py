"""No secret value escapes: every CLI output, the journal, the operation records,
container labels, the TUI's service screen and the committed snapshots are searched
for the secret values of the inventory (fresh random ones, so a hit is a leak).

web gets four secrets, one of each kind the rule knows: a secret-looking name
(DB_PASSWORD), ``secret: true`` on a plain name (MODE), ``value_env:`` (the
bastion's environment, API_TOKEN) and a password inside a URL (DATABASE).
The containers do receive them (Docker's inspect shows them); nothing else does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import pytest
from bastion_support import Cli, edited_inventory
from rollout_support import Rollouts

from jobtui.app.app import make_app
from jobtui.app.screens.service import ServiceScreen
from jobtui.backend.coordination.factory import make_coordinator
from jobtui.backend.deploy.spec_key import load_spec_key
from jobtui.backend.docker.spec import desired_spec, spec_hash
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.config.loader import load_inventory
from jobtui.widgets.services_table import ServicesTable

if TYPE_CHECKING:
    from conftest import Stack

REPO = Path(__file__).resolve().parents[2]
FIXED_FLEET_SECRETS = ("hunter2", "s3cr3t", "sk_live_123", "t0k3n")
"""The secret values of tests/support/fleet_data.py, which the snapshots show."""
TOKEN_ENV = "JOBTUI_TEST_API_TOKEN"


@pytest.fixture
def values() -> dict[str, str]:
    return {
        "DB_PASSWORD": f"pw-{secrets.token_hex(8)}",
        "MODE": f"mode-{secrets.token_hex(8)}",
        "API_TOKEN": f"tok-{secrets.token_hex(8)}",
        "DATABASE": f"postgres://app:url-{secrets.token_hex(8)}@db.lan/app",
    }


@pytest.fixture
def guarded(stack: Stack, tmp_path: Path, values: dict[str, str]) -> Iterator[Rollouts]:
    rollouts = Rollouts(stack.inventory, tmp_path / "guard")
    try:
        yield rollouts
    finally:
        try:
            rollouts.close()
        finally:
            # Our containers carry the secrets in their env: none is left behind.
            client = docker.DockerClient(base_url=stack.host_a_url, version="1.41", timeout=30)
            try:
                for c in client.containers.list(all=True, filters={"label": "jobtui.service=web"}):
                    if values["DB_PASSWORD"] in " ".join(c.attrs["Config"].get("Env") or ()):
                        c.remove(force=True)
            finally:
                client.close()


def _leaks(text: str, values: dict[str, str]) -> list[str]:
    found = [name for name, value in values.items() if value in text]
    # The password part of the URL alone, too.
    url_password = values["DATABASE"].split(":")[2].split("@")[0]
    return found + (["DATABASE password"] if url_password in text else [])


@pytest.fixture
def fresh_web(stack: Stack, guarded: Rollouts) -> Iterator[None]:
    """web on host-a with no stopped v2 kept by earlier tests, and nothing of ours left after.

    The rollback below must recreate v2 from the registry with this test's envs;
    a v2 container retained by another test would be restarted as it is. The
    CLI's runners are not seen by the guard, so what they created goes here.
    """
    client = docker.DockerClient(base_url=stack.host_a_url, version="1.41", timeout=30)
    try:
        for old in client.containers.list(all=True, filters={"label": "jobtui.service=web"}):
            if old.status != "running" and old.labels.get("jobtui.version") == "v2":
                old.remove(force=True)
        before = {c.id for c in client.containers.list(all=True)}
        yield
        for made in client.containers.list(all=True, filters={"label": "jobtui.service=web"}):
            if made.id not in before:
                made.remove(force=True)
    finally:
        client.close()


def test_secret_values_appear_nowhere_but_in_the_container(
    stack: Stack, guarded: Rollouts, fresh_web: None, tmp_path: Path, values: dict[str, str]
) -> None:
    inventory_path = edited_inventory(
        stack.inventory,
        tmp_path / "jobtui.yml",
        keep_services=("web",),
        services={
            "web": {
                "envs": [
                    {"key": "PORT", "value": stack.web_port},
                    {"key": "DB_PASSWORD", "value": values["DB_PASSWORD"]},
                    {"key": "MODE", "value": values["MODE"], "secret": True},
                    {"key": "API_TOKEN", "value_env": TOKEN_ENV},
                    {"key": "DATABASE", "value": values["DATABASE"]},
                ]
            }
        },
    )
    cli = Cli(inventory_path, tmp_path, {TOKEN_ENV: values["API_TOKEN"]})

    plan = cli("plan", "web")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for name in ("DATABASE", "DB_PASSWORD", "MODE", "API_TOKEN"):
        assert f"envs.{name}: added" in plan.stdout, plan.stdout
    deploy = cli("deploy", "web", "--yes")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert cli("plan", "web").stdout.startswith("web@host-a: noop")
    status = cli("status", "--json")
    assert json.loads(status.stdout)["services"], status.stderr
    broken = cli("deploy", "web", "--version", "broken", "--yes")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    rollback = cli("rollback", "web", "--to", "v2", "--yes")
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert cli("history", "web").returncode == 0
    assert cli("logs", "web", "--tail", "50").returncode == 0
    for output in cli.outputs:
        assert _leaks(output, values) == [], output

    # The journal (etcd here) and everything the operations wrote on the bastion.
    inventory = load_inventory(inventory_path, environ={TOKEN_ENV: values["API_TOKEN"]})
    coordinator = make_coordinator(inventory)
    try:
        journal = repr(list(coordinator.journal("web", limit=50)))
    finally:
        coordinator.close()
    assert "deploy" in journal and _leaks(journal, values) == []
    for path in cli.state.rglob("*"):
        if path.is_file():
            assert _leaks(path.read_text(errors="replace"), values) == [], path

    # The container got them; its labels hold none, and its spec-hash is keyed.
    client = docker.DockerClient(base_url=stack.host_a_url, version="1.41", timeout=30)
    try:
        (web,) = client.containers.list(filters={"label": "jobtui.service=web"})
        env = web.attrs["Config"]["Env"]
        assert f"DB_PASSWORD={values['DB_PASSWORD']}" in env
        assert f"API_TOKEN={values['API_TOKEN']}" in env
        labels = json.dumps(web.labels)
    finally:
        client.close()
    assert _leaks(labels, values) == []
    service = inventory.service("web")
    spec = desired_spec(replace(service, image=f"{service.repository}:v2"))  # rolled to v2
    key = load_spec_key(cli.state)
    assert web.labels["jobtui.spec-hash"] == spec_hash(spec, key)
    assert web.labels["jobtui.spec-hash"] != spec_hash(spec)  # no label without the key

    # The TUI's service screen shows the entry masked.
    screen = asyncio.run(_service_screen_text(inventory_path, values["API_TOKEN"]))
    assert "DB_PASSWORD=••••••" in screen and "API_TOKEN=••••••" in screen
    assert _leaks(screen, values) == []


async def _service_screen_text(inventory_path: Path, token: str) -> str:
    inventory = load_inventory(inventory_path, environ={TOKEN_ENV: token})
    app = make_app(inventory, FleetObserver(inventory.hosts), None)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        for _ in range(200):
            if table.highlighted_key == "web@host-a":
                break
            await pilot.pause(0.05)
        await pilot.press("enter")
        for _ in range(200):
            if isinstance(app.screen, ServiceScreen):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        return app.export_screenshot()


def test_the_committed_snapshots_show_no_secret_of_the_fixed_fleet() -> None:
    snapshots = list((REPO / "tests" / "snapshots" / "__snapshots__").rglob("*.svg"))
    assert snapshots
    for path in snapshots:
        text = path.read_text()
        for value in FIXED_FLEET_SECRETS:
            assert value not in text, f"{path.name} shows {value!r}"
