"""The rollout view: one operation's steps on every host, live, and how it ended.

The operation runs in an app-level worker (see :mod:`jobtui.app.deploy_flow`),
so ``esc`` only leaves the view: the rollout goes on and a notification says
how it ended. Opening the service's update again shows the view again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from jobtui.app.actions import Scope, bindings
from jobtui.app.messages import OperationFinished, StepsReported
from jobtui.app.screens.base import JobtuiScreen
from jobtui.backend.contract import OpKind, OpResult, Outcome
from jobtui.backend.deploy import RolloutControl
from jobtui.widgets.steps_view import RolloutProgress, StepsView, summarize

OUTCOME_ICONS = {
    Outcome.DONE: "✔",
    Outcome.FAILED: "✖",
    Outcome.ABORTED: "■",
    Outcome.LOCKED: "⚿",
    Outcome.CHANGED: "↻",
}


@dataclass
class Operation:
    """One mutating operation of this session, as the rollout view shows it."""

    kind: OpKind
    service: str
    title: str
    """What it does, e.g. ``deploy web v1 → v2``."""
    progress: RolloutProgress
    control: RolloutControl | None = None
    """Pause, resume and abort; only rollouts (deploy, rollback) have one."""
    started: float = 0.0
    result: OpResult | None = field(default=None)

    @property
    def running(self) -> bool:
        return self.result is None

    def finish(self, result: OpResult) -> None:
        self.result = result
        self.progress.finish(result)


def state_line(op: Operation) -> Text:
    """The overall state: running / paused / aborting, or the outcome and its reason."""
    text = Text(end="")
    counts = summarize(list(op.progress.hosts.values()))
    result = op.result
    if result is None:
        control = op.control
        if control is not None and control.aborted:
            text.append("■ aborting", "bold")
            text.append(" — hosts already done keep the new version")
        elif control is not None and control.paused:
            text.append("⏸ paused", "bold")
            text.append(" — the next batch waits; r resumes, a aborts")
        else:
            text.append("◐ running", "bold")
        if counts:
            text.append(f" · {counts}")
        return text
    text.append(f"{OUTCOME_ICONS.get(result.outcome, '?')} {result.outcome.value}", "bold")
    if result.finished > result.started > 0:
        text.append(f" in {result.finished - result.started:.1f}s")
    if counts:
        text.append(f" · {counts}")
    if result.message:
        text.append(f" — {result.message}")
    return text


class RolloutScreen(JobtuiScreen):
    """Per-host steps of one operation; ``p``/``r``/``a`` steer a running rollout."""

    CSS_PATH = "rollout.tcss"
    AUTO_FOCUS = "#steps-box"

    BINDINGS = bindings(Scope.ROLLOUT)

    def __init__(self, op: Operation) -> None:
        super().__init__()
        self.op = op

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="rollout-state")
        with VerticalScroll(id="steps-box", classes="panel"):
            yield StepsView(self.op.progress, id="steps")
        with VerticalScroll(id="failure-box", classes="panel"):
            # A Static wraps the long lines a crashing program writes; a Log would not.
            yield Static(id="failure-log", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#steps-box").border_title = self.op.title
        self._repaint()
        self._show_failure()

    @property
    def steps(self) -> StepsView:
        return self.query_one(StepsView)

    def on_steps_reported(self, message: StepsReported) -> None:
        # The flow already folded the events into the operation's progress.
        self._repaint()

    def on_operation_finished(self, message: OperationFinished) -> None:
        self._repaint()
        self._show_failure()
        self.refresh_bindings()

    def state_text(self) -> str:
        """The overall state line as plain text (for tests)."""
        return state_line(self.op).plain

    def _repaint(self) -> None:
        self.query_one("#rollout-state", Static).update(state_line(self.op))
        self.query_one("#rollout-state").set_class(
            self.op.result is not None and self.op.result.outcome is not Outcome.DONE, "-failed"
        )
        self.steps.refresh(layout=True)

    def failure_lines(self) -> list[str]:
        """The failed containers' last log lines as shown (host-prefixed when several)."""
        failures = [h for h in self.op.progress.failures if h.logs]
        many = len(failures) > 1
        return [f"{h.host}  {line}" if many else line for h in failures for line in h.logs]

    def _show_failure(self) -> None:
        box = self.query_one("#failure-box")
        failures = [h.host for h in self.op.progress.failures if h.logs]
        box.display = bool(failures)
        if not failures:
            return
        self.query_one("#failure-log", Static).update("\n".join(self.failure_lines()))
        where = f" on {failures[0]}" if len(failures) == 1 else "s"
        box.border_title = f"last log lines of the failed container{where}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        control = self.op.control
        if action in ("pause", "resume", "abort"):
            if control is None or not self.op.running or control.aborted:
                return False
            if action == "pause":
                return not control.paused
            if action == "resume":
                return control.paused
        return True

    def action_pause(self) -> None:
        if self.op.control is not None:
            self.op.control.pause()
            self.notify(f"{self.op.service}: pausing — the batch under way finishes first.")
        self._steered()

    def action_resume(self) -> None:
        if self.op.control is not None:
            self.op.control.resume()
        self._steered()

    def action_abort(self) -> None:
        if self.op.control is not None:
            self.op.control.abort()
            self.notify(
                f"{self.op.service}: aborting after the batch under way.", severity="warning"
            )
        self._steered()

    def _steered(self) -> None:
        self._repaint()
        self.refresh_bindings()
