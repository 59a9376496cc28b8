"""Containers with their host, service, version and Docker state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobtui.backend.model import ContainerInfo
from jobtui.widgets.format import age, container_status, short_id
from jobtui.widgets.keyed_table import Cell, KeyedTable

UNMANAGED = "unmanaged"
"""Shown in the service column for a container of no inventory service."""

DOCKER_STATE_ROLES = {
    "running": "ok",
    "restarting": "warn",
    "paused": "warn",
    "created": "muted",
    "exited": "bad",
    "dead": "bad",
}


class ContainersTable(KeyedTable):
    """Containers keyed by id; pass ``columns`` to pick which of :attr:`COLUMNS` to show."""

    COLUMNS = (
        ("name", "name"),
        ("host", "host"),
        ("service", "service"),
        ("image", "image"),
        ("version", "version"),
        ("state", "state"),
        ("status", "status"),
        ("created", "created"),
        ("id", "id"),
    )

    image_prefix = ""
    """Left out of image names (the inventory's registry) so the distinctive part fits."""

    _shown: tuple[Sequence[ContainerInfo], Mapping[str, str] | None] = ((), None)

    def show(
        self,
        containers: Sequence[ContainerInfo],
        now: float,
        services: Mapping[str, str] | None = None,
    ) -> None:
        """Display ``containers`` as of ``now``.

        ``services`` maps a container id to its inventory service; a
        container missing from it is shown as unmanaged. Without the mapping
        the container's own ``jobtui.service`` label is used.
        """
        self._shown = (containers, services)
        rows = []
        for container in containers:
            service = container.service if services is None else services.get(container.id)
            values = self._values(container, service, now)
            values["image"] = container.image.removeprefix(self.image_prefix)
            rows.append(self.make_row(container.id, values))
        self.sync(rows)

    def repaint(self, now: float) -> None:
        """Show the same containers as of ``now`` (their status texts and ages move on)."""
        containers, services = self._shown
        self.show(containers, now, services)

    @staticmethod
    def _values(container: ContainerInfo, service: str | None, now: float) -> dict[str, str | Cell]:
        return {
            "name": container.name.lstrip("/"),
            "host": container.host,
            "service": service if service else Cell(UNMANAGED, "warn"),
            "image": container.image,
            "version": container.version,
            "state": Cell(container.state, DOCKER_STATE_ROLES.get(container.state, "muted")),
            "status": container_status(container, now),
            "created": age(container.created, now),
            "id": short_id(container.id),
        }
