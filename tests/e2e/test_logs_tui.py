"""The logs screen on the real stack: merged follow across hosts, clean exit, a `yes` flood.

The TUI runs headless (Pilot) on the real fleet observer and Docker log
source. Containers this module starts carry ``jobtui.test=logs-tui`` and are
removed at the end of their test (and at the start of the next run, should a
killed run leave one).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import pytest
from docker.types import LogConfig
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.log_source import DockerLogSource
from jobtui.app.screens.logs import LogsScreen
from jobtui.app.screens.main import MainScreen
from jobtui.backend.docker.hosts import HostPool
from jobtui.backend.model import LABEL_SERVICE
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.config.loader import load_inventory
from jobtui.widgets.log_view import LogView

if TYPE_CHECKING:
    from conftest import Stack

SIZE = (120, 36)
TEST_LABEL = "jobtui.test"
TEST_LABEL_VALUE = "logs-tui"


def log_threads() -> list[str]:
    """Threads of log followers (readers, flushers, stoppers) still alive."""
    return [t.name for t in threading.enumerate() if t.name.startswith("jobtui-logs")]


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def until(
    pilot: Pilot[None], check: Callable[[], Any], *, timeout: float = 15.0, what: str = ""
) -> Any:
    """Poll ``check`` while the app runs until it is truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what or 'condition'} not met within {timeout:.0f}s (last: {result!r})")
        await pilot.pause(0.05)


async def key_round_trip(app: JobtuiApp, key: str, took_effect: Callable[[], bool]) -> float:
    """Seconds from a key press (as the terminal driver posts it) until its effect shows.

    Pilot's ``press`` waits for the process to go idle, which it never does
    during a flood, so the key goes in directly and the effect is polled.
    """
    started = time.monotonic()
    app.post_message(events.Key(key, key))
    while not took_effect():
        if time.monotonic() - started > 5:
            pytest.fail(f"key {key!r} had no effect within 5 s")
        await asyncio.sleep(0.002)
    return time.monotonic() - started


def real_app(inventory_file: Path) -> tuple[JobtuiApp, HostPool]:
    """The TUI as the CLI builds it: one host pool shared by the observer and the logs."""
    inventory = load_inventory(inventory_file)
    pool = HostPool(inventory.hosts)
    fleet = FleetObserver(inventory.hosts, pool=pool)
    return make_app(inventory, fleet, None, logs=DockerLogSource(pool)), pool


def running_on(app: JobtuiApp, service: str) -> set[str]:
    return {c.host for c in app.snapshot.containers() if c.running and c.service == service}


def status_text(screen: LogsScreen) -> str:
    return str(screen.query_one("#log-status", Static).render())


async def open_logs(pilot: Pilot[None], app: JobtuiApp, service: str) -> LogsScreen:
    app.open_logs(service)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, LogsScreen) and screen.service == service
    return screen


def test_logs_screen_merges_worker_from_both_hosts_and_leaves_no_threads(stack: Stack) -> None:
    assert not log_threads(), "log threads left over from an earlier test"
    app, pool = real_app(stack.inventory)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(
                pilot,
                lambda: running_on(app, "worker") == {"host-a", "host-b"},
                what="worker running on both hosts",
            )
            started = time.time()
            screen = await open_logs(pilot, app, "worker")
            view = screen.query_one(LogView)

            def live_hosts() -> set[str]:
                return {ln.host for ln in view.lines if ln.timestamp > started}

            await until(pilot, lambda: live_hosts() == {"host-a", "host-b"}, what="live lines")
            # History first (the tail), then live lines, every one with its prefix.
            assert any(ln.timestamp <= started for ln in view.lines)
            assert all(
                ln.prefix.startswith(("host-a/worker", "host-b/worker")) for ln in view.lines
            )
            assert "following 2 containers" in status_text(screen)
            assert log_threads()
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)
            await until(pilot, lambda: not log_threads(), timeout=5, what="log threads to end")

    try:
        asyncio.run(scenario())
    finally:
        pool.close()


