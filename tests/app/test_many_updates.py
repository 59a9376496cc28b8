"""``u`` and ``R`` on marked services: one combined plan, one confirmation, N operations."""

from __future__ import annotations

import dataclasses

from support.fixed_logs import FixedLogSource
from support.fleet_data import MIDWAY, NEW_WEB, SIZE, inventory
from support.many_data import (
    NEW_API,
    NEW_WEB_2,
    STARTING_LOGS,
    ManyDeployer,
    many_app,
    many_deployer,
    starting_logs,
)
from support.waiting import on_screen, until
from textual.pilot import Pilot

from jobtui.app.app import JobtuiApp
from jobtui.app.deploy_flow import READ_ONLY_PINNED
from jobtui.app.dialogs.confirm import ConfirmDialog
from jobtui.app.dialogs.pickers import CommonVersionPicker, VersionPicker
from jobtui.app.dialogs.plan import PlansDialog
from jobtui.app.screens.main import MainScreen
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.widgets.plan_view import PlanView
from jobtui.widgets.services_table import ServicesTable
from jobtui.widgets.steps_view import TAIL_MARK
from jobtui.widgets.tags_table import TagsTable


async def mark(pilot: Pilot[None], *keys: str) -> None:
    table = pilot.app.screen.query_one("#services", ServicesTable)
    for key in keys:
        table.move_cursor(row=table.keys.index(key))
        await until(pilot, lambda key=key: table.highlighted_key == key, key)  # type: ignore[misc]
        await pilot.press("space")


async def combined_plan(pilot: Pilot[None]) -> PlansDialog:
    dialog = await on_screen(pilot, PlansDialog)
    await until(pilot, lambda: dialog.answered, "every plan")
    await pilot.pause()
    return dialog


def deploys(fake: ManyDeployer) -> list[tuple[object, ...]]:
    return [call for call in fake.calls if call[0] == "deploy"]


async def test_u_on_marks_shows_one_plan_asks_once_and_launches_one_operation_each() -> None:
    fake = many_deployer()
    app = many_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await mark(pilot, "shop-web@web-1", "shop-api@web-1", "mailer@web-1", "resizer@web-2")
        await pilot.press("u")
        ask = await on_screen(pilot, ConfirmDialog)
        assert [c.key for c in ask.choices] == ["y"]  # no tag common to all four
        assert "no registry tag in common" in ask.question
        assert f"shop-web {NEW_WEB}" in ask.choices[0].text
        # semver: 1.10.0 is newer than 1.9.0 though created before it
        assert f"shop-api {NEW_API}" in ask.choices[0].text
        await pilot.press("y")

        dialog = await combined_plan(pilot)
        lines = dialog.lines()
        assert lines[0].startswith(f"shop-web → {NEW_WEB}  2 of 2 hosts change")
        assert f"shop-web@web-2: update 2.4.0 -> {NEW_WEB}" in lines
        assert f"shop-api@web-1: update 1.9.0 -> {NEW_API}" in lines
        assert any(line.startswith("mailer → 3.1.0  up to date, left out") for line in lines)
        assert any(line.startswith("resizer  left out: newest version unknown") for line in lines)
        assert not dialog.query_one("#plan-2", PlanView).lines()  # mailer's plan: nothing
        assert "Update shop-web, shop-api?" in str(dialog.query_one("#plan-question").render())
        planned = [c for c in fake.calls if c[0] == "plan"]
        assert planned == [("plan", "shop-web", NEW_WEB), ("plan", "shop-api", NEW_API),
                           ("plan", "mailer", "3.1.0")]  # fmt: skip

        await pilot.press("enter")  # the one confirmation
        view = await on_screen(pilot, RolloutScreen)
        assert [op.service for op in view.ops] == ["shop-web", "shop-api"]
        await until(pilot, lambda: not any(op.running for op in view.ops), "both operations")
        assert sorted(deploys(fake)) == [("deploy", "shop-api", NEW_API),
                                         ("deploy", "shop-web", NEW_WEB)]  # fmt: skip
        # Each ran in its own worker with its own control.
        assert len({id(c) for c in fake.controls}) == 2
        assert view.state_text() == "✔ 2 services: 2 done"
        states = view.service_states()
        assert states[0].startswith(f"update shop-web 2.4.0, 2.4.1 → {NEW_WEB}  ✔ done")
        assert states[1].startswith(f"update shop-api 1.9.0 → {NEW_API}  ✔ done")
        assert view.steps_of("shop-api").lines()[0].startswith("web-1  ✔ done")
        # One notification sums up every service.
        [summary] = [n for n in app._notifications if n.title]
        assert summary.title == "2 services: 2 done"
        assert summary.message.splitlines() == [
            f"update shop-web 2.4.0, 2.4.1 → {NEW_WEB}: done.",
            f"update shop-api 1.9.0 → {NEW_API}: done.",
        ]


