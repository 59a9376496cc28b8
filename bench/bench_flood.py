"""Log rows on the real stack: `jobtui logs -f` against `docker logs -f`.

* a ``yes`` flood: lines per second each follower passes on, counted by the
  bench from its first line for a fixed window (A/B rounds, medians);
* memory: a flood of 1 KB lines followed until ~1 GB went through (smoke:
  50 MB); the follower's RSS growth per GB and its peak;
* a merged follow of 10 containers (one service, 10 instances on host-a, each
  wrote its lines before the follow starts): lines per second from the first
  to the last line, `jobtui logs -f --tail all` against 10 `docker logs -f`.

Containers log through json-file with a size cap (the flood would fill the
disk otherwise); the bench removes them and its scratch dir at the end.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bench_common import (
    VENV_BIN,
    Row,
    Stack,
    alternate,
    not_run,
    python_env,
    scratch,
)

HOST = "host-a"
MERGED = 10
LOG_CAP = ["--log-opt", "max-size=64m", "--log-opt", "max-file=2"]
CPU_BOUND = "CPU-bound: jobtui decodes and merges every line in Python (2 shared cores)"


def _inventory(stack: Stack) -> str:
    services = "\n".join(
        f"  - name: {name}\n    image: {stack.registry}/demo/worker:v1\n    run_on_host: {HOST}\n"
        "    network_mode: host"
        for name in ("flood", "bigflood", "chorus")
    )
    return f"hosts:\n  {HOST}: {stack.host_url(HOST)}\nservices:\n{services}\n"


def _run(stack: Stack, service: str, script: str, count: int = 1) -> list[str]:
    ids = []
    for i in range(count):
        ids.append(stack.docker(
            HOST, "run", "-d", "--init", "--network", "host", *LOG_CAP,
            "--name", f"bench-{service}-{i}-{time.time_ns()}",
            "--label", f"jobtui.service={service}",
            f"{stack.registry}/demo/worker:v1", "sh", "-c", script,
        ))  # fmt: skip
    return ids


def _rss(pid: int, key: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


class Reader:
    """A follower process whose stdout the bench counts (lines and bytes)."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.name = str(argv[0])
        self.proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)  # fmt: skip
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd, selectors.EVENT_READ)
        self.lines = 0
        self.bytes = 0

    def pump(self, until: float) -> bool:
        """Read what arrives until ``until`` (monotonic); False at end of output."""
        while (left := until - time.monotonic()) > 0:
            if not self.sel.select(left):
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return False
            self.lines += chunk.count(b"\n")
            self.bytes += len(chunk)
        return True

    def first(self, deadline: float = 60.0) -> None:
        end = time.monotonic() + deadline
        while self.lines == 0:
            if not self.pump(min(end, time.monotonic() + 0.05)) or time.monotonic() > end:
                raise RuntimeError(f"{self.name} printed no line")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sel.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def flood_rate(reader: Reader, window: float) -> float:
    reader.first()
    lines0, t0 = reader.lines, time.monotonic()
    reader.pump(t0 + window)
    rate = (reader.lines - lines0) / (time.monotonic() - t0)
    reader.stop()
    return rate


def follow_memory(reader: Reader, volume: int, deadline: float = 120.0) -> tuple[float, float]:
    """RSS growth in bytes per GB passed on, and the peak RSS, following ``volume`` bytes."""
    reader.first()
    reader.pump(time.monotonic() + 1.0)  # past start-up allocations
    rss0, bytes0 = _rss(reader.proc.pid), reader.bytes
    end = time.monotonic() + deadline
    while reader.bytes - bytes0 < volume and time.monotonic() < end:
        reader.pump(time.monotonic() + 0.5)
    growth = (_rss(reader.proc.pid) - rss0) / ((reader.bytes - bytes0) / 1e9)
    peak = _rss(reader.proc.pid, "VmHWM")
    reader.stop()
    return growth, float(peak)


