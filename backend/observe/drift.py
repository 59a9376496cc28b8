"""Drift: a running container whose settings no longer match its inventory entry.

A manual ``docker run`` or a hand-edited container shows up here field by
field. The version is left out: a different tag is shown as a version
mismatch already, and ``deploy --version`` makes it on purpose.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from jobtui.backend.docker import (
    DEFAULT_LOG_DRIVER,
    DOCKER_ERRORS,
    ContainerSpec,
    FieldDiff,
    HostPool,
    desired_spec,
    diff_specs,
    image_defaults,
    observed_spec,
)
from jobtui.backend.model import FleetSnapshot
from jobtui.backend.observe.rows import service_rows
from jobtui.config.models import Inventory

Drift = Mapping[str, tuple[FieldDiff, ...]]
"""Field differences by service row key (``service@host``); rows without drift are absent."""


def inspect_spec(api: Any, container_id: str, log_driver: str) -> ContainerSpec:
    """The observed spec of one container, read against its image's defaults."""
    inspect = api.inspect_container(container_id)
    defaults = image_defaults(api.inspect_image(inspect["Image"]), log_driver=log_driver)
    return observed_spec(inspect, defaults)


def config_drift(desired: ContainerSpec, actual: ContainerSpec) -> tuple[FieldDiff, ...]:
    """Differences other than the image (the version is compared elsewhere)."""
    return diff_specs(dataclasses.replace(desired, image=actual.image), actual)


class DriftChecker:
    """Inspects each service's current container once per (id, start) and remembers the diff.

    Inspecting costs two API calls per container, so results are cached by
    container id and start time: a container is read again only when it is
    replaced or restarted, and a check after an unrelated event is free.
    """

    def __init__(self, inventory: Inventory, pool: HostPool) -> None:
        self.inventory = inventory
        self.pool = pool
        self._cache: dict[tuple[str, float | None], tuple[FieldDiff, ...]] = {}
        self._log_drivers: dict[str, str] = {}
        self._lock = threading.Lock()

    def check(self, fleet: FleetSnapshot) -> dict[str, tuple[FieldDiff, ...]]:
        """Drift of every running instance in ``fleet``; blocking (call from a thread)."""
        drift: dict[str, tuple[FieldDiff, ...]] = {}
        seen: set[tuple[str, float | None]] = set()
        with self._lock:
            for row in service_rows(self.inventory, fleet):
                container = row.container
                if container is None or not container.running:
                    continue
                key = (container.id, container.started_at)
                seen.add(key)
                if key not in self._cache:
                    try:
                        self._cache[key] = self._diff(row.service, row.host, container.id)
                    except DOCKER_ERRORS:
                        continue  # a host going away mid-check is not drift
                if self._cache[key]:
                    drift[row.key] = self._cache[key]
            for stale in set(self._cache) - seen:
                del self._cache[stale]
        return drift

    def _diff(self, service: str, host: str, container_id: str) -> tuple[FieldDiff, ...]:
        api = self.pool[host].client.api
        if host not in self._log_drivers:
            self._log_drivers[host] = str(api.info().get("LoggingDriver") or DEFAULT_LOG_DRIVER)
        actual = inspect_spec(api, container_id, self._log_drivers[host])
        return config_drift(desired_spec(self.inventory.service(service)), actual)
