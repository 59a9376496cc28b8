"""What logs and metrics look like, on fixed lines and fixed usage with a frozen clock.

Regenerate after an intended change with ``pytest tests/snapshots
--snapshot-update`` and look at every changed SVG before committing it.
"""

from __future__ import annotations

from collections.abc import Callable

from support.fixed_backend import FixedFleet, FixedTags
from support.fixed_logs import FixedLogSource
from support.fleet_data import SIZE, clock, inventory, snapshot, tags
from support.shop_streams import FixedMetrics, log_lines
from textual.pilot import Pilot

from jobtui.app.app import JobtuiApp, make_app

SnapCompare = Callable[..., bool]


def _app(*, fail: str | None = None) -> JobtuiApp:
    return make_app(
        inventory(),
        FixedFleet(snapshot()),
        FixedTags(tags()),
        clock=clock,
        read_only=True,
        logs=FixedLogSource(log_lines(), dropped=1234),
        metrics=FixedMetrics(fail=fail),
    )


async def _settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _open_logs(pilot: Pilot[None]) -> None:
    await _settle(pilot)
    await pilot.press("l")
    await _settle(pilot)


def test_log_view_following_two_hosts(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_open_logs)


def test_log_view_search_highlight_and_filter(snap_compare: SnapCompare) -> None:
    async def search(pilot: Pilot[None]) -> None:
        await _open_logs(pilot)
        await pilot.press("slash", *"stripe", "enter", "N", "f", "t")
        await _settle(pilot)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=search)


def test_main_table_with_cpu_sparklines(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_settle)


def test_main_table_when_metrics_are_unavailable(snap_compare: SnapCompare) -> None:
    reason = "Prometheus at http://prometheus.shop.lan:9090: cannot connect"
    assert snap_compare(_app(fail=reason), terminal_size=SIZE, run_before=_settle)


def test_service_detail_with_graphs(snap_compare: SnapCompare) -> None:
    async def open_service(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        await pilot.press("enter")  # shop-web
        await _settle(pilot)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=open_service)


def test_hosts_with_cpu_and_memory(snap_compare: SnapCompare) -> None:
    async def hosts(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        await pilot.press("h")
        await _settle(pilot)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=hosts)
