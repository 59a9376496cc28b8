"""Observation: host watches fed by the events stream, the fleet model, the
inventory x fleet rows, and drift.

The room's front door: other rooms and the app import only these names.
Each is loaded on first use, so a verb pays only for the clients it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtui.backend.doors import lazy_attribute

if TYPE_CHECKING:
    from jobtui.backend.observe.drift import (
        Drift as Drift,
        DriftChecker as DriftChecker,
        inspect_spec as inspect_spec,
    )
    from jobtui.backend.observe.fleet import (
        FleetObserver as FleetObserver,
    )
    from jobtui.backend.observe.outdated import (
        OutdatedRow as OutdatedRow,
        RegistryTags as RegistryTags,
        TagCache as TagCache,
        fetch_tags as fetch_tags,
        newer_by_key as newer_by_key,
        outdated_rows as outdated_rows,
        repositories as repositories,
    )
    from jobtui.backend.observe.rows import (
        STATE_HOST_DOWN as STATE_HOST_DOWN,
        STATE_MISSING as STATE_MISSING,
        STATE_RUNNING as STATE_RUNNING,
        STATE_STOPPED as STATE_STOPPED,
        ServiceRow as ServiceRow,
        service_rows as service_rows,
        unmanaged as unmanaged,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "drift": (
        "Drift",
        "DriftChecker",
        "inspect_spec",
    ),
    "fleet": (
        "FleetObserver",
    ),
    "outdated": (
        "OutdatedRow",
        "RegistryTags",
        "TagCache",
        "fetch_tags",
        "newer_by_key",
        "outdated_rows",
        "repositories",
    ),
    "rows": (
        "STATE_HOST_DOWN",
        "STATE_MISSING",
        "STATE_RUNNING",
        "STATE_STOPPED",
        "ServiceRow",
        "service_rows",
        "unmanaged",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
