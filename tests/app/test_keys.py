"""The screens bind, the help screen lists and the palette offers what app/actions.py says."""

from __future__ import annotations

import pytest
from support.fleet_data import SIZE, AppFactory
from support.waiting import on_screen
from textual.app import App
from textual.screen import Screen

from jobtui.app.actions import KEYS, SERVICE, Scope, bindings, help_sections, keys_of
from jobtui.app.app import JobtuiApp
from jobtui.app.commands import JobtuiCommands
from jobtui.app.screens.help import SIGNS, HelpScreen
from jobtui.app.screens.hosts import HostsScreen
from jobtui.app.screens.logs import LogsScreen
from jobtui.app.screens.main import MainScreen
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.app.screens.service import ServiceScreen
from jobtui.widgets.config_view import ConfigView

BOUND: dict[Scope, type[App[None]] | type[Screen[None]]] = {
    Scope.APP: JobtuiApp,
    Scope.MAIN: MainScreen,
    Scope.SERVICE: ServiceScreen,
    Scope.HOSTS: HostsScreen,
    Scope.LOGS: LogsScreen,
    Scope.ROLLOUT: RolloutScreen,
    Scope.HELP: HelpScreen,
}


@pytest.mark.parametrize("scope", list(Scope))
def test_each_screen_binds_exactly_its_registry_keys(scope: Scope) -> None:
    owner = BOUND[scope]
    assert bindings(scope) == owner.BINDINGS
    for key in keys_of(scope):
        # `app.pop_screen` runs on the app; `context(1)` is `action_context`.
        target: type[object] = App if key.action.startswith("app.") else owner
        name = key.action.removeprefix("app.").partition("(")[0]
        assert callable(getattr(target, f"action_{name}", None)), (scope, key.action)


async def test_the_help_screen_shows_the_registry(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        help_screen = await on_screen(pilot, HelpScreen)
        shown = [view.pairs for view in help_screen.query(ConfigView)]
        # The service screen's marks follow its keys.
        expected = [keys + SIGNS if s is SERVICE else keys for s, keys in help_sections()]
        assert shown == expected


async def test_the_palette_offers_the_registrys_commands(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        offered = JobtuiCommands(app.screen)._commands()
        commands = {text: help_text for text, _, help_text in offered}
        for key in KEYS:
            if key.palette and "{service}" in key.palette:
                for service in app.inventory.services:
                    text = key.palette.format(service=service.name)
                    assert commands[text] == key.palette_help.format(image=service.image)
            elif key.palette:
                assert commands[key.palette] == key.palette_help
