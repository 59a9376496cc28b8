"""Text for usage numbers: sparklines, bar graphs, percentages, bytes and rates.

Pure functions, no Textual: the tables and graphs call them, tests check
their output by equality.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from jobtui.backend.metrics import Series
from jobtui.widgets.format import NO_VALUE

BARS = "▁▂▃▄▅▆▇█"
"""Eighths of a cell, lowest first."""

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def percent(value: float | None) -> str:
    """``7.3%`` below ten, ``42%`` above; ``—`` when unknown."""
    if value is None or math.isnan(value):
        return NO_VALUE
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"


def size(value: float | None) -> str:
    """Binary units with three significant digits: ``512 B``, ``12.3 MiB``, ``1.02 GiB``."""
    if value is None or math.isnan(value):
        return NO_VALUE
    amount, unit = float(value), _BYTE_UNITS[0]
    for unit in _BYTE_UNITS:
        if abs(amount) < 1000 or unit == _BYTE_UNITS[-1]:
            break
        amount /= 1024
    if unit == "B":
        return f"{amount:.0f} B"
    digits = 2 if abs(amount) < 10 else 1 if abs(amount) < 100 else 0
    return f"{amount:.{digits}f} {unit}"


def rate(value: float | None) -> str:
    """Bytes per second: ``1.2 MiB/s``."""
    return NO_VALUE if value is None or math.isnan(value) else f"{size(value)}/s"


def nice_top(peak: float, floor: float = 1.0, *, binary: bool = False) -> float:
    """A graph's scale: the smallest 1, 2 or 5 times a power of ten at or above ``peak``
    (at least ``floor``); with ``binary``, counted in the largest power of 1024 that
    keeps it a whole number (``500 MiB``, then ``1 GiB``)."""
    peak = max(peak, floor)
    unit = 1.0
    if binary:
        while peak / unit > 500:
            unit *= 1024
    scaled = peak / unit
    magnitude = 10.0 ** math.floor(math.log10(scaled))
    for step in (1, 2, 5, 10):
        if scaled <= step * magnitude * (1 + 1e-9):
            return step * magnitude * unit
    return 10 * magnitude * unit


def spark(values: Sequence[float], width: int, *, top: float | None = None) -> str:
    """A one-line sparkline of the last ``width`` values, scaled to ``top`` (default: their max).

    Missing history is blank on the left; a measured zero is the lowest bar,
    so an idle container still shows a line.
    """
    if width <= 0:
        return ""
    recent = list(values)[-width:]
    scale = top if top is not None else max(recent, default=0.0)
    cells = []
    for value in recent:
        if scale <= 0 or value <= 0:
            cells.append(BARS[0])
        else:
            level = min(len(BARS) - 1, int(value / scale * len(BARS)))
            cells.append(BARS[level])
    return " " * (width - len(recent)) + "".join(cells)


def resample(series: Sequence[Series], end: float, span: float, columns: int) -> list[float | None]:
    """``columns`` values covering ``span`` seconds up to ``end``: per column the
    sum over ``series`` of each one's largest point in that column; ``None`` where
    no series has a point (before a container existed, or no data)."""
    if columns <= 0 or span <= 0:
        return []
    start = end - span
    width = span / columns
    out: list[float | None] = [None] * columns
    for one in series:
        peaks: dict[int, float] = {}
        for stamp, value in zip(one.times, one.values, strict=False):
            if stamp <= start or stamp > end + width:
                continue
            # Column k covers (start + k·width, start + (k+1)·width]: the newest point is last.
            column = min(columns - 1, math.ceil((stamp - start) / width) - 1)
            peaks[column] = max(value, peaks.get(column, value))
        for column, value in peaks.items():
            known = out[column]
            out[column] = value if known is None else known + value
    return out


def bars(values: Sequence[float | None], height: int, top: float) -> list[str]:
    """Rows (top first) of a bar graph with one column per value, in eighths of a cell.

    ``None`` columns stay blank; a measured value is at least the lowest bar.
    """
    if height <= 0:
        return []
    eighths = []
    for value in values:
        if value is None:
            eighths.append(-1)
        else:
            level = round(max(0.0, value) / top * height * 8) if top > 0 else 0
            eighths.append(min(height * 8, max(1, level)))
    rows = []
    for row in range(height - 1, -1, -1):
        cells = []
        for level in eighths:
            filled = level - row * 8
            if level < 0 or filled <= 0:
                cells.append(" ")
            elif filled >= 8:
                cells.append(BARS[-1])
            else:
                cells.append(BARS[filled - 1])
        rows.append("".join(cells))
    return rows
