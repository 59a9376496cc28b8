"""A service another operator is changing: its locked rows and its screen's lock line."""

from __future__ import annotations

from collections.abc import Callable

from support.fake_coordinator import FakeCoordinator
from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import NOW, SIZE, clock, inventory, snapshot, tags
from support.waiting import until
from textual.pilot import Pilot
from textual.widgets import Static

from jobtui.app.app import JobtuiApp, make_app
from jobtui.backend.contract import LockOwner
from jobtui.widgets.services_table import ServicesTable

SnapCompare = Callable[..., bool]

BOB = LockOwner("bob", "bastion-2", 4242, NOW - 180, op="deploy shop-api 1.9.0 -> 2.0.0")


def _app() -> JobtuiApp:
    coordinator = FakeCoordinator({"shop-api": BOB})
    return make_app(
        inventory(),
        FixedFleet(snapshot()),
        FixedTags(tags()),
        clock=clock,
        read_only=True,
        locks=lambda: coordinator,  # type: ignore[arg-type,return-value]
    )


def test_locked_rows(snap_compare: SnapCompare) -> None:
    async def wait_for_lock(pilot: Pilot[None]) -> None:
        table = pilot.app.screen.query_one("#services", ServicesTable)
        await until(pilot, lambda: table.lock_holder("shop-api") is not None)
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=wait_for_lock)


def test_service_screen_lock_line(snap_compare: SnapCompare) -> None:
    async def open_locked(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, JobtuiApp)
        await pilot.pause()
        app.open_service("shop-api")
        await pilot.pause()
        lock = app.screen.query_one("#lock", Static)
        await until(pilot, lambda: bool(lock.display))
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=open_locked)
