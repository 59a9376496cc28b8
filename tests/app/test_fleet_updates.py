"""Fleet changes reach the tables by key, coalesced, from any thread."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from support.fixed_backend import FixedFleet
from support.fleet_data import SIZE, AppFactory, clock, inventory, snapshot, with_host
from support.waiting import until
from textual.widgets import DataTable

from jobtui.app.app import make_app
from jobtui.app.screens.main import MainScreen
from jobtui.backend.model import FleetSnapshot, HostStatus
from jobtui.widgets.hosts_table import HostsTable
from jobtui.widgets.services_table import ServicesTable


def _upgrade_web_2() -> FleetSnapshot:
    """The shop fleet after shop-web on web-2 was rolled out to 2.4.1."""
    base = snapshot()
    containers = tuple(
        dataclasses.replace(
            c,
            image=c.image.replace("2.4.0", "2.4.1"),
            labels={**c.labels, "jobtui.version": "2.4.1"},
        )
        if c.name == "shop-web_1716900000"
        else c
        for c in base.hosts["web-2"].containers
    )
    return with_host(base, "web-2", containers=containers)


async def test_a_changed_version_updates_cells_in_place(
    build: AppFactory, fleet: FixedFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        await pilot.press("down", "down", "down")
        added: list[object] = []
        monkeypatch.setattr(table, "add_row", lambda *a, **k: added.append(a))
        monkeypatch.setattr(table, "clear", lambda *a, **k: pytest.fail("table cleared"))
        fleet.replace(_upgrade_web_2())
        await until(
            pilot, lambda: table.text_of("shop-web@web-2", "running") == "2.4.1", "the new version"
        )
        assert table.get_cell("shop-web@web-2", "running").plain == "2.4.1"
        assert added == []
        assert table.highlighted_key == "shop-api@web-2"


async def test_a_host_going_down_shows_in_panel_and_rows(
    build: AppFactory, fleet: FixedFleet
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        error = "ssh: connect to host web-2.shop.lan port 22: No route to host"
        fleet.replace(
            with_host(snapshot(), "web-2", status=HostStatus.DOWN, error=error, containers=())
        )
        hosts = app.screen.query_one("#hosts", HostsTable)
        await until(pilot, lambda: hosts.text_of("web-2", "status") == "✖ down", "web-2 down")
        assert hosts.text_of("web-2", "error") == error
        assert hosts.text_of("web-2", "containers") == "—"
        table = app.screen.query_one("#services", ServicesTable)
        for key in ("shop-web@web-2", "shop-api@web-2", "resizer@web-2"):
            assert table.text_of(key, "state") == "host down"
            assert table.text_of(key, "running") == "—"
        assert table.text_of("shop-web@web-1", "state") == "running"


async def test_a_host_coming_up_fills_its_rows(build: AppFactory, fleet: FixedFleet) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        fleet.replace(
            with_host(
                snapshot(), "batch-1", status=HostStatus.UP, error=None, docker_version="24.0.7"
            )
        )
        hosts = app.screen.query_one("#hosts", HostsTable)
        await until(pilot, lambda: hosts.text_of("batch-1", "status") == "● up", "batch-1 up")
        table = app.screen.query_one("#services", ServicesTable)
        assert table.text_of("resizer@batch-1", "state") == "missing"
        assert hosts.text_of("batch-1", "containers") == "0/0"


async def test_a_burst_of_changes_becomes_few_updates(
    build: AppFactory, fleet: FixedFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        calls: list[int] = []
        original = screen.show_fleet
        monkeypatch.setattr(
            screen, "show_fleet", lambda snap: (calls.append(snap.generation), original(snap))
        )
        base = snapshot()
        for generation in range(2, 202):
            fleet.replace(dataclasses.replace(base, generation=generation))
        await until(pilot, lambda: calls and calls[-1] == 201, "the last generation")
        assert 1 <= len(calls) <= 2
        assert calls[-1] == 201


async def test_changes_reported_from_another_thread_arrive(
    build: AppFactory, fleet: FixedFleet
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        down = with_host(snapshot(), "web-1", status=HostStatus.DOWN, error="gone", containers=())
        thread = threading.Thread(target=fleet.replace, args=(down,))
        thread.start()
        thread.join()
        hosts = app.screen.query_one("#hosts", HostsTable)
        await until(pilot, lambda: hosts.text_of("web-1", "error") == "gone", "web-1's error")


async def test_a_removed_service_row_goes_and_others_keep_their_keys(
    build: AppFactory, fleet: FixedFleet
) -> None:
    # A container vanishing must not disturb the rows around it.
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        before = [table.get_row_index(key) for key in table.keys]
        web_1 = snapshot().hosts["web-1"]
        fleet.replace(
            with_host(
                snapshot(),
                "web-1",
                containers=tuple(c for c in web_1.containers if "mailer" not in c.name),
            )
        )
        await until(pilot, lambda: table.text_of("mailer@web-1", "state") == "missing", "missing")
        assert [table.get_row_index(key) for key in table.keys] == before
        strays = app.screen.query_one("#unmanaged", DataTable)
        assert strays.row_count == 1


class _BrokenFleet(FixedFleet):
    def start(self, on_change: Callable[[], None]) -> None:
        raise OSError("cannot read ~/.ssh/known_hosts")


async def test_a_fleet_that_cannot_start_is_reported_not_fatal() -> None:
    app = make_app(inventory(), _BrokenFleet(snapshot()), None, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.is_running
        assert isinstance(app.screen, MainScreen)
        [note] = app._notifications
        assert "cannot read ~/.ssh/known_hosts" in note.message
