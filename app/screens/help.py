"""The key reference, as a dialog over the current screen (from :mod:`jobtui.app.actions`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

from jobtui.app.actions import SERVICE, Scope, bindings, help_sections
from jobtui.widgets.config_view import ConfigView

SIGNS = (
    ("▶", "a tag that runs now"),
    ("≠", "a running version that differs from the inventory's"),
)
"""Not keys: what the service screen's marks mean, listed with its keys."""


class HelpScreen(ModalScreen[None]):
    """Lists every key by the screen it works on."""

    CSS_PATH = "help.tcss"

    BINDINGS = bindings(Scope.HELP)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            for section, keys in help_sections():
                yield Label(section.title, classes="help-section")
                yield ConfigView(keys + SIGNS if section is SERVICE else keys)

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "keys"
        self.query_one("#help").border_subtitle = "esc to close"
