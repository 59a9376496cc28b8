"""The deploy dialogs and the rollout view, on the fixed shop fleet with a frozen clock.

A fake engine plans with the real planner and reports a scripted rollout
(see ``FakeDeployer`` in tests/fleet_data.py).
"""

from __future__ import annotations

from collections.abc import Callable

from support.fleet_data import (
    MIDWAY,
    SIZE,
    FakeDeployer,
    deploy_app,
    failed_result,
    failed_steps,
    rollout_steps,
)
from support.waiting import until
from textual.pilot import Pilot

from jobtui.app.deploy_flow import StepRelay
from jobtui.app.dialogs.confirm import ConfirmDialog
from jobtui.app.dialogs.pickers import RollbackPicker, VersionPicker
from jobtui.app.dialogs.plan import PlanDialog
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.backend.contract import StepEvent

SnapCompare = Callable[..., bool]


async def _until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    """Until ``condition`` holds, then one more pause: the screen has painted it."""
    await until(pilot, condition, what)
    await pilot.pause()


async def _picker(pilot: Pilot[None]) -> None:
    await pilot.press("u")
    await _until(pilot, lambda: _rows(pilot) > 0, "the versions")


def _rows(pilot: Pilot[None]) -> int:
    # Not workers.wait_for_complete(): the dialog flow itself is a worker awaiting the dialog.
    screen = pilot.app.screen
    if not isinstance(screen, VersionPicker | RollbackPicker) or not screen.is_mounted:
        return 0
    return screen.table.row_count


async def _plan(pilot: Pilot[None]) -> None:
    await _picker(pilot)
    await pilot.press("enter")
    await _until(pilot, lambda: getattr(pilot.app.screen, "plan", None) is not None, "the plan")


def _view(pilot: Pilot[None]) -> RolloutScreen | None:
    screen = pilot.app.screen
    return screen if isinstance(screen, RolloutScreen) else None


def _shows(pilot: Pilot[None], event: StepEvent) -> bool:
    """Whether the rollout view's last step on ``event``'s host is ``event``'s."""
    view = _view(pilot)
    host = view.op.progress.hosts.get(event.host) if view is not None else None
    if host is None or not host.steps:
        return False
    last = host.steps[-1]
    return (last.step, last.status, last.message) == (event.step, event.status, event.message)


def test_version_picker(snap_compare: SnapCompare) -> None:
    app = deploy_app(FakeDeployer(StepRelay()))
    assert snap_compare(app, terminal_size=SIZE, run_before=_picker)


def test_plan_to_confirm(snap_compare: SnapCompare) -> None:
    async def plan(pilot: Pilot[None]) -> None:
        await _plan(pilot)
        assert isinstance(pilot.app.screen, PlanDialog)

    assert snap_compare(deploy_app(FakeDeployer(StepRelay())), terminal_size=SIZE, run_before=plan)


def test_rollout_midway(snap_compare: SnapCompare) -> None:
    fake = FakeDeployer(StepRelay())
    fake.hold_at = MIDWAY

    async def midway(pilot: Pilot[None]) -> None:
        await _plan(pilot)
        await pilot.press("enter")
        await _until(pilot, fake.holding.is_set, "the rollout to reach web-2's health check")
        last = rollout_steps()[MIDWAY - 1]
        await _until(pilot, lambda: _shows(pilot, last), "the last step reported so far")

    assert snap_compare(deploy_app(fake), terminal_size=SIZE, run_before=midway)


def test_rollout_failed(snap_compare: SnapCompare) -> None:
    fake = FakeDeployer(StepRelay())
    fake.steps, fake.result = failed_steps(), failed_result()

    async def failed(pilot: Pilot[None]) -> None:
        await _plan(pilot)
        await pilot.press("enter")
        await _until(
            pilot, lambda: (v := _view(pilot)) is not None and not v.op.running, "the failure"
        )
        # The failure's toast (checked in tests/app) would cover the log panel.
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(deploy_app(fake), terminal_size=SIZE, run_before=failed)


def test_rollback_picker(snap_compare: SnapCompare) -> None:
    async def rollback(pilot: Pilot[None]) -> None:
        await pilot.press("b")
        await _until(pilot, lambda: _rows(pilot) > 0, "the candidates")

    app = deploy_app(FakeDeployer(StepRelay()))
    assert snap_compare(app, terminal_size=SIZE, run_before=rollback)


def test_stop_confirmation(snap_compare: SnapCompare) -> None:
    async def stop(pilot: Pilot[None]) -> None:
        await pilot.press("down", "x")
        await _until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "the question")

    app = deploy_app(FakeDeployer(StepRelay()))
    assert snap_compare(app, terminal_size=SIZE, run_before=stop)
