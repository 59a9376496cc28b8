"""The key reference, as a dialog over the current screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

from jobtui.widgets.config_view import ConfigView

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            (":", "command palette: open a service, hosts, help, quit"),
            ("h", "hosts and their containers"),
            ("?", "this help"),
            ("esc", "back to the previous screen"),
            ("q", "quit"),
        ),
    ),
    (
        "Services",
        (
            ("↑ ↓ pgup pgdn", "move between rows"),
            ("enter", "open the service under the cursor"),
            ("/", "filter rows by service, host, version or state"),
            ("esc", "clear the filter"),
            ("tab", "move between the hosts panel and the services table"),
        ),
    ),
    (
        "Hosts",
        (
            ("↑ ↓", "choose a host; its containers show below"),
            ("tab", "move to the containers"),
        ),
    ),
    (
        "Service details",
        (
            ("r", "reload the registry's tags"),
            ("▶", "a tag that runs now"),
            ("≠", "a running version that differs from the inventory's"),
        ),
    ),
)


class HelpScreen(ModalScreen[None]):
    """Lists every key by the screen it works on."""

    CSS_PATH = "help.tcss"

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            for title, keys in KEYS:
                yield Label(title, classes="help-section")
                yield ConfigView(keys)

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "keys"
        self.query_one("#help").border_subtitle = "esc to close"
