"""Container logs through the Docker logs API: frame decoding, streams, and the
bounded merged follower.

The room's front door: other rooms and the app import only these names.
Each is loaded on first use, so a verb pays only for the clients it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtui.backend.doors import lazy_attribute

if TYPE_CHECKING:
    from jobtui.backend.logs.follower import (
        LogFollower as LogFollower,
    )
    from jobtui.backend.logs.lines import (
        LineRing as LineRing,
        LogLine as LogLine,
    )
    from jobtui.backend.logs.stream import (
        LogTarget as LogTarget,
        service_targets as service_targets,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "follower": (
        "LogFollower",
    ),
    "lines": (
        "LineRing",
        "LogLine",
    ),
    "stream": (
        "LogTarget",
        "service_targets",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
