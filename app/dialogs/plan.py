"""What an update or rollback would do, host by host, before anything is touched.

The plan is made by the engine in a thread worker (it inspects containers);
``enter``/``y`` confirms once it is shown and changes something, ``esc``/``n``
cancels. Dismisses with ``True`` only on confirmation.
"""

from __future__ import annotations

from collections.abc import Callable

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
