"""start / stop / restart with their confirmation, read-only mode, and no deployer at all."""

from __future__ import annotations

import pytest
from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import SIZE, FakeDeployer, clock, deploy_app, inventory, snapshot, tags
from support.waiting import on_screen, until

# Pilot helpers shared by the deploy tests (tests/app is on sys.path under pytest).
from test_deploy_flow import notices
from textual.pilot import Pilot

from jobtui.app.app import make_app
from jobtui.app.commands import JobtuiCommands
from jobtui.app.deploy_flow import NOT_AVAILABLE, READ_ONLY, StepRelay
from jobtui.app.dialogs.confirm import ConfirmDialog
from jobtui.app.dialogs.pickers import VersionPicker
from jobtui.app.screens.main import MainScreen
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.app.screens.service import ServiceScreen
from jobtui.backend.contract import HostResult, OpKind, OpResult, Outcome
from jobtui.widgets.containers_table import ContainersTable

MUTATING_KEYS = ("u", "b", "s", "x", "R")


@pytest.fixture
def fake() -> FakeDeployer:
    fake = FakeDeployer(StepRelay())
    # start/stop/restart report no rollout steps here; the result is enough.
    fake.steps = []
    fake.result = OpResult(
        "op-1", OpKind.STOP, "shop-web", Outcome.DONE, (HostResult("web-2", True, "2.4.0", None),)
    )
    return fake


async def confirm(pilot: Pilot[None]) -> ConfirmDialog:
    dialog = await on_screen(pilot, ConfirmDialog)
    assert isinstance(dialog, ConfirmDialog)
    return dialog


async def test_stop_offers_the_selected_host_or_every_instance(fake: FakeDeployer) -> None:
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "x")  # shop-web@web-2
        dialog = await confirm(pilot)
        assert dialog.title_text == "stop shop-web"
        assert [c.key for c in dialog.choices] == ["o", "a"]
        assert dialog.choices[0].text == "stop only the instance on web-2"
        assert dialog.choices[1].text == "stop all 2 instances (web-1, web-2)"
        assert dialog.question == "shop-web runs 2.4.0 on web-2; 2.4.1 on web-1."
        assert dialog.check_action("choose", ("y",)) is False
        await pilot.press("o")
        view = await on_screen(pilot, RolloutScreen)
        assert isinstance(view, RolloutScreen)
        await until(pilot, lambda: not view.op.running, "the stop")
        assert fake.calls == [("stop", "shop-web", "web-2")]
        assert view.op.title == "stop shop-web on web-2"
        assert "stop shop-web on web-2: done." in notices(app)

        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        await pilot.press("R")
        await confirm(pilot)
        await pilot.press("a")
        view = await on_screen(pilot, RolloutScreen)
        assert isinstance(view, RolloutScreen)
        await until(pilot, lambda: not view.op.running, "the restart")
        assert fake.calls[-1] == ("restart", "shop-web", None)
        assert view.op.title == "restart shop-web on web-1, web-2"
        # start/stop/restart cannot be paused or aborted: no such keys.
        assert view.check_action("abort", ()) is False


async def test_a_single_host_service_asks_yes_or_no(fake: FakeDeployer) -> None:
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*["down"] * 6, "s")  # mailer@web-1, the last row
        dialog = await confirm(pilot)
        assert [(c.key, c.text) for c in dialog.choices] == [("y", "start mailer on web-1")]
        await pilot.press("enter")
        await on_screen(pilot, RolloutScreen)
        await until(pilot, lambda: bool(fake.calls), "the start")
        assert fake.calls == [("start", "mailer", "web-1")]


async def test_service_screen_keys_use_the_container_under_the_cursor(
    fake: FakeDeployer,
) -> None:
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_service("shop-web")
        screen = await on_screen(pilot, ServiceScreen)
        table = screen.query_one("#containers", ContainersTable)
        await until(pilot, lambda: table.row_count == 3, "the containers")
        await pilot.press("down", "down", "R")  # the container on web-2
        dialog = await confirm(pilot)
        assert dialog.choices[0].text == "restart only the instance on web-2"
        await pilot.press("escape")
        await on_screen(pilot, ServiceScreen)
        await pilot.press("u")
        await on_screen(pilot, VersionPicker)
        assert fake.calls == []


async def test_read_only_hides_and_refuses_every_mutating_action(fake: FakeDeployer) -> None:
    app = deploy_app(fake, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # Hidden: the footer shows only active bindings.
        assert set(MUTATING_KEYS).isdisjoint(app.screen.active_bindings)
        for key in MUTATING_KEYS:
            await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert notices(app) == []
        # The palette lists no mutating command, and a direct call is refused.
        texts = [text for text, _, _ in JobtuiCommands(app.screen)._commands()]
        assert not [t for t in texts if t.split()[0] in {"update", "rollback", "stop"}]
        app.deploys.update("shop-web")
        app.deploys.lifecycle(OpKind.STOP, "shop-web")
        await pilot.pause()
        assert notices(app) == [READ_ONLY, READ_ONLY]
        assert isinstance(app.screen, MainScreen)
        assert fake.calls == []


async def test_the_palette_offers_the_mutating_commands(fake: FakeDeployer) -> None:
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        commands = {text: run for text, run, _ in JobtuiCommands(app.screen)._commands()}
        for verb in ("update", "rollback", "start", "stop", "restart"):
            assert f"{verb} shop-api" in commands
        commands["stop shop-api"]()
        dialog = await confirm(pilot)
        assert [c.key for c in dialog.choices] == ["y"]
        assert dialog.choices[0].text == "stop shop-api on web-1, web-2"


async def test_without_a_deployer_the_keys_say_it_is_not_available() -> None:
    app = make_app(inventory(), FixedFleet(snapshot()), FixedTags(tags()), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert set(MUTATING_KEYS) <= set(app.screen.active_bindings)
        for key in MUTATING_KEYS:
            await pilot.press(key)
            await pilot.pause()
        assert notices(app) == [NOT_AVAILABLE] * len(MUTATING_KEYS)
        assert isinstance(app.screen, MainScreen)

