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
        LockLost as LockLost,
        current_owner as current_owner,
        default_state_dir as default_state_dir,
        format_journal as format_journal,
        make_coordinator as make_coordinator,
        per_operation as per_operation,
    )
    from jobtui.backend.coordination.identity import (
        HolderState as HolderState,
        boot_id as boot_id,
        holder_state as holder_state,
        process_start_time as process_start_time,
    )
    from jobtui.backend.coordination.stale import (
        LOCK_TTL as LOCK_TTL,
        record_action as record_action,
        record_unlock as record_unlock,
        take_lock as take_lock,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "factory": (
        "CoordinationError",
        "LockLost",
        "current_owner",
        "default_state_dir",
        "format_journal",
        "make_coordinator",
        "per_operation",
    ),
    "identity": (
        "HolderState",
        "boot_id",
        "holder_state",
        "process_start_time",
    ),
    "stale": (
        "LOCK_TTL",
        "record_action",
        "record_unlock",
        "take_lock",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
