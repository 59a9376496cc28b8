"""Small text formatters shared by the tables: durations, ages, ids, times.

Pure functions of their arguments (the caller passes ``now``), so a frozen
clock gives the same text in every snapshot.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobtui.backend.model import ContainerInfo

NO_VALUE = "—"
"""Shown in a cell whose value is unknown, so an empty cell never looks like a bug."""


def compact_duration(seconds: float) -> str:
    """A duration in at most two units, k9s style: ``45s``, ``12m``, ``3h12m``, ``4d3h``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def uptime(started_at: float | None, now: float) -> str:
    """How long something has run, or ``—`` when it is not running."""
    if started_at is None:
        return NO_VALUE
    return compact_duration(now - started_at)


def age(when: float | datetime | None, now: float) -> str:
    """``3d4h ago`` for a Unix time or an aware datetime; ``—`` when unknown."""
    if when is None:
        return NO_VALUE
    stamp = when.timestamp() if isinstance(when, datetime) else when
    if stamp <= 0:
        return NO_VALUE
    return f"{compact_duration(now - stamp)} ago"


def timestamp(when: float | datetime | None) -> str:
    """A fixed-width UTC time, ``2024-05-02 14:03``.

    UTC rather than local time: a fleet spans time zones, and it keeps the
    text the same on every machine that renders it.
    """
    if when is None:
        return NO_VALUE
    if isinstance(when, datetime):
        moment = when if when.tzinfo else when.replace(tzinfo=UTC)
    elif when <= 0:
        return NO_VALUE
    else:
        moment = datetime.fromtimestamp(when, tz=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def short_id(image_or_container_id: str) -> str:
    """The 12 hex digits Docker shows, without any ``sha256:`` prefix."""
    if not image_or_container_id:
        return NO_VALUE
    return image_or_container_id.split(":", 1)[-1][:12]


def human_duration(seconds: float) -> str:
    """A duration the way ``docker ps`` words it: ``45 seconds``, ``About a minute``, ``3 days``.

    Docker's own rules (go-units ``HumanDuration``), so the text reads the
    same as on the daemon's host.
    """
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)  # Go's Duration.Round(time.Hour)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{whole // 3600 // 24 // 365} years"


_SUFFIX = re.compile(r"\s(\((?:healthy|unhealthy|health: starting|Paused)\))$")


def container_status(container: ContainerInfo, now: float) -> str:
    """Docker's status text for ``container`` at ``now``, e.g. ``Exited (0) 5 minutes ago``.

    Computed from the start and stop times at paint time, because the text
    Docker put in its list is only true at the moment it was listed. The
    health suffix (``(healthy)``) is kept from Docker's text: health changes
    arrive as events and relist the container. Without the times, Docker's
    own text is shown as it was.
    """
    state = container.state
    suffix = _SUFFIX.search(container.status)
    health = f" {suffix.group(1)}" if suffix else ""
    if state in ("running", "paused") and container.started_at is not None:
        if state == "paused" and not health:
            health = " (Paused)"
        return f"Up {human_duration(now - container.started_at)}{health}"
    if state in ("exited", "restarting") and container.finished_at is not None:
        word = "Exited" if state == "exited" else "Restarting"
        code = f" ({container.exit_code})" if container.exit_code is not None else ""
        return f"{word}{code} {human_duration(now - container.finished_at)} ago"
    return container.status
