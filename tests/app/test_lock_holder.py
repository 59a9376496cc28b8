"""Who holds a service's deploy lock shows in its rows and on its screen, live."""

from __future__ import annotations

from support.fake_coordinator import FakeCoordinator
from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import NOW, clock, inventory, snapshot, tags
from support.waiting import until
from textual.widgets import Static

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.lock_feed import LockFeed
from jobtui.backend.contract import LockOwner
from jobtui.widgets.services_table import ServicesTable

BOB = LockOwner("bob", "bastion-2", 4242, NOW - 180, op="deploy shop-api 1.9.0 -> 2.0.0")


def _app(coordinator: FakeCoordinator) -> JobtuiApp:
    return make_app(
        inventory(),
        FixedFleet(snapshot()),
        FixedTags(tags()),
        clock=clock,
        read_only=True,
        locks=lambda: coordinator,  # type: ignore[arg-type,return-value]
    )


def _state(app: JobtuiApp, service: str) -> list[str]:
    table = app.screen.query_one("#services", ServicesTable)
    return [table.text_of(k, "state") for k in table.keys if table.row(k).service == service]  # type: ignore[union-attr]


async def test_locked_rows_name_the_holder_live() -> None:
    coordinator = FakeCoordinator({"shop-api": BOB})
    app = _app(coordinator)
    async with app.run_test() as pilot:
        await until(
            pilot, lambda: all("locked by bob@bastion-2" in s for s in _state(app, "shop-api"))
        )
        assert not any("locked" in s for s in _state(app, "shop-web"))
        # Every lock in one question per poll, never one question per service.
        assert coordinator.polls >= 1 and coordinator.asked == []
        # The lock is released: the next poll clears the rows.
        coordinator.held.clear()
        feed = LockFeed(app.screen, lambda: ["shop-api"])  # type: ignore[arg-type]
        feed.poll(force=True)
        await until(pilot, lambda: not any("locked" in s for s in _state(app, "shop-api")))


async def test_coordinator_down_is_a_note_not_a_crash() -> None:
    coordinator = FakeCoordinator({"shop-api": BOB})
    coordinator.error = ConnectionError("etcd 127.0.0.1:2379: connection refused")
    app = _app(coordinator)
    async with app.run_test() as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        await until(pilot, lambda: "lock holders unknown" in str(table.border_subtitle))
        assert "connection refused" in str(table.border_subtitle)
        assert app.is_running


async def test_service_screen_says_who_since_when_what() -> None:
    coordinator = FakeCoordinator({"shop-api": BOB})
    app = _app(coordinator)
    async with app.run_test() as pilot:
        await pilot.pause()
        app.open_service("shop-api")
        await pilot.pause()
        lock = app.screen.query_one("#lock", Static)
        await until(pilot, lambda: lock.display and "bob" in str(lock.render()))
        text = str(lock.render())
        assert "bob@bastion-2 pid 4242" in text
        assert "deploy shop-api 1.9.0 -> 2.0.0" in text
        assert "for 3m" in text