@pytest.fixture
def flood_inventory(stack: Stack, tmp_path: Path) -> Path:
    """A copy of the demo inventory with a ``flood`` service on host-a."""
    text = stack.inventory.read_text()
    image = stack.image("worker:v1")
    service = (
        f"  - name: flood\n    image: {image}\n    run_on_host: host-a\n    network_mode: host\n"
    )
    path = tmp_path / "flood.yml"
    path.write_text(text.rstrip("\n") + "\n" + service)
    return path


@pytest.fixture
def flood(stack: Stack) -> Iterator[Any]:
    """A container of ``flood`` on host-a running ``yes`` (its log file capped at 20 MB)."""
    client = docker.DockerClient(base_url=stack.host_a_url, version="1.41")
    labels = {TEST_LABEL: TEST_LABEL_VALUE}
    for old in client.containers.list(
        all=True, filters={"label": f"{TEST_LABEL}={TEST_LABEL_VALUE}"}
    ):
        old.remove(force=True)
    container = client.containers.run(
        stack.image("worker:v1"),
        ["sh", "-c", "yes jobtui-flood-line"],
        name=f"flood_{int(time.time())}",
        labels={**labels, LABEL_SERVICE: "flood"},
        network_mode="host",
        log_config=LogConfig(type="json-file", config={"max-size": "10m", "max-file": "2"}),
        detach=True,
    )
    try:
        yield container
    finally:
        container.remove(force=True)
        client.close()


def test_a_yes_flood_leaves_the_tui_responsive_and_bounded(
    flood_inventory: Path, flood: Any
) -> None:
    assert not log_threads(), "log threads left over from an earlier test"
    app, pool = real_app(flood_inventory)
    report: dict[str, Any] = {}

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: running_on(app, "flood") == {"host-a"}, what="the flood")
            rss_before = rss_bytes()
            screen = await open_logs(pilot, app, "flood")
            view = screen.query_one(LogView)
            await until(pilot, lambda: view.held == view.capacity, what="a full buffer")
            # Key round trips while the flood goes on: each toggle must take effect quickly.
            round_trips, peak_rss = [], rss_bytes()
            for key, attribute in [("t", "show_timestamps"), ("w", "wrap")] * 5:
                before = getattr(view, attribute)
                took = await key_round_trip(
                    app, key, lambda a=attribute, b=before: getattr(view, a) != b
                )
                round_trips.append(took)
                peak_rss = max(peak_rss, rss_bytes())
                await asyncio.sleep(0.05)
            received = view.total
            await pilot.pause(1.0)
            rate = (view.total - received) / 1.0
            # Paused, the flood piles up in the follower's bounded queue: on resume the
            # view gets the newest lines and the count of those it lost.
            await key_round_trip(app, "p", lambda: "paused" in status_text(screen))
            await pilot.pause(1.0)
            dropped_before = screen.dropped
            await key_round_trip(app, "p", lambda: "following" in status_text(screen))
            await until(pilot, lambda: screen.dropped > dropped_before, what="dropped lines")
            report.update(
                round_trip_median=statistics.median(round_trips),
                round_trip_max=max(round_trips),
                rss_growth=max(peak_rss, rss_bytes()) - rss_before,
                lines_per_s=rate,
                dropped=screen.dropped,
                held=view.held,
                status=status_text(screen),
            )
            await pilot.press("escape")
            await pilot.pause()
            await until(pilot, lambda: not log_threads(), timeout=5, what="log threads to end")

    try:
        asyncio.run(scenario())
    finally:
        pool.close()
    print(
        f"flood in the TUI: key round trip median {report['round_trip_median'] * 1000:.0f} ms, "
        f"max {report['round_trip_max'] * 1000:.0f} ms; {report['lines_per_s']:,.0f} lines/s "
        f"into the view; dropped {report['dropped']:,}; held {report['held']:,}; "
        f"RSS +{report['rss_growth'] / 2**20:.1f} MiB"
    )
    assert report["round_trip_median"] < 0.3 and report["round_trip_max"] < 1.0
    assert report["held"] == 10_000
    assert report["dropped"] > 0 and f"{report['dropped']:,} dropped" in report["status"]
    assert report["rss_growth"] < 64 * 2**20
