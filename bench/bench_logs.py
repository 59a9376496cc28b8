"""How fast log lines go into the log view: batched as the logs screen does, or one by one.

The machine is shared and noisy, so every figure is the median of several
rounds, compared with a baseline measured in the same process: the same
widget fed one line per call, as a naive consumer would. Each round mounts a
fresh view, writes 10,000 lines and paints the visible rows once. Writes
bench/results_logs.md.

    .venv/bin/python bench/bench_logs.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Log

from jobtui.backend.logs.lines import LogLine
from jobtui.widgets.log_view import LogView

LINES = 10_000
BATCH = 1_000
"""Lines per write when batched: 100 ms of a 10,000 lines/s stream."""
ROUNDS = 5
OUT = Path(__file__).with_name("results_logs.md")


def make_lines(count: int) -> list[LogLine]:
    hosts = ("host-a", "host-b")
    return [
        LogLine(hosts[i % 2], f"worker_{1717231680 + i % 2}", 1717231680.0 + i / 1000,
                f'10.0.3.{i % 250} - - "GET /api/cart/{i} HTTP/1.1" 200 {512 + i} 12ms')
        for i in range(count)
    ]  # fmt: skip


class Bench(App[None]):
    def compose(self) -> ComposeResult:
        yield from ()


async def timed(app: Bench, make: Callable[[], Widget], feed: Callable[[Widget], None]) -> float:
    """Seconds ``feed`` takes on a freshly mounted widget, plus painting what is visible."""
    widget = make()
    await app.mount(widget)
    await asyncio.sleep(0)
    start = time.perf_counter()
    feed(widget)
    # A view that is fast to write but slow to paint must not look good.
    widget.render_lines(widget.size.region)
    elapsed = time.perf_counter() - start
    await widget.remove()
    return elapsed


async def median(app: Bench, make: Callable[[], Widget], feed: Callable[[Widget], None]) -> float:
    return statistics.median([await timed(app, make, feed) for _ in range(ROUNDS)])


def batched(widget: Widget, data: Sequence[LogLine]) -> None:
    assert isinstance(widget, LogView)
    for index in range(0, len(data), BATCH):
        widget.write_lines(data[index : index + BATCH])


def one_by_one(widget: Widget, data: Sequence[LogLine]) -> None:
    assert isinstance(widget, LogView)
    for line in data:
        widget.write_lines([line])


def textual_log_batched(widget: Widget, data: Sequence[str]) -> None:
    assert isinstance(widget, Log)
    for index in range(0, len(data), BATCH):
        widget.write_lines(data[index : index + BATCH])


async def measure() -> list[tuple[str, float]]:
    lines = make_lines(LINES)
    texts = [f"{line.prefix} | {line.text}" for line in lines]
    found: list[tuple[str, float]] = []
    app = Bench()
    async with app.run_test(size=(120, 36)):
        runs: list[tuple[str, type[Widget], Callable[..., None], Sequence[object]]] = [
            ("LogView, one write_lines per line (baseline)", LogView, one_by_one, lines),
            (f"LogView, one write_lines per {BATCH:,} lines (as the logs screen)", LogView,
             batched, lines),
            (f"Textual's Log, one write_lines per {BATCH:,} lines (reference)", Log,
             textual_log_batched, texts),
        ]  # fmt: skip
        for what, widget, feed, data in runs:
            found.append((what, await median(app, widget, partial(feed, data=data))))
    return found


def main() -> None:
    found = asyncio.run(measure())
    base = found[0][1]
    table = [
        f"{LINES:,} log lines into a 120x36 view and painted, median of {ROUNDS} rounds; "
        "speed-up = baseline time / time.",
        "",
        "| what | time | lines/s | speed-up |",
        "|---|---|---|---|",
        *(
            f"| {what} | {seconds * 1e3:.1f} ms | {LINES / seconds:,.0f} | {base / seconds:.1f}x |"
            for what, seconds in found
        ),
        "",
        "Textual's Log measures line widths later in a thread worker (not in its time) and has",
        "no prefixes, search, filter or wrap; it is there to show the batched view is in its",
        "league. Line by line, every call relays out, scrolls and schedules a repaint.",
    ]
    OUT.write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
