"""The command palette's commands (opened with ``:``), from :mod:`jobtui.app.actions`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from jobtui.app.actions import Key, palette_keys
from jobtui.backend.contract import OpKind

if TYPE_CHECKING:
    from jobtui.app.app import JobtuiApp

Command = tuple[str, Callable[[], object], str]
"""The palette's text, what it runs, its description."""

def _service_command(app: JobtuiApp, action: str, name: str) -> Callable[[], object]:
    """What a per-service command (``update {service}``) runs, by its key's action."""
    deploys = app.deploys
    return {
        "open_service": partial(app.open_service, name),
        "update": partial(deploys.update, name),
        "rollback": partial(deploys.rollback, name),
        "start": partial(deploys.lifecycle, OpKind.START, name),
        "stop": partial(deploys.lifecycle, OpKind.STOP, name),
        "restart": partial(deploys.lifecycle, OpKind.RESTART, name),
    }[action]


def _app_command(app: JobtuiApp, action: str) -> Callable[[], object]:
    """What an app-wide command runs, by its key's action."""
    return {"hosts": app.open_hosts, "help": app.action_help, "quit": app.action_quit}[action]


def _per_service(key: Key) -> bool:
    return "{service}" in key.palette


class JobtuiCommands(Provider):
    """``open service X`` for every service, its mutating verbs, plus hosts, help and quit."""

    def _commands(self) -> list[Command]:
        app = cast("JobtuiApp", self.app)
        keys = palette_keys()
        services = app.inventory.services
        commands = [
            _for_service(app, key, service.name, service.image)
            for key in keys
            if _per_service(key) and not key.mutating
            for service in services
        ]
        if app.deploys.offered:
            # Read-only hides every mutating command (the flow refuses them too).
            commands += [
                _for_service(app, key, service.name, service.image)
                for service in services
                for key in keys
                if _per_service(key) and key.mutating
            ]
        commands += [
            (key.palette, _app_command(app, key.action), key.palette_help)
            for key in keys
            if not _per_service(key)
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


def _for_service(app: JobtuiApp, key: Key, name: str, image: str) -> Command:
    return (
        key.palette.format(service=name),
        _service_command(app, key.action, name),
        key.palette_help.format(image=image),
    )
