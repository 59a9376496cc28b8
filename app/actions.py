"""Every key of the TUI, once: the screens' bindings, the help screen, the palette, the README.

Plain data (nothing here imports Textual until :func:`bindings` is called), so
``python -m jobtui.app.actions --markdown`` prints the README's keys table
without loading the TUI; a unit test keeps the README equal to it.

Each :class:`Key` says where it is bound (:class:`Scope`), where the help
screen and the README list it (:class:`Section`), what the footer and the
help say, whether it changes the fleet (hidden and refused with
``--read-only``) and, for the command palette, its command text
(``"update {service}"``). A key with no screens is documented only: a
widget binds it (a table's cursor keys and ``enter``) or it is only a
palette command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.binding import BindingType


class Scope(StrEnum):
    """Where a key is bound: the app (every screen) or one screen class."""

    APP = "app"
    MAIN = "main"
    SERVICE = "service"
    HOSTS = "hosts"
    LOGS = "logs"
    ROLLOUT = "rollout"
    HELP = "help"


@dataclass(frozen=True)
class Section:
    """A group of keys on the help screen and in the README."""

    title: str
    """The help screen's heading."""
    where: str
    """The README's "where" column."""
    documented: bool = True
    """``False``: bound, but listed neither on the help screen nor in the README."""


EVERYWHERE = Section("Everywhere", "anywhere")
SERVICES = Section("Services", "services table")
HOSTS = Section("Hosts", "hosts screen")
SERVICE = Section("Service details", "service")
DEPLOYING = Section(
    "Deploying (services and service details; not with --read-only)", "services, service"
)
LOGS = Section("Logs", "logs")
ROLLOUT = Section("Rollout view", "rollout view")
HELP = Section("Help", "help", documented=False)

SECTIONS = (EVERYWHERE, SERVICES, HOSTS, SERVICE, DEPLOYING, LOGS, ROLLOUT, HELP)
"""In the order the help screen and the README list them."""

KEY_NAMES = {
    "escape": "esc",
    "slash": "/",
    "question_mark": "?",
    "colon": ":",
    "plus": "+",
    "minus": "-",
    "space": "space",
}
"""Textual's key names as the help and the README write them."""


@dataclass(frozen=True)
class Key:
    """One key on one or more screens, with everything said about it."""

    key: str
    """Textual's key name(s), comma-separated (``end,G``); for a documented-only key,
    the text shown (``↑ ↓ pgup pgdn``)."""
    action: str
    """The Textual action it runs (``update``, ``context(1)``, ``app.pop_screen``); for a
    palette-only command, the name :mod:`jobtui.app.commands` runs it by."""
    label: str
    """The footer's word."""
    help: str
    """What the help screen and the README say."""
    section: Section
    screens: tuple[Scope, ...] = ()
    """Where it is bound; empty: documented only (a widget binds it)."""
    key_display: str | None = None
    """The footer's rendering of the key, when Textual's own is not wanted."""
    shown: str = ""
    """The key as the help and the README write it, when not derived from :attr:`key`."""
    where: str = ""
    """Where in the section it works, when not all over it (``hosts panel``): the README's
    "where", and the help's text starts with it."""
    mutating: bool = False
    """Changes the fleet: hidden from the footer and refused with ``--read-only``."""
    footer: bool = True
    """Shown in the footer (when its screen offers it)."""
    palette: str = ""
    """The command palette's text, ``{service}`` standing for each service; empty: none."""
    palette_help: str = ""
    """The palette's description of it (``{image}``: the service's image)."""

    @property
    def keys(self) -> str:
        """The key as the help screen and the README write it."""
        if self.shown:
            return self.shown
        first = self.key.split(",")[0]
        return self.key_display or KEY_NAMES.get(first, first)

    @property
    def bound(self) -> bool:
        return bool(self.screens)


_MAIN_AND_SERVICE = (Scope.MAIN, Scope.SERVICE)

