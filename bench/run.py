"""Every benchmark against its baseline in the same run; writes bench/results.md.

    scripts/bench            full run (a few minutes)
    scripts/bench --smoke    one short round of each (CI: proves each still executes)

Each row alternates baseline and jobtui (A/B, A/B, ...) and reports medians,
so the shared, noisy machine slows both alike; the ratio is the figure to
trust. With a stack (`--stack DIR` or $JOBTUI_STACK_DIR) the full run also
measures rollouts and log floods on it and the fleet at 20 and 50 real
daemons (bench_rollouts.py, bench_flood.py, bench_fleet.py); the smoke run
and a run without a stack use in-process fake daemons for the fleet rows.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
OUT = HERE / "results.md"
FLEET_DIR = Path(os.environ.get("JOBTUI_FLEET_DIR", "/tmp/jobtui-fleet"))
SIZE = (160, 48)

from bench_common import Row, fmt, scratch  # noqa: E402  (bench/ is on sys.path now)

# -- screens -------------------------------------------------------------------


def _fleet_data(hosts: int, per_host: int) -> tuple[Any, Any]:
    from bench_core import fleet, seed_inventory

    from jobtui.config.loader import parse_inventory

    services = hosts * per_host // 2  # every service on 2 hosts: hosts x per_host rows
    inventory = parse_inventory(seed_inventory(services, hosts), file="bench.yml")
    return inventory, fleet(services, hosts, per_host)


def _bare_app(rows: int) -> Any:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(id="t")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("service", "host", "state", "version", "image", "uptime", "ports")
            for i in range(rows):
                table.add_row(
                    f"svc-{i // 2}", f"h{i % 10}", "running", "v1", "x:v1", "3h", "", key=str(i)
                )

    return Bare()


def _jobtui_app(hosts: int, per_host: int) -> Any:
    from support.fixed_backend import FixedFleet

    from jobtui.app.app import make_app

    inventory, snapshot = _fleet_data(hosts, per_host)
    return make_app(inventory, FixedFleet(snapshot), None, clock=lambda: 1.7e9)


def _table_rows(app: Any) -> int:
    from textual.widgets import DataTable

    try:
        return max(t.row_count for t in app.screen.query(DataTable))
    except ValueError:
        return 0


async def _paint(make: Callable[[], Any], rows: int) -> float:
    """App start to its table holding ``rows`` rows, laid out and painted."""
    # A fresh heap for each side, as a new process has: otherwise whichever
    # app starts next pays for collecting the previous one's garbage.
    gc.collect()
    start = time.perf_counter()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        while _table_rows(app) < rows:
            await asyncio.sleep(0.002)
        await pilot.pause()
        took = time.perf_counter() - start
    return took


async def _keys(make: Callable[[], Any], rows: int, presses: int) -> list[float]:
    """Seconds from each key press to its frame (the cursor moved and the screen idle)."""
    app = make()
    times = []
    async with app.run_test(size=SIZE) as pilot:
        while _table_rows(app) < rows:
            await asyncio.sleep(0.002)
        await pilot.pause()
        for i in range(presses):
            start = time.perf_counter()
            await pilot.press("down" if i % 40 < 20 else "up")
            await pilot.pause()
            times.append(time.perf_counter() - start)
    return times


REFRESH_SHARE = 0.05
"""The share of rows a refresh changes (issue 13: "a refresh where 5% of rows change")."""


def _changed_snapshot(inventory: Any, snapshot: Any, share: float) -> tuple[Any, int]:
    """``snapshot`` with ``share`` of all rows changed (their containers stopped or started,
    spread over the table); how many rows that is."""
    from dataclasses import replace
    from types import MappingProxyType

    from jobtui.backend.model import FleetSnapshot
    from jobtui.backend.observe import service_rows

    rows = service_rows(inventory, snapshot)
    backed = [row.container for row in rows if row.container]
    want = round(len(rows) * share)
    flip = {c.id for c in backed[:: max(1, len(backed) // want)][:want]}
    hosts = {}
    for name, host in snapshot.hosts.items():
        containers = tuple(
            replace(c, state="exited" if c.running else "running",
                    started_at=None if c.running else 1.6e9)
            if c.id in flip else c
            for c in host.containers
        )  # fmt: skip
        hosts[name] = replace(host, containers=containers)
    return FleetSnapshot(MappingProxyType(hosts), snapshot.generation + 1), len(flip)


async def _refresh_bare(rows: int, share: float) -> float:
    """A bare DataTable updating the cells a state change touches in ``share`` of its rows.

    Every new text fits its column (the labels are the widest), so the
    baseline asks for no width update: the cheapest way to show the change.
    (``update_width`` re-measures the whole column for each cell narrower than
    the column: seconds here.)
    """
    from textual.widgets import DataTable

    app = _bare_app(rows)
    async with app.run_test(size=SIZE) as pilot:
        while _table_rows(app) < rows:
            await asyncio.sleep(0.002)
        await pilot.pause()
        table = app.query_one(DataTable)
        columns = list(table.columns)
        state, version, uptime = columns[2], columns[3], columns[5]
        gc.collect()
        start = time.perf_counter()
        for i in range(0, rows, max(1, round(1 / share))):
            table.update_cell(str(i), state, "stopped")
            table.update_cell(str(i), version, "≠ v2")
            table.update_cell(str(i), uptime, "—")
        await pilot.pause()
        return time.perf_counter() - start


async def _refresh_jobtui(hosts: int, per_host: int, share: float) -> float:
    """jobtui taking a new fleet snapshot in which ``share`` of the rows changed, to its frame."""
    from support.fixed_backend import FixedFleet

    from jobtui.app.app import make_app

    inventory, snapshot = _fleet_data(hosts, per_host)
    changed, flipped = _changed_snapshot(inventory, snapshot, share)
    assert flipped == round(hosts * per_host * share), flipped  # the rows the baseline updates
    fleet = FixedFleet(snapshot)
    app = make_app(inventory, fleet, None, clock=lambda: 1.7e9)
    async with app.run_test(size=SIZE) as pilot:
        while _table_rows(app) < hosts * per_host:
            await asyncio.sleep(0.002)
        await pilot.pause()
        table = app.screen.services
        before = {key: table.text_of(key, "state") for key in table.keys}
        gc.collect()
        start = time.perf_counter()
        fleet.replace(changed)
        # The app's own flush (its 0.1 s timer calls the same), without the wait for the tick.
        app._flush_fleet()
        await pilot.pause()
        took = time.perf_counter() - start
        moved = [key for key, state in before.items() if table.text_of(key, "state") != state]
        assert len(moved) == flipped, (len(moved), flipped)  # the refresh really landed
    return took


def ab(base: Callable[[], Awaitable[float]], ours: Callable[[], Awaitable[float]], rounds: int):
    async def run() -> tuple[float, float]:
        b, o = [], []
        for _ in range(rounds):
            b.append(await base())
            o.append(await ours())
        return statistics.median(b), statistics.median(o)

    return asyncio.run(run())


def screens(smoke: bool) -> list[Row]:
    rows = []
    rounds = 1 if smoke else 5
    sizes = [(10, 100)] if smoke else [(10, 100), (10, 500)]
    for hosts, per_host in sizes:
        n = hosts * per_host
        base, ours = ab(
            lambda n=n: _paint(lambda: _bare_app(n), n),
            lambda h=hosts, p=per_host, n=n: _paint(lambda: _jobtui_app(h, p), n),
            rounds,
        )
        target = 1.5
        rows.append(Row(
            f"first complete paint, {hosts} hosts x {per_host} containers ({n:,} rows)",
            f"bare Textual app, DataTable of {n:,} rows", base, ours, "ms",
            f"<= {target}x", ours / base <= target,
            "" if ours / base <= target else
            "the inventory parse is in the window (~0.35x of the bare paint); see notes",
        ))  # fmt: skip
    n = 1000
    base, ours = ab(
        lambda: _refresh_bare(n, REFRESH_SHARE),
        lambda: _refresh_jobtui(10, n // 10, REFRESH_SHARE),
        rounds,
    )
    rows.append(Row(
        f"a refresh where {REFRESH_SHARE:.0%} of {n:,} rows change (new snapshot to frame)",
        "bare DataTable updating the same cells", base, ours, "ms", "informative", None,
        "jobtui: rows rebuilt from the snapshot, diffed, changed cells updated",
    ))  # fmt: skip
    presses = 10 if smoke else 60
    b_all, o_all = [], []
    for _ in range(1 if smoke else 3):
        b_all += asyncio.run(_keys(lambda: _bare_app(1000), 1000, presses))
        o_all += asyncio.run(_keys(lambda: _jobtui_app(10, 100), 1000, presses))
    for label, pick in (("p50", 0.5), ("p95", 0.95)):
        b = sorted(b_all)[int(pick * (len(b_all) - 1))]
        o = sorted(o_all)[int(pick * (len(o_all) - 1))]
        rows.append(Row(
            f"key press to frame at 1,000 rows, {label}", "bare DataTable, same key",
            b, o, "ms", "<= 1.2x", o / b <= 1.2,
        ))  # fmt: skip
    return rows


# -- process start -------------------------------------------------------------


def _run_seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def process_start(smoke: bool) -> list[Row]:
    with scratch("start") as work:
        return _process_start(smoke, work / "inv.yml")


def _process_start(smoke: bool, inv: Path) -> list[Row]:
    py = sys.executable
    jobtui = str(Path(py).with_name("jobtui"))
    inv.write_text("hosts:\n  h1: unix:///nonexistent.sock\nservices: []\n")
    rounds = 2 if smoke else 9
    cases = {
        "pass": [py, "-c", "pass"],
        "docker": [py, "-c", "import docker"],
        "validate": [jobtui, "validate", str(inv)],
        "status": [jobtui, "-i", str(inv), "status"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for key, argv in cases.items():
            times[key].append(_run_seconds(argv))
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for key in ("validate", "status"):
        rows.append(Row(
            f"`jobtui {key}` process (start to exit)", "`python -c pass`", med["pass"], med[key],
            "ms", "informative", None,
            f"vs a bare `import docker` process: {med['docker'] * 1e3:.0f} ms",
        ))  # fmt: skip
    return rows


# -- idle fleet ----------------------------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle_fleet(smoke: bool) -> list[Row]:
    from jobtui.backend.observe import watch
    from jobtui.backend.observe.fleet import FleetObserver
    from jobtui.config.models import Host

    urls_file = FLEET_DIR / "urls"
    real = urls_file.exists() and not smoke
    if real:
        urls = urls_file.read_text().split()
        hosts = {f"fleet-{i + 1}": Host(f"fleet-{i + 1}", u) for i, u in enumerate(urls)}
        fleet = FleetObserver(hosts)
        window = 60.0
        where = f"{len(hosts)} real daemons (scripts/fleet)"
    else:
        from test_observe_watch import FakeDaemon, FakePool

        pool = FakePool({f"h{i}": FakeDaemon(f"h{i}", 10) for i in range(20)})
        hosts = {n: d.host for n, d in pool.items()}
        scale = 0.05 if smoke else 1.0  # smoke: a 12 s quiet period becomes 0.6 s
        fleet = FleetObserver(hosts, pool=pool, quiet_probe=watch.QUIET_PROBE * scale)  # type: ignore[arg-type]
        window = 60.0 * scale
        where = "20 in-process fake daemons" + (" (time scaled 1/20)" if smoke else "")
    before_threads = threading.active_count()
    start_time = time.perf_counter()
    fleet.start(lambda: None)
    fleet.wait_settled(30)
    settled = time.perf_counter() - start_time
    calls0, cpu0, t0 = fleet.api_calls, _cpu(), time.perf_counter()
    time.sleep(window)
    calls = fleet.api_calls - calls0
    elapsed = time.perf_counter() - t0
    cpu = (_cpu() - cpu0) / elapsed
    threads = threading.active_count() - before_threads
    fleet.stop()
    n = len(hosts)
    per_min = sum(calls.values()) / n / (elapsed / (60.0 * (0.05 if (smoke and not real) else 1)))
    rows = [
        Row(f"idle Docker API calls per host per minute, {where}",
            "previous watcher: a ping per host per second", 60.0, per_min, "",
            "<= 6", per_min <= 6, ""),
        Row(f"idle CPU of the observer process, {where}", "previous watcher (issue 13, 20 daemons)",
            0.066, cpu, "", "<= 2% of a core", cpu <= 0.02, ""),
        Row(f"observer threads, {where}", "previous watcher: 2 per host", 2.0 * n,
            float(threads), "", "bounded: readers of connected hosts + <= 8 shared",
            threads <= n + watch.MAX_WORKERS, ""),
    ]  # fmt: skip
    if real:
        rows.append(Row(f"time to a complete view, {where}", "-", 0.0, settled, "ms",
                        "informative", None))  # fmt: skip
    return rows


# -- logs ----------------------------------------------------------------------


def logs_rows(smoke: bool) -> list[Row]:
    """The log view batching rows of bench_logs.py (in-process, no stack)."""
    import bench_logs

    results = asyncio.run(bench_logs.measure()) if not smoke else []
    rows = []
    if results:
        named = dict(results)
        names = list(named)
        base = named[names[0]]
        rows.append(Row(
            "10,000 log lines into the LogView, batched as the logs screen",
            "LogView, one write_lines per line", base, named[names[1]], "ms",
            "faster than line by line", named[names[1]] < base,
        ))  # fmt: skip
    return rows


# -- output --------------------------------------------------------------------


def render(rows: list[Row], smoke: bool, took: float) -> str:
    head = [
        "# jobtui benchmarks",
        "",
        f"`scripts/bench{' --smoke' if smoke else ''}`, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {took:.0f} s, load average at the end "
        f"{os.getloadavg()[0]:.1f} (the machine is shared). Baseline and jobtui alternate "
        "(A/B) in the same run; medians. Ratio = jobtui / baseline (lower is better).",
        "",
        "| what | baseline | baseline | jobtui | ratio | target | met | why not |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "**no**")
        head.append(
            f"| {r.what} | {r.baseline} | {fmt(r.base, r.unit) if r.base else '-'} "
            f"| {'-' if r.why.startswith('not run') else fmt(r.ours, r.unit)} "
            f"| {r.ratio} | {r.target} | {met} | {r.why} |"
        )
    notes = HERE / "notes.md"
    if notes.exists():
        head += ["", notes.read_text().rstrip()]
    return "\n".join(head) + "\n"


def _fleet(smoke: bool, stack: str | None) -> list[Row]:
    """Real daemons (20 and 50) on a full run with a stack; else in-process fakes."""
    from bench_common import Stack

    if smoke or Stack.find(stack) is None:
        return idle_fleet(smoke)
    from bench_fleet import real_fleet

    return real_fleet(stack)


def _flood(smoke: bool, stack: str | None) -> list[Row]:
    from bench_flood import flood

    return flood(smoke, stack)


def _rollouts(smoke: bool, stack: str | None) -> list[Row]:
    from bench_rollouts import rollouts

    return rollouts(smoke, stack)


SECTIONS: dict[str, Callable[[bool, str | None], list[Row]]] = {
    "screens": lambda smoke, _: screens(smoke),
    "start": lambda smoke, _: process_start(smoke),
    "fleet": _fleet,
    "logs": lambda smoke, _: logs_rows(smoke),
    "rollouts": _rollouts,
    "flood": _flood,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one short round of each")
    parser.add_argument("--out", type=Path, default=None, help="results file (default: bench/)")
    parser.add_argument("--only", default="", help=f"comma list: {','.join(SECTIONS)}")
    parser.add_argument(
        "--stack", default=None, help="a stack dir of scripts/stack up (default: $JOBTUI_STACK_DIR)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    started = time.perf_counter()
    wanted = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"no section {unknown[0]!r} (sections: {', '.join(SECTIONS)})")
    out = args.out or (
        OUT if not args.smoke else Path(tempfile.gettempdir()) / "jobtui-bench-smoke.md"
    )
    rows: list[Row] = []
    for name in wanted:
        print(f"bench: {name} ...", flush=True)
        got = SECTIONS[name](args.smoke, args.stack)
        for r in got:
            print(f"  {r.what}: {fmt(r.base, r.unit)} vs {fmt(r.ours, r.unit)} ({r.ratio})")
        rows += got
        # After every section: a long run that breaks later still leaves its figures.
        out.write_text(render(rows, args.smoke, time.perf_counter() - started))
    print(f"bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
