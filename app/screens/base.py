"""What every jobtui screen shares: access to the app's engine and fleet updates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from jobtui.app.messages import FleetChanged
from jobtui.backend.docker import belongs_to
from jobtui.backend.model import ContainerInfo, FleetSnapshot
from jobtui.config.models import Inventory

if TYPE_CHECKING:
    from jobtui.app.app import JobtuiApp


class JobtuiScreen(Screen[None]):
    """A screen that shows fleet state and follows :class:`FleetChanged`.

    Subclasses call ``self.show_fleet(self.jobtui.snapshot)`` when mounted
    (Textual runs every class's ``on_mount``, so the base defines none).
    """

    @property
    def jobtui(self) -> JobtuiApp:
        """The app, typed: inventory, fleet snapshot, tag source and clock."""
        return cast("JobtuiApp", self.app)

    def on_fleet_changed(self, message: FleetChanged) -> None:
        self.show_fleet(message.snapshot)

    def show_fleet(self, snapshot: FleetSnapshot) -> None:
        """Bring the screen's widgets up to ``snapshot`` (update in place, never rebuild)."""


def service_of(inventory: Inventory, containers: Iterable[ContainerInfo]) -> dict[str, str]:
    """Container id → inventory service, for the containers that belong to one."""
    names = [service.name for service in inventory.services]
    found: dict[str, str] = {}
    for container in containers:
        for name in names:
            if belongs_to(container, name):
                found[container.id] = name
                break
    return found


def registry_prefix(inventory: Inventory) -> str:
    """``host[:port]/`` of the inventory's registry, as image names start with it."""
    return f"{inventory.registry.host}/" if inventory.registry else ""
