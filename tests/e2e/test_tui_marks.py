"""Two services marked and updated together through the TUI's keys, on the real daemons.

``space`` on web (host-a) and on api (host-b) → ``u`` → "each to its newest
registry version" → the combined plan → one ``enter`` → one rollout view of
both; then each daemon says its service runs the registry's newest version
and both ports answer with it. The demo is put back as found afterwards
(``rollout_support.DemoGuard``).
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
from jobtui.app.dialogs.confirm import ConfirmDialog
from jobtui.app.dialogs.plan import PlansDialog
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.backend.contract import Outcome
from jobtui.backend.model import LABEL_VERSION
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.backend.registry import RegistryClient, newest_version
from jobtui.widgets.services_table import ServicesTable

if TYPE_CHECKING:
    from conftest import Stack

SIZE = (120, 36)
TEST_LABEL = "jobtui-test"
DEADLINE = 60.0
"""Seconds for any one stage; the two updates together take a few seconds here."""
ROWS = ("web@host-a", "api@host-b")


async def _until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    await until(pilot, condition, what, timeout=DEADLINE)
    await pilot.pause()


async def _update_marked(app: JobtuiApp, newest: str) -> RolloutScreen:
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        await _until(pilot, lambda: all(k in table.keys and table.text_of(k, "state") == "running"
                                        for k in ROWS), "web and api running")  # fmt: skip
        # The newer column has the registry's answer: u on marks goes by the same cache.
        await _until(pilot, lambda: table.newer("web@host-a") == newest, "the newer column")
        for key in ROWS:
            table.move_cursor(row=table.keys.index(key))
            await _until(pilot, lambda key=key: table.highlighted_key == key, key)
            await pilot.press("space")
        assert table.marked == ["web", "api"]
        await pilot.press("u")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        ask = app.screen
        assert isinstance(ask, ConfirmDialog)
        # web and api share the demo/web repository: one version for all is offered too.
        assert [c.key for c in ask.choices] == ["y", "o"]
        assert f"web {newest}, api {newest}" in ask.choices[0].text
        await pilot.press("y")

        await _until(pilot, lambda: isinstance(app.screen, PlansDialog)
                     and app.screen.answered, "both plans")  # fmt: skip
        dialog = app.screen
        assert isinstance(dialog, PlansDialog)
        assert [(s, [a.host for a in p.changes]) for s, p in dialog.to_run()] == [
            ("web", ["host-a"]), ("api", ["host-b"])]  # fmt: skip
        await pilot.press("enter")

        await _until(pilot, lambda: isinstance(app.screen, RolloutScreen), "the rollout view")
        view = app.screen
        assert isinstance(view, RolloutScreen)
        assert [op.service for op in view.ops] == ["web", "api"]
        await _until(pilot, lambda: not any(op.running for op in view.ops), "both rollouts")
        summed = "2 services: 2 done"
        await _until(pilot, lambda: any(n.title == summed for n in app._notifications),
                     "the summary notification")  # fmt: skip
        assert view.state_text() == "✔ 2 services: 2 done"
        return view


def test_mark_web_and_api_and_update_both_with_one_confirmation(
    stack: Stack, tmp_path: Path
) -> None:
    rollouts = Rollouts(stack.inventory, tmp_path)
    try:
        changes = {name: {"labels": {TEST_LABEL: "tui-marks"}} for name in ("web", "api")}
        inventory = write_inventory(stack.inventory, tmp_path, changes)
        relay = StepRelay()
        run = rollouts.run(inventory, on_step=relay)
        assert inventory.registry is not None
        registry = RegistryClient(inventory.registry)
        try:
            best = newest_version(registry.tags("demo/web"))
            assert best is not None
            app = make_app(inventory, FleetObserver(inventory.hosts), registry,
                           deployer=run.deployer, steps=relay)  # fmt: skip
            view = asyncio.run(_update_marked(app, best.tag))
        finally:
            registry.close()

        for op in view.ops:
            assert op.result is not None and op.result.outcome is Outcome.DONE, op.result
        # The real daemons: each service's one running container is the newest version.
        for host, service in (("host-a", "web"), ("host-b", "api")):
            running = [c for c in rollouts.guard.containers(host, service) if c.running]
            assert [c.labels.get(LABEL_VERSION) for c in running] == [best.tag], service
            assert running[0].labels.get(TEST_LABEL) == "tui-marks"
        assert answer(stack.web_port) == f"web {best.tag}"
        assert answer(rollouts.port("api")) == f"web {best.tag}"
    finally:
        rollouts.close()
    assert answer(stack.web_port) == "web v1"
