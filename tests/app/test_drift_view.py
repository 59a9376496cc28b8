"""Drift reported by the engine shows in the services table, checked off the event loop."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import SIZE, clock, inventory, snapshot, tags
from support.waiting import until

from jobtui.app.app import make_app
from jobtui.backend.docker.spec import FieldDiff
from jobtui.backend.model import FleetSnapshot
from jobtui.widgets.services_table import ServicesTable


class RecordingDrift:
    """A drift check that reports envs.DEBUG on one row and remembers its thread."""

    def __init__(self) -> None:
        self.threads: set[str] = set()
        self.calls = 0

    def __call__(self, fleet: FleetSnapshot) -> Mapping[str, Sequence[FieldDiff]]:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        return {"shop-web@web-1": (FieldDiff("envs.DEBUG", "(none)", "1"),)}


async def test_drifted_instance_reads_drifted_and_others_keep_their_state() -> None:
    check = RecordingDrift()
    fleet = FixedFleet(snapshot())
    app = make_app(inventory(), fleet, FixedTags(tags()), clock=clock, drift=check)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        await until(pilot, lambda: table.text_of("shop-web@web-1", "state") == "drifted", "drift")
        assert table.text_of("shop-web@web-2", "state") == "running"
        assert [str(d) for d in table.drift("shop-web@web-1")] == ["envs.DEBUG: 1 -> (none)"]
        assert check.calls >= 1
        assert threading.main_thread().name not in check.threads


class _CountingFleet(FixedFleet):
    """Counts snapshot reads: the app reads one when built, then one per fleet update."""

    reads = 0

    def snapshot(self) -> FleetSnapshot:
        self.reads += 1
        return super().snapshot()


async def test_no_drift_check_keeps_states_as_observed() -> None:
    fleet = _CountingFleet(snapshot())
    app = make_app(inventory(), fleet, FixedTags(tags()), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        # After the first fleet update a drift check, if there were one, would have run.
        await until(pilot, lambda: fleet.reads >= 2, "the first fleet update")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#services", ServicesTable)
        assert table.text_of("shop-web@web-1", "state") == "running"
