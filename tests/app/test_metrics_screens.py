"""Metrics in the TUI on a fixed source: table columns, service graphs, host usage, outages."""

from __future__ import annotations

import pytest
from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import SIZE, clock, inventory, snapshot, tags
from support.shop_streams import FixedMetrics
from support.waiting import until
from textual.pilot import Pilot

from jobtui.app import metrics_feed
from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.screens.hosts import HostsScreen
from jobtui.app.screens.service import ServiceScreen
from jobtui.widgets.hosts_table import HostsTable
from jobtui.widgets.metrics_graph import MetricGraph, ServiceGraphs
from jobtui.widgets.metrics_hosts import HostsUsageTable
from jobtui.widgets.services_table import ServicesTable

OUTAGE = "Prometheus at http://prometheus.shop.lan:9090: cannot connect"


def _app(metrics: FixedMetrics | None) -> JobtuiApp:
    return make_app(
        inventory(),
        FixedFleet(snapshot()),
        FixedTags(tags()),
        clock=clock,
        read_only=True,
        metrics=metrics,
    )


async def _settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_services_table_shows_cpu_sparkline_and_memory() -> None:
    metrics = FixedMetrics()
    async with _app(metrics).run_test(size=SIZE) as pilot:
        await _settle(pilot)
        table = pilot.app.screen.query_one("#services", ServicesTable)
        assert [key for key, _ in table.column_spec][-2:] == ["cpu", "mem"]
        cpu = table.text_of("shop-web@web-1", "cpu")
        spark, percent = cpu.split()
        assert len(spark) == 10 and set(spark) <= set("▁▂▃▄▅▆▇█")
        assert percent.endswith("%")
        # shop-web has a 1 GiB limit: its share is shown; shop-api has none.
        assert table.text_of("shop-web@web-1", "mem").endswith("%)")
        assert table.text_of("shop-api@web-1", "mem") == "179 MiB"
        # Rows without a running container have no usage.
        assert table.text_of("shop-api@web-2", "cpu") == ""
        assert table.text_of("mailer@web-1", "cpu").endswith(" 0.5%")
        assert "usage" in metrics.calls and "series cpu 300" in metrics.calls


async def test_without_a_metrics_source_there_are_no_usage_columns() -> None:
    async with _app(None).run_test(size=SIZE) as pilot:
        await _settle(pilot)
        table = pilot.app.screen.query_one("#services", ServicesTable)
        assert "cpu" not in [key for key, _ in table.column_spec]


async def test_an_outage_is_a_quiet_state_that_heals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_feed, "METRICS_INTERVAL", 0.1)
    metrics = FixedMetrics(fail=OUTAGE)
    app = _app(metrics)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        table = app.screen.query_one("#services", ServicesTable)
        assert "metrics unavailable" in str(table.border_subtitle)
        assert OUTAGE in str(table.border_subtitle)
        assert table.text_of("shop-web@web-1", "cpu") == "—"
        await until(pilot, lambda: metrics.calls.count("usage") >= 3)
        # Asked again and again, failing each time: still a state, never a dialog.
        assert not app._notifications and len(app.screen_stack) == 1
        metrics.fail = None
        await until(pilot, lambda: table.border_subtitle == "")
        assert table.text_of("shop-web@web-1", "cpu").endswith("%")


async def test_service_detail_graphs_and_range_key() -> None:
    metrics = FixedMetrics()
    app = _app(metrics)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_service("shop-web")
        await _settle(pilot)
        screen = app.screen
        assert isinstance(screen, ServiceScreen)
        graphs = screen.query_one(ServiceGraphs)
        cpu = graphs.graph("cpu")
        assert str(cpu.border_title).startswith("cpu ") and str(cpu.border_title).endswith("%")
        assert "15m" in str(cpu.border_subtitle)
        columns = cpu.columns
        assert len(columns) == cpu.content_region.width and all(v is not None for v in columns)
        assert str(graphs.graph("mem").border_title).startswith("memory ")
        # shop-web uses host networking: no per-container network series.
        assert graphs.graph("rx").columns == [None] * graphs.graph("rx").content_region.width
        assert {f"series {m} 900" for m in ("cpu", "mem", "rx", "tx")} <= set(metrics.calls)
        await pilot.press("m")
        await _settle(pilot)
        assert "series cpu 3600" in metrics.calls and "1h" in str(cpu.border_subtitle)
        await pilot.press("m")
        await _settle(pilot)
        assert "series cpu 300" in metrics.calls and "5m" in str(cpu.border_subtitle)


async def test_service_graphs_say_when_metrics_are_unavailable() -> None:
    app = _app(FixedMetrics(fail=OUTAGE))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_service("shop-web")
        await _settle(pilot)
        graphs = app.screen.query_one(ServiceGraphs)
        note = graphs.query_one(".service-graphs--note")
        assert note.display and OUTAGE in str(note.render())
        assert all(v is None for g in graphs.query(MetricGraph) for v in g.columns)
        assert not app._notifications


async def test_hosts_screen_shows_host_cpu_and_memory() -> None:
    app = _app(FixedMetrics())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await _settle(pilot)
        assert isinstance(app.screen, HostsScreen)
        table = app.screen.query_one("#hosts", HostsTable)
        assert isinstance(table, HostsUsageTable)
        assert table.text_of("web-1", "cpu") == "24%"
        assert table.text_of("web-2", "mem") == "11.9 GiB (74%)"
        assert table.text_of("batch-1", "cpu") == "—"  # down: no data
        # Every column fits the 120-column terminal: no sideways scrolling.
        assert table.virtual_size.width <= table.scrollable_content_region.width


async def test_a_hidden_screen_is_not_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_feed, "METRICS_INTERVAL", 0.05)
    metrics = FixedMetrics()
    app = _app(metrics)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: metrics.calls.count("usage") >= 2)
        app.open_service("shop-web")
        await _settle(pilot)
        asked = metrics.calls.count("usage")
        await until(pilot, lambda: metrics.calls.count("series cpu 900") >= 3)
        # The main screen underneath asked nothing meanwhile; the service screen did.
        assert metrics.calls.count("usage") == asked
