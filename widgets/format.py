"""Small text formatters shared by the tables: durations, ages, ids, times.

Pure functions of their arguments (the caller passes ``now``), so a frozen
clock gives the same text in every snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