KEYS: tuple[Key, ...] = (
    # -- everywhere: the app's own bindings, then "back" -----------------------------
    Key("q", "quit", "Quit",
        "quit (a second q while an operation runs: quit when it has finished)",
        EVERYWHERE, (Scope.APP,), palette="quit", palette_help="leave jobtui"),
    Key("h", "hosts", "Hosts",
        "hosts: reachability, Docker version, CPU and memory, every container (managed or not)",
        EVERYWHERE, (Scope.APP,),
        palette="hosts", palette_help="every host, its daemon and containers"),
    Key("question_mark", "help", "Help", "this help: every key, by screen", EVERYWHERE,
        (Scope.APP,),
        key_display="?", palette="help", palette_help="the keys"),
    Key("colon", "command_palette", "Commands",
        "command palette: open a service, update/rollback/start/stop/restart it, "
        "hosts, help, quit",
        EVERYWHERE, (Scope.APP,), key_display=":"),
    Key("escape", "app.pop_screen", "Back", "back to the previous screen", EVERYWHERE,
        (Scope.SERVICE, Scope.HOSTS)),
    # -- the main screen ---------------------------------------------------------------
    Key("↑ ↓ pgup pgdn", "", "", "move between rows", SERVICES),
    Key("enter", "open_service", "Open",
        "open the service: inventory entry (secrets masked), containers, registry tags, "
        "graphs",
        SERVICES, palette="open service {service}", palette_help="{image}"),
    Key("enter", "", "", "open the hosts screen on that host", SERVICES, where="hosts panel"),
    Key("slash", "filter", "Filter",
        "filter rows by service, host, version or state", SERVICES, (Scope.MAIN,),
        key_display="/"),
    Key("space", "mark", "Mark",
        "mark or unmark the service under the cursor (all its rows show ●; the table's "
        "subtitle counts the marks); u and R then act on every marked service",
        SERVICES, (Scope.MAIN,)),
    Key("escape", "clear", "Clear",
        "clear the filter; with no filter open, clear the marks", SERVICES, (Scope.MAIN,)),
    Key("l", "logs", "Logs",
        "follow the logs of the service under the cursor, every instance merged",
        SERVICES, (Scope.MAIN,)),
    Key("r", "reload_registry", "Registry",
        "ask the registry for newer versions now (the newer column)", SERVICES, (Scope.MAIN,)),
    Key("tab", "", "", "move between the hosts panel and the services table", SERVICES),
    # -- the hosts screen --------------------------------------------------------------
    Key("↑ ↓", "", "", "choose a host; its containers show below", HOSTS),
    Key("tab", "", "", "move to the containers", HOSTS),
    # -- a service's screen ------------------------------------------------------------
    Key("r", "reload_tags", "Reload tags", "reload the registry's tags", SERVICE,
        (Scope.SERVICE,)),
    Key("l", "logs", "Logs",
        "follow the logs of every running instance, merged with a host/container prefix",
        SERVICE, (Scope.SERVICE,)),
    Key("m", "graph_range", "Range", "graph range: 5 minutes → 15 minutes → an hour",
        SERVICE, (Scope.SERVICE,)),
    # -- deploying, on both ------------------------------------------------------------
    Key("u", "update", "Update",
        "update: pick a registry tag (newest first, running ▶) → the plan with field "
        "diffs → confirm → live rollout view",
        DEPLOYING, _MAIN_AND_SERVICE, mutating=True,
        palette="update {service}", palette_help="pick a version, see the plan, confirm"),
    Key("u", "", "",
        "each to its newest registry version, or one version they all have → one combined "
        "plan → one confirmation → one rollout view of every service (up-to-date ones skipped)",
        DEPLOYING, where="marked services"),
    Key("R", "", "",
        "restart every instance of each marked service after one confirmation, each one host "
        "at a time, all in one rollout view",
        DEPLOYING, where="marked services"),
    Key("b", "rollback", "Rollback",
        "roll back: pick a version kept on the hosts or in the registry → plan → confirm "
        "→ rollout view",
        DEPLOYING, _MAIN_AND_SERVICE, mutating=True,
        palette="rollback {service}", palette_help="go back to a kept version"),
    Key("s", "start", "Start",
        "start: the selected host's instance (o) or all (a), after a confirmation",
        DEPLOYING, _MAIN_AND_SERVICE, mutating=True,
        palette="start {service}", palette_help="every instance"),
    Key("x", "stop", "Stop",
        "stop: the selected host's instance (o) or all (a), after a confirmation",
        DEPLOYING, _MAIN_AND_SERVICE, mutating=True,
        palette="stop {service}", palette_help="every instance"),
    Key("R", "restart", "Restart",
        "restart: the selected host's instance (o) or all (a), one host at a time",
        DEPLOYING, _MAIN_AND_SERVICE, key_display="R", mutating=True,
        palette="restart {service}", palette_help="one host at a time"),
    # -- the logs screen ---------------------------------------------------------------
    Key("escape", "back", "Back", "close the search, leave the filter, clear the search, back",
        LOGS, (Scope.LOGS,)),
    Key("p", "pause", "Pause", "pause / resume (lines keep arriving into a bounded queue)",
        LOGS, (Scope.LOGS,)),
    Key("slash", "search", "Search", "search, every match highlighted", LOGS, (Scope.LOGS,),
        key_display="/"),
    Key("n", "next_match", "Next", "the next newer match", LOGS, (Scope.LOGS,)),
    Key("N", "previous_match", "Prev", "the next older match", LOGS, (Scope.LOGS,),
        key_display="N"),
    Key("f", "filter", "Filter", "filter: only the matches, with context lines", LOGS,
        (Scope.LOGS,)),
    Key("t", "timestamps", "Times", "timestamps (UTC)", LOGS, (Scope.LOGS,)),
    Key("w", "wrap", "Wrap", "wrap long lines", LOGS, (Scope.LOGS,)),
    Key("s", "save", "Save", "save the lines shown to ./<service>-<time>.log", LOGS,
        (Scope.LOGS,)),
    Key("end,G", "follow", "Follow", "back to the newest line and follow", LOGS,
        (Scope.LOGS,), footer=False),
    Key("plus", "context(1)", "More context", "one more context line around each match",
        LOGS, (Scope.LOGS,), footer=False),
    Key("minus", "context(-1)", "Less context", "one context line less", LOGS,
        (Scope.LOGS,), footer=False),
    # -- the rollout view --------------------------------------------------------------
    Key("escape", "app.pop_screen", "Back",
        "back; the rollouts go on and a notification tells their end (per service)",
        ROLLOUT, (Scope.ROLLOUT,)),
    Key("p", "pause", "Pause", "pause before the next batch (every rollout in the view)",
        ROLLOUT, (Scope.ROLLOUT,)),
    Key("r", "resume", "Resume", "resume the paused rollouts", ROLLOUT, (Scope.ROLLOUT,)),
    Key("a", "abort", "Abort",
        "abort every rollout in the view after its batch under way (done hosts keep the "
        "new version)",
        ROLLOUT, (Scope.ROLLOUT,)),
    # -- the help screen itself --------------------------------------------------------
    Key("escape", "dismiss", "Close", "close the help", HELP, (Scope.HELP,)),
    Key("question_mark", "dismiss", "Close", "close the help", HELP, (Scope.HELP,),
        footer=False),
)  # fmt: skip
"""Every key, in the order of the help screen and of each screen's footer."""


