"""A jobtui TUI process for the signal tests, driven by Pilot like an operator's keys.

``python tui_driver.py INVENTORY update SERVICE VERSION``
    builds the TUI as ``jobtui`` does (the real engine, detached runners), presses
    ``u`` on SERVICE, picks VERSION, confirms the plan, prints ``ROLLOUT <op id>``
    once the rollout view shows and then keeps the TUI running until it is killed.
``python tui_driver.py INVENTORY recover SERVICE``
    starts the TUI and waits until, at start, it has recovered SERVICE's
    unfinished operation; prints ``RECOVERED <outcome> <message>`` and quits.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

from textual.pilot import Pilot

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.cli import _detached
from jobtui.app.deploy_flow import StepRelay
from jobtui.app.dialogs.pickers import VersionPicker
from jobtui.app.dialogs.plan import PlanDialog
from jobtui.app.engine import Engine
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.backend.contract import OpKind
from jobtui.config.loader import load_inventory
from jobtui.widgets.services_table import ServicesTable
from jobtui.widgets.tags_table import TagsTable

DEADLINE = 60.0


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def update(app: JobtuiApp, service: str, version: str) -> None:
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        key = f"{service}@host-a"
        await until(pilot, lambda: key in table.keys and table.text_of(key, "state") == "running",
                    f"{key} running")  # fmt: skip
        table.focus()
        table.move_cursor(row=table.keys.index(key))
        await until(pilot, lambda: table.highlighted_key == key, f"{key} highlighted")
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, VersionPicker), "the version picker")
        tags = app.screen.query_one(TagsTable)
        await until(pilot, lambda: version in tags.keys, "the registry's tags")
        tags.move_cursor(row=tags.keys.index(version))
        await until(pilot, lambda: tags.highlighted_key == version, f"{version} highlighted")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlanDialog)
                    and app.screen.plan is not None, "the plan")  # fmt: skip
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RolloutScreen), "the rollout view")
        print("ROLLOUT", flush=True)
        while True:  # an operator watching, until the terminal goes away
            await pilot.pause(0.2)


async def recover(app: JobtuiApp, service: str) -> None:
    async with app.run_test(size=(120, 36)) as pilot:

        def recovered() -> bool:
            op = app.deploys.operations.get(service)
            return op is not None and op.kind is OpKind.RECOVER and not op.running

        await until(pilot, recovered, f"{service} recovered at start")
        result = app.deploys.operations[service].result
        assert result is not None
        print("RECOVERED", result.outcome.value, result.message, flush=True)


def main(argv: list[str]) -> None:
    inventory = load_inventory(argv[0])
    with Engine(inventory) as engine:
        relay = StepRelay()
        app = make_app(
            inventory, engine.observer(), engine.registry,
            deployer=_detached(engine.deployer("tui"), relay, False), steps=relay,
            logs=engine.log_source(), metrics=engine.metrics,
        )  # fmt: skip
        if argv[1] == "update":
            asyncio.run(update(app, argv[2], argv[3]))
        else:
            asyncio.run(recover(app, argv[2]))


if __name__ == "__main__":
    main(sys.argv[1:])
