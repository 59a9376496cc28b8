"""A DataTable that is kept in step with a list of rows by key.

Every table in jobtui shows a changing collection (services, hosts,
containers, tags). Rebuilding a table on each change loses the cursor and
scroll position and costs time with hundreds of rows, so :meth:`KeyedTable.sync`
diffs: it removes vanished rows, updates only the cells that changed, adds new
rows and restores the caller's order.

Cells carry a *role* rather than a colour; roles are component classes whose
styles come from theme variables, so a theme switch recolours every cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


@dataclass(frozen=True)
class Cell:
    """The plain text of a cell and how to colour it."""

    text: str
    role: str = ""
    """``ok``, ``warn``, ``bad``, ``muted`` or ``accent``; empty for the default colour."""


CellValue = Cell | str


@dataclass(frozen=True)
class Row:
    """One table row: a stable key and one value per column."""

    key: str
    cells: tuple[CellValue, ...]


ROLES = ("ok", "warn", "bad", "muted", "accent")


class KeyedTable(DataTable[Text]):
    """A row-cursor DataTable updated in place by :meth:`sync`."""

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """``(key, label)`` of each column, in display order."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"keyed-table--{role}" for role in ROLES}

    DEFAULT_CSS = """
    KeyedTable {
        height: 1fr;
        & > .keyed-table--ok { color: $text-success; }
        & > .keyed-table--warn { color: $text-warning; }
        & > .keyed-table--bad { color: $text-error; text-style: bold; }
        & > .keyed-table--muted { color: $text-muted; }
        & > .keyed-table--accent { color: $text-accent; text-style: bold; }
    }
    """

    def __init__(
        self,
        *,
        columns: Sequence[tuple[str, str]] | None = None,
        cursor_on_focus: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=True,
            show_cursor=not cursor_on_focus,
        )
        self._cursor_on_focus = cursor_on_focus
        self.column_spec: tuple[tuple[str, str], ...] = tuple(columns or self.COLUMNS)
        """The columns this instance shows (the class default unless given)."""
        # Cells as the caller gave them: a str for a default-coloured cell
        # (most of them), so a thousand rows make no Cell objects just to hold text.
        self._cells: dict[str, tuple[CellValue, ...]] = {}
        self._order: list[str] = []
        self._styles: dict[str, Style] = {}

    def on_mount(self) -> None:
        for key, label in self.column_spec:
            self.add_column(label, key=key)
        # The theme signal fires after the new theme's CSS is applied, which
        # is when the role styles can be read again.
        self.app.theme_changed_signal.subscribe(self, self._recolour)

    def on_focus(self) -> None:
        if self._cursor_on_focus:
            self.show_cursor = True

    def on_blur(self) -> None:
        # A panel beside the main table shows no cursor while unfocused: a
        # highlighted row there would look like a selection and hide its colours.
        if self._cursor_on_focus:
            self.show_cursor = False

    @property
    def keys(self) -> list[str]:
        """Row keys in display order."""
        return list(self._order)

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self._order or not self.is_valid_row_index(self.cursor_row):
            return None
        row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return row_key.value

    def text_of(self, key: str, column: str) -> str:
        """The plain text shown in one cell (for tests and for copying)."""
        index = [name for name, _ in self.column_spec].index(column)
        return _text(self._cells[key][index])

    def role_of(self, key: str, column: str) -> str:
        """The colour role of one cell (``""`` for the default colour)."""
        value = self._cells[key][[name for name, _ in self.column_spec].index(column)]
        return value.role if isinstance(value, Cell) else ""

    def make_row(self, key: str, values: Mapping[str, CellValue]) -> Row:
        """A row with this instance's columns picked from ``values`` by column key."""
        return Row(key, tuple([values.get(column, "") for column, _ in self.column_spec]))

    def sync(self, rows: Sequence[Row]) -> None:
        """Make the table show exactly ``rows``, in their order, touching only what changed."""
        cursor_key = self.highlighted_key
        wanted = {row.key: row.cells for row in rows}
        gone = [key for key in self._cells if key not in wanted]
        for key in gone:
            self.remove_row(key)
            del self._cells[key]
        # The table's own order now: the survivors, then new rows appended.
        table_order = [key for key in self._order if key in wanted] if gone else list(self._order)
        widths = _WidthChanges()
        cell_text = self._cell_text
        for key, cells in wanted.items():
            old = self._cells.get(key)
            if old == cells:
                # Most refreshes change a few rows: the rest cost one comparison.
                continue
            if old is None:
                self.add_row(*[cell_text(cell) for cell in cells], key=key)
                table_order.append(key)
            else:
                for (column, _), before, after in zip(self.column_spec, old, cells, strict=True):
                    if before != after:
                        text = cell_text(after)
                        self.update_cell(key, column, text)
                        width = self.columns[ColumnKey(column)].content_width
                        widths.note(column, key, text, cell_len(_text(before)), width)
            self._cells[key] = cells
        for column, key, text in widths.to_measure():
            self.update_cell(key, column, text, update_width=True)
        order = list(wanted)
        if order != self._order:
            self._order = order
            if table_order != order:
                # Only when rows really moved: the first fill appends in order.
                self._reorder()
        if cursor_key in self._cells:
            index = self.get_row_index(cursor_key)
            if index != self.cursor_row:
                # Rows removed or inserted above the cursor would otherwise
                # slide another row under it.
                self.move_cursor(row=index, animate=False)

    def _reorder(self) -> None:
        # DataTable appends new rows at the end; sort() by position restores
        # the caller's order. Its key function sees cell values, not row
        # keys, so rows are recognised by their whole text: two rows alike in
        # every cell look the same in either order.
        position = {
            tuple(_text(cell) for cell in self._cells[key]): index
            for index, key in enumerate(self._order)
        }
        self.sort(key=lambda values: position.get(tuple(v.plain for v in values), len(position)))

    def _cell_text(self, cell: CellValue) -> Text:
        # Text, never a str: DataTable parses str cells as markup, and a
        # container name with brackets must not turn into styling.
        if isinstance(cell, str):
            return Text(cell, end="")
        if not cell.role:
            return Text(cell.text, end="")
        style = self._styles.get(cell.role)
        if style is None:
            # Resolved once per role (and again after a theme switch), not per cell.
            style = self.get_component_rich_style(f"keyed-table--{cell.role}", partial=True)
            self._styles[cell.role] = style
        return Text(cell.text, style=style, end="")

    def _recolour(self, _theme: object = None) -> None:
        # Cells hold Rich styles resolved from the theme when they were set;
        # after a theme switch every coloured cell is resolved again.
        self._styles.clear()
        for key, cells in self._cells.items():
            for (column, _), cell in zip(self.column_spec, cells, strict=True):
                if isinstance(cell, Cell) and cell.role:
                    self.update_cell(key, column, self._cell_text(cell))


