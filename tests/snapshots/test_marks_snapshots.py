"""Marked services on the fixed shop fleet: the marks, the combined plan, the rollout view of many.

The engine is ``ManyDeployer`` (tests/support/many_data.py): the real planner on
the fixed fleet, and the scripted shop-web rollout played for every service.
"""

from __future__ import annotations

from collections.abc import Callable

from support.fixed_logs import FixedLogSource
from support.fleet_data import MIDWAY, SIZE
from support.many_data import many_app, many_deployer, starting_logs
from support.waiting import until
from textual.pilot import Pilot

from jobtui.app.dialogs.plan import PlansDialog
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.backend.contract import StepStatus
from jobtui.widgets.services_table import ServicesTable

SnapCompare = Callable[..., bool]


async def _mark(pilot: Pilot[None], *keys: str) -> None:
    table = pilot.app.screen.query_one("#services", ServicesTable)
    for key in keys:
        table.move_cursor(row=table.keys.index(key))
        await until(pilot, lambda key=key: table.highlighted_key == key, key)  # type: ignore[misc]
        await pilot.press("space")
    table.move_cursor(row=0)
    await until(pilot, lambda: table.cursor_row == 0, "the cursor back on top")


async def _combined_plan(pilot: Pilot[None]) -> None:
    await _mark(pilot, "shop-web@web-1", "shop-api@web-1", "mailer@web-1")
    await pilot.press("u", "y")
    await until(pilot, lambda: isinstance(pilot.app.screen, PlansDialog)
                and pilot.app.screen.answered, "every plan")  # fmt: skip
    await pilot.pause()


def test_services_table_with_marks(snap_compare: SnapCompare) -> None:
    async def marked(pilot: Pilot[None]) -> None:
        await _mark(pilot, "shop-web@web-2", "mailer@web-1")
        await pilot.pause()

    assert snap_compare(many_app(many_deployer()), terminal_size=SIZE, run_before=marked)


def test_combined_plan_of_marked_services(snap_compare: SnapCompare) -> None:
    assert snap_compare(many_app(many_deployer()), terminal_size=SIZE, run_before=_combined_plan)


def test_rollout_view_of_two_services_midway(snap_compare: SnapCompare) -> None:
    fake = many_deployer()
    fake.hold_at, fake.hold_services = MIDWAY, frozenset({"shop-web", "shop-api"})

    def at_health(view: RolloutScreen) -> bool:
        hosts = [op.progress.hosts.get("web-2") for op in view.ops]
        return all(h is not None and h.steps and h.steps[-1].step == "health"
                   and h.steps[-1].status is StepStatus.RUNNING for h in hosts)  # fmt: skip

    async def midway(pilot: Pilot[None]) -> None:
        await _combined_plan(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen), "the view")
        view = pilot.app.screen
        assert isinstance(view, RolloutScreen)
        await until(pilot, lambda: at_health(view), "both at web-2's health check")
        await until(pilot, lambda: view.op.progress.tails.get("web-2"), "shop-web's log tail")
        await pilot.pause()

    app = many_app(fake, logs=FixedLogSource(starting_logs()))
    assert snap_compare(app, terminal_size=SIZE, run_before=midway)
