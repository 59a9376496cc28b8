"""What an update or rollback would do, host by host, before anything is touched.

The plan is made by the engine in a thread worker (it inspects containers);
``enter``/``y`` confirms once it is shown and changes something, ``esc``/``n``
cancels. Dismisses with ``True`` only on confirmation. :class:`PlansDialog`
does the same for several services at once: every service's plan in one
dialog, one confirmation for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from jobtui.app.messages import PlanFailed, PlanReady
from jobtui.backend.deploy import ServicePlan
from jobtui.widgets.plan_view import PlanView, plan_summary


class PlanDialog(ModalScreen[bool]):
    """Shows ``load()``'s plan for ``service`` and asks to go ahead with ``verb``."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [
        Binding("enter,y", "confirm", "Go ahead", key_display="enter"),
        Binding("n,escape", "cancel", "Cancel", key_display="esc"),
    ]

    def __init__(
        self, title: str, service: str, verb: str, load: Callable[[], ServicePlan]
    ) -> None:
        super().__init__()
        self.title_text = title
        self.service = service
        self.verb = verb
        """What confirming does, e.g. ``update`` or ``roll back``."""
        self._load = load
        self.plan: ServicePlan | None = None
        """The plan, once the engine made it."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static("Planning …", id="plan-status", markup=False)
            with VerticalScroll(id="plan-body"):
                yield PlanView(id="plan")
            yield Static(id="plan-question", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#dialog")
        dialog.border_title = self.title_text
        self.query_one("#plan-question").display = False
        self._make_plan()

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def _make_plan(self) -> None:
        try:
            plan = self._load()
        except Exception as exc:
            # The engine's errors (host down, inspect refused) are shown, not raised.
            self.post_message(PlanFailed(self.service, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(PlanReady(self.service, plan))

    def on_plan_ready(self, message: PlanReady) -> None:
        self.plan = message.plan
        self.query_one(PlanView).show(message.plan)
        status = self.query_one("#plan-status", Static)
        status.update(plan_summary(message.plan))
        status.set_class(not message.plan.changes, "-muted")
        question = self.query_one("#plan-question", Static)
        if message.plan.changes:
            question.update(f"{self.verb.capitalize()} {self.service}?  enter/y yes · esc/n no")
        else:
            question.update("Nothing to do.  esc closes")
        question.display = True
        self.refresh_bindings()

    def on_plan_failed(self, message: PlanFailed) -> None:
        status = self.query_one("#plan-status", Static)
        status.update(f"Cannot plan: {message.error}")
        status.add_class("-error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            # Greyed out until there is a plan that changes something.
            return True if self.plan is not None and self.plan.changes else None
        return True

    def action_confirm(self) -> None:
        if self.plan is not None and self.plan.changes:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


@dataclass(frozen=True)
class PlanTarget:
    """One service of a :class:`PlansDialog`: the version it would go to, or why it is left out."""

    service: str
    version: str | None
    skipped: str = ""
    """Why there is nothing to plan (``newest version unknown …``), when ``version`` is None."""


class PlansDialog(PlanDialog):
    """Every target's plan, one after the other, and one question for all of them.

    Plans are made one service at a time in one thread worker and shown as
    they come. A service whose plan changes nothing is listed as up to date,
    one that cannot be planned says why; both are left out. Confirming needs
    every plan answered and at least one that changes something; :meth:`to_run`
    are then the services and plans to go ahead with.
    """

    def __init__(
        self,
        title: str,
        targets: Sequence[PlanTarget],
        verb: str,
        load: Callable[[str, str], ServicePlan],
    ) -> None:
        super().__init__(title, "", verb, lambda: _unused())
        self.targets = tuple(targets)
        self._load_one = load
        self.plans: dict[str, ServicePlan] = {}
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(f"Planning {len(self.targets)} services …", id="plan-status", markup=False)
            with VerticalScroll(id="plan-body"):
                for index, target in enumerate(self.targets):
                    yield Static(self._headline(target), id=f"plan-head-{index}", markup=False)
                    yield PlanView(id=f"plan-{index}")
            yield Static(id="plan-question", markup=False)
        yield Footer()

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def _make_plan(self) -> None:
        for target in self.targets:
            if target.version is None:
                continue
            try:
                plan = self._load_one(target.service, target.version)
            except Exception as exc:
                self.post_message(PlanFailed(target.service, f"{type(exc).__name__}: {exc}"))
            else:
                self.post_message(PlanReady(target.service, plan))

    @property
    def answered(self) -> bool:
        """Whether every service that has a version to go to has its plan (or its error)."""
        wanted = {t.service for t in self.targets if t.version is not None}
        return wanted <= {*self.plans, *self.errors}

    def to_run(self) -> list[tuple[str, ServicePlan]]:
        """The services whose plan changes something, in the dialog's order, with their plan."""
        return [(t.service, self.plans[t.service]) for t in self.targets
                if t.service in self.plans and self.plans[t.service].changes]  # fmt: skip

    def lines(self) -> list[str]:
        """What the dialog lists, as plain text: each service's headline and plan lines."""
        shown: list[str] = []
        for index, target in enumerate(self.targets):
            shown.append(self._headline(target).plain)
            shown.extend(self.query_one(f"#plan-{index}", PlanView).lines())
        return shown

    def _headline(self, target: PlanTarget) -> Text:
        text = Text(end="")
        text.append(target.service, "bold")
        if target.version is None:
            text.append(f"  left out: {target.skipped}")
            return text
        plan = self.plans.get(target.service)
        error = self.errors.get(target.service)
        text.append(f" → {target.version}  ")
        if error is not None:
            text.append(f"cannot plan, left out: {error}")
        elif plan is None:
            text.append("planning …")
        elif not plan.changes:
            text.append(f"up to date, left out ({plan_summary(plan)})")
        else:
            text.append(plan_summary(plan))
        return text

    def _index(self, service: str) -> int:
        return [t.service for t in self.targets].index(service)

    def on_plan_ready(self, message: PlanReady) -> None:
        # Textual would call PlanDialog's handler too (the whole MRO): it shows one plan only.
        message.prevent_default()
        self.plans[message.service] = message.plan
        index = self._index(message.service)
        if message.plan.changes:
            self.query_one(f"#plan-{index}", PlanView).show(message.plan)
        self._update_head(index)

    def on_plan_failed(self, message: PlanFailed) -> None:
        message.prevent_default()
        self.errors[message.service] = message.error
        self._update_head(self._index(message.service))

    def _update_head(self, index: int) -> None:
        self.query_one(f"#plan-head-{index}", Static).update(self._headline(self.targets[index]))
        if self.answered:
            self._ask()

    def _ask(self) -> None:
        run = self.to_run()
        hosts = sum(len(plan.changes) for _, plan in run)
        left = len(self.targets) - len(run)
        status = self.query_one("#plan-status", Static)
        words = f"{len(run)} of {len(self.targets)} services change ({hosts} hosts)"
        status.update(words + (f" · {left} left out" if left else ""))
        status.set_class(not run, "-muted")
        question = self.query_one("#plan-question", Static)
        if run:
            names = ", ".join(service for service, _ in run)
            question.update(f"{self.verb.capitalize()} {names}?  enter/y yes · esc/n no")
        else:
            question.update("Nothing to do.  esc closes")
        question.display = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            return True if self.answered and self.to_run() else None
        return True

    def action_confirm(self) -> None:
        if self.answered and self.to_run():
            self.dismiss(True)


def _unused() -> ServicePlan:
    raise AssertionError("PlansDialog plans each service itself")
