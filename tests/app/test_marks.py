"""Marks on the services table: ``space`` toggles a service, the subtitle counts, ``esc`` clears."""

from __future__ import annotations

import dataclasses

from support.fixed_backend import FixedFleet
from support.fleet_data import SIZE, AppFactory, inventory, with_host
from support.waiting import until
from textual.pilot import Pilot

from jobtui.app.app import JobtuiApp
from jobtui.app.screens.main import MainScreen
from jobtui.widgets.services_table import MARK, ServicesTable


def _table(app: JobtuiApp) -> ServicesTable:
    return app.screen.query_one("#services", ServicesTable)


def _shown(app: JobtuiApp) -> dict[str, str]:
    table = _table(app)
    return {key: table.text_of(key, "service") for key in table.keys}


async def _cursor_to(pilot: Pilot[None], key: str) -> None:
    table = _table(pilot.app)  # type: ignore[arg-type]
    table.move_cursor(row=table.keys.index(key))
    await until(pilot, lambda: table.highlighted_key == key, key)


async def test_space_marks_every_row_of_the_service_and_the_subtitle_counts(
    build: AppFactory,
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = _table(app)
        assert table.highlighted_key == "shop-web@web-1"
        await pilot.press("space")
        shown = _shown(app)
        assert shown["shop-web@web-1"] == shown["shop-web@web-2"] == f"{MARK} shop-web"
        assert shown["shop-api@web-1"] == "shop-api"
        assert table.role_of("shop-web@web-2", "service") == "accent"
        assert str(table.border_subtitle).startswith("1 marked")

        await _cursor_to(pilot, "shop-api@web-2")
        await pilot.press("space")
        assert table.marked == ["shop-web", "shop-api"]
        assert str(table.border_subtitle).startswith("2 marked")
        # space again on a marked service unmarks it, from any of its rows.
        await _cursor_to(pilot, "shop-web@web-2")
        await pilot.press("space")
        assert table.marked == ["shop-api"]
        assert _shown(app)["shop-web@web-1"] == "shop-web"
        assert str(table.border_subtitle).startswith("1 marked")


async def test_marks_survive_refreshes_and_a_reload_drops_vanished_services(
    build: AppFactory, fleet: FixedFleet
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = _table(app)
        await pilot.press("space")  # shop-web
        await _cursor_to(pilot, "mailer@web-1")
        await pilot.press("space")
        assert table.marked == ["shop-web", "mailer"]

        # web-2 goes down: its rows change, the marks stay.
        fleet.replace(with_host(fleet.snapshot(), "web-2", containers=()))
        await until(pilot, lambda: table.text_of("shop-web@web-2", "state") == "missing",
                    "web-2's rows to change")  # fmt: skip
        assert table.marked == ["shop-web", "mailer"]
        assert _shown(app)["shop-web@web-2"] == f"{MARK} shop-web"

        # The inventory loses mailer: its mark goes with it, shop-web's stays.
        edited = inventory()
        edited = dataclasses.replace(
            edited, services=tuple(s for s in edited.services if s.name != "mailer")
        )
        app.apply_inventory(edited)
        await until(pilot, lambda: "mailer@web-1" not in table.keys, "mailer's row to go")
        assert table.marked == ["shop-web"]
        assert str(table.border_subtitle).startswith("1 marked")


async def test_esc_clears_the_filter_first_then_the_marks(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        table = _table(app)
        assert screen.check_action("clear", ()) is False  # nothing to clear: not offered
        await pilot.press("space")
        assert screen.check_action("clear", ()) is True
        await pilot.press("slash", *"mailer", "enter")
        await until(pilot, lambda: table.row_count == 1, "the filter")
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count > 2, "the filter cleared")
        assert table.marked == ["shop-web"]
        await pilot.press("escape")
        assert table.marked == []
        assert "marked" not in str(table.border_subtitle)
        assert _shown(app)["shop-web@web-1"] == "shop-web"
        assert screen.check_action("clear", ()) is False
