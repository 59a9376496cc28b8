"""KeyedTable column widths follow the cells through updates, measuring only what can move them."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets.data_table import ColumnKey

from jobtui.widgets.keyed_table import KeyedTable, Row

ROWS = 200


class Table(KeyedTable):
    COLUMNS = (("name", "n"), ("age", "a"))


class Holder(App[None]):
    def compose(self) -> ComposeResult:
        yield Table(id="t")


def _rows(ages: dict[int, str]) -> list[Row]:
    return [Row(f"r{i}", (f"svc-{i}", ages.get(i, "3h"))) for i in range(ROWS)]


def _width(table: KeyedTable, column: str) -> int:
    return table.columns[ColumnKey(column)].content_width


async def test_widths_grow_and_shrink_with_the_cells() -> None:
    app = Holder()
    async with app.run_test() as pilot:
        table = app.query_one(Table)
        table.sync(_rows({}))
        await pilot.pause()
        assert _width(table, "age") == 2
        table.sync(_rows({7: "12d23h", 9: "4h5m"}))  # two grow: the wider one decides
        await pilot.pause()
        assert _width(table, "age") == 6
        table.sync(_rows({7: "12d23h", 9: "—"}))  # a narrower cell that was not the widest
        await pilot.pause()
        assert _width(table, "age") == 6
        table.sync(_rows({9: "—"}))  # the widest narrows: the column follows
        await pilot.pause()
        assert _width(table, "age") == 2
        assert [table.text_of(f"r{i}", "age") for i in (7, 9)] == ["3h", "—"]


async def test_a_refresh_measures_at_most_one_cell_per_column() -> None:
    app = Holder()
    async with app.run_test() as pilot:
        table = app.query_one(Table)
        table.sync(_rows({i: "12d23h" for i in range(0, ROWS, 2)}))
        await pilot.pause()
        measured: list[set[object]] = []
        original = table._update_column_widths

        def spy(cells: set[object]) -> None:
            measured.append(set(cells))
            original(cells)  # type: ignore[arg-type]

        table._update_column_widths = spy  # type: ignore[method-assign]
        # Every wide cell narrows (a refresh where uptimes turn into "—").
        table.sync(_rows({i: "—" for i in range(0, ROWS, 2)}))
        await pilot.pause()
        assert [len(cells) for cells in measured] == [1]
        assert _width(table, "age") == 2
