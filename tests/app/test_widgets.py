"""Widget behaviour that screens rely on: formatting, in-place sync, recolouring."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from support.fleet_data import SIZE
from textual.app import App, ComposeResult

from jobtui.widgets.format import age, compact_duration, short_id, timestamp, uptime
from jobtui.widgets.keyed_table import Cell, KeyedTable, Row


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (754, "12m"),
        (3600, "1h"),
        (11_520, "3h12m"),
        (86_400, "1d"),
        (97_200, "1d3h"),
        (-5, "0s"),
    ],
)
def test_compact_duration(seconds: float, text: str) -> None:
    assert compact_duration(seconds) == text


def test_times_and_ids() -> None:
    now = datetime(2024, 6, 1, 12, tzinfo=UTC).timestamp()
    assert uptime(None, now) == "—"
    assert uptime(now - 90, now) == "1m"
    assert age(now - 3 * 86_400, now) == "3d ago"
    assert age(0.0, now) == "—"
    assert timestamp(datetime(2024, 5, 2, 14, 3, tzinfo=UTC)) == "2024-05-02 14:03"
    assert timestamp(now) == "2024-06-01 12:00"
    assert short_id("sha256:0123456789abcdef0123") == "0123456789ab"
    assert short_id("") == "—"


class _Table(KeyedTable):
    COLUMNS = (("name", "name"), ("state", "state"))


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield _Table()


def _rows(*pairs: tuple[str, str]) -> list[Row]:
    return [
        Row(name, (name, Cell(state, "ok" if state == "up" else "bad"))) for name, state in pairs
    ]


async def test_sync_inserts_in_order_and_keeps_the_cursor_on_its_row() -> None:
    app = _TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(_Table)
        table.sync(_rows(("a", "up"), ("c", "up"), ("d", "down")))
        await pilot.pause()
        table.move_cursor(row=1)
        table.sync(_rows(("a", "up"), ("b", "up"), ("c", "down"), ("d", "down")))
        await pilot.pause()
        assert [table.get_row_at(i)[0].plain for i in range(4)] == ["a", "b", "c", "d"]
        assert table.highlighted_key == "c"
        assert table.get_cell("c", "state").plain == "down"
        table.sync(_rows(("c", "down"), ("d", "down")))
        await pilot.pause()
        assert table.keys == ["c", "d"]
        assert table.highlighted_key == "c"


async def test_cell_text_is_never_markup() -> None:
    app = _TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(_Table)
        table.sync([Row("x", ("[bold]x[/]", "[red]"))])
        await pilot.pause()
        assert table.get_cell("x", "name").plain == "[bold]x[/]"


async def test_a_theme_switch_recolours_cells() -> None:
    app = _TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(_Table)
        table.sync(_rows(("a", "up")))
        await pilot.pause()
        before = table.get_cell("a", "state").style
        app.theme = "gruvbox" if app.theme != "gruvbox" else "nord"
        await pilot.pause()
        after = table.get_cell("a", "state").style
        assert before != after


def test_widgets_never_load_backend_clients() -> None:
    # widgets/ takes plain values; the clients of real systems stay in backend/.
    code = (
        "import importlib, pkgutil, sys\n"
        "import jobtui.widgets as w\n"
        "for m in pkgutil.walk_packages(w.__path__, 'jobtui.widgets.'):\n"
        "    importlib.import_module(m.name)\n"
        "clients = ('docker', 'etcd3', 'prometheus_api_client', 'requests')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in clients\n"
        "             or m.startswith(('jobtui.backend.observe.fleet', 'jobtui.backend.registry',\n"
        "                              'jobtui.backend.docker.hosts', 'jobtui.app')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
