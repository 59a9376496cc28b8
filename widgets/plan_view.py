"""A deploy plan as :func:`~jobtui.backend.deploy.plan.render_plan` writes it, coloured.

The text is exactly ``render_plan``'s (what ``jobtui plan`` prints); only
colour is added, by what each segment is: a host's verb by what will happen
there, versions and values that go in the error colour, those that come in
the success colour.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from jobtui.backend.deploy import Action, ActionKind, PlanRole, ServicePlan, plain, render_plan

ROLE_STYLES = {
    PlanRole.HOST: "field",
    PlanRole.TEXT: "muted",
    PlanRole.CREATE: "new",
    PlanRole.CHANGE: "change",
    PlanRole.NOOP: "muted",
    PlanRole.UNREACHABLE: "old",
    PlanRole.OLD: "old",
    PlanRole.NEW: "new",
    PlanRole.SAME: "muted",
    PlanRole.FIELD: "field",
    PlanRole.SECRET: "change",
    PlanRole.NOTE: "muted",
}
"""A segment's role → the component class (``plan-view--<name>``) that colours it."""


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
        """The plain text shown: ``render_plan(plan)``'s lines, joined."""
        if self._plan is None:
            return []
        return [plain(line) for line in render_plan(self._plan)]

    def render(self) -> Text:
        text = Text(end="")
        if self._plan is None:
            return text
        for index, line in enumerate(render_plan(self._plan)):
            if index:
                text.append("\n")
            for segment, role in line:
                text.append(segment, self._style(ROLE_STYLES[role]))
        return text

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
