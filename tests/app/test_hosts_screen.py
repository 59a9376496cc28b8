"""The hosts screen: every host, and the containers of the highlighted one."""

from __future__ import annotations

from support.fixed_backend import FixedFleet
from support.fleet_data import SIZE, AppFactory, snapshot, with_host
from support.waiting import until
from textual.widgets import Static

from jobtui.app.screens.hosts import HostsScreen
from jobtui.backend.model import HostStatus
from jobtui.widgets.containers_table import ContainersTable
from jobtui.widgets.hosts_table import HostsTable


async def test_hosts_with_url_and_the_highlighted_hosts_containers(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HostsScreen)
        hosts = screen.query_one("#hosts", HostsTable)
        assert hosts.text_of("web-2", "url") == "ssh://deploy@web-2.shop.lan"
        containers = screen.query_one("#host-containers", ContainersTable)
        services = {
            containers.text_of(k, "name"): containers.text_of(k, "service") for k in containers.keys
        }
        assert services == {
            "shop-web_1717231680": "shop-web",
            "shop-web_1716210000": "shop-web",
            "shop-api_1716800000": "shop-api",
            "mailer_1714650000": "mailer",
            "node-exporter": "unmanaged",
        }
        assert containers.text_of(containers.keys[0], "image") == "shop/web:2.4.1"
        await pilot.press("down")
        await pilot.pause()
        assert [containers.text_of(k, "name") for k in containers.keys] == [
            "shop-web_1716900000",
            "shop-api_1716800100",
        ]
        assert str(containers.border_title) == "containers on web-2"


async def test_a_down_host_explains_why(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h", "down", "down")
        await pilot.pause()
        note = app.screen.query_one("#host-note", Static)
        assert note.display
        assert str(note.render()) == (
            "batch-1 is down: connect to batch-1.shop.lan:2376: connection timed out"
            " (containers unknown)"
        )
        assert app.screen.query_one("#host-containers", ContainersTable).keys == []


async def test_enter_on_the_hosts_panel_opens_that_host(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("shift+tab")  # from the services table up to the hosts panel
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, HostsScreen)
        assert app.screen.query_one("#hosts", HostsTable).highlighted_key == "web-2"


async def test_hosts_screen_follows_the_fleet(build: AppFactory, fleet: FixedFleet) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        fleet.replace(
            with_host(snapshot(), "web-1", status=HostStatus.DOWN, error="refused", containers=())
        )
        hosts = app.screen.query_one("#hosts", HostsTable)
        await until(pilot, lambda: hosts.text_of("web-1", "status") == "✖ down", "web-1 down")
        assert app.screen.query_one("#host-containers", ContainersTable).keys == []
        assert "web-1 is down: refused" in str(app.screen.query_one("#host-note", Static).render())
