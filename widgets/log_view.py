"""A bounded, searchable view of log lines merged from several containers.

Built on Textual's Line API: only the rows on screen are rendered, so a full
buffer costs nothing per frame and a batch of lines costs a deque extend. The
lines themselves, their search matches and the filter mode's rows live in a
:class:`~jobtui.widgets.log_buffer.LogBuffer`; this widget lays them out (one
row per line, or wrapped), scrolls, follows the end and paints.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import accumulate
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobtui.widgets.log_buffer import LogBuffer

if TYPE_CHECKING:
    from jobtui.backend.logs import LogLine

DEFAULT_CAPACITY = 10_000
"""Lines held unless told otherwise (the issue's default)."""
SOURCE_COLOURS = 5
"""Prefix colours, given to containers in the order they first speak."""
SEPARATOR = " │ "
GAP_MARK = "┄"
_STREAM_ROLES = {"stderr": "stderr", "daemon": "stderr", "jobtui": "note"}


def format_timestamp(stamp: float) -> str:
    """``2024-06-01 12:00:01.123`` in UTC, the same on every machine."""
    moment = datetime.fromtimestamp(stamp, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


TIMESTAMP_WIDTH = len(format_timestamp(0.0))


class LogView(ScrollView, can_focus=True):
    """Log lines with a ``host/container`` prefix, bounded, with search and filter.

    Feed it with :meth:`write_lines`, one call per batch. While the view is
    scrolled to the end it follows new lines; scrolled up, it stays on the
    lines shown even as old ones leave the buffer.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"log-view--source-{i}" for i in range(SOURCE_COLOURS)),
        "log-view--separator",
        "log-view--timestamp",
        "log-view--stderr",
        "log-view--note",
        "log-view--match",
        "log-view--match-current",
        "log-view--gap",
    }

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow: auto;
        & > .log-view--source-0 { color: $text-accent; }
        & > .log-view--source-1 { color: $text-success; }
        & > .log-view--source-2 { color: $text-primary; }
        & > .log-view--source-3 { color: $text-secondary; }
        & > .log-view--source-4 { color: $text-warning; }
        & > .log-view--separator { color: $foreground-darken-3; }
        & > .log-view--timestamp { color: $text-muted; }
        & > .log-view--stderr { color: $text-error; }
        & > .log-view--note { color: $text-muted; text-style: italic; }
        & > .log-view--match { background: $warning-muted; color: $foreground; }
        & > .log-view--match-current { background: $warning; color: $background; }
        & > .log-view--gap { color: $foreground-darken-3; }
    }
    """

    show_timestamps: reactive[bool] = reactive(False, init=False)
    """Put each line's Docker timestamp (UTC) before it."""
    wrap: reactive[bool] = reactive(False, init=False)
    """Wrap long lines at the view's width instead of scrolling sideways."""
    search: reactive[str] = reactive("", init=False)
    """Case-insensitive text to highlight; :meth:`next_match`/:meth:`previous_match` move."""
    filter_mode: reactive[bool] = reactive(False, init=False)
    """Show only lines matching :attr:`search`, with :attr:`context` lines around each."""
    context: reactive[int] = reactive(2, init=False)
    """Lines kept before and after each match in filter mode."""

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.buffer = LogBuffer(capacity)
        """The lines held and what the search and filter make of them."""
        self._current: int | None = None
        # Visual line where each row starts, when rows differ in height (wrap, gaps).
        self._starts: list[int] | None = None
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        self._at_end = True
        """Following: the view was on the newest line when it last changed."""

    # -- feeding and reading -----------------------------------------------------------------

    def write_lines(self, lines: Sequence[LogLine]) -> None:
        """Append a batch of lines (the oldest leave once the buffer is full)."""
        if not lines:
            return
        follow = self._at_end and not self.is_vertical_scrollbar_grabbed
        anchor = None if follow else self._anchor()
        if self.buffer.append(lines):
            self._cache.clear()  # a longer prefix moved every line's text
        if self._current is not None and self._current < self.buffer.first_seq:
            self._current = None
        self._relayout()
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif anchor is not None:
            self._restore(anchor)
        self.refresh()

    @property
    def capacity(self) -> int:
        return self.buffer.capacity

    @property
    def total(self) -> int:
        """Lines ever written."""
        return self.buffer.total

    @property
    def held(self) -> int:
        """Lines in the buffer now (at most :attr:`capacity`)."""
        return len(self.buffer)

    @property
    def lines(self) -> list[LogLine]:
        """The lines held, oldest first."""
        return self.buffer.lines()

    @property
    def shown(self) -> list[LogLine]:
        """The lines the view shows now (all held, or the filter's), oldest first."""
        return [self.buffer.entry(seq).line for seq in self.buffer.shown()]

    @property
    def match_count(self) -> int:
        """Held lines containing :attr:`search`."""
        return len(self.buffer.matches)

    @property
    def match_index(self) -> int | None:
        """1-based position of the current match among :attr:`match_count`, if one is chosen."""
        matches = self.buffer.matches
        index = bisect_left(matches, self._current) if self._current is not None else 0
        found = self._current is not None and index < len(matches)
        return index + 1 if found and matches[index] == self._current else None

    @property
    def current_match(self) -> LogLine | None:
        """The line the last :meth:`next_match`/:meth:`previous_match` moved to."""
        if self._current is None or self._current < self.buffer.first_seq:
            return None
        return self.buffer.entry(self._current).line

    # -- search ------------------------------------------------------------------------------

    def next_match(self) -> bool:
        """Move to the next newer line that matches; ``False`` when there is none."""
        anchor = self._current
        if anchor is None:
            anchor = self._seq_at(round(self.scroll_y)) - 1
        matches = self.buffer.matches
        index = bisect_right(matches, anchor)
        if index >= len(matches):
            return False
        self._go_to(matches[index])
        return True

    def previous_match(self) -> bool:
        """Move to the next older line that matches; ``False`` when there is none."""
        anchor = self._current
        if anchor is None:
            bottom = round(self.scroll_y) + self.scrollable_content_region.height - 1
            anchor = self._seq_at(bottom) + 1
        index = bisect_left(self.buffer.matches, anchor) - 1
        if index < 0:
            return False
        self._go_to(self.buffer.matches[index])
        return True

    def _go_to(self, seq: int) -> None:
        self._current = seq
        self._cache.clear()
        row = self.buffer.row_index(seq)
        if row is not None:
            middle = self._row_start(row) - self.scrollable_content_region.height // 2
            self.scroll_to(y=max(0, middle), animate=False, immediate=True)
        self.refresh()

    # -- settings ----------------------------------------------------------------------------

    def watch_show_timestamps(self) -> None:
        self._redraw(keep_position=True)

    def watch_wrap(self) -> None:
        self._redraw(keep_position=True)

    def watch_search(self, value: str) -> None:
        self._current = None
        self.buffer.set_search(value)
        self._redraw()

    def watch_filter_mode(self, value: bool) -> None:
        self.buffer.set_filter(value, self.context)
        self._redraw()

    def watch_context(self, value: int) -> None:
        self.buffer.set_filter(self.filter_mode, value)
        self._redraw()

    def _redraw(self, *, keep_position: bool = False) -> None:
        anchor = self._anchor() if keep_position and not self._at_end else None
        self._cache.clear()
        self._relayout()
        if anchor is not None:
            self._restore(anchor)
        else:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        if self.wrap:
            self._redraw(keep_position=True)
        elif self._at_end:
            # Lines written before the first layout scrolled against a zero-sized view.
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._at_end = round(new_value) >= self.max_scroll_y

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    # -- layout ------------------------------------------------------------------------------

    def _lead_width(self) -> int:
        stamp = TIMESTAMP_WIDTH + 1 if self.show_timestamps else 0
        return stamp + self.buffer.prefix_width + len(SEPARATOR)

    def _relayout(self) -> None:
        buffer = self.buffer
        lead = self._lead_width()
        width = max(1, self.scrollable_content_region.width)
        if self.wrap or buffer.gaps:
            gaps, wrap = buffer.gaps, self.wrap
            heights = (
                (-(-(lead + buffer.entry(seq).width) // width) if wrap else 1) + (seq in gaps)
                for seq in buffer.shown()
            )
            self._starts = [0, *accumulate(heights)]
            height = self._starts[-1]
        else:
            self._starts = None
            height = buffer.row_count()
        self.virtual_size = Size(width if self.wrap else lead + buffer.max_width, height)

    def _row_start(self, row: int) -> int:
        return row if self._starts is None else self._starts[row]

    def _row_at(self, y: int) -> tuple[int, int]:
        """The row shown on visual line ``y``, and which of its visual lines that is."""
        if self._starts is None:
            return y, 0
        row = bisect_right(self._starts, y) - 1
        return row, y - self._starts[row]

    def _seq_at(self, y: int) -> int:
        count = self.buffer.row_count()
        if not count:
            return self.buffer.total
        row, _ = self._row_at(max(0, y))
        return self.buffer.row_seq(min(row, count - 1))

    def _anchor(self) -> tuple[int, int] | None:
        # The line at the top of the view, and how far into it the view starts.
        row, offset = self._row_at(round(self.scroll_y))
        if not 0 <= row < self.buffer.row_count():
            return None
        return self.buffer.row_seq(row), offset

    def _restore(self, anchor: tuple[int, int]) -> None:
        seq, offset = anchor
        row = self.buffer.row_index(seq)
        if row is None:  # it left the buffer: the oldest line shown takes its place
            row, offset = self.buffer.nearest_row(seq), 0
        if row is not None:
            self.scroll_to(y=self._row_start(row) + offset, animate=False, immediate=True)

    # -- painting ----------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"log-view--{name}", partial=True)
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        row, part = self._row_at(scroll_y + y)
        if not 0 <= row < self.buffer.row_count():
            return Strip.blank(width, base)
        seq = self.buffer.row_seq(row)
        if seq in self.buffer.gaps:
            if part == 0:
                return Strip([Segment(GAP_MARK * width, base + self._style("gap"))], width)
            part -= 1
        strip = self._strip(seq, base)
        start = part * width if self.wrap else scroll_x
        return strip.crop_extend(start, start + width, base)

    def _strip(self, seq: int, base: Style) -> Strip:
        cached = self._cache.get(seq)
        if cached is not None:
            return cached
        entry = self.buffer.entry(seq)
        line = entry.line
        text = Text(style=base, no_wrap=True, end="")
        if self.show_timestamps:
            text.append(format_timestamp(line.timestamp), self._style("timestamp"))
            text.append(" ")
        prefix_at = len(text)
        source = self.buffer.sources.get(line.prefix, 0) % SOURCE_COLOURS
        text.append(line.prefix.ljust(self.buffer.prefix_width), self._style(f"source-{source}"))
        text.append(SEPARATOR, self._style("separator"))
        body_at = len(text)
        role = _STREAM_ROLES.get(line.stream)
        text.append(entry.text, self._style(role) if role else None)
        pattern = self.buffer.pattern
        if pattern is not None:
            mark = self._style("match-current" if seq == self._current else "match")
            for found in pattern.finditer(line.prefix):
                text.stylize(mark, prefix_at + found.start(), prefix_at + found.end())
            for found in pattern.finditer(entry.text):
                text.stylize(mark, body_at + found.start(), body_at + found.end())
        strip = Strip(text.render(self.app.console), self._lead_width() + entry.width)
        self._cache[seq] = strip
        return strip
