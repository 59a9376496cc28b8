"""Reading a service's containers from a host's daemon (one list call, few inspects)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jobtui.backend.docker.answers import container_from_api, parse_docker_time
from jobtui.backend.docker.errors import DOCKER_ERRORS
from jobtui.backend.docker.service_containers import belongs_to
from jobtui.backend.model import ContainerInfo


def list_service_containers(
    api: Any, host: str, service: str, *, running_only: bool = False
) -> list[ContainerInfo]:
    """This service's containers on one host, from one list call.

    Stopped ones are inspected for their stop time (they are few: ``keep``
    per service), so :func:`current_container` can rank them.
    """
    filters = {"status": "running"} if running_only else None
    rows = api.containers(all=not running_only, filters=filters)
    mine = [c for c in (container_from_api(row, host) for row in rows) if belongs_to(c, service)]
    return sorted((with_finished_at(api, c) for c in mine), key=lambda c: c.name)


def with_finished_at(api: Any, container: ContainerInfo) -> ContainerInfo:
    """``container`` with its stop time filled in from an inspect (stopped ones only)."""
    if container.running or container.finished_at is not None:
        return container
    try:
        state = api.inspect_container(container.id).get("State") or {}
    except DOCKER_ERRORS:  # removed meanwhile: rank it by creation
        return container
    return replace(container, finished_at=parse_docker_time(state.get("FinishedAt")))
