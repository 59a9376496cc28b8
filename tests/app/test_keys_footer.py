"""The main screen's footer: the keys of the moment, rebuilt only when they change;
and the cyclic collector, paused for the first paint, running again after it."""

from __future__ import annotations

import gc

from support.fleet_data import SIZE, AppFactory
from textual.widgets._footer import FooterKey

from jobtui.widgets.footer import KeysFooter


def _keys(footer: KeysFooter) -> list[FooterKey]:
    return list(footer.query(FooterKey))


async def test_footer_shows_the_screen_keys_styled_as_textual_does(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(KeysFooter)
        actions = [key.action for key in _keys(footer)]
        assert "filter" in actions and "quit" in actions
        # Not compact (Textual's default for a footer), whatever a key's own default says.
        assert not footer.compact
        assert not any(key.has_class("-compact") for key in _keys(footer))


async def test_a_binding_change_rebuilds_the_keys_and_no_change_keeps_them(
    build: AppFactory,
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(KeysFooter)
        before = _keys(footer)
        app.screen.refresh_bindings()  # nothing changed: the same key widgets stay
        await pilot.pause()
        assert _keys(footer) == before
        await pilot.press("slash")  # the filter opens: its esc key appears
        await pilot.pause()
        assert "clear" in [key.action for key in _keys(footer)]
        assert _keys(footer) != before


async def test_collector_runs_again_after_the_first_frame(build: AppFactory) -> None:
    assert gc.isenabled()
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert gc.isenabled()
    assert gc.isenabled()


async def test_collector_turned_off_by_the_caller_stays_off(build: AppFactory) -> None:
    gc.disable()
    try:
        app = build()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
