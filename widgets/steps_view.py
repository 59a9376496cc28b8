"""Live per-host steps of one operation (pull, create, start, health, stop-old …).

:class:`RolloutProgress` folds the engine's :class:`StepEvent` stream and the
final :class:`OpResult` into per-host step lists; it is plain data, so a view
that is closed and opened again shows everything that happened meanwhile.
Its :attr:`RolloutProgress.tails` hold the newest log lines of each host's new
container while it starts. :class:`StepsView` draws one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from jobtui.backend.contract import HostOutcome, HostResult, OpResult, StepEvent, StepStatus
from jobtui.widgets.format import NO_VALUE

STEP_ICONS = {
    StepStatus.RUNNING: "◐",
    StepStatus.OK: "✔",
    StepStatus.FAILED: "✖",
    StepStatus.SKIPPED: "-",
}
WAITING_ICON = "·"

TAIL_MARK = "│"
"""Put before each log line of a starting container."""

STEP_WIDTH = 10
"""Room for the longest step name (``remove-new``), so messages line up."""

HOST_WAITING = "waiting"
HOST_RUNNING = "running"
HOST_DONE = "done"
HOST_FAILED = "failed"
HOST_REVERTED = "reverted"
"""Updated, then put back on its old container after another host failed."""
HOST_UNTOUCHED = "untouched"
"""Never attempted: the rollout stopped (failure or abort) before this host."""

HOST_ENDS = {
    HostOutcome.UPDATED: HOST_DONE,
    HostOutcome.DONE: HOST_DONE,
    HostOutcome.UNCHANGED: HOST_DONE,
    HostOutcome.RESTORED: HOST_REVERTED,
    HostOutcome.FAILED: HOST_FAILED,
    HostOutcome.SKIPPED: HOST_UNTOUCHED,
    HostOutcome.ABORTED: HOST_UNTOUCHED,
}
"""The engine's end state of a host → the word the view shows for it."""

HOST_ROLES = {
    HOST_DONE: "ok",
    HOST_FAILED: "failed",
    HOST_RUNNING: "running",
    HOST_REVERTED: "warn",
}
HOST_ICONS = {
    HOST_DONE: "✔",
    HOST_FAILED: "✖",
    HOST_RUNNING: "◐",
    HOST_REVERTED: "↺",
    HOST_UNTOUCHED: "-",
}


@dataclass
class StepLine:
    """One step on one host as last reported."""

    step: str
    status: StepStatus
    message: str = ""
    started: float = 0.0
    finished: float | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from the step's first report to its end, once it ended."""
        if self.finished is None or not self.started:
            return None
        return max(0.0, self.finished - self.started)


@dataclass
class HostProgress:
    """What happened on one host: its steps in order, and its result at the end."""

    host: str
    steps: list[StepLine] = field(default_factory=list)
    result: HostResult | None = None

    @property
    def state(self) -> str:
        """``waiting``, ``running``, ``done``, ``failed``, ``reverted`` or ``untouched``."""
        if self.result is not None:
            return HOST_ENDS[self.result.end]
        if not self.steps:
            return HOST_WAITING
        if any(s.status is StepStatus.FAILED for s in self.steps):
            return HOST_FAILED
        # The engine sends no per-host end: a host whose steps all ended well
        # has finished its part (a later revert would report new steps).
        if any(s.status is StepStatus.RUNNING for s in self.steps):
            return HOST_RUNNING
        return HOST_DONE


