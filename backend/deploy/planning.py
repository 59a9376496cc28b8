"""The effectful half of planning: what runs now, inspected, and the plan's fingerprint.

:func:`observe` asks each host of a service once (its containers, the current
one's observed spec, and for a rollback the retained container's);
:func:`with_fingerprint` adds what the plan was computed from
(:mod:`jobtui.backend.deploy.fingerprint`), with the target image's digest
asked of the registry; :func:`rollback_candidates` lists where a rollback can go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from jobtui.backend.deploy.fingerprint import NOT_IN_REGISTRY, Fingerprint, HostPrint
from jobtui.backend.deploy.host import OPERATIONAL_ERRORS
from jobtui.backend.deploy.plan import ActionKind, ServicePlan
from jobtui.backend.deploy.policy import RollbackCandidate, order_candidates, retained_version
from jobtui.backend.docker import (
    ContainerSpec,
    HostPool,
    belongs_to,
    container_from_api,
    current_container,
    describe_error,
    list_service_containers,
    spec_hash,
)
from jobtui.backend.model import (
    LABEL_SPEC_HASH,
    ContainerInfo,
    FleetSnapshot,
    HostState,
    HostStatus,
    RegistryError,
)
from jobtui.backend.observe import inspect_spec
from jobtui.backend.registry import RegistryClient, repository_in_registry
from jobtui.config.models import Inventory, Service

log = logging.getLogger(__name__)


@dataclass
class Observed:
    """One look at a service's hosts."""

    fleet: FleetSnapshot
    specs: dict[str, ContainerSpec] = field(default_factory=dict)
    """Container id → its observed spec (the current ones, and retained ones asked for)."""
    mine: dict[str, list[ContainerInfo]] = field(default_factory=dict)
    """Host → the service's containers there."""

    def container(self, host: str, container_id: str | None) -> ContainerInfo | None:
        return next((c for c in self.mine.get(host, ()) if c.id == container_id), None)

    def running(self) -> dict[str, ContainerInfo]:
        """Host → its running container of the service (the current one), if any."""
        found = {h: current_container(cs) for h, cs in self.mine.items()}
        return {h: c for h, c in found.items() if c is not None and c.running}


def observe(
    inventory: Inventory,
    pool: HostPool,
    service: Service,
    log_driver: Callable[[str], str],
    *,
    retained: str | None = None,
) -> Observed:
    """Every host of ``service`` asked once; with ``retained``, that version's newest
    stopped container is inspected too (a rollback restarts it)."""
    hosts: dict[str, HostState] = {}
    seen = Observed(FleetSnapshot(hosts))
    for name in service.run_on_host:
        url = inventory.hosts[name].url if name in inventory.hosts else name
        try:
            api = pool[name].client.api
            rows = api.containers(all=True)
            found = tuple(container_from_api(row, name) for row in rows)
            hosts[name] = HostState(name, url, HostStatus.UP, containers=found)
            mine = [c for c in found if belongs_to(c, service.name)]
            seen.mine[name] = mine
            wanted = [current_container(mine)]
            if retained is not None:
                wanted.append(retained_version(mine, retained))
            for container in wanted:
                if container is not None and container.id not in seen.specs:
                    seen.specs[container.id] = inspect_spec(api, container.id, log_driver(name))
        except KeyError:
            hosts[name] = HostState(name, url, HostStatus.DOWN, error="not a known host")
        except OPERATIONAL_ERRORS as exc:
            hosts[name] = HostState(name, url, HostStatus.DOWN, error=describe_error(exc, url))
            seen.mine.pop(name, None)
    return seen


def target_digest(
    inventory: Inventory, registry: RegistryClient | None, service: Service, version: str
) -> str:
    """The registry's digest of the service's image at ``version``; ``""`` when unknown,
    :data:`NOT_IN_REGISTRY` when the registry says it has no such tag."""
    if registry is None or inventory.registry is None:
        return ""
    repository = repository_in_registry(service.image, inventory.registry)
    if repository is None:
        return ""
    try:
        return registry.digest(repository, version) or NOT_IN_REGISTRY
    except RegistryError as exc:
        log.info("plan fingerprint without the image digest: %s", exc)
        return ""


def with_fingerprint(
    plan: ServicePlan, seen: Observed, digest: str, hash_key: bytes | None
) -> ServicePlan:
    """``plan`` carrying the fingerprint of what it was computed from."""
    prints: list[HostPrint] = []
    for action in plan.actions:
        current = seen.container(action.host, action.container_id)
        spec = seen.specs.get(action.container_id or "")
        if spec is not None:
            observed_hash: str | None = spec_hash(spec, hash_key)
        else:
            observed_hash = current.labels.get(LABEL_SPEC_HASH) if current is not None else None
        if action.kind is ActionKind.REUSE:
            target = action.source_id or ""
        elif action.kind in (ActionKind.CREATE, ActionKind.UPDATE):
            target = digest
        else:
            target = ""
        prints.append(
            HostPrint(
                action.host,
                action.kind.value,
                action.container_id,
                current is not None and current.running,
                observed_hash,
                target,
            )
        )
    return replace(plan, fingerprint=Fingerprint(plan.spec_hash, tuple(prints)))


def rollback_candidates(
    inventory: Inventory, pool: HostPool, registry: RegistryClient | None, service: Service
) -> list[RollbackCandidate]:
    """Versions to roll back to: retained on hosts first (most recently stopped
    first), then the registry's other tags, newest first."""
    retained: dict[str, list[tuple[str, float]]] = {}
    running: list[set[str]] = []
    for name in service.run_on_host:
        try:
            mine = list_service_containers(pool[name].client.api, name, service.name)
            running.append({c.version for c in mine if c.running})
            stopped = [c for c in mine if not c.running]
            retained[name] = [(c.version, c.finished_at or c.created) for c in stopped]
        except (KeyError, *OPERATIONAL_ERRORS) as exc:  # type: ignore[misc]
            log.info("rollback candidates: %s skipped: %s", name, exc)
    everywhere = set.intersection(*running) if running else set()
    return order_candidates(retained, _registry_tags(inventory, registry, service), everywhere)


def _registry_tags(
    inventory: Inventory, registry: RegistryClient | None, service: Service
) -> list[str]:
    config = inventory.registry
    if registry is None or config is None:
        return []
    repository = repository_in_registry(service.image, config)
    if repository is None:
        return []
    try:
        return [t.tag for t in registry.tags(repository)]
    except RegistryError as exc:
        log.info("rollback candidates: registry skipped: %s", exc)
        return []
