"""Bar graphs of a service's CPU, memory and network over a selectable range."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Static

from jobtui.backend.metrics import Series
from jobtui.widgets.format import NO_VALUE, compact_duration
from jobtui.widgets.metrics_spark import bars, nice_top, percent, rate, resample, size

GRAPHS: tuple[tuple[str, str, Callable[[float | None], str], float], ...] = (
    ("cpu", "cpu", percent, 1.0),
    ("mem", "memory", size, 1024.0**2),
    ("rx", "net rx", rate, 1024.0),
    ("tx", "net tx", rate, 1024.0),
)
"""Metric, title, how its values read, and the smallest scale (so noise stays flat).
Every metric but CPU is in bytes and gets a binary scale."""


class MetricGraph(Widget):
    """One metric as bars, newest on the right; the title says the latest value."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"metric-graph--bar", "metric-graph--empty"}

    DEFAULT_CSS = """
    MetricGraph {
        height: 1fr;
        width: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
        content-align: center middle;
        & > .metric-graph--bar { color: $primary; }
        & > .metric-graph--empty { color: $text-muted; }
        &.-mem > .metric-graph--bar { color: $success; }
        &.-rx > .metric-graph--bar { color: $secondary; }
        &.-tx > .metric-graph--bar { color: $warning; }
    }
    """

    def __init__(
        self,
        metric: str,
        title: str,
        fmt: Callable[[float | None], str],
        floor: float,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=f"-{metric}")
        self.metric = metric
        self.title = title
        self._fmt = fmt
        self._floor = floor
        self._series: tuple[Series, ...] = ()
        self._end = 0.0
        self._span = 0.0
        self._empty = "waiting for data …"
        self._top: float | None = None
        self.border_title = title

    def show(self, series: Sequence[Series], end: float, span: float, *, empty: str) -> None:
        """Graph the sum of ``series`` over ``span`` seconds up to ``end``."""
        self._series, self._end, self._span, self._empty = tuple(series), end, span, empty
        latest = [one.values[-1] for one in self._series if one.values]
        value = sum(latest) if latest else None
        self.border_title = f"{self.title} {self._fmt(value)}" if value is not None else self.title
        self._scale()
        self.refresh()

    @property
    def columns(self) -> list[float | None]:
        """What the bars show, one value per column of the graph."""
        return resample(self._series, self._end, self._span, self.content_region.width)

    def on_resize(self) -> None:
        self._scale()

    def _scale(self) -> None:
        known = [v for v in self.columns if v is not None]
        span = compact_duration(self._span) if self._span else NO_VALUE
        top = max(known, default=0.0)
        binary = self.metric != "cpu"
        self._top = nice_top(top, self._floor, binary=binary) if known else None
        self.border_subtitle = f"scale {self._fmt(self._top)} · {span}" if known else span

    def render(self) -> RenderResult:
        width, height = self.content_region.width, self.content_region.height
        values = self.columns
        if self._top is None or not any(v is not None for v in values):
            style = self.get_component_rich_style("metric-graph--empty")
            return Text(self._empty[:width], style=style, end="")
        style = self.get_component_rich_style("metric-graph--bar")
        return Text("\n".join(bars(values, height, self._top)), style=style, no_wrap=True, end="")


class ServiceGraphs(Widget):
    """CPU, memory, network rx and tx of a service: its instances summed."""

    DEFAULT_CSS = """
    ServiceGraphs {
        height: 9;
        & > Horizontal { height: 1fr; }
        & > .service-graphs--note { color: $text-muted; padding: 0 1; height: auto; }
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(classes="service-graphs--note", markup=False)
        with Horizontal():
            for metric, title, fmt, floor in GRAPHS:
                yield MetricGraph(metric, title, fmt, floor, id=f"graph-{metric}")

    def on_mount(self) -> None:
        self._note("")

    def graph(self, metric: str) -> MetricGraph:
        return self.query_one(f"#graph-{metric}", MetricGraph)

    def show(
        self,
        series: Mapping[str, Mapping[str, Series]],
        end: float,
        span: float,
        *,
        host_network: bool = False,
    ) -> None:
        """``series[metric][container id]``, over ``span`` seconds up to ``end``."""
        self._note("")
        for metric, _, _, _ in GRAPHS:
            empty = "no data"
            if metric in ("rx", "tx") and host_network:
                empty = "none: host network"
            self.graph(metric).show(list(series.get(metric, {}).values()), end, span, empty=empty)

    def show_unavailable(self, reason: str) -> None:
        """Metrics cannot be had: say so once, quietly, and keep the graphs empty."""
        self._note(f"metrics unavailable: {reason}")
        for metric, _, _, _ in GRAPHS:
            self.graph(metric).show((), 0.0, 0.0, empty="unavailable")

    def _note(self, text: str) -> None:
        note = self.query_one(".service-graphs--note", Static)
        note.update(text)
        note.display = bool(text)
