"""The inventory file broken by an edit while the TUI runs on the real stack.

The TUI is built as ``jobtui`` builds it (the real engine, the file watched)
on a copy of the stack's inventory. The copy is then edited as a hurried
operator might: a key misspelt in web's entry.

Expected (RELIABILITY.md): the edit is refused with its problem (file, line,
key), the loaded inventory stays in use (the same object, web's rows still
what the daemons report), and the engine still works from it: ``u`` on web
lists the registry's versions. A fixed edit is reloaded.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from support.waiting import until

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.cli import _detached
from jobtui.app.deploy_flow import StepRelay
from jobtui.app.dialogs.pickers import VersionPicker
from jobtui.app.engine import Engine
from jobtui.config.loader import load_inventory
from jobtui.widgets.services_table import ServicesTable
from jobtui.widgets.tags_table import TagsTable

if TYPE_CHECKING:
    from conftest import Stack

DEADLINE = 60.0


def _notes(app: JobtuiApp) -> str:
    return "\n".join(f"{n.title}\n{n.message}" for n in app._notifications)


async def _drive(app: JobtuiApp, path: Path, broken: str, fixed: str) -> dict[str, object]:
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        await until(pilot, lambda: "web@host-a" in table.keys
                    and table.text_of("web@host-a", "state") == "running",
                    "web@host-a running", timeout=DEADLINE)  # fmt: skip
        loaded = app.inventory
        path.write_text(broken)
        await until(pilot, lambda: "not reloaded" in _notes(app), "the refusal",
                    timeout=DEADLINE)  # fmt: skip
        kept = app.inventory is loaded
        state = table.text_of("web@host-a", "state")

        table.focus()
        table.move_cursor(row=table.keys.index("web@host-a"))
        await until(pilot, lambda: table.highlighted_key == "web@host-a", "web highlighted")
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, VersionPicker), "the version picker",
                    timeout=DEADLINE)  # fmt: skip
        tags = app.screen.query_one(TagsTable)
        await until(pilot, lambda: "v2" in tags.keys, "the registry's tags", timeout=DEADLINE)
        versions = set(tags.keys)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, VersionPicker), "the picker closed")

        path.write_text(fixed)
        await until(pilot, lambda: app.inventory is not loaded, "the fixed edit reloaded",
                    timeout=DEADLINE)  # fmt: skip
        web = app.inventory.service("web")
        return {"kept": kept, "state": state, "versions": versions, "notes": _notes(app),
                "reloaded_grace": web.stop_grace_period}  # fmt: skip


def test_a_broken_edit_never_replaces_the_loaded_inventory(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBTUI_STATE_DIR", str(tmp_path / "state"))
    path = tmp_path / "jobtui.yml"
    original = stack.inventory.read_text()
    path.write_text(original)
    data = yaml.safe_load(original)
    web = next(s for s in data["services"] if s["name"] == "web")
    web["stop_grace_periode"] = 3  # misspelt
    broken = yaml.safe_dump(data, sort_keys=False)
    del web["stop_grace_periode"]
    web["stop_grace_period"] = 3
    fixed = yaml.safe_dump(data, sort_keys=False)

    load = partial(load_inventory, path)
    inventory = load()
    with Engine(inventory) as engine:
        relay = StepRelay()
        app = make_app(
            inventory, engine.observer(), engine.registry,
            deployer=_detached(engine.deployer("tui"), relay, False), steps=relay,
            logs=engine.log_source(), metrics=engine.metrics, reload=load,
            inventory_poll=0.2, locks=lambda: engine.coordinator,
        )  # fmt: skip
        seen = asyncio.run(_drive(app, path, broken, fixed))
    print(seen["notes"])

    assert seen["kept"], "the broken edit replaced the loaded inventory"
    assert seen["state"] == "running"
    notes = str(seen["notes"])
    assert "not reloaded" in notes and "stop_grace_periode" in notes and str(path) in notes
    assert {"v1", "v2"} <= set(seen["versions"])  # type: ignore[call-overload]
    assert seen["reloaded_grace"] == 3.0
