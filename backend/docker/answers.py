"""Turn Docker API answers (container lists, inspect, events) into model values.

Pure functions, no I/O: the observer feeds them what the daemon said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from jobtui.backend.model import ContainerInfo
from jobtui.backend.times import parse_rfc3339

# Container events that cannot change what a container list shows; skipping
# them saves an API call per ``docker exec`` or ``docker cp``.
_INERT_ACTIONS = frozenset(
    {"attach", "detach", "resize", "top", "export", "commit", "copy", "archive-path",
     "extract-to-dir"}
)  # fmt: skip

STOPPED_ACTIONS = frozenset({"die"})
"""Actions whose event time is the container's stop time (``stop`` and ``kill`` end in ``die``)."""

STARTED_ACTIONS = frozenset({"start"})
"""Actions whose event time is the container's new start time.

``docker restart`` emits ``start`` too; ``restart`` comes later and ``unpause``
keeps the old start time, so neither counts."""


def container_name(names: list[str] | None, fallback: str) -> str:
    """The container's own name from the list API's ``Names``.

    Legacy links add entries like ``/other/alias``; the own name has no inner slash.
    """
    for name in names or ():
        bare = name.lstrip("/")
        if "/" not in bare:
            return bare
    return fallback[:12]


def parse_docker_time(text: str | None) -> float | None:
    """Unix time from Docker's RFC 3339 timestamps; ``None`` if unset."""
    return parse_rfc3339(text)


def container_from_api(
    data: Mapping[str, Any], host: str, started_at: float | None = None
) -> ContainerInfo:
    """A ContainerInfo from one entry of ``GET /containers/json?all=1``.

    ``started_at`` is kept only for containers that are up (running or paused).
    """
    state = str(data.get("State") or "")
    up = state in ("running", "paused")
    container_id = str(data.get("Id", ""))
    return ContainerInfo(
        id=container_id,
        name=container_name(data.get("Names"), container_id),
        host=host,
        image=str(data.get("Image") or ""),
        state=state,
        status=str(data.get("Status") or ""),
        created=float(data.get("Created") or 0),
        started_at=started_at if up else None,
        exit_code=None if up else exit_code_of(str(data.get("Status") or "")),
        image_id=str(data.get("ImageID") or ""),
        labels=MappingProxyType(dict(data.get("Labels") or {})),
    )


def exit_code_of(status: str) -> int | None:
    """The exit code in a list status such as ``Exited (137) 2 hours ago``; ``None`` if none."""
    match = re.match(r"^(?:Exited|Restarting)\s+\((-?\d+)\)", status.strip())
    return int(match.group(1)) if match else None


def event_fields(event: Mapping[str, Any]) -> tuple[str, str, float]:
    """``(container id, action, unix time)`` of a container event."""
    actor = event.get("Actor") or {}
    container_id = str(actor.get("ID") or event.get("id") or "")
    action = str(event.get("Action") or event.get("status") or "")
    nanos = event.get("timeNano")
    if isinstance(nanos, int | float) and nanos:
        return container_id, action, nanos / 1e9
    return container_id, action, float(event.get("time") or 0)


def event_changes_listing(action: str) -> bool:
    """Whether a container event can change what the container list shows."""
    base = action.split(":", 1)[0].strip()
    return not (base.startswith("exec_") or base in _INERT_ACTIONS)


_UNIT_SECONDS = {
    "second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
    "month": 30 * 86400, "year": 365 * 86400,
}  # fmt: skip


def uptime_upper_bound(status: str) -> float | None:
    """The most seconds a ``Up …`` status can mean (Docker rounds down to one unit).

    ``None`` when the status is not an ``Up`` one. Used after a reconnect to
    notice that a container restarted while we were not listening, without
    inspecting every container again.
    """
    match = re.match(r"^Up\s+(.*?)(\s+\(.*\))?$", status.strip())
    if not match:
        return None
    text = match.group(1).lower()
    if text.startswith("less than a second"):
        return 1.0
    if text.startswith("about a minute"):
        return 120.0
    if text.startswith("about an hour"):
        return 1.5 * 3600
    amount = re.match(r"^(\d+)\s+(second|minute|hour|day|week|month|year)s?", text)
    if not amount:
        return None
    return (int(amount.group(1)) + 1) * _UNIT_SECONDS[amount.group(2)]
