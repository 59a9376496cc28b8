"""Table cells for usage: a CPU sparkline with the latest percentage, and memory."""

from __future__ import annotations

from collections.abc import Sequence

from jobtui.backend.metrics import Usage
from jobtui.widgets.format import NO_VALUE
from jobtui.widgets.keyed_table import Cell
from jobtui.widgets.metrics_spark import nice_top, percent, size, spark

SPARK_WIDTH = 10
"""Samples of CPU history in a cell."""

METRIC_COLUMNS = (("cpu", "cpu"), ("mem", "memory"))
"""The columns a table adds to show usage."""


def cpu_cell(history: Sequence[float], latest: float | None, *, top: float | None) -> Cell:
    """A sparkline of ``history`` and the latest percentage, e.g. ``▁▁▂▅▃ 42%``."""
    if latest is None:
        return Cell(NO_VALUE, "muted")
    return Cell(f"{spark(history, SPARK_WIDTH, top=top)} {percent(latest):>4}")


def mem_cell(usage: Usage | None) -> Cell:
    """The working set, and the share of the limit when there is one: ``5.20 GiB (33%)``."""
    if usage is None or usage.mem_bytes is None:
        return Cell(NO_VALUE, "muted")
    if usage.mem_limit:
        share = usage.mem_bytes / usage.mem_limit * 100
        return Cell(f"{size(usage.mem_bytes)} ({share:.0f}%)", "warn" if share >= 90 else "")
    return Cell(size(usage.mem_bytes))


def container_cells(usage: Usage | None, history: Sequence[float]) -> dict[str, Cell]:
    """The ``cpu`` and ``mem`` cells of one container; its sparkline scales to its own peak
    (at least 1%, so that idle noise stays flat)."""
    cpu = usage.cpu_percent if usage is not None else None
    if cpu is None and history:
        cpu = history[-1]
    top = nice_top(max(history, default=0.0), 1.0)
    return {"cpu": cpu_cell(history, cpu, top=top), "mem": mem_cell(usage)}
