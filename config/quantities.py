"""Grammars of amounts: durations, byte sizes, CPUs, counts, shares, restart policies.

One duration grammar serves the whole project: inventory fields, and CLI
arguments such as ``logs --since`` through ``jobtui.backend.times``. Every
amount is finite and bounded, read from ASCII digits only, and never goes
through ``int()`` or ``float()`` on text that could be huge, non-ASCII or
``inf``.
"""

from __future__ import annotations

import math
import re

from jobtui.config.errors import show

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
DURATION_MAX = 366 * DAY
"""The longest duration any grammar accepts (``--since 30d`` fits, ``inf`` does not)."""
_DURATION_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": MINUTE, "h": HOUR, "d": DAY}
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_DURATION = re.compile(rf"(?:{_NUMBER}(?:us|ms|s|m|h|d))+", re.ASCII)
_DURATION_PART = re.compile(rf"({_NUMBER})(us|ms|s|m|h|d)", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+", re.ASCII)
_TEXT_MAX = 64
DURATION_EXAMPLES = "e.g. 10s, 1m30s, 500ms, 2h, 1d; a bare number is seconds"

SIZE_MAX = 1 << 50
"""1 PiB: larger than any host, small enough to stay exact in a float."""
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(b|k|kb|m|mb|g|gb)?", re.ASCII | re.IGNORECASE)
_SIZE_UNIT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MEMORY_MIN = 6 * 1024**2
"""Docker refuses a memory limit below 6 MiB."""

CPUS_MIN = 0.01
"""Docker refuses fewer than 0.01 CPUs (and 0 means no limit, which is written by omitting it)."""
CPUS_MAX = 1024.0

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
RETRIES_MAX = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)
_PERCENT = re.compile(r"([0-9]{1,3}(?:\.[0-9]{1,6})?)\s*%", re.ASCII)
TAIL_MAX = 10_000_000


def bounded_seconds(value: float, text: str, *, maximum: float = DURATION_MAX) -> float:
    """``value`` seconds if finite and within ``[0, maximum]``; ``text`` is how it was written."""
    if not math.isfinite(value):
        raise ValueError(f"{show(text)} is not a finite duration ({DURATION_EXAMPLES})")
    if value < 0:
        raise ValueError(f"{show(text)}: a duration cannot be negative")
    if value > maximum:
        raise ValueError(f"{show(text)} is longer than the maximum, {format_seconds(maximum)}")
    return value


def parse_duration(text: str, *, maximum: float = DURATION_MAX) -> float:
    """Seconds in ``text``: Compose's durations (``1m30s``, ``500ms``) plus ``d`` for days.

    Units are ``us``, ``ms``, ``s``, ``m``, ``h`` and ``d``; a bare number is
    seconds. The result is finite, non-negative and at most ``maximum``.
    """
    stripped = text.strip()
    if len(stripped) > _TEXT_MAX:
        raise ValueError(f"{show(text)} is not a duration ({DURATION_EXAMPLES})")
    if _DECIMAL.fullmatch(stripped):
        return bounded_seconds(float(stripped), text, maximum=maximum)
    if not _DURATION.fullmatch(stripped):
        raise ValueError(f"{show(text)} is not a duration ({DURATION_EXAMPLES})")
    total = sum(
        float(number) * _DURATION_UNIT[unit] for number, unit in _DURATION_PART.findall(stripped)
    )
    return bounded_seconds(total, text, maximum=maximum)


def format_seconds(seconds: float) -> str:
    """A duration as the grammar writes it: ``90`` → ``1m30s``."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    parts, rest = [], seconds
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if rest >= size:
            count = math.floor(rest / size)
            parts.append(f"{count}{unit}")
            rest -= count * size
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


def parse_size(text: str, *, maximum: int = SIZE_MAX) -> int:
    """Bytes in Compose's sizes: ``512m``, ``1g``, ``1024k``, ``1.5gb``, ``2048`` (bytes)."""
    match = _SIZE.fullmatch(text.strip()) if len(text) <= _TEXT_MAX else None
    if not match:
        raise ValueError(f"{show(text)} is not a size (e.g. 512m, 1g, 1024k; b, k, m, g)")
    unit = (match.group(2) or "").lower().rstrip("b")
    amount = float(match.group(1)) * _SIZE_UNIT[unit]
    if not amount <= maximum:
        raise ValueError(f"{show(text)} is larger than the maximum, {maximum} bytes")
    return int(amount)


def check_memory(size: int, text: str) -> int:
    """A memory limit in bytes: 0 (no limit) or Docker's minimum of 6 MiB and more."""
    if 0 < size < MEMORY_MIN:
        raise ValueError(f"{show(text)} is below Docker's minimum memory limit, 6m")
    return size


def check_cpus(value: float, text: str) -> float:
    """A CPU limit: finite, between 0.01 (Docker's minimum) and 1024."""
    if not math.isfinite(value) or not CPUS_MIN <= value <= CPUS_MAX:
        raise ValueError(
            f"{show(text)} is not a number of CPUs (from {CPUS_MIN:g} to {CPUS_MAX:g}, e.g. 1.5)"
        )
    return value


def parse_cpus(text: str) -> float:
    """A CPU limit written as text, as Compose accepts it: ``"1.5"``, ``"0.25"``, ``"2"``."""
    stripped = text.strip()
    if len(stripped) > _TEXT_MAX or not _DECIMAL.fullmatch(stripped):
        raise ValueError(f"{show(text)} is not a number of CPUs (e.g. 1.5)")
    return check_cpus(float(stripped), text)


def parse_restart(text: str) -> str:
    """A restart policy: ``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``."""
    name, colon, count = text.partition(":")
    valid = name in RESTART_POLICIES and (
        not colon or (name == "on-failure" and _DIGITS.fullmatch(count) is not None)
    )
    if not valid or (colon and int(count) > RETRIES_MAX):
        raise ValueError(
            f"{show(text)} is not a restart policy ({', '.join(RESTART_POLICIES)}, on-failure:N)"
        )
    return text


def parse_percent(text: str) -> float:
    """A share such as ``25%``: more than 0, at most 100."""
    match = _PERCENT.fullmatch(text.strip()) if len(text) <= _TEXT_MAX else None
    percent = float(match.group(1)) if match else -1.0
    if not 0 < percent <= 100:
        raise ValueError(f"{show(text)} must be a percentage in (0, 100], e.g. 25%")
    return percent


def parse_count(text: str, *, minimum: int = 0, maximum: int = RETRIES_MAX) -> int:
    """A whole number in ASCII digits within ``[minimum, maximum]``."""
    stripped = text.strip()
    if not _DIGITS.fullmatch(stripped) or not minimum <= int(stripped) <= maximum:
        raise ValueError(f"{show(text)} is not a whole number from {minimum} to {maximum}")
    return int(stripped)


def parse_tail(text: str) -> int | None:
    """How many last lines to show: a count, or ``all`` (``None``)."""
    if text.strip() == "all":
        return None
    try:
        return parse_count(text, maximum=TAIL_MAX)
    except ValueError:
        raise ValueError(f"{show(text)} is not a line count (0 to {TAIL_MAX}, or all)") from None
