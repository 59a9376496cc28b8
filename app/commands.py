"""The command palette's commands (opened with ``:``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from jobtui.app.app import JobtuiApp


class JobtuiCommands(Provider):
    """``open service X`` for every service, plus hosts, help and quit."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = cast("JobtuiApp", self.app)
        commands: list[tuple[str, Callable[[], object], str]] = [
            (f"open service {service.name}", partial(app.open_service, service.name), service.image)
            for service in app.inventory.services
        ]
        commands += [
            ("hosts", app.open_hosts, "every host, its daemon and containers"),
            ("help", app.action_help, "the keys"),
            ("quit", app.action_quit, "leave jobtui"),
        ]
        return commands

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
