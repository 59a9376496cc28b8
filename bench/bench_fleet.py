"""Fleet rows at 20 and 50 real Docker daemons (scripts/fleet), each with 10 containers.

Per size: memory per daemon (dockerd + its containerd, RSS), time to a
complete view (FleetObserver start to every host listed) against the Docker
CLI listing every daemon in turn, one refresh (a container started on one
daemon until the model shows it, and the API calls that cost), and while
idle for a minute: Docker API calls per host per minute counted by jobtui
and by the daemons themselves (they run --debug: every call is a line of
their log), the observer's CPU and its threads. The daemons live in
/tmp/jobtui-bench-fleet and are stopped at the end (scripts/fleet down).
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

from bench_common import ROOT, Row, Stack, docker_env, not_run, timed

FLEET_DIR = Path("/tmp/jobtui-bench-fleet")
SIZES = tuple(int(n) for n in os.environ.get("JOBTUI_BENCH_FLEET_SIZES", "20,50").split(","))
"""Daemons per measured fleet, in growing order (the next size adds daemons)."""
PER_HOST = 10
WINDOW = float(os.environ.get("JOBTUI_BENCH_IDLE_WINDOW", "60"))
"""Seconds the idle fleet is watched."""
MEMORY_HEADROOM = 2 << 30
"""Bytes of MemAvailable left over before the bench starts more daemons."""


def _fleet(*args: str, stack: Stack) -> None:
    env = dict(os.environ, JOBTUI_FLEET_DIR=str(FLEET_DIR), JOBTUI_STACK_DIR=str(stack.dir))
    subprocess.run(["bash", str(ROOT / "scripts" / "fleet"), *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=900)  # fmt: skip


def _rss(pid: int) -> int:
    """Bytes of resident memory of ``pid`` and its children (dockerd starts its containerd)."""
    total = 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS")).split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _rss(int(child)) // 1024
    except (OSError, StopIteration):
        pass
    return total * 1024


def _available() -> int:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    return int(next(ln for ln in meminfo if ln.startswith("MemAvailable")).split()[1]) * 1024


def _daemon_calls(logs: list[Path], since: list[int]) -> int:
    """Docker API calls the daemons logged after the byte offsets ``since``."""
    calls = 0
    for path, offset in zip(logs, since, strict=True):
        with path.open("rb") as f:
            f.seek(offset)
            calls += f.read().count(b"Calling ")
    return calls


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_size(stack: Stack, n: int) -> list[Row]:
    from jobtui.backend.observe.fleet import FleetObserver
    from jobtui.config.models import Host

    _fleet("up", str(n), str(PER_HOST), stack=stack)
    names = [f"fleet-{k}" for k in range(1, n + 1)]
    urls = {h: f"unix://{FLEET_DIR}/{h}/docker.sock" for h in names}
    pids = [int((FLEET_DIR / h / "docker.pid").read_text()) for h in names]
    per_daemon = sum(_rss(p) for p in pids) / n
    env = docker_env(stack.dir)
    where = f"{n} real daemons x {PER_HOST} containers"

    def cli_view() -> None:
        for url in urls.values():
            subprocess.run(["docker", "-H", url, "ps", "-a"], env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip

    base_view = min(timed(cli_view) for _ in range(3))
    fleet = FleetObserver({h: Host(h, u) for h, u in urls.items()})
    start = time.perf_counter()
    fleet.start(lambda: None)
    settled = fleet.wait_settled(60)
    view = time.perf_counter() - start
    hosts = fleet.snapshot().hosts.values()
    complete = settled and all(len(s.containers) >= PER_HOST for s in hosts)
    try:
        # One refresh: a container starts on one daemon; the model shows it.
        calls0 = sum(fleet.api_calls.values())
        name = f"bench-refresh-{time.time_ns()}"
        began = time.perf_counter()
        subprocess.run(["docker", "-H", urls[names[0]], "run", "-d", "--init", "--network", "host",
                        "--name", name, "--label", "jobtui.service=bench-refresh",
                        f"{stack.registry}/demo/worker:v1", "sleep", "100000"],
                       env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 30
        while not any(c.name == name for c in fleet.snapshot().containers()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the model never showed {name}")
            time.sleep(0.005)  # a poll of an in-memory snapshot
        refresh = time.perf_counter() - began
        refresh_calls = sum(fleet.api_calls.values()) - calls0
        # Idle: nothing changes for a minute.
        logs = [FLEET_DIR / h / "dockerd.log" for h in names]
        offsets = [p.stat().st_size for p in logs]
        calls0, cpu0, t0 = sum(fleet.api_calls.values()), _cpu(), time.perf_counter()
        time.sleep(WINDOW)
        elapsed = time.perf_counter() - t0
        ours = (sum(fleet.api_calls.values()) - calls0) / n / (elapsed / 60)
        theirs = _daemon_calls(logs, offsets) / n / (elapsed / 60)
        cpu = (_cpu() - cpu0) / elapsed
        threads = fleet.threads
    finally:
        fleet.stop()
        subprocess.run(["docker", "-H", urls[names[0]], "rm", "-f", name], env=env,
                       check=False, capture_output=True)  # fmt: skip
    from jobtui.backend.observe import watch

    return [
        Row(f"memory per Docker daemon (dockerd + containerd RSS), {where}", "-", 0.0,
            per_daemon / 2**20, "MiB", "informative", None,
            f"{n} daemons: {n * per_daemon / 2**30:.1f} GiB of 24 GiB"),
        Row(f"time to a complete view, {where} (FleetObserver start to all listed)",
            "Docker CLI: `docker ps -a` on each daemon in turn", base_view, view, "ms",
            "informative", None, "" if complete else "not every host listed in 60 s"),
        Row(f"one refresh, {where}: a container started on one daemon until the model shows it",
            f"a polling view: {n} list calls per refresh", float(n), float(refresh_calls),
            "calls", "API calls grow with changed hosts, not with the fleet",
            refresh_calls <= 3, f"{refresh * 1e3:.0f} ms after `docker run` was issued"),
        Row(f"idle Docker API calls per host per minute, {where}, counted by jobtui",
            "previous watcher: a ping per host per second", 60.0, ours, "", "<= 6", ours <= 6),
        Row(f"idle Docker API calls per host per minute, {where}, counted by the daemons (--debug)",
            "previous watcher: a ping per host per second", 60.0, theirs, "", "<= 6",
            theirs <= 6),
        Row(f"idle CPU of the observer process, {where}", "previous watcher (issue 13, 20 daemons)",
            0.066, cpu, "", "<= 2% of a core", cpu <= 0.02),
        Row(f"observer threads, {where}", "previous watcher: 2 per host", 2.0 * n, float(threads),
            "", "bounded: readers of connected hosts + <= 8 shared",
            threads <= n + watch.MAX_WORKERS),
    ]  # fmt: skip


def real_fleet(stack_dir: str | None) -> list[Row]:
    stack = Stack.find(stack_dir)
    if stack is None:
        return [not_run("fleet of real daemons", "no stack (its registry holds the image)")]
    rows: list[Row] = []
    try:
        for n in SIZES:
            running = len(list(FLEET_DIR.glob("fleet-*")))
            per = max((r.ours for r in rows if r.unit == "MiB"), default=150.0) * 2**20
            if (n - running) * per > _available() - MEMORY_HEADROOM:
                rows.append(not_run(f"fleet of {n} real daemons",
                                    f"{n - running} more daemons of ~{per / 2**20:.0f} MiB do not "
                                    "fit in the memory available now"))  # fmt: skip
                break
            rows += one_size(stack, n)
    finally:
        _fleet("down", stack=stack)
    return rows
