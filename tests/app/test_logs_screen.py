"""The logs screen on fixed lines: opening, search, filter, pause, toggles, save, drops, leaving."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support.fixed_backend import FixedFleet, FixedTags
from support.fixed_logs import FixedLogSource
from support.fleet_data import (
    NOW,
    SIZE,
    WEB_1_CONTAINER,
    WEB_2_CONTAINER,
    clock,
    inventory,
    snapshot,
    tags as shop_tags,
)
from support.shop_streams import log_lines
from support.waiting import until
from textual.pilot import Pilot
from textual.widgets import Input, Static

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.screens.logs import LogsScreen
from jobtui.app.screens.main import MainScreen
from jobtui.backend.logs.lines import LogLine
from jobtui.widgets.log_view import LogView


def _app(
    source: FixedLogSource | None, *, fleet: FixedFleet | None = None, log_lines: int = 10_000
) -> JobtuiApp:
    return make_app(
        inventory(),
        fleet or FixedFleet(snapshot()),
        FixedTags(shop_tags()),
        clock=clock,
        read_only=True,
        logs=source,
        log_lines=log_lines,
    )


async def _open_logs(pilot: Pilot[None]) -> LogsScreen:
    """``l`` on the first row (shop-web on web-1) and wait for the screen."""
    await pilot.pause()
    await pilot.press("l")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, LogsScreen)
    return screen


def _status(screen: LogsScreen) -> str:
    return str(screen.query_one("#log-status", Static).render())


def _line(i: int, text: str = "", host: str = "web-1") -> LogLine:
    name = WEB_1_CONTAINER if host == "web-1" else WEB_2_CONTAINER
    return LogLine(host, name, NOW + i, text or f"line {i}")


async def test_l_follows_every_running_instance_merged_with_prefixes() -> None:
    source = FixedLogSource(log_lines())
    async with _app(source).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        (handle,) = source.handles
        # shop-web runs on web-1 and web-2; its exited container on web-1 is not followed.
        assert {(c.host, c.name) for c in handle.containers} == {
            ("web-1", WEB_1_CONTAINER),
            ("web-2", WEB_2_CONTAINER),
        }
        assert handle.tail == 200 and handle.since is None
        view = screen.query_one(LogView)
        assert view.held == len(log_lines())
        assert {line.prefix for line in view.lines} == {
            f"web-1/{WEB_1_CONTAINER}",
            f"web-2/{WEB_2_CONTAINER}",
        }
        assert "following 2 containers" in _status(screen)
        assert "80 lines" in _status(screen) and "0 dropped" in _status(screen)
        # The newest line is on screen: the view follows the end.
        assert view.is_vertical_scroll_end


async def test_search_highlights_and_n_N_move_between_matches() -> None:
    source = FixedLogSource(log_lines())
    async with _app(source).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        view = screen.query_one(LogView)
        await pilot.press("slash")
        assert screen.query_one("#search", Input).has_focus
        await pilot.press(*"STRIPE")  # case does not matter
        assert view.search == "STRIPE" and view.match_count == 6
        await pilot.press("enter")
        # Enter goes to the newest match and gives the keys back to the log.
        assert view.has_focus and view.match_index == 6
        assert view.current_match is not None and "stripe" in view.current_match.text
        await pilot.press("N", "N")
        assert view.match_index == 4
        await pilot.press("n")
        assert view.match_index == 5
        assert "/STRIPE 5/6" in _status(screen)
        await pilot.press("n", "n")  # no newer one: it stays
        assert view.match_index == 6


async def test_filter_keeps_matches_and_their_context() -> None:
    lines = [_line(i, "ERROR boom" if i in (10, 12, 30) else "") for i in range(40)]
    source = FixedLogSource(lines)
    async with _app(source).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        view = screen.query_one(LogView)
        await pilot.press("f")  # no search yet: f asks for one
        await pilot.press(*"error", "enter")
        assert view.filter_mode
        shown = [line.text for line in view.shown]
        first = ["line 8", "line 9", "ERROR boom", "line 11", "ERROR boom", "line 13", "line 14"]
        second = ["line 28", "line 29", "ERROR boom", "line 31", "line 32"]
        assert shown == first + second
        assert view.buffer.gaps == {28}  # a marker row between the two groups
        await pilot.press("plus")
        assert view.context == 3 and len(view.shown) == 9 + 7
        # A new match arriving while filtering is shown with the lines around it.
        source.push([_line(40), _line(41), _line(42, "ERROR again"), _line(43), _line(44)])
        await pilot.pause()
        tail = ["line 40", "line 41", "ERROR again", "line 43", "line 44"]
        assert [ln.text for ln in view.shown][-5:] == tail
        await pilot.press("escape")  # leaves filter mode, keeps the search
        assert not view.filter_mode and view.search == "error"
        await pilot.press("escape")  # clears the search
        assert view.search == "" and isinstance(pilot.app.screen, LogsScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MainScreen)


async def test_pause_holds_the_source_and_says_so() -> None:
    source = FixedLogSource(log_lines())
    async with _app(source).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        (handle,) = source.handles
        await pilot.press("p")
        assert handle.paused and "paused" in _status(screen)
        source.push([_line(500)])
        await pilot.pause()
        assert screen.query_one(LogView).total == 80
        await pilot.press("p")
        assert not handle.paused and "following" in _status(screen)


async def test_timestamps_and_wrap_toggles() -> None:
    long = "x" * 300
    source = FixedLogSource([_line(0, "short"), _line(1, long)])
    async with _app(source).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        view = screen.query_one(LogView)
        rows = view.virtual_size.height
        assert rows == 2 and view.virtual_size.width > 300
        await pilot.press("t")
        assert view.show_timestamps
        first = "".join(segment.text for segment in view.render_line(0))
        assert first.startswith("2024-06-01 12:00:00.000 web-1/")
        await pilot.press("w")
        assert view.wrap and view.virtual_size.height > 3
        assert view.virtual_size.width <= SIZE[0]
        assert "time wrap" in _status(screen)
        await pilot.press("w", "t")
        assert view.virtual_size.height == 2 and not view.show_timestamps


async def test_save_writes_the_shown_lines_and_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = FixedLogSource(log_lines())
    app = _app(source)
    async with app.run_test(size=SIZE) as pilot:
        await _open_logs(pilot)
        await pilot.press("s")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        saved = tmp_path / "shop-web-20240601-120000.log"
        assert saved.is_file()
        lines = saved.read_text().splitlines()
        assert len(lines) == 80
        assert lines[0].startswith("2024-06-01 11:57:20.000 web-2/shop-web_1716900000 10.0.3.17")
        assert any(str(saved) in n.message for n in app._notifications)
        await pilot.press("s")  # the same second again: a new name, nothing overwritten
        await pilot.app.workers.wait_for_complete()
        assert (tmp_path / "shop-web-20240601-120000-2.log").is_file()


async def test_dropped_lines_are_counted_and_shown() -> None:
    source = FixedLogSource(log_lines(), dropped=1234)
    async with _app(source).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        assert screen.dropped == 1234 and "1,234 dropped" in _status(screen)
        source.push([_line(900)], dropped=66)
        await pilot.pause()
        assert screen.dropped == 1300 and "1,300 dropped" in _status(screen)
        assert "1,381 lines" in _status(screen)


async def test_the_buffer_is_bounded_by_make_app() -> None:
    source = FixedLogSource(log_lines())
    async with _app(source, log_lines=50).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        view = screen.query_one(LogView)
        assert view.capacity == 50 and view.held == 50
        source.push([_line(1000 + i) for i in range(500)])
        await pilot.pause()
        assert view.held == 50 and view.lines[-1].text == "line 1499"
        # Lines that never reached the view count as dropped: the buffer is all there is.
        assert "580 lines (50 kept)" in _status(screen) and screen.dropped == 580 - view.total


async def test_leaving_the_screen_stops_the_source() -> None:
    source = FixedLogSource(log_lines())
    async with _app(source).run_test(size=SIZE) as pilot:
        await _open_logs(pilot)
        (handle,) = source.handles
        assert not handle.stopped.is_set()
        await pilot.press("escape")
        await pilot.pause()
        assert handle.stopped.wait(5)


async def test_instances_started_and_stopped_later_are_followed_and_dropped() -> None:
    fleet = FixedFleet(snapshot())
    source = FixedLogSource(log_lines())
    async with _app(source, fleet=fleet).run_test(size=SIZE) as pilot:
        screen = await _open_logs(pilot)
        # A rollout on web-1: a new container starts, the old one stops.
        base = fleet.snapshot()
        hosts = dict(base.hosts)
        web_1 = hosts["web-1"]
        old = web_1.containers[0]
        fresh = dataclasses.replace(
            old, id="f" * 64, name="shop-web_1717243200", created=NOW, started_at=NOW - 5
        )
        stopped = dataclasses.replace(old, state="exited", started_at=None)
        hosts["web-1"] = dataclasses.replace(
            web_1, containers=(stopped, *web_1.containers[1:], fresh)
        )
        fleet.replace(dataclasses.replace(base, hosts=hosts, generation=base.generation + 1))
        await until(pilot, lambda: len(source.handles) == 2)
        (new,) = source.handles[1].containers
        assert new.name == "shop-web_1717243200"
        # Everything since it started, rather than a tail that could repeat lines.
        assert source.handles[1].tail is None and source.handles[1].since == NOW - 5
        assert {c.name for c in screen.following} == {WEB_2_CONTAINER, "shop-web_1717243200"}
        assert "following 2 containers" in _status(screen)


async def test_without_a_log_source_l_says_so() -> None:
    app = _app(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert any("Logs are not available" in n.message for n in app._notifications)


async def test_l_on_the_service_screen_opens_its_logs() -> None:
    source = FixedLogSource(log_lines())
    app = _app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_service("shop-api")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LogsScreen) and screen.service == "shop-api"
        # shop-api runs on web-1 only (stopped on web-2); the fixed lines are shop-web's.
        assert [c.host for c in screen.following] == ["web-1"]
        assert screen.query_one(LogView).held == 0
