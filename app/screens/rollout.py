"""The rollout view: the steps of one or more operations on every host, live, and how they ended.

One operation (``u`` on one service) or several (``u`` or ``R`` on marked
services) share one view: with several, every service gets its own state
line above its hosts' steps, and the top line sums them up ("3 services:
2 done, 1 running"); ``p``/``r``/``a`` steer every rollout shown. While a
host's new container starts, its last log lines show below its steps.

The operations run in app-level workers (see :mod:`jobtui.app.deploy_flow`),
so ``esc`` only leaves the view: they go on and notifications say how they
ended. Opening a service's update again shows the view again.
"""

from __future__ import annotations

from collections.abc import Sequence
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

RUNNING = "running"
PAUSED = "paused"
ABORTING = "aborting"
STATE_ORDER = (
    Outcome.DONE.value, Outcome.FAILED.value, Outcome.ABORTED.value, Outcome.LOCKED.value,
    Outcome.CHANGED.value, RUNNING, PAUSED, ABORTING,
)  # fmt: skip
"""The order the overall line counts operations in."""


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

    @property
    def state(self) -> str:
        """``running``, ``paused``, ``aborting`` or the outcome's word (``done`` …)."""
        if self.result is not None:
            return self.result.outcome.value
        control = self.control
        if control is not None and control.aborted:
            return ABORTING
        if control is not None and control.paused:
            return PAUSED
        return RUNNING

    def finish(self, result: OpResult) -> None:
        self.result = result
        self.progress.finish(result)


def state_line(op: Operation) -> Text:
    """The overall state: running / paused / aborting, or the outcome and its reason."""
    text = Text(end="")
    counts = summarize(list(op.progress.hosts.values()))
    result = op.result
    if result is None:
        state = op.state
        if state == ABORTING:
            text.append("■ aborting", "bold")
            text.append(" — hosts already done keep the new version")
        elif state == PAUSED:
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


def overall_line(ops: Sequence[Operation]) -> Text:
    """Several operations summed up: ``◐ 3 services: 2 done, 1 running``."""
    counts: dict[str, int] = {}
    for op in ops:
        counts[op.state] = counts.get(op.state, 0) + 1
    if any(op.running for op in ops):
        icon = "⏸" if all(op.state == PAUSED for op in ops if op.running) else "◐"
    else:
        icon = "✔" if all(op.state == Outcome.DONE.value for op in ops) else "✖"
    parts = ", ".join(f"{counts[state]} {state}" for state in STATE_ORDER if counts.get(state))
    text = Text(end="")
    text.append(f"{icon} {len(ops)} services", "bold")
    text.append(f": {parts}")
    return text


def failed_everywhere(op: Operation) -> bool:
    return op.result is not None and op.result.outcome is not Outcome.DONE


