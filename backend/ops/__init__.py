"""Operations that outlive their operator: requests to detached runners, the events they
report, following them, and the list of this bastion's operations.

The room's front door: other rooms and the app import only these names.
Each is loaded on first use, so a verb pays only for the clients it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtui.backend.doors import lazy_attribute

if TYPE_CHECKING:
    from jobtui.backend.ops.records import (
        OpRequest as OpRequest,
        Record as Record,
        RecordError as RecordError,
        RunnerInfo as RunnerInfo,
        result_from_data as result_from_data,
        result_to_data as result_to_data,
    )
    from jobtui.backend.ops.runners import (
        Follower as Follower,
        RunnerDied as RunnerDied,
        follow as follow,
        log_tail as log_tail,
        runner_env as runner_env,
        spawn_runner as spawn_runner,
    )
    from jobtui.backend.ops.store import (
        Control as Control,
        EventWriter as EventWriter,
        OpStore as OpStore,
        OpSummary as OpSummary,
        runner_alive as runner_alive,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "runners": (
        "Follower",
        "RunnerDied",
        "follow",
        "log_tail",
        "runner_env",
        "spawn_runner",
    ),
    "records": (
        "OpRequest",
        "Record",
        "RecordError",
        "RunnerInfo",
        "result_from_data",
        "result_to_data",
    ),
    "store": (
        "Control",
        "EventWriter",
        "OpStore",
        "OpSummary",
        "runner_alive",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