def keys_of(screen: Scope) -> tuple[Key, ...]:
    """The keys bound on ``screen``, in footer order."""
    return tuple(k for k in KEYS if screen in k.screens)


def bindings(screen: Scope) -> list[BindingType]:
    """``screen``'s ``BINDINGS``."""
    from textual.binding import Binding

    return [
        Binding(k.key, k.action, k.label, show=k.footer, key_display=k.key_display)
        for k in keys_of(screen)
    ]


MUTATING_ACTIONS = frozenset(k.action for k in KEYS if k.mutating)
"""The actions that change the fleet: hidden and refused in read-only mode."""


def help_sections() -> list[tuple[Section, tuple[tuple[str, str], ...]]]:
    """The help screen: each documented section and its (key, help) rows."""
    return [
        (section, tuple((k.keys, _help_text(k)) for k in KEYS if k.section is section))
        for section in SECTIONS
        if section.documented
    ]


def _help_text(key: Key) -> str:
    return f"{key.where}: {key.help}" if key.where else key.help


def palette_keys() -> tuple[Key, ...]:
    """The keys the command palette offers, in order."""
    return tuple(k for k in KEYS if k.palette)


def markdown() -> str:
    """The README's keys table."""
    rows = ["| key | where | what |", "|---|---|---|"]
    for section in SECTIONS:
        if not section.documented:
            continue
        for key in (k for k in KEYS if k.section is section):
            cells = (f"`{key.keys}`", key.where or section.where, key.help)
            rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    # Markdown would take `<service>` for an HTML tag, and `|` for a column.
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jobtui.app.actions", description="jobtui's keys, as documentation."
    )
    parser.add_argument("--markdown", action="store_true", help="the README's keys table")
    args = parser.parse_args(argv)
    if not args.markdown:
        parser.print_help()
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
