"""The inventory file is watched while the TUI runs: valid edits reload, broken ones do not."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from support.fixed_backend import FixedFleet
from support.waiting import until

from jobtui.app.app import JobtuiApp, make_app
from jobtui.backend.model import FleetSnapshot
from jobtui.config.loader import load_inventory
from jobtui.widgets.services_table import ServicesTable

PATTERN = "tcp://{host}.lan:2376"

SERVICE = """\
- name: {name}
  image: demo/{name}:{tag}
  run_on_host: {host}
  network_mode: host
"""


def _write(path: Path, *services: tuple[str, str, str]) -> None:
    path.write_text("".join(SERVICE.format(name=n, tag=t, host=h) for n, t, h in services))


def _app(path: Path) -> JobtuiApp:
    load = partial(load_inventory, path, host_url_pattern=PATTERN)
    return make_app(
        load(),
        FixedFleet(FleetSnapshot({})),
        None,
        clock=lambda: 1.7e9,
        reload=load,
        inventory_poll=0.05,
    )


def _services(app: JobtuiApp) -> set[tuple[str, str]]:
    table = app.screen.query_one("#services", ServicesTable)
    return {(table.text_of(k, "service"), table.text_of(k, "desired")) for k in table.keys}


def _messages(app: JobtuiApp) -> list[str]:
    return [f"{n.title}\n{n.message}" for n in app._notifications]


async def test_valid_edit_reloads_and_notifies(tmp_path: Path) -> None:
    path = tmp_path / "jobtui.yml"
    _write(path, ("web", "v1", "host-a"), ("api", "v1", "host-a"))
    app = _app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert _services(app) == {("web", "demo/web:v1"), ("api", "demo/api:v1")}
        _write(path, ("web", "v2", "host-a"), ("worker", "v1", "host-b"))
        await until(pilot, lambda: any("reloaded" in m for m in _messages(app)))
        await until(pilot, lambda: ("worker", "demo/worker:v1") in _services(app))
        assert _services(app) == {("web", "demo/web:v2"), ("worker", "demo/worker:v1")}
        text = "\n".join(_messages(app))
        assert "services added: worker" in text
        assert "services removed: api" in text
        assert "services changed: web" in text
        assert "hosts added: host-b" in text
        assert "restart jobtui to reach new hosts" in text
        # The same loader as the CLI's: the host URL pattern still applies.
        assert app.inventory.hosts["host-b"].url == "tcp://host-b.lan:2376"
        assert "2 services on 2 hosts" in app.sub_title


async def test_broken_edit_is_refused_with_its_problems(tmp_path: Path) -> None:
    path = tmp_path / "jobtui.yml"
    _write(path, ("web", "v1", "host-a"))
    app = _app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        loaded = app.inventory
        path.write_text(SERVICE.format(name="web", tag="v2", host="host-a") + "  colour: red\n")
        await until(pilot, lambda: any("not reloaded" in m for m in _messages(app)))
        text = "\n".join(_messages(app))
        # file:line: key: message, as `jobtui validate` prints it.
        assert f"{path}:5: [0].colour: unknown key" in text
        assert app.inventory is loaded
        assert _services(app) == {("web", "demo/web:v1")}
        # Fixed again: reloads.
        _write(path, ("web", "v3", "host-a"))
        await until(pilot, lambda: ("web", "demo/web:v3") in _services(app))


async def test_same_bytes_rewritten_reload_nothing(tmp_path: Path) -> None:
    path = tmp_path / "jobtui.yml"
    _write(path, ("web", "v1", "host-a"))
    app = _app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        loaded = app.inventory
        _write(path, ("web", "v1", "host-a"))
        await pilot.pause(0.3)
        assert app.inventory is loaded
        assert not _messages(app)


class _Holder:
    def __init__(self, inventory: object) -> None:
        self.inventory = inventory


async def test_deployer_follows_the_reload(tmp_path: Path) -> None:
    path = tmp_path / "jobtui.yml"
    _write(path, ("web", "v1", "host-a"))
    load = partial(load_inventory, path, host_url_pattern=PATTERN)
    first = load()
    deployer = _Holder(first)
    app = make_app(
        first,
        FixedFleet(FleetSnapshot({})),
        None,
        clock=lambda: 1.7e9,
        deployer=deployer,  # type: ignore[arg-type]
        reload=load,
        inventory_poll=0.05,
    )
    async with app.run_test() as pilot:
        await pilot.pause()
        _write(path, ("web", "v2", "host-a"))
        await until(pilot, lambda: deployer.inventory is not first)
        assert deployer.inventory.service("web").image == "demo/web:v2"  # type: ignore[attr-defined]
