"""Coordination between operators: deploy locks on leases, instance registration
for confd, the deploy journal; etcd and local-file backends behind one protocol,
and who the operator is.

The room's front door: other rooms and the app import only these names.
Each is loaded on first use, so a verb pays only for the clients it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtui.backend.doors import lazy_attribute

if TYPE_CHECKING:
    from jobtui.backend.coordination.factory import (
        CoordinationError as CoordinationError,
        current_owner as current_owner,
        format_journal as format_journal,
        make_coordinator as make_coordinator,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "factory": (
        "CoordinationError",
        "current_owner",
        "format_journal",
        "make_coordinator",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