class RolloutProgress:
    """Per-host steps of one operation, built from its events and its result."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self.hosts: dict[str, HostProgress] = {h: HostProgress(h) for h in hosts}
        """Host name → progress, in the order hosts were announced or first reported."""
        self.result: OpResult | None = None
        self.tails: dict[str, tuple[str, ...]] = {}
        """Host → the last log lines of its new container, shown while the host runs."""

    def add(self, event: StepEvent) -> None:
        """Fold one event in: a new step, or the latest state of a step already shown."""
        host = self.hosts.setdefault(event.host, HostProgress(event.host))
        line = host.steps[-1] if host.steps and host.steps[-1].step == event.step else None
        if line is None or line.status is not StepStatus.RUNNING:
            # A step name can come back later (a restore starts the old
            # container again): only the running step is updated in place.
            line = StepLine(event.step, event.status, event.message, started=event.time)
            host.steps.append(line)
        line.status = event.status
        if event.message:
            line.message = event.message
        if event.status is not StepStatus.RUNNING:
            line.finished = event.time

    def extend(self, events: Iterable[StepEvent]) -> None:
        for event in events:
            self.add(event)

    def finish(self, result: OpResult) -> None:
        """Record the operation's end: each host's outcome and any failure details."""
        self.result = result
        for outcome in result.hosts:
            host = self.hosts.setdefault(outcome.host, HostProgress(outcome.host))
            host.result = outcome
            for line in host.steps:
                # A step still "running" when its host ended never finished.
                if line.status is StepStatus.RUNNING:
                    line.status = StepStatus.OK if outcome.ok else StepStatus.FAILED

    def count(self, state: str) -> int:
        """How many hosts are in ``state`` (``done``, ``failed`` …)."""
        return sum(1 for host in self.hosts.values() if host.state == state)

    @property
    def failures(self) -> list[HostResult]:
        """The hosts that failed, with their reasons and log lines (after the end)."""
        if self.result is None:
            return []
        return [h for h in self.result.hosts if h.end is HostOutcome.FAILED]


class StepsView(Widget):
    """Every host of a :class:`RolloutProgress`: a headline, then one line per step."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "steps-view--host",
        "steps-view--ok",
        "steps-view--running",
        "steps-view--failed",
        "steps-view--warn",
        "steps-view--muted",
    }

    DEFAULT_CSS = """
    StepsView {
        height: auto;
        & > .steps-view--host { text-style: bold; }
        & > .steps-view--ok { color: $text-success; }
        & > .steps-view--running { color: $text-accent; text-style: bold; }
        & > .steps-view--failed { color: $text-error; text-style: bold; }
        & > .steps-view--warn { color: $text-warning; }
        & > .steps-view--muted { color: $text-muted; }
    }
    """

    def __init__(
        self, progress: RolloutProgress, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.progress = progress

    def on_mount(self) -> None:
        # Rendered styles come from the theme: repaint when it changes.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def lines(self) -> list[str]:
        """What is shown, as plain text lines (for tests)."""
        return self.render_text().plain.splitlines()

    def render(self) -> Text:
        return self.render_text()

    def render_text(self) -> Text:
        """The whole view as one styled text."""
        text = Text(end="")
        hosts = list(self.progress.hosts.values())
        if not hosts:
            text.append("waiting for the first step …", self._style("muted"))
        width = max((len(h.host) for h in hosts), default=0)
        for index, host in enumerate(hosts):
            if index:
                text.append("\n\n")
            self._host_lines(text, host, width)
        return text

    def _host_lines(self, text: Text, host: HostProgress, width: int) -> None:
        state = host.state
        role = HOST_ROLES.get(state, "muted")
        text.append(host.host.ljust(width), self._style("host"))
        text.append("  ")
        text.append(f"{HOST_ICONS.get(state, WAITING_ICON)} {state}", self._style(role))
        result = host.result
        if result is not None and result.ok:
            parts = (_versions(result.from_version, result.to_version), result.container)
            text.append(f"  {' · '.join(p for p in parts if p)}", self._style("muted"))
        elif result is not None and result.reason:
            # Reasons run long (a health check's output): a line of their own.
            text.append(f"\n  {result.reason}", self._style(role))
        for line in host.steps:
            text.append("\n  ")
            self._step_line(text, line)
        if state == HOST_RUNNING:
            # The new container's own words while it starts: why a health check waits.
            for log in self.progress.tails.get(host.host, ()):
                text.append(f"\n    {TAIL_MARK} ", self._style("muted"))
                text.append(log, self._style("muted"))

    def _step_line(self, text: Text, line: StepLine) -> None:
        role = {
            StepStatus.OK: "ok",
            StepStatus.FAILED: "failed",
            StepStatus.RUNNING: "running",
        }.get(line.status, "muted")
        text.append(f"{STEP_ICONS.get(line.status, WAITING_ICON)} ", self._style(role))
        text.append(f"{line.step:<{STEP_WIDTH}} ", self._style(role))
        duration = "" if line.duration is None else _seconds(line.duration)
        text.append(f"{duration:>6}  ", self._style("muted"))
        text.append(line.message, self._style("failed" if role == "failed" else ""))

    def _style(self, role: str) -> Style:
        if not role:
            return Style()
        return self.get_component_rich_style(f"steps-view--{role}", partial=True)


def _versions(before: str | None, after: str | None) -> str:
    if before == after:
        return after or ""
    return f"{before or NO_VALUE} → {after or NO_VALUE}"


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 60 else f"{int(value // 60)}m{int(value % 60):02d}s"


def summarize(hosts: Sequence[HostProgress]) -> str:
    """``2 done · 1 running · 1 waiting`` for an overall state line."""
    counts: dict[str, int] = {}
    for host in hosts:
        counts[host.state] = counts.get(host.state, 0) + 1
    order = (HOST_DONE, HOST_FAILED, HOST_REVERTED, HOST_RUNNING, HOST_WAITING, HOST_UNTOUCHED)
    return " · ".join(f"{counts[state]} {state}" for state in order if counts.get(state))
