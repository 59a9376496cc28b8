"""Times and durations: one reader of RFC 3339, one of ``--since``, one time-zone policy.

Policy: every time jobtui shows or writes is UTC (tables, ``jobtui history``,
lock holders, log timestamps): a fleet spans time zones, Docker, etcd and the
registry all speak UTC, and two operators on one bastion then read the same
text. Durations everywhere use the inventory's grammar
(:func:`jobtui.config.grammar.parse_duration`).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from jobtui.config.grammar import parse_duration

_RFC3339 = re.compile(r"^(.*?\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_rfc3339(text: object) -> float | None:
    """Unix time of an RFC 3339 timestamp as Docker and registries write them.

    Nanosecond fractions are allowed (trimmed to what Python keeps); Docker's
    zero time (``0001-01-01…``), garbage and non-strings give ``None``.
    """
    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    match = _RFC3339.match(text.strip())
    if not match:
        return None
    head, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    try:
        return datetime.fromisoformat(f"{head}{(fraction or '')[:7]}{zone}").timestamp()
    except ValueError:
        return None


def parse_since(text: str, *, now: float | None = None) -> float:
    """The Unix time meant by ``--since TEXT``; ``ValueError`` if none.

    A duration back from now in the inventory's grammar (``30s``, ``10m``,
    ``1h30m``, ``2d``); a Unix timestamp (``1700000000.5``), as the Docker CLI
    reads a bare number; or an ISO 8601 time (``2024-05-01T12:00:00Z``), UTC
    when it names no zone.
    """
    value = text.strip()
    if _NUMBER.fullmatch(value):
        return float(value)
    try:
        return (time.time() if now is None else now) - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected a duration (30s, 10m, 1h30m, 2d), "
            "a Unix timestamp or an ISO 8601 time (2024-05-01T12:00:00Z)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def utc_time(when: float, *, seconds: bool = True) -> str:
    """``2024-05-02 14:03:07 UTC`` (or without seconds): the operator-facing time."""
    pattern = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return datetime.fromtimestamp(when, tz=UTC).strftime(pattern)


def utc_clock(when: float) -> str:
    """``14:03:07``: a time of day in UTC, for step lines within one operation."""
    return datetime.fromtimestamp(when, tz=UTC).strftime("%H:%M:%S")


def format_duration(seconds: float) -> str:
    """``0.4s``, ``12s``, ``3m05s``, ``1h02m``: how long an operation took."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
