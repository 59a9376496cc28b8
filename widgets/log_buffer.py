"""The lines behind a log view: bounded, numbered, searchable, filterable. No Textual.

Every line gets a sequence number that never changes; the oldest leave once
``capacity`` is reached. Search keeps the sorted numbers of matching lines;
filter mode keeps the numbers shown (matches plus ``context`` lines around each,
like ``grep -C``) and marks where lines were left out. Both extend line by line
as lines arrive, so following a log in filter mode costs no rescans.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from rich.cells import cell_len

if TYPE_CHECKING:
    from jobtui.backend.logs import LogLine

# ANSI escape sequences are dropped, other control characters shown as �:
# a container's colours or cursor moves must not repaint the terminal.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NEVER = -(10**18)


def clean_text(text: str) -> str:
    """``text`` safe to paint: escape sequences removed, tabs expanded, controls replaced."""
    if text.isprintable():  # the usual case, checked in C
        return text
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\t" in text:
        text = text.expandtabs()
    return _CONTROL.sub("\ufffd", text)


class Entry(NamedTuple):
    """A held line, ready to paint."""

    line: LogLine
    text: str
    """The line's text cleaned for painting."""
    width: int
    """Cells the cleaned text takes."""


class LogBuffer:
    """The newest ``capacity`` lines, with search matches and filter-mode rows."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a log buffer needs room for at least one line, not {capacity}")
        self.capacity = capacity
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self.total = 0
        """Lines ever appended; the next line's sequence number."""
        self.sources: dict[str, int] = {}
        """``host/container`` → the order in which it first spoke."""
        self.prefix_width = 0
        self.max_width = 0
        """Cells of the widest text seen (it never shrinks: a cheap upper bound)."""
        self._pattern: re.Pattern[str] | None = None
        self.matches: list[int] = []
        """Sequence numbers of held lines that match the search, ascending."""
        self.filtering = False
        self.context = 2
        self.rows: list[int] | None = None
        """Filter mode: the sequence numbers shown, ascending; ``None`` shows every line."""
        self.gaps: set[int] = set()
        """Shown lines that follow left-out ones (a marker row goes before them)."""
        self._last_row = -1
        self._last_match = _NEVER

    # -- lines -------------------------------------------------------------------------------

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest line held."""
        return self.total - len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, seq: int) -> Entry:
        return self._entries[seq - self.first_seq]

    def lines(self) -> list[LogLine]:
        """The lines held, oldest first."""
        return [entry.line for entry in self._entries]

    def append(self, lines: Iterable[LogLine]) -> bool:
        """Add lines at the end; whether a new ``host/container`` widened the prefixes."""
        first_new = self.total
        widest, widened = self.max_width, False
        for line in lines:
            text = clean_text(line.text)
            width = len(text) if text.isascii() else cell_len(text)
            widest = max(widest, width)
            self._entries.append(Entry(line, text, width))
            self.total += 1
            if line.prefix not in self.sources:
                self.sources[line.prefix] = len(self.sources)
                if cell_len(line.prefix) > self.prefix_width:
                    self.prefix_width, widened = cell_len(line.prefix), True
        self.max_width = widest
        start = max(first_new, self.first_seq)
        if self._pattern is not None:
            self.matches.extend(s for s in range(start, self.total) if self.is_match(s))
            _trim(self.matches, self.first_seq)
        if self.rows is not None:
            self._extend_rows(start)
            _trim(self.rows, self.first_seq)
            self.gaps = {seq for seq in self.gaps if seq > self.rows[0]} if self.rows else set()
        return widened

    def clear(self) -> None:
        """Forget every line (sequence numbers go on)."""
        self._entries.clear()
        self.refilter()

    # -- search and filter -------------------------------------------------------------------

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern

    def set_search(self, needle: str) -> None:
        """Match lines containing ``needle`` (case-insensitive; empty: no search)."""
        self._pattern = re.compile(re.escape(needle), re.IGNORECASE) if needle else None
        self.refilter()

    def set_filter(self, on: bool, context: int) -> None:
        """Show only matches and ``context`` lines around each (when there is a search)."""
        self.filtering, self.context = on, max(0, context)
        self.refilter()

    def refilter(self) -> None:
        """Recompute matches and shown rows over every held line."""
        first = self.first_seq
        pattern = self._pattern
        self.matches = [] if pattern is None else [
            s for s in range(first, self.total) if self.is_match(s)
        ]  # fmt: skip
        self.gaps = set()
        if self.filtering and pattern is not None:
            self.rows, self._last_row, self._last_match = [], -1, _NEVER
            self._extend_rows(first)
        else:
            self.rows = None

    def is_match(self, seq: int) -> bool:
        """Whether held line ``seq`` contains the search, in its text or its prefix."""
        if self._pattern is None:
            return False
        entry = self.entry(seq)
        return bool(self._pattern.search(entry.text) or self._pattern.search(entry.line.prefix))

    def _extend_rows(self, start: int) -> None:
        # grep -C, one line at a time, so that followed lines extend it cheaply.
        assert self.rows is not None
        rows, context = self.rows, self.context
        for seq in range(start, self.total):
            if self.is_match(seq):
                begin = max(seq - context, self._last_row + 1, self.first_seq)
                if rows and begin > self._last_row + 1:
                    self.gaps.add(begin)
                rows.extend(range(begin, seq + 1))
                self._last_row = self._last_match = seq
            elif seq - self._last_match <= context:
                rows.append(seq)
                self._last_row = seq

    # -- rows --------------------------------------------------------------------------------

    def row_count(self) -> int:
        """Rows shown: every held line, or the filter's."""
        return len(self._entries) if self.rows is None else len(self.rows)

    def row_seq(self, row: int) -> int:
        return self.first_seq + row if self.rows is None else self.rows[row]

    def shown(self) -> Sequence[int]:
        """Sequence numbers of the rows shown, in order."""
        return range(self.first_seq, self.total) if self.rows is None else self.rows

    def row_index(self, seq: int) -> int | None:
        """The row showing line ``seq``, if one does."""
        if self.rows is None:
            return seq - self.first_seq if self.first_seq <= seq < self.total else None
        index = bisect_left(self.rows, seq)
        return index if index < len(self.rows) and self.rows[index] == seq else None

    def nearest_row(self, seq: int) -> int | None:
        """The row showing ``seq`` or, when it is not shown, the next one after it."""
        if not self.row_count():
            return None
        if self.rows is None:
            return min(max(seq, self.first_seq), self.total - 1) - self.first_seq
        return min(bisect_left(self.rows, seq), len(self.rows) - 1)


def _trim(seqs: list[int], first: int) -> None:
    cut = bisect_left(seqs, first)
    if cut:
        del seqs[:cut]
