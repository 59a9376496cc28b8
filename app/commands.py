"""The command palette's commands (opened with ``:``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from jobtui.backend.contract import OpKind

if TYPE_CHECKING:
    from jobtui.app.app import JobtuiApp


class JobtuiCommands(Provider):
    """``open service X`` for every service, its mutating verbs, plus hosts, help and quit."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = cast("JobtuiApp", self.app)
        commands: list[tuple[str, Callable[[], object], str]] = [
            (f"open service {service.name}", partial(app.open_service, service.name), service.image)
            for service in app.inventory.services
        ]
        if app.deploys.offered:
            # Read-only hides every mutating command (the flow refuses them too).
            for service in app.inventory.services:
                commands += _deploy_commands(app, service.name)
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


def _deploy_commands(app: JobtuiApp, name: str) -> list[tuple[str, Callable[[], object], str]]:
    deploys = app.deploys
    return [
        (f"update {name}", partial(deploys.update, name), "pick a version, see the plan, confirm"),
        (f"rollback {name}", partial(deploys.rollback, name), "go back to a kept version"),
        (f"start {name}", partial(deploys.lifecycle, OpKind.START, name), "every instance"),
        (f"stop {name}", partial(deploys.lifecycle, OpKind.STOP, name), "every instance"),
        (f"restart {name}", partial(deploys.lifecycle, OpKind.RESTART, name), "one host at a time"),
    ]
