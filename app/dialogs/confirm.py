"""A yes/no question, or a choice among a few answers, each on its own key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


@dataclass(frozen=True)
class Choice:
    """One answer: the key that gives it and what it does, in the operator's words."""

    key: str
    """``y``, ``a`` (all) or ``o`` (only one): the keys this dialog binds."""
    text: str


YES = "y"
ALL = "a"
ONE = "o"


class ConfirmDialog(ModalScreen[str | None]):
    """Asks before something is changed; dismisses with the chosen key, ``None`` if cancelled.

    ``enter`` gives the first choice; ``n`` and ``esc`` cancel.
    """

    CSS_PATH = "dialogs.tcss"

    # The answers' keys are listed with their words in the dialog itself; a footer
    # label per key could only be generic ("o" is "only this host" in one dialog
    # and "one version for all" in another), so the footer shows enter and esc.
    BINDINGS = [
        Binding("y", f"choose('{YES}')", "Yes", show=False),
        Binding("a", f"choose('{ALL}')", "All", show=False),
        Binding("o", f"choose('{ONE}')", "One", show=False),
        Binding("enter", "choose_default", "First answer"),
        Binding("n,escape", "cancel", "Cancel", key_display="esc"),
    ]

    def __init__(self, title: str, question: str, choices: Sequence[Choice]) -> None:
        super().__init__()
        if not choices:
            raise ValueError("a confirmation needs at least one choice")
        self.title_text = title
        self.question = question
        self.choices = tuple(choices)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.question, id="question", markup=False)
            yield Static(self._choices_markup(), id="choices")
            yield Static(f"enter = {self.choices[0].key} · esc cancels", id="confirm-hint")
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#dialog")
        dialog.border_title = self.title_text

    def _choices_markup(self) -> str:
        # Markup for the theme's accent colour; the words themselves are escaped.
        return "\n".join(
            f"[bold $text-accent]{choice.key}[/]  {escape(choice.text)}" for choice in self.choices
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            return any(choice.key == parameters[0] for choice in self.choices)
        return True

    def action_choose(self, key: str) -> None:
        self.dismiss(key)

    def action_choose_default(self) -> None:
        self.dismiss(self.choices[0].key)

    def action_cancel(self) -> None:
        self.dismiss(None)
