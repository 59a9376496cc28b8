"""Join the inventory with the observed fleet: one row per service and host.

Pure functions shared by the TUI's services table and ``jobtui status``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobtui.backend.docker import current_container, service_of
from jobtui.backend.model import ContainerInfo, FleetSnapshot, HostState, HostStatus, version_of
from jobtui.config.models import Inventory, Service

# A row's state words, as shown to the operator.
STATE_RUNNING = "running"
STATE_STOPPED = "stopped"
STATE_MISSING = "missing"
STATE_HOST_DOWN = "host down"
STATE_UNKNOWN = "unknown"


@dataclass(frozen=True)
class ServiceRow:
    """Where one service should run and what actually runs there."""

    service: str
    host: str
    desired: str
    """The inventory's ``image:tag``."""
    running_version: str | None
    state: str
    started_at: float | None
    container: ContainerInfo | None

    @property
    def key(self) -> str:
        """A stable id for table rows."""
        return f"{self.service}@{self.host}"

    @property
    def on_desired_version(self) -> bool:
        return self.running_version == version_of(self.desired)


def service_rows(inventory: Inventory, fleet: FleetSnapshot) -> list[ServiceRow]:
    """One row per (service, host) of the inventory, in inventory order."""
    names = {service.name for service in inventory.services}
    # Group each host's containers by service once: rows then cost a lookup,
    # not a scan of the host's containers.
    by_host = {name: _by_service(host.containers, names) for name, host in fleet.hosts.items()}
    rows: list[ServiceRow] = []
    for service in inventory.services:
        for host_name in service.run_on_host:
            host = fleet.hosts.get(host_name)
            mine = by_host.get(host_name, {}).get(service.name, [])
            rows.append(_row(service, host_name, host, mine))
    return rows


def _by_service(
    containers: tuple[ContainerInfo, ...], names: set[str]
) -> dict[str, list[ContainerInfo]]:
    groups: dict[str, list[ContainerInfo]] = {}
    for container in containers:
        owner = service_of(container, names)
        if owner is not None:
            groups.setdefault(owner, []).append(container)
    return groups


def _row(
    service: Service, host_name: str, host: HostState | None, mine: list[ContainerInfo]
) -> ServiceRow:
    if host is None or host.status is not HostStatus.UP:
        state = STATE_HOST_DOWN if host and host.status is HostStatus.DOWN else STATE_UNKNOWN
        return ServiceRow(service.name, host_name, service.image, None, state, None, None)
    current = current_container(mine)
    if current is None:
        return ServiceRow(service.name, host_name, service.image, None, STATE_MISSING, None, None)
    state = STATE_RUNNING if current.running else STATE_STOPPED
    return ServiceRow(
        service.name,
        host_name,
        service.image,
        current.version,
        state,
        current.started_at if current.running else None,
        current,
    )


def unmanaged(inventory: Inventory, fleet: FleetSnapshot) -> list[ContainerInfo]:
    """Containers that are no instance of any inventory service."""
    names = {s.name for s in inventory.services}
    return [c for c in fleet.containers() if service_of(c, names) is None]
