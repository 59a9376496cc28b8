"""Update and rollback through the keys: picker → plan → confirm → rollout view → notification."""

from __future__ import annotations

import pytest
from support.fleet_data import (
    FAILED_LOGS,
    MIDWAY,
    NEW_WEB,
    SIZE,
    FakeDeployer,
    deploy_app,
    failed_result,
    failed_steps,
)
from support.waiting import on_screen, until
from textual.pilot import Pilot

from jobtui.app.app import JobtuiApp
from jobtui.app.deploy_flow import StepRelay
from jobtui.app.dialogs.pickers import CandidatesTable, RollbackPicker, VersionPicker
from jobtui.app.dialogs.plan import PlanDialog
from jobtui.app.screens.main import MainScreen
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.backend.contract import LockedError, LockOwner
from jobtui.backend.deploy.plan import plain, render_plan
from jobtui.widgets.plan_view import PlanView
from jobtui.widgets.tags_table import TagsTable


@pytest.fixture
def fake() -> FakeDeployer:
    return FakeDeployer(StepRelay())


def notices(app: JobtuiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def pick_version(pilot: Pilot[None]) -> VersionPicker:
    picker = await on_screen(pilot, VersionPicker)
    await until(pilot, lambda: picker.query_one(TagsTable).row_count > 0, "the tags")
    return picker


async def see_plan(pilot: Pilot[None]) -> PlanDialog:
    dialog = await on_screen(pilot, PlanDialog)
    await until(pilot, lambda: dialog.plan is not None, "the plan")
    await pilot.pause()
    return dialog


async def test_update_from_pick_to_finished_notification(fake: FakeDeployer) -> None:
    fake.hold_at = MIDWAY
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("u")  # the cursor is on shop-web@web-1
        picker = await pick_version(pilot)
        table = picker.query_one(TagsTable)
        assert table.keys == [NEW_WEB, "2.4.1", "2.4.0", "2.3.7", "2.3.6"]
        assert table.text_of("2.4.1", "tag") == "▶ 2.4.1"
        assert table.text_of("2.4.1", "deployed") == "desired · on web-1"
        assert table.text_of("2.4.0", "deployed") == "on web-2"
        assert table.highlighted_key == NEW_WEB

        await pilot.press("enter")
        dialog = await see_plan(pilot)
        assert dialog.plan is not None
        view = dialog.query_one(PlanView)
        shown = view.render().plain.splitlines()
        assert view.lines() == shown == [plain(line) for line in render_plan(dialog.plan)]
        assert "shop-web@web-2: update 2.4.0 -> 2.5.0" in dialog.query_one(PlanView).lines()
        assert fake.calls == [("plan", "shop-web", NEW_WEB)]

        await pilot.press("enter")
        view = await on_screen(pilot, RolloutScreen)
        await until(pilot, fake.holding.is_set, "the rollout to reach web-2's health check")
        await until(pilot, lambda: "web-2" in view.op.progress.hosts, "web-2's steps")
        assert fake.calls[-1] == ("deploy", "shop-web", NEW_WEB)
        assert view.state_text() == "◐ running · 1 done · 1 running"
        lines = view.steps.lines()
        assert lines[0].startswith("web-1  ✔ done")
        assert "web-2  ◐ running" in lines
        assert any("◐ health" in line and "Docker healthcheck" in line for line in lines)

        await pilot.press("p")
        assert fake.control is not None and fake.control.paused
        assert view.state_text().startswith("⏸ paused")
        await pilot.press("r")
        assert not fake.control.paused

        fake.release()
        await until(pilot, lambda: not view.op.running, "the end of the rollout")
        await pilot.pause()
        assert view.state_text() == "✔ done in 12.2s · 2 done"
        assert "update shop-web 2.4.0, 2.4.1 → 2.5.0: done." in notices(app)
        assert not view.query_one("#failure-box").display
        # Steering keys leave the footer once the rollout is over.
        assert view.check_action("pause", ()) is False


async def test_a_failed_update_shows_the_reason_and_the_container_logs(
    fake: FakeDeployer,
) -> None:
    fake.steps, fake.result = failed_steps(), failed_result()
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("u")
        await pick_version(pilot)
        await pilot.press("enter")
        await see_plan(pilot)
        await pilot.press("y")
        view = await on_screen(pilot, RolloutScreen)
        await until(pilot, lambda: not view.op.running, "the end of the rollout")
        await pilot.pause()
        assert view.state_text().startswith("✖ failed in 36.2s · 1 failed · 1 untouched — canary")
        lines = view.steps.lines()
        assert lines[0] == "web-1  ✖ failed"
        assert lines[1].startswith("  health: unhealthy after 3 checks")
        assert any(line.startswith("web-2  - untouched") for line in lines)
        assert view.query_one("#failure-box").display
        assert view.failure_lines() == list(FAILED_LOGS)
        [notice] = [n for n in app._notifications if n.severity == "error"]
        assert "canary web-1 failed" in notice.message
        assert notice.message.endswith("The previous version keeps serving.")


async def test_cancel_at_each_stage_changes_nothing(fake: FakeDeployer) -> None:
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("u")
        await pick_version(pilot)
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        assert fake.calls == []

        for cancel in ("escape", "n"):
            await pilot.press("u")
            await pick_version(pilot)
            await pilot.press("enter")
            await see_plan(pilot)
            await pilot.press(cancel)
            await on_screen(pilot, MainScreen)
        assert [call[0] for call in fake.calls] == ["plan", "plan"]

        await pilot.press("b")
        await on_screen(pilot, RollbackPicker)
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        await pilot.press("x")
        await pilot.press("n")
        await on_screen(pilot, MainScreen)
        assert [call[0] for call in fake.calls] == ["plan", "plan", "rollback_candidates"]
        assert app.deploys.operations == {}


async def test_rollback_picks_a_kept_version(fake: FakeDeployer) -> None:
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("b")
        picker = await on_screen(pilot, RollbackPicker)
        table = picker.query_one(CandidatesTable)
        await until(pilot, lambda: table.row_count == 3, "the candidates")
        assert table.keys == ["2.4.0", "2.3.7", "2.3.6"]
        assert table.text_of("2.4.0", "retained") == "web-1"
        assert table.text_of("2.4.0", "how") == "restarting the kept container"
        assert table.text_of("2.3.7", "how") == "pulling it from the registry"
        await pilot.press("down", "enter")
        dialog = await see_plan(pilot)
        assert dialog.title_text == "roll shop-web back to 2.3.7"
        await pilot.press("enter")
        view = await on_screen(pilot, RolloutScreen)
        await until(pilot, lambda: not view.op.running, "the end of the rollback")
        assert ("rollback", "shop-web", "2.3.7") in fake.calls
        assert view.op.title == "roll back shop-web 2.4.0, 2.4.1 → 2.3.7"


async def test_leaving_the_view_keeps_the_rollout_and_u_shows_it_again(
    fake: FakeDeployer,
) -> None:
    fake.hold_at = 3
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("u")
        await pick_version(pilot)
        await pilot.press("enter")
        await see_plan(pilot)
        await pilot.press("enter")
        await on_screen(pilot, RolloutScreen)
        await until(pilot, fake.holding.is_set, "the rollout to start")
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        await pilot.press("u")
        view = await on_screen(pilot, RolloutScreen)
        assert any("still running" in text for text in notices(app))
        await pilot.press("a")
        assert fake.control is not None and fake.control.aborted
        assert view.state_text().startswith("■ aborting")
        # The first q while it runs only warns.
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running
        assert "still running. Press q again to quit" in notices(app)[-1]
        fake.release()
        await until(pilot, lambda: not view.op.running, "the end of the rollout")
        assert [call[0] for call in fake.calls].count("deploy") == 1


async def test_a_locked_service_is_refused_with_the_holder(fake: FakeDeployer) -> None:
    owner = LockOwner("alice", "bastion-2", 4242, 1717243000.0, "deploy shop-web 2.4.1 -> 2.4.2")
    fake.steps, fake.error = [], LockedError("shop-web", owner)
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("u")
        await pick_version(pilot)
        await pilot.press("enter")
        await see_plan(pilot)
        await pilot.press("enter")
        view = await on_screen(pilot, RolloutScreen)
        await until(pilot, lambda: not view.op.running, "the refusal")
        [notice] = [n for n in app._notifications if n.severity == "error"]
        assert "refused, shop-web is being changed by alice@bastion-2 pid 4242" in notice.message
        assert view.state_text().startswith("⚿ locked")


async def test_a_plan_that_no_longer_holds_is_shown_again(fake: FakeDeployer) -> None:
    from dataclasses import replace

    from jobtui.backend.contract import Outcome

    result = fake.result
    assert result is not None
    fake.result = replace(
        result, outcome=Outcome.CHANGED, hosts=(),
        message="the service changed since the plan was shown: web-2: current container "
        "c1 is now c2",
    )  # fmt: skip
    fake.steps = []
    app = deploy_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("u")
        await pick_version(pilot)
        await pilot.press("enter")
        await see_plan(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: any("changed since the plan" in n for n in notices(app)),
                    "the refusal")  # fmt: skip
        # Nothing ran; the plan is made again and shown for a new confirmation.
        again = await see_plan(pilot)
        assert again.plan is not None
        assert [c[0] for c in fake.calls] == ["plan", "deploy", "plan"]
        notice = next(n for n in notices(app) if "changed since the plan" in n)
        assert "Here is the new plan" in notice