class RolloutScreen(JobtuiScreen):
    """Per-host steps of one or more operations; ``p``/``r``/``a`` steer the running ones."""

    CSS_PATH = "rollout.tcss"
    AUTO_FOCUS = "#steps-box"

    BINDINGS = bindings(Scope.ROLLOUT)

    def __init__(self, ops: Operation | Sequence[Operation], title: str = "") -> None:
        super().__init__()
        self.ops: tuple[Operation, ...] = (ops,) if isinstance(ops, Operation) else tuple(ops)
        if not self.ops:
            raise ValueError("a rollout view needs at least one operation")
        self.title_text = title or self.ops[0].title
        """The steps box's title: the operation's, or what the operations do together."""

    @property
    def op(self) -> Operation:
        """The first (with one operation, the) operation shown."""
        return self.ops[0]

    @property
    def many(self) -> bool:
        return len(self.ops) > 1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="rollout-state")
        with VerticalScroll(id="steps-box", classes="panel"):
            for index, op in enumerate(self.ops):
                if self.many:
                    yield Static(id=f"service-state-{index}", classes="service-state")
                yield StepsView(op.progress, id="steps" if index == 0 else f"steps-{index}",
                                classes="service-steps")  # fmt: skip
        with VerticalScroll(id="failure-box", classes="panel"):
            # A Static wraps the long lines a crashing program writes; a Log would not.
            yield Static(id="failure-log", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#steps-box").border_title = self.title_text
        self._repaint()
        self._show_failure()

    @property
    def steps(self) -> StepsView:
        """The first operation's steps."""
        return self.query_one("#steps", StepsView)

    def steps_of(self, service: str) -> StepsView:
        """The steps of ``service``'s operation in this view."""
        index = [op.service for op in self.ops].index(service)
        return self.query_one("#steps" if index == 0 else f"#steps-{index}", StepsView)

    def on_steps_reported(self, message: StepsReported) -> None:
        # The flow already folded the events (and log tails) into the operations' progress.
        self._repaint()

    def on_operation_finished(self, message: OperationFinished) -> None:
        self._repaint()
        self._show_failure()
        self.refresh_bindings()

    def state_text(self) -> str:
        """The top state line as plain text (for tests)."""
        return self._top_line().plain

    def service_states(self) -> list[str]:
        """Each service's state line as plain text (several operations only)."""
        return [self._service_line(op).plain for op in self.ops] if self.many else []

    def _top_line(self) -> Text:
        return overall_line(self.ops) if self.many else state_line(self.op)

    def _service_line(self, op: Operation) -> Text:
        text = Text(end="")
        text.append(op.title, "bold")
        text.append("  ")
        text.append_text(state_line(op))
        return text

    def _repaint(self) -> None:
        top = self.query_one("#rollout-state", Static)
        top.update(self._top_line())
        ended = not any(op.running for op in self.ops)
        top.set_class(ended and any(failed_everywhere(op) for op in self.ops), "-failed")
        for index, op in enumerate(self.ops):
            if self.many:
                line = self.query_one(f"#service-state-{index}", Static)
                line.update(self._service_line(op))
                line.set_class(failed_everywhere(op), "-failed")
        for view in self.query(StepsView):
            view.refresh(layout=True)

    def failure_lines(self) -> list[str]:
        """The failed containers' last log lines as shown (prefixed when several failed)."""
        failures = [(op, h) for op in self.ops for h in op.progress.failures if h.logs]
        many = len(failures) > 1
        return [
            f"{self._where(op.service, h.host)}  {line}" if many else line
            for op, h in failures
            for line in h.logs
        ]

    def _where(self, service: str, host: str) -> str:
        return f"{service}@{host}" if self.many else host

    def _show_failure(self) -> None:
        box = self.query_one("#failure-box")
        failures = [self._where(op.service, h.host)
                    for op in self.ops for h in op.progress.failures if h.logs]  # fmt: skip
        box.display = bool(failures)
        if not failures:
            return
        self.query_one("#failure-log", Static).update("\n".join(self.failure_lines()))
        where = f" on {failures[0]}" if len(failures) == 1 else "s"
        box.border_title = f"last log lines of the failed container{where}"

    def _steerable(self) -> list[RolloutControl]:
        return [op.control for op in self.ops
                if op.running and op.control is not None and not op.control.aborted]  # fmt: skip

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pause", "resume", "abort"):
            controls = self._steerable()
            if action == "pause":
                return any(not c.paused for c in controls)
            if action == "resume":
                return any(c.paused for c in controls)
            return bool(controls)
        return True

    def _subject(self) -> str:
        return f"{len(self.ops)} services" if self.many else self.op.service

    def action_pause(self) -> None:
        controls = self._steerable()
        for control in controls:
            control.pause()
        if controls:
            self.notify(f"{self._subject()}: pausing — the batch under way finishes first.")
        self._steered()

    def action_resume(self) -> None:
        for control in self._steerable():
            control.resume()
        self._steered()

    def action_abort(self) -> None:
        controls = self._steerable()
        for control in controls:
            control.abort()
        if controls:
            self.notify(f"{self._subject()}: aborting after the batch under way.",
                        severity="warning")  # fmt: skip
        self._steered()

    def _steered(self) -> None:
        self._repaint()
        self.refresh_bindings()