async def test_one_version_for_all_offers_only_the_tags_every_service_has() -> None:
    fake = many_deployer()
    app = many_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # shop-web and shop-api have different repositories: their shared tags are none.
        await mark(pilot, "shop-web@web-1", "shop-api@web-1")
        await pilot.press("u")
        ask = await on_screen(pilot, ConfirmDialog)
        assert [c.key for c in ask.choices] == ["y"]
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        # shop-web alone has all its own tags in common with itself: one version is offered.
        await mark(pilot, "shop-api@web-1")  # unmark shop-api
        await pilot.press("u")
        ask = await on_screen(pilot, ConfirmDialog)
        assert [c.key for c in ask.choices] == ["y", "o"]
        await pilot.press("o")
        picker = await on_screen(pilot, CommonVersionPicker)
        table = picker.query_one(TagsTable)
        assert table.keys == [NEW_WEB, "2.4.1", "2.4.0", "2.3.7", "2.3.6"]
        assert table.text_of("2.4.0", "deployed") == "on shop-web@web-2"
        await pilot.press("down", "down", "enter")
        dialog = await combined_plan(pilot)
        assert dialog.lines()[0].startswith("shop-web → 2.4.0")
        await pilot.press("n")
        await on_screen(pilot, MainScreen)
        assert deploys(fake) == []
        assert app.deploys.operations == {}


async def test_the_rollout_view_of_many_steers_all_and_tails_the_starting_container() -> None:
    fake = many_deployer()
    fake.hold_at, fake.hold_services = MIDWAY, frozenset({"shop-web", "shop-api"})
    logs = FixedLogSource(starting_logs())
    app = many_app(fake, logs=logs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await mark(pilot, "shop-web@web-1", "shop-api@web-1")
        await pilot.press("u", "y")
        await combined_plan(pilot)
        await pilot.press("enter")
        view = await on_screen(pilot, RolloutScreen)
        await until(pilot, lambda: "web-2" in view.op.progress.hosts
                    and "web-2" in view.ops[1].progress.hosts, "both at web-2")  # fmt: skip
        await until(pilot, lambda: "2 running" in view.state_text(), "the overall line")
        assert view.state_text() == "◐ 2 services: 2 running"
        # web-2's new container of shop-web was followed once started: its lines show.
        await until(pilot, lambda: any(TAIL_MARK in line for line in view.steps.lines()),
                    "the log tail")  # fmt: skip
        web = view.steps.lines()
        tail = [line.split(TAIL_MARK, 1)[1].strip() for line in web if TAIL_MARK in line]
        assert tail == list(STARTING_LOGS)
        followed = {(c.host, c.name) for h in logs.handles for c in h.containers}
        assert ("web-2", NEW_WEB_2) in followed

        await pilot.press("p")
        assert all(c is not None and c.paused for c in fake.controls)
        assert view.state_text() == "⏸ 2 services: 2 paused"
        await pilot.press("r")
        assert not any(c is not None and c.paused for c in fake.controls)
        await pilot.press("a")
        assert all(c is not None and c.aborted for c in fake.controls)

        # esc leaves; the operations go on, and u on a marked service shows the one view again.
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        await pilot.press("u")  # shop-web and shop-api are still running: left out
        await until(pilot, lambda: any("still running" in n.message for n in app._notifications),
                    "the refusal")  # fmt: skip
        fake.release()
        await until(pilot, lambda: not any(op.running for op in view.ops), "the end")
        # The follows stop with their operation, and no tail is left on screen.
        await until(pilot, lambda: all(h.stopped.is_set() for h in logs.handles), "follows stop")
        assert not view.op.progress.tails


async def test_r_on_marks_restarts_every_marked_service_after_one_confirmation() -> None:
    fake = many_deployer()
    app = many_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await mark(pilot, "shop-web@web-1", "mailer@web-1")
        await pilot.press("R")
        ask = await on_screen(pilot, ConfirmDialog)
        assert "shop-web on web-1, web-2; mailer on web-1" in ask.question
        await pilot.press("y")
        view = await on_screen(pilot, RolloutScreen)
        await until(pilot, lambda: not any(op.running for op in view.ops), "both restarts")
        assert sorted(c for c in fake.calls if c[0] == "restart") == [
            ("restart", "mailer", None), ("restart", "shop-web", None)]  # fmt: skip
        assert view.title_text == "restart 2 services: shop-web, mailer"


async def test_read_only_from_the_inventory_says_so() -> None:
    fake = many_deployer()
    app = many_app(fake)
    pinned = dataclasses.replace(inventory(), read_only=True)
    app.inventory, app.read_only = pinned, True
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await mark(pilot, "shop-web@web-1")
        app.deploys.update_many(["shop-web"], None)
        app.deploys.update("shop-web")
        await pilot.pause()
        expected = READ_ONLY_PINNED.format(inventory="shop.yml")
        assert [n.message for n in app._notifications] == [expected, expected]
        assert "read_only: true" in expected and "--read-write" in expected


async def test_the_version_picker_orders_by_version_with_moving_tags_last() -> None:
    fake = many_deployer()
    app: JobtuiApp = many_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await mark(pilot, "shop-api@web-1")
        await pilot.press("space")  # unmarked again: u is the one-service update
        await pilot.press("u")
        picker = await on_screen(pilot, VersionPicker)
        table = picker.query_one(TagsTable)
        await until(pilot, lambda: table.row_count == 4, "the tags")
        assert table.keys == [NEW_API, "1.9.0", "1.8.2", "latest"]
        assert table.highlighted_key == NEW_API
