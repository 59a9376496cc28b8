"""``/`` filters the services table live; esc brings every row back."""

from __future__ import annotations

from support.fleet_data import SIZE, AppFactory
from textual.widgets import Input

from jobtui.app.screens.main import MainScreen
from jobtui.widgets.services_table import ServicesTable

ALL_ROWS = 7


async def test_typing_narrows_rows_and_esc_restores_them(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        await pilot.press("slash")
        field = app.screen.query_one("#filter", Input)
        assert field.has_focus
        await pilot.press("a", "p")
        assert table.keys == ["shop-api@web-1", "shop-api@web-2"]
        await pilot.press("i", "@")  # no row contains "api@": nothing left
        assert table.keys == []
        await pilot.press("escape")
        await pilot.pause()
        assert len(table.keys) == ALL_ROWS
        assert field.value == ""
        assert not app.screen.query_one("#filter-bar").display
        assert table.has_focus


async def test_filter_matches_host_version_and_state(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        # Case does not matter, and "h" types rather than opening the hosts screen.
        await pilot.press("slash", *"bATch")
        assert table.keys == ["resizer@batch-1"]
        assert isinstance(app.screen, MainScreen)
        app.screen.query_one("#filter", Input).value = "2.4.0"
        await pilot.pause()
        assert table.keys == ["shop-web@web-2"]
        app.screen.query_one("#filter", Input).value = "missing"
        await pilot.pause()
        assert table.keys == ["resizer@web-2"]


async def test_enter_keeps_the_filter_and_returns_to_the_rows(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        await pilot.press("slash", *"mailer", "enter")
        await pilot.pause()
        assert table.has_focus
        assert table.keys == ["mailer@web-1"]
        assert "/mailer" in str(table.border_title)
        await pilot.press("escape")
        await pilot.pause()
        assert len(table.keys) == ALL_ROWS
