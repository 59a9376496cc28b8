"""What each screen looks like, on the fixed shop fleet with a frozen clock.

Regenerate after an intended change with ``pytest tests/snapshots
--snapshot-update`` and look at every changed SVG before committing it.
"""

from __future__ import annotations

from collections.abc import Callable

from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import (
    SIZE,
    clock,
    inventory,
    snapshot,
    tags,
    with_host,
)
from support.waiting import until
from textual.pilot import Pilot
from textual.widgets import Input

from jobtui.app.app import JobtuiApp, make_app
from jobtui.backend.model import HostStatus
from jobtui.widgets.hosts_table import HostsTable

SnapCompare = Callable[..., bool]


def _app(fleet: FixedFleet | None = None) -> JobtuiApp:
    return make_app(
        inventory(),
        fleet or FixedFleet(snapshot()),
        FixedTags(tags()),
        clock=clock,
        read_only=True,
    )


def test_main_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE)


def test_filter_active(snap_compare: SnapCompare) -> None:
    async def type_filter(pilot: Pilot[None]) -> None:
        await pilot.press("slash")
        # A blinking cursor would make the picture depend on timing.
        pilot.app.screen.query_one("#filter", Input).cursor_blink = False
        await pilot.press(*"shop-")

    assert snap_compare(_app(), terminal_size=SIZE, run_before=type_filter)


def test_service_detail_with_tags(snap_compare: SnapCompare) -> None:
    async def open_service(pilot: Pilot[None]) -> None:
        await pilot.press("down", "enter")  # shop-web on web-2, the drifted one
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=open_service)


def test_hosts_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, press=["h"])


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, press=["question_mark"])


def test_a_host_goes_down(snap_compare: SnapCompare) -> None:
    fleet = FixedFleet(snapshot())

    async def web_2_down(pilot: Pilot[None]) -> None:
        await pilot.pause()
        error = "ssh: connect to host web-2.shop.lan port 22: No route to host"
        fleet.replace(
            with_host(fleet.snapshot(), "web-2", status=HostStatus.DOWN, error=error, containers=())
        )
        hosts = pilot.app.screen.query_one("#hosts", HostsTable)
        await until(pilot, lambda: hosts.text_of("web-2", "status") == "✖ down", "web-2 down")
        await pilot.pause()

    assert snap_compare(_app(fleet), terminal_size=SIZE, run_before=web_2_down)