class _WidthChanges:
    """The cells of one sync that can change their column's width, one per column.

    DataTable's ``update_width`` re-measures the whole column for each such
    cell that ends up narrower than the column, and it takes the cells in
    no particular order. A refresh where a few dozen uptimes turned into "—"
    measured a thousand cells for each of them (seconds at a thousand rows).
    Only two kinds of change can move a column's width: a cell wider than the
    column (the widest of them decides), or the column's widest cell getting
    narrower (one re-measure of the column finds the new width).
    """

    def __init__(self) -> None:
        self._wider: dict[str, tuple[int, str, Text]] = {}
        self._narrower: dict[str, tuple[str, Text]] = {}

    def note(self, column: str, key: str, text: Text, before: int, width: int) -> None:
        """Row ``key`` shows ``text`` in ``column``: ``before`` cells wide, the column ``width``."""
        new = text.cell_len
        if new > width and new > self._wider.get(column, (width, "", text))[0]:
            self._wider[column] = (new, key, text)
        elif new < before == width:
            self._narrower.setdefault(column, (key, text))

    def to_measure(self) -> list[tuple[str, str, Text]]:
        """``(column, row key, text)`` of the cells to update with ``update_width``."""
        cells = [(column, key, text) for column, (_, key, text) in self._wider.items()]
        cells += [
            (c, key, text) for c, (key, text) in self._narrower.items() if c not in self._wider
        ]
        return cells


def _text(value: CellValue) -> str:
    return value if isinstance(value, str) else value.text
