"""Every CLI argument checked for its value before anything runs.

argparse checks the shape of a command line; this checks what the values
may hold, with the inventory's own grammar (one definition for the file and
the command line): names, versions, line counts, durations. A bad value is
one line on stderr and exit 2, before a host is asked anything.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable

from jobtui.backend.times import parse_since
from jobtui.config.grammar import parse_count, parse_name, parse_tag, parse_tail

LIMIT_MAX = 100_000
"""The most journal entries or operations one listing asks for."""


def _names(value: object) -> Iterable[str]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return [str(v) for v in value] if isinstance(value, list | tuple) else (str(value),)


def _limit(text: str) -> object:
    return parse_count(text, minimum=1, maximum=LIMIT_MAX)


CHECKS: dict[str, tuple[str, Callable[[str], object]]] = {
    # argparse dest -> (how the message names it, the grammar it must match)
    "service": ("service", parse_name),
    "services": ("service", parse_name),
    "host": ("--host", parse_name),
    "version": ("--version", parse_tag),
    "to": ("--to", parse_tag),
    "tail": ("--tail", parse_tail),
    "since": ("--since", parse_since),
    "limit": ("--limit", _limit),
}


def argument_problem(args: argparse.Namespace) -> str | None:
    """The first argument whose value is not acceptable, as one sentence; ``None`` if all are."""
    for dest, (label, check) in CHECKS.items():
        for value in _names(getattr(args, dest, None)):
            try:
                check(value)
            except ValueError as exc:
                reason = str(exc)
                # parse_since already names its option; the others name the value.
                return reason if reason.startswith(label) else f"{label}: {reason}"
    return None
