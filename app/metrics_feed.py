"""Ask the metrics source on a timer, from thread workers, for the screen on top.

Every call of a :class:`~jobtui.backend.metrics.base.MetricsSource` blocks (HTTP to
Prometheus, or Docker stats), so a :class:`MetricsFeed` runs it in a thread
worker and posts the answer to its screen as a message — or
:class:`~jobtui.app.messages.MetricsFailed` with a sentence, which screens show
as a quiet state rather than a dialog. A screen under another one is not
polled, and a slow source is never asked twice at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from textual.markup import escape
from textual.message import Message

from jobtui.app.messages import GraphsLoaded, HostUsageLoaded, MetricsFailed, UsageLoaded
from jobtui.app.screens.base import JobtuiScreen
from jobtui.backend.metrics import METRICS, MetricsSource, MetricsUnavailable
from jobtui.backend.model import ContainerInfo

METRICS_INTERVAL = 5.0
"""Seconds between questions; cAdvisor rates are over a minute, so more would add nothing."""
CHANGE_CHECK_INTERVAL = 1.0
"""Seconds between checks whether the containers on screen changed (asked about at once)."""
SPARK_RANGE = 300.0
"""Seconds of CPU history in the services table's sparklines."""
SPARK_POINTS = 10
GRAPH_POINTS = 60
"""Points asked per graph; the graph resamples them to its width."""

Ask = Callable[[MetricsSource, Sequence[ContainerInfo]], Message]
"""Runs in the worker: asks the source about the containers, returns the message to post."""


class MetricsFeed:
    """Polls the app's metrics source for ``screen`` while it is the current screen."""

    def __init__(
        self,
        screen: JobtuiScreen,
        ask: Ask,
        containers: Callable[[], Sequence[ContainerInfo]] = tuple,
    ) -> None:
        self._screen = screen
        self._ask = ask
        self._containers = containers
        self._busy = threading.Event()
        self._asked: frozenset[str] = frozenset()

    def start(self) -> None:
        """Ask now and every :data:`METRICS_INTERVAL` seconds (nothing without a source),
        and at once when the containers on screen change (the first fleet list, a rollout)."""
        if self._screen.jobtui.metrics is None:
            return
        self._screen.set_interval(METRICS_INTERVAL, self.poll)
        self._screen.set_interval(CHANGE_CHECK_INTERVAL, self._poll_if_changed)
        self.poll(force=True)

    def _poll_if_changed(self) -> None:
        if self._screen.is_current and self._ids() != self._asked:
            self.poll()

    def _ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self._containers())

    def poll(self, *, force: bool = False) -> None:
        """Ask once, unless a question is still out or the screen is hidden."""
        source = self._screen.jobtui.metrics
        if source is None or self._busy.is_set():
            return
        if not force and not self._screen.is_current:
            return
        self._busy.set()
        # Read on the event loop: the screen's state is not for the worker thread.
        containers = tuple(self._containers())
        self._asked = frozenset(c.id for c in containers)
        self._screen.run_worker(
            lambda: self._run(source, containers),
            name="metrics",
            group="metrics",
            thread=True,
            exit_on_error=False,
        )

    def _run(self, source: MetricsSource, containers: Sequence[ContainerInfo]) -> None:
        try:
            message = self._ask(source, containers)
        except MetricsUnavailable as exc:
            message = MetricsFailed(str(exc))
        except Exception as exc:
            # A bug or an odd answer must read as a state on screen, not kill the app.
            message = MetricsFailed(f"{type(exc).__name__}: {exc}")
        finally:
            self._busy.clear()
        self._screen.post_message(message)


def ask_usage(source: MetricsSource, containers: Sequence[ContainerInfo]) -> UsageLoaded:
    """Latest usage and recent CPU history of ``containers`` (the services table)."""
    if not containers:
        return UsageLoaded({}, {})
    usage = source.usage(containers)
    history = source.series(containers, "cpu", SPARK_RANGE, SPARK_RANGE / SPARK_POINTS)
    return UsageLoaded(usage, {ident: series.values for ident, series in history.items()})


def ask_graphs(service: str, span: float, clock: Callable[[], float]) -> Ask:
    """An :data:`Ask` for every metric of ``service``'s containers over ``span`` seconds."""

    def ask(source: MetricsSource, containers: Sequence[ContainerInfo]) -> GraphsLoaded:
        end = clock()
        series = {
            metric: source.series(containers, metric, span, span / GRAPH_POINTS) if containers
            else {}
            for metric in METRICS
        }  # fmt: skip
        return GraphsLoaded(service, series, end, span)

    return ask


def ask_hosts(hosts: Sequence[str]) -> Ask:
    """An :data:`Ask` for the usage of whole ``hosts``."""

    def ask(source: MetricsSource, _containers: Sequence[ContainerInfo]) -> HostUsageLoaded:
        return HostUsageLoaded(source.host_usage(hosts))

    return ask


def unavailable_note(reason: str) -> str:
    """Markup for a frame's subtitle saying, quietly, why there are no metrics."""
    return f"[$text-warning]metrics unavailable:[/] {escape(reason)}"
