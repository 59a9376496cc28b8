"""Usage numbers from the Docker stats API, for inventories without Prometheus.

A one-shot ``stats`` call costs up to a second or two per container, so
:class:`DockerStatsMetrics` never makes the caller wait for one: a small
thread pool refreshes, every ``interval`` seconds, only the containers that
were asked about in the last ``keep_for`` seconds (the ones on screen), and
:meth:`~DockerStatsMetrics.usage` returns the latest values at once. Figures
follow ``docker stats``: CPU % from the cpu/system counters between two
samples, memory usage minus the inactive page cache, network rates between
two samples. :meth:`~DockerStatsMetrics.series` is the in-memory history of
those samples; Docker has no host-wide figures, so ``host_usage`` has none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker.errors

from jobtui.backend.docker import HostPool, parse_docker_time
from jobtui.backend.metrics.base import Series, Usage, check_metric
from jobtui.backend.metrics.cadvisor import memory_limit, rate
from jobtui.backend.model import ContainerInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatsSample:
    """The counters of one Docker stats answer that later samples are compared with."""

    time: float
    cpu_ns: float | None
    system_ns: float | None
    rx_bytes: float | None
    tx_bytes: float | None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _cpu_counters(cpu_stats: Mapping[str, Any]) -> tuple[float | None, float | None]:
    usage = _number((cpu_stats.get("cpu_usage") or {}).get("total_usage"))
    system = _number(cpu_stats.get("system_cpu_usage"))
    return usage, system


def cpu_percent(
    cpu_ns: float | None,
    system_ns: float | None,
    before_cpu_ns: float | None,
    before_system_ns: float | None,
    online_cpus: float,
) -> float | None:
    """``docker stats``' CPU %: the container's share of the machine's CPU time
    between two readings, times the number of cores (100 = one core)."""
    if cpu_ns is None or system_ns is None or before_cpu_ns is None or before_system_ns is None:
        return None
    spent, elapsed = cpu_ns - before_cpu_ns, system_ns - before_system_ns
    if elapsed <= 0 or spent < 0:
        return None
    return spent / elapsed * online_cpus * 100.0


def working_set(memory_stats: Mapping[str, Any]) -> float | None:
    """Memory usage minus the inactive page cache (``docker stats``' and cAdvisor's figure).

    cgroup v1 calls it ``total_inactive_file``, v2 ``inactive_file``; very old
    daemons only give ``cache``.
    """
    usage = _number(memory_stats.get("usage"))
    if usage is None:
        return None
    detail = memory_stats.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file", "cache"):
        cache = _number(detail.get(key))
        if cache is not None:
            return usage - cache if cache < usage else usage
    return usage


def usage_from_stats(
    raw: Mapping[str, Any], previous: StatsSample | None
) -> tuple[StatsSample, Usage] | None:
    """This answer's counters and the usage they show against ``previous`` (the last
    answer for the same container); ``None`` when the container is not running."""
    when = parse_docker_time(str(raw.get("read") or ""))
    if when is None:
        return None  # Docker zeroes the sample of a stopped container
    cpu_stats = raw.get("cpu_stats") or {}
    cpu_ns, system_ns = _cpu_counters(cpu_stats)
    online = _number(cpu_stats.get("online_cpus")) or float(
        len((cpu_stats.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    before_cpu, before_system = _cpu_counters(raw.get("precpu_stats") or {})
    if not before_system and previous is not None:
        # One-shot answers carry no previous reading: use our own.
        before_cpu, before_system = previous.cpu_ns, previous.system_ns
    networks = raw.get("networks")
    rx = tx = None
    if networks:
        rx = sum(float(n.get("rx_bytes", 0)) for n in networks.values())
        tx = sum(float(n.get("tx_bytes", 0)) for n in networks.values())
    sample = StatsSample(when, cpu_ns, system_ns, rx, tx)
    memory = raw.get("memory_stats") or {}
    # cgroup v1 says "unlimited" with a huge hierarchical limit; the top-level
    # "limit" is then the host's memory.
    hierarchical = _number((memory.get("stats") or {}).get("hierarchical_memory_limit"))
    limit = memory_limit(hierarchical if hierarchical is not None else memory.get("limit"))
    elapsed = when - previous.time if previous is not None else 0.0
    usage = Usage(
        cpu_percent=cpu_percent(cpu_ns, system_ns, before_cpu, before_system, online),
        mem_bytes=working_set(memory),
        mem_limit=limit,
        rx_bps=rate(previous.rx_bytes, rx, elapsed) if previous is not None else None,
        tx_bps=rate(previous.tx_bytes, tx, elapsed) if previous is not None else None,
    )
    return sample, usage


_FIELDS: dict[str, Callable[[Usage], float | None]] = {
    "cpu": lambda u: u.cpu_percent,
    "mem": lambda u: u.mem_bytes,
    "rx": lambda u: u.rx_bps,
    "tx": lambda u: u.tx_bps,
}


def downsample(
    points: Sequence[tuple[float, float]], start: float, step: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The last point of every ``step``-long bucket from ``start`` on (points ascending)."""
    kept: dict[int, tuple[float, float]] = {}
    for when, value in points:
        if when >= start:
            kept[int((when - start) // step)] = (when, value)
    ordered = [kept[k] for k in sorted(kept)]
    return tuple(t for t, _ in ordered), tuple(v for _, v in ordered)


class DockerStatsMetrics:
    """A :class:`~jobtui.backend.metrics.base.MetricsSource` on Docker's stats API.

    ``usage`` and ``series`` return what is cached and never wait for Docker;
    the first values of a container arrive within one stats call, CPU % and
    network rates from the second on (``interval`` later).
    """

    name = "docker stats"

    def __init__(
        self,
        pool: HostPool,
        *,
        workers: int = 4,
        interval: float = 2.0,
        keep_for: float = 30.0,
        history_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._interval = interval
        self._keep_for = keep_for
        self._history_len = max(2, int(history_s / interval) + 1)
        self._clock = clock
        self._lock = threading.Lock()
        self._asked: dict[str, tuple[ContainerInfo, float]] = {}
        self._in_flight: set[str] = set()
        self._fetched: dict[str, float] = {}
        self._samples: dict[str, StatsSample] = {}
        self._latest: dict[str, Usage] = {}
        self._history: dict[str, deque[tuple[float, Usage]]] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker-stats")
        self._scheduler = threading.Thread(
            target=self._schedule, name="docker-stats-scheduler", daemon=True
        )
        self._scheduler.start()

    def _want(self, containers: Sequence[ContainerInfo]) -> list[str]:
        now, ids, new = self._clock(), [], False
        with self._lock:
            for container in containers:
                if not container.running:
                    continue
                new = new or container.id not in self._asked
                self._asked[container.id] = (container, now)
                ids.append(container.id)
        if new:
            self._wake.set()
        return ids

    def usage(self, containers: Sequence[ContainerInfo]) -> Mapping[str, Usage]:
        """The latest cached usage of the running ones of ``containers``; never blocks."""
        ids = self._want(containers)
        with self._lock:
            return {i: self._latest[i] for i in ids if i in self._latest}

    def series(
        self, containers: Sequence[ContainerInfo], metric: str, range_s: float, step_s: float
    ) -> Mapping[str, Series]:
        """``metric`` from the samples kept since the container was first asked about."""
        pick = _FIELDS[check_metric(metric)]
        ids = self._want(containers)
        start = time.time() - range_s
        with self._lock:
            histories = {i: list(self._history.get(i, ())) for i in ids}
        found = {}
        for container_id, history in histories.items():
            points = [(t, v) for t, u in history if (v := pick(u)) is not None]
            found[container_id] = Series(*downsample(points, start, max(step_s, 0.001)))
        return found

    def host_usage(self, hosts: Sequence[str]) -> Mapping[str, Usage]:
        """Nothing: Docker's API has no host-wide usage figures."""
        return {}

    def close(self) -> None:
        """Stop refreshing; calls still running finish in the background."""
        self._stopping.set()
        self._wake.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._scheduler.join(timeout=2)

    # ------------------------------------------------------------ background

    def _schedule(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval / 4)
            self._wake.clear()
            now, due = self._clock(), []
            with self._lock:
                for container_id, (container, asked) in list(self._asked.items()):
                    if now - asked > self._keep_for:
                        self._forget_locked(container_id)
                    elif container_id not in self._in_flight and (
                        now - self._fetched.get(container_id, -1e18) >= self._interval
                    ):
                        # Counted from the start of a call, so slow calls do not
                        # stretch the period.
                        self._in_flight.add(container_id)
                        self._fetched[container_id] = now
                        due.append(container)
            for container in due:
                try:
                    self._executor.submit(self._fetch, container)
                except RuntimeError:
                    return  # shut down

    def _forget_locked(self, container_id: str) -> None:
        for table in (self._asked, self._fetched, self._samples, self._latest, self._history):
            table.pop(container_id, None)

    def _fetch(self, container: ContainerInfo) -> None:
        try:
            client = self._pool[container.host].client
            raw = client.api.stats(container.id, stream=False, one_shot=True)
        except docker.errors.NotFound:
            with self._lock:
                self._in_flight.discard(container.id)
                self._forget_locked(container.id)
            return
        except Exception as exc:
            # Host down or slow: keep the old values, try again next round.
            log.debug("docker stats of %s on %s: %s", container.name, container.host, exc)
            raw = None
        with self._lock:
            self._in_flight.discard(container.id)
            if raw is None or container.id not in self._asked:
                return
            result = usage_from_stats(raw, self._samples.get(container.id))
            if result is None:
                self._latest.pop(container.id, None)
                return
            sample, usage = result
            self._samples[container.id] = sample
            self._latest[container.id] = usage
            history = self._history.setdefault(container.id, deque(maxlen=self._history_len))
            history.append((sample.time, usage))
