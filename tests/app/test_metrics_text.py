"""Usage as text: sparklines, bar graphs, scales and units."""

from __future__ import annotations

from jobtui.backend.metrics.base import Series, Usage
from jobtui.widgets.metrics_cells import container_cells, cpu_cell, mem_cell
from jobtui.widgets.metrics_spark import bars, nice_top, percent, rate, resample, size, spark

MIB = 1024**2


def test_units_read_like_docker_stats() -> None:
    assert percent(7.25) == "7.2%" and percent(42.4) == "42%" and percent(None) == "—"
    assert size(512) == "512 B" and size(37 * MIB) == "37.0 MiB"
    assert size(1.5 * 1024**3) == "1.50 GiB"
    assert size(None) == "—"
    assert rate(2048) == "2.00 KiB/s" and rate(None) == "—"


def test_scales_are_round_numbers() -> None:
    assert [nice_top(v) for v in (0.2, 3.2, 37, 120, 1000)] == [1, 5, 50, 200, 1000]
    assert nice_top(810 * MIB, binary=True) == 1024**3
    assert nice_top(400 * MIB, binary=True) == 500 * MIB
    assert nice_top(3 * 1024**3, binary=True) == 5 * 1024**3


def test_spark_scales_to_its_peak_and_pads_missing_history() -> None:
    assert spark([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert spark([1, 1], 4) == "  ██"
    assert spark([0.1, 0.2], 2, top=100) == "▁▁"  # idle noise stays flat
    assert spark([], 3) == "   " and spark([5], 0) == ""


def test_bars_fill_eighths_from_the_bottom_and_leave_no_data_blank() -> None:
    assert bars([0, 1, None, 4, 8], 2, 8) == ["    █", "▁▂ ██"]
    assert bars([16], 2, 8) == ["█", "█"]  # above the scale: clipped, not wrapped
    assert bars([1], 0, 8) == []


def test_resample_sums_instances_per_column_and_keeps_gaps() -> None:
    a = Series((10.0, 20.0, 30.0, 40.0), (1.0, 2.0, 3.0, 4.0))
    b = Series((30.0, 40.0), (10.0, 20.0))
    assert resample([a, b], end=40.0, span=40.0, columns=4) == [1.0, 2.0, 13.0, 24.0]
    assert resample([b], end=40.0, span=40.0, columns=4) == [None, None, 10.0, 20.0]
    assert resample([a], end=40.0, span=0.0, columns=4) == []


def test_table_cells() -> None:
    assert cpu_cell([], None, top=None).text == "—"
    assert cpu_cell([50.0, 100.0], 100.0, top=100.0).text == "        ▅█ 100%"
    usage = Usage(12.0, 900 * MIB, 1024 * MIB, None, None)
    assert mem_cell(usage).text == "900 MiB (88%)" and mem_cell(usage).role == ""
    full = Usage(12.0, 1000 * MIB, 1024 * MIB, None, None)
    assert mem_cell(full).role == "warn"
    assert mem_cell(Usage(None, None, None, None, None)).text == "—"
    cells = container_cells(None, (0.2, 0.4))
    assert cells["cpu"].text.endswith(" 0.4%") and cells["mem"].text == "—"
