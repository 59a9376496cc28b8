"""A deploy plan as :func:`~jobtui.backend.deploy.plan.render_plan` writes it, coloured.

The text is exactly ``render_plan``'s (what ``jobtui plan`` prints); only
colour is added: each host's headline by what will happen there, and in each
field diff the old value in the error colour, the new one in the success colour.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from jobtui.backend.deploy import Action, ActionKind, ServicePlan, render_plan

ACTION_ROLES = {
    ActionKind.CREATE: "new",
    ActionKind.UPDATE: "change",
    ActionKind.START: "change",
    ActionKind.NOOP: "muted",
    ActionKind.UNREACHABLE: "old",
}

DIFF_INDENT = "    "
"""How render_plan indents a field diff under its host."""

DIFF_ARROW = " -> "
"""Between the running value and the inventory's in a rendered field diff."""


class PlanView(Widget):
    """One service's plan: a headline per host, its field diffs indented below."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "plan-view--new",
        "plan-view--change",
        "plan-view--old",
        "plan-view--field",
        "plan-view--muted",
    }

    DEFAULT_CSS = """
    PlanView {
        height: auto;
        & > .plan-view--new { color: $text-success; }
        & > .plan-view--change { color: $text-warning; text-style: bold; }
        & > .plan-view--old { color: $text-error; }
        & > .plan-view--field { color: $text-accent; }
        & > .plan-view--muted { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._plan: ServicePlan | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def show(self, plan: ServicePlan | None) -> None:
        """Display ``plan`` (nothing for ``None``)."""
        self._plan = plan
        self.refresh(layout=True)

    def lines(self) -> list[str]:
        """The plain text shown: ``render_plan(plan)``."""
        return self.render().plain.splitlines()

    def render(self) -> Text:
        text = Text(end="")
        if self._plan is None:
            return text
        lines = iter(render_plan(self._plan))
        for action in self._plan.actions:
            # render_plan writes one headline per action, then one line per
            # diff, in order: walk both so the text stays exactly its own.
            self._line(text, next(lines), ACTION_ROLES.get(action.kind, ""))
            for diff in action.diffs:
                line = next(lines)
                self._diff_line(text, line, diff.field, diff.actual, diff.desired)
        return text

    def _line(self, text: Text, line: str, role: str) -> None:
        if text:
            text.append("\n")
        host, sep, rest = line.partition(": ")
        text.append(host + sep, self._style("field"))
        text.append(rest, self._style(role))

    def _diff_line(self, text: Text, line: str, field: str, actual: str, desired: str) -> None:
        expected = f"{DIFF_INDENT}{field}: {actual}{DIFF_ARROW}{desired}"
        text.append("\n")
        if line != expected:
            # A diff rendered differently than assumed is still shown as written.
            text.append(line)
            return
        text.append(f"{DIFF_INDENT}{field}: ", self._style("field"))
        text.append(actual, self._style("old"))
        text.append(DIFF_ARROW, self._style("muted"))
        text.append(desired, self._style("new"))

    def _style(self, role: str) -> Style:
        if not role:
            return Style()
        return self.get_component_rich_style(f"plan-view--{role}", partial=True)


def plan_summary(plan: ServicePlan) -> str:
    """One sentence on what the plan would change, e.g. ``2 of 3 hosts change``."""
    changes = plan.changes
    total = len(plan.actions)
    unreachable = [a for a in plan.actions if a.kind is ActionKind.UNREACHABLE]
    if not changes:
        words = f"nothing to change: every reachable host already runs {plan.version}"
    else:
        words = f"{len(changes)} of {total} host{'s' if total != 1 else ''} change"
    if unreachable:
        words += f" · {_hosts(unreachable)} unreachable"
    return words


def _hosts(actions: list[Action]) -> str:
    return ", ".join(a.host for a in actions)
