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
            ("l", "follow the logs of the service under the cursor"),
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
            ("l", "follow the logs of every running instance, merged"),
            ("m", "graph range: 5 minutes, 15 minutes, an hour"),
            ("▶", "a tag that runs now"),
            ("≠", "a running version that differs from the inventory's"),
        ),
    ),
    (
        "Deploying (services and service details; not with --read-only)",
        (
            ("u", "update: pick a version, see the plan, confirm"),
            ("b", "roll back to a version kept on a host or in the registry"),
            ("s  x  R", "start, stop, restart: all instances or the selected host's"),
        ),
    ),
    (
        "Logs",
        (
            ("p", "pause / resume (lines keep arriving into a bounded queue)"),
            ("/  n  N", "search (highlighted), next newer / older match"),
            ("f  +  -", "filter: only matches with context lines; more / less context"),
            ("t  w", "timestamps (UTC), wrap long lines"),
            ("s", "save the lines shown to ./<service>-<time>.log"),
            ("end", "back to the newest line and follow"),
            ("esc", "close the search, leave the filter, clear the search, back"),
        ),
    ),
    (
        "Rollout view",
        (
            ("p  r", "pause before the next batch, resume"),
            ("a", "abort after the batch under way (done hosts keep the new version)"),
            ("esc", "back; the rollout goes on and a notification tells its end"),
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
