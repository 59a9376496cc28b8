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

from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable


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
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._raw: dict[str, tuple[CellValue, ...]] = {}
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
        return self._cells[key][index].text

    def role_of(self, key: str, column: str) -> str:
        """The colour role of one cell (``""`` for the default colour)."""
        index = [name for name, _ in self.column_spec].index(column)
        return self._cells[key][index].role

    def make_row(self, key: str, values: Mapping[str, CellValue]) -> Row:
        """A row with this instance's columns picked from ``values`` by column key."""
        return Row(key, tuple(values.get(column, "") for column, _ in self.column_spec))

    def sync(self, rows: Sequence[Row]) -> None:
        """Make the table show exactly ``rows``, in their order, touching only what changed."""
        cursor_key = self.highlighted_key
        wanted = {row.key: row.cells for row in rows}
        gone = [key for key in self._cells if key not in wanted]
        for key in gone:
            self.remove_row(key)
            del self._cells[key], self._raw[key]
        # The table's own order now: the survivors, then new rows appended.
        table_order = [key for key in self._order if key in wanted] if gone else list(self._order)
        for key, raw in wanted.items():
            if self._raw.get(key) == raw:
                # Most refreshes change a few rows: the rest cost one comparison.
                continue
            cells = tuple(_cell(value) for value in raw)
            old = self._cells.get(key)
            if old is None:
                self.add_row(*(self._cell_text(cell) for cell in cells), key=key)
                table_order.append(key)
            else:
                for (column, _), before, after in zip(self.column_spec, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, column, self._cell_text(after), update_width=True)
            self._cells[key] = cells
            self._raw[key] = raw
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
            tuple(cell.text for cell in self._cells[key]): index
            for index, key in enumerate(self._order)
        }
        self.sort(key=lambda values: position.get(tuple(v.plain for v in values), len(position)))

    def _cell_text(self, cell: Cell) -> Text:
        # Text, never a str: DataTable parses str cells as markup, and a
        # container name with brackets must not turn into styling.
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
                if cell.role:
                    self.update_cell(key, column, self._cell_text(cell))


def _cell(value: CellValue) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)
