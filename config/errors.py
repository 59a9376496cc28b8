"""Problems found in an inventory, each with file, line and key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an inventory file."""

    file: str
    line: int
    """1-based line of the offending key or value (0 when the file cannot be read)."""
    key: str
    """Where in the document: ``services[2].envs[0].value``; empty for the whole file."""
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


SHOWN_CHARS = 60
"""How much of an offending value a message quotes."""


def show(value: str, limit: int = SHOWN_CHARS) -> str:
    """``value`` quoted for a message, escaped and cut to ``limit`` characters.

    ``repr`` escapes control characters and lone surrogates, so whatever the
    file held, the message prints on any terminal.
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[: limit - 1]!r}… ({len(value)} characters)"


class JobtuiError(Exception):
    """The base of every error jobtui reports: ``str()`` is what the operator reads.

    It lives in the lowest layer so the inventory's errors and the engine's
    share it; the app shows the message and never a class name.
    """

    @property
    def message(self) -> str:
        """The operator-facing sentence."""
        return str(self) or self.__class__.__doc__ or "failed"


class InventoryError(JobtuiError):
    """The inventory is invalid; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(problems))
        count = len(self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in inventory:\n"
            + "\n".join(f"  {p}" for p in self.problems)
        )