def merged_rate(readers: list[Reader], total: int, deadline: float = 120.0) -> float:
    """Lines per second, first line to the ``total``-th, summed over ``readers``."""
    end = time.monotonic() + deadline
    t0 = None
    while sum(r.lines for r in readers) < total and time.monotonic() < end:
        for r in readers:
            r.pump(time.monotonic() + 0.01)
            if t0 is None and r.lines:
                t0 = time.monotonic()
    got = sum(r.lines for r in readers)
    took = time.monotonic() - (t0 or end)
    for r in readers:
        r.stop()
    if got < total:
        raise RuntimeError(f"merged follow passed on {got} of {total} lines in {deadline:g} s")
    return got / took


def flood(smoke: bool, stack_dir: str | None = None) -> list[Row]:
    stack = Stack.find(stack_dir)
    if stack is None:
        return [not_run("logs flood", "no stack (scripts/stack up; --stack DIR)")]
    rounds, window = (1, 1.5) if smoke else (3, 5.0)
    volume = 50_000_000 if smoke else 1_000_000_000
    per = 2_000 if smoke else 20_000
    url = stack.host_url(HOST)
    with scratch("logs") as work:
        inv = work / "logs.yml"
        inv.write_text(_inventory(stack))
        env = python_env(work / "pycache")
        denv = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        jobtui = [str(VENV_BIN / "jobtui"), "-i", str(inv), "logs", "-f"]
        rows: list[Row] = []
        try:
            (cid,) = _run(stack, "flood", "exec yes")
            base, ours = alternate(
                lambda _: flood_rate(Reader(["docker", "-H", url, "logs", "-f", "--tail", "0", cid],
                                            denv), window),
                lambda _: flood_rate(Reader([*jobtui, "--tail", "0", "flood"], env), window),
                rounds,
            )  # fmt: skip
            rows.append(Row("`jobtui logs -f` of a `yes` flood, lines/s",
                            "`docker logs -f`, same container", base, ours, "lines/s", ">= 0.5x",
                            ours / base >= 0.5,
                            "" if ours / base >= 0.5 else CPU_BOUND))  # fmt: skip
            stack.remove_service(HOST, "flood")
            (big,) = _run(stack, "bigflood", 'exec yes "$(head -c 1000 /dev/zero | tr "\\0" x)"')
            docker_follow = ["docker", "-H", url, "logs", "-f", "--tail", "0", big]
            bg, bpeak = follow_memory(Reader(docker_follow, denv), volume)
            og, opeak = follow_memory(Reader([*jobtui, "--tail", "0", "bigflood"], env), volume)
            gb = "per GB" if not smoke else "per GB (from 50 MB)"
            rows.append(Row(f"RSS growth of the follower {gb} of 1 KB log lines",
                            "`docker logs -f`", bg / 2**20, og / 2**20, "MiB",
                            "bounded: < 64 MiB per GB", og < 64 * 2**20,
                            f"peak RSS {opeak / 2**20:.0f} MiB "
                            f"(docker {bpeak / 2**20:.0f} MiB)"))  # fmt: skip
            stack.remove_service(HOST, "bigflood")
            ids = _run(stack, "chorus", f"seq 1 {per}; exec sleep 1000000", MERGED)
            for c in ids:  # every container wrote its lines before the follow starts
                end = time.monotonic() + 30
                while stack.docker(HOST, "logs", "--tail", "1", c) != str(per):
                    if time.monotonic() > end:
                        raise RuntimeError(f"container {c[:12]} did not write its {per} lines")
                    time.sleep(0.05)  # polling the daemon for the last line
            base, ours = alternate(
                lambda _: merged_rate([Reader(["docker", "-H", url, "logs", "-f", "--tail", "all",
                                               c], denv) for c in ids], MERGED * per),
                lambda _: merged_rate([Reader([*jobtui, "--tail", "all", "chorus"], env)],
                                      MERGED * per),
                rounds,
            )  # fmt: skip
            rows.append(Row(f"merged follow of {MERGED} containers ({MERGED} x {per:,} lines), "
                            "lines/s", f"{MERGED} `docker logs -f` processes at once", base, ours,
                            "lines/s", ">= 0.5x", ours / base >= 0.5,
                            "" if ours / base >= 0.5 else CPU_BOUND))  # fmt: skip
        finally:
            for service in ("flood", "bigflood", "chorus"):
                stack.remove_service(HOST, service)
    return rows
