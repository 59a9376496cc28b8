"""A whole update through the TUI's keys, on the real daemons, registry and a real Deployer.

``u`` on web → pick v2 in the registry's tags → see the plan → ``enter`` →
the rollout view until the "done" notification; then the Docker daemon itself
says web runs v2 and the stack's web port answers ``web v2``. The demo is put back
as found afterwards (``rollout_support.DemoGuard``: the original v1 container
serves again and the test's containers are removed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rollout_support import Rollouts, answer, write_inventory
from support.waiting import until
from textual.pilot import Pilot

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.deploy_flow import StepRelay
from jobtui.app.dialogs.pickers import VersionPicker
from jobtui.app.dialogs.plan import PlanDialog
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.backend.contract import Outcome
from jobtui.backend.model import LABEL_VERSION
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.backend.registry import RegistryClient
from jobtui.widgets.services_table import ServicesTable
from jobtui.widgets.tags_table import TagsTable

if TYPE_CHECKING:
    from conftest import Stack

SIZE = (120, 36)
TEST_LABEL = "jobtui-test"
"""Not `jobtui.test`: the engine keeps `jobtui.*` labels to itself."""
DEADLINE = 60.0
"""Seconds for any one stage; the real update of web takes about 3 s here."""


async def _until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    await until(pilot, condition, what, timeout=DEADLINE)
    await pilot.pause()  # let what the condition saw finish mounting


def _rollout(app: JobtuiApp) -> RolloutScreen | None:
    return app.screen if isinstance(app.screen, RolloutScreen) else None


async def _update_web_to_v2(app: JobtuiApp) -> RolloutScreen:
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        await _until(
            pilot,
            lambda: table.highlighted_key == "web@host-a"
            and table.text_of("web@host-a", "state") == "running",
            "web running on host-a in the services table",
        )
        await pilot.press("u")
        await _until(pilot, lambda: isinstance(app.screen, VersionPicker), "the version picker")
        tags = app.screen.query_one(TagsTable)
        await _until(pilot, lambda: "v2" in tags.keys, "the registry's tags")
        assert tags.text_of("v1", "tag") == "▶ v1"
        for _ in tags.keys:
            if tags.highlighted_key == "v2":
                break
            await pilot.press("down")
        assert tags.highlighted_key == "v2"
        await pilot.press("enter")

        await _until(
            pilot,
            lambda: isinstance(app.screen, PlanDialog) and app.screen.plan is not None,
            "the plan",
        )
        plan = app.screen.plan  # type: ignore[attr-defined]
        assert [(a.host, a.kind.value) for a in plan.changes] == [("host-a", "update")]
        await pilot.press("enter")

        await _until(pilot, lambda: _rollout(app) is not None, "the rollout view")
        view = _rollout(app)
        assert view is not None
        await _until(pilot, lambda: not view.op.running, "the end of the rollout")
        await _until(
            pilot,
            lambda: any("done" in n.message for n in app._notifications),
            "the finished notification",
        )
        assert view.op.result is not None
        return view


def test_update_web_from_v1_to_v2_with_the_tui_keys(stack: Stack, tmp_path: Path) -> None:
    rollouts = Rollouts(stack.inventory, tmp_path)
    try:
        # The label marks what this test creates; the plan shows it as a change too.
        inventory = write_inventory(
            stack.inventory, tmp_path, {"web": {"labels": {TEST_LABEL: "tui-deploy"}}}
        )
        relay = StepRelay()
        run = rollouts.run(inventory, on_step=relay)
        assert inventory.registry is not None
        registry = RegistryClient(inventory.registry)
        app = make_app(
            inventory,
            FleetObserver(inventory.hosts),
            registry,
            deployer=run.deployer,
            steps=relay,
        )
        try:
            view = asyncio.run(_update_web_to_v2(app))
        finally:
            registry.close()

        result = view.op.result
        assert result is not None and result.outcome is Outcome.DONE, result
        steps = [line.step for line in view.op.progress.hosts["host-a"].steps]
        assert steps[:2] == ["pull", "create"] and "health" in steps
        # The real daemon: web's one running container is the v2 this test made.
        running = [c for c in rollouts.guard.containers("host-a", "web") if c.running]
        assert [c.labels.get(LABEL_VERSION) for c in running] == ["v2"]
        assert running[0].labels.get(TEST_LABEL) == "tui-deploy"
        assert answer(stack.web_port) == "web v2"
    finally:
        # v1's original container serves again; the test's containers are removed.
        rollouts.close()
    assert answer(stack.web_port) == "web v1"
