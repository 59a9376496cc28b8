"""Keys move between the main, service, hosts and help screens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.fixed_backend import FixedFleet
from support.fleet_data import SIZE, AppFactory, snapshot
from support.waiting import until
from textual.command import Command, CommandList, CommandPalette
from textual.pilot import Pilot

from jobtui.app.screens.help import HelpScreen
from jobtui.app.screens.hosts import HostsScreen
from jobtui.app.screens.main import MainScreen
from jobtui.app.screens.service import ServiceScreen
from jobtui.widgets.hosts_table import HostsTable
from jobtui.widgets.services_table import ServicesTable


class _CountingFleet(FixedFleet):
    """Counts start and stop, to check the app's fleet lifecycle."""

    starts = 0
    stops = 0

    def start(self, on_change: Callable[[], None]) -> None:
        self.starts += 1
        super().start(on_change)

    def stop(self) -> None:
        self.stops += 1
        super().stop()


@pytest.fixture
def fleet() -> _CountingFleet:
    return _CountingFleet(snapshot())


async def _palette_offers(pilot: Pilot[None], text: str) -> None:
    """Until the open command palette has ``text`` as its highlighted (first) hit."""

    def highlighted() -> str | None:
        palette = pilot.app.screen
        if not isinstance(palette, CommandPalette):
            return None
        commands = palette.query_one(CommandList)
        if commands.highlighted is None:
            return None
        option = commands.get_option_at_index(commands.highlighted)
        return str(option.hit.text) if isinstance(option, Command) else None

    await until(pilot, lambda: highlighted() == text, f"the palette to offer {text!r}")


async def test_main_screen_lists_every_service_on_every_host(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        assert table.keys == [
            "shop-web@web-1",
            "shop-web@web-2",
            "shop-api@web-1",
            "shop-api@web-2",
            "resizer@batch-1",
            "resizer@web-2",
            "mailer@web-1",
        ]
        assert table.text_of("shop-web@web-1", "uptime") == "3h12m"
        assert table.text_of("shop-api@web-2", "state") == "stopped"
        assert table.text_of("resizer@web-2", "state") == "missing"
        assert table.text_of("resizer@batch-1", "state") == "host down"
        # The seed's unlabelled mailer_<ts> container is adopted by name.
        assert table.text_of("mailer@web-1", "running") == "3.1.0"


async def test_version_drift_is_marked(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        assert table.text_of("shop-web@web-2", "running") == "≠ 2.4.0"
        assert table.role_of("shop-web@web-2", "running") == "warn"
        assert table.text_of("shop-web@web-1", "running") == "2.4.1"
        assert table.role_of("shop-web@web-1", "running") == ""


async def test_hosts_panel_and_unmanaged_containers(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        hosts = app.screen.query_one("#hosts", HostsTable)
        assert hosts.keys == ["web-1", "web-2", "batch-1"]
        assert hosts.text_of("web-1", "containers") == "4/5"
        assert hosts.text_of("web-2", "docker") == "20.10.24"
        assert hosts.text_of("batch-1", "status") == "✖ down"
        assert "connection timed out" in hosts.text_of("batch-1", "error")
        strays = app.screen.query_one("#unmanaged")
        assert strays.display
        assert strays.text_of(strays.keys[0], "name") == "node-exporter"  # type: ignore[attr-defined]


async def test_enter_opens_the_highlighted_service_and_esc_goes_back(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ServiceScreen)
        assert app.screen.service.name == "shop-api"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        # The cursor is where it was.
        assert app.screen.query_one("#services", ServicesTable).highlighted_key == "shop-api@web-1"


async def test_h_opens_hosts_and_esc_goes_back(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HostsScreen)
        await pilot.press("h")  # already there: no second copy on the stack
        await pilot.pause()
        assert len(app.screen_stack) == 2
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_question_mark_opens_help_and_esc_closes_it(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_command_palette_opens_a_service_by_name(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"open service mailer")
        await _palette_offers(pilot, "open service mailer")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ServiceScreen)
        assert app.screen.service.name == "mailer"


async def test_command_palette_opens_hosts(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("colon", *"hosts")
        await _palette_offers(pilot, "hosts")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HostsScreen)


async def test_read_only_shows_in_the_header(build: AppFactory) -> None:
    app = build(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.read_only
        assert "READ-ONLY" in app.sub_title
    assert "READ-ONLY" not in build().sub_title


async def test_q_stops_the_fleet_then_quits(build: AppFactory, fleet: _CountingFleet) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert fleet.starts == 1
        await pilot.press("q")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert fleet.stops == 1
        assert app._exit
    assert fleet.stops == 1, "stopped once, not again on unmount"


async def test_leaving_without_q_still_stops_the_fleet(
    build: AppFactory, fleet: _CountingFleet
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert fleet.stops == 1


async def test_command_palette_quits(build: AppFactory, fleet: _CountingFleet) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("colon", *"quit")
        await _palette_offers(pilot, "quit")
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert fleet.stops == 1
        assert app._exit
