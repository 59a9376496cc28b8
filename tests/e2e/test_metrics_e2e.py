"""Metrics on the real stack: Prometheus scraping the cAdvisor stand-in, and Docker stats.

The stand-in (tests/cadvisor_standin.py, started by scripts/stack) publishes
cAdvisor's series from the daemons' real stats and serves the page it last
fed Prometheus on /debug/fed: what PrometheusMetrics reads must agree with it.
The one container this module starts (a CPU burner capped by a CPU quota)
carries the label below and is removed at the end of its test, and at the
start of the next run should a killed run leave it behind.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import docker
import pytest
from support.exposition import Exposition, container_counters, cpu_seconds, parse_exposition

from jobtui.backend.docker.answers import container_from_api
from jobtui.backend.docker.hosts import HostPool
from jobtui.backend.docker.service_containers import belongs_to, current_container
from jobtui.backend.metrics.base import MetricsUnavailable, Usage
from jobtui.backend.metrics.cadvisor import CPU_SECONDS, MACHINE_MEMORY, MEM_WORKING_SET
from jobtui.backend.metrics.docker_stats import DockerStatsMetrics
from jobtui.backend.metrics.prometheus import PrometheusMetrics
from jobtui.backend.model import ContainerInfo
from jobtui.config.loader import load_inventory
from jobtui.config.models import Inventory, PrometheusConfig

if TYPE_CHECKING:
    from conftest import Stack

TEST_LABEL = "jobtui.test"
TEST_VALUE = "metrics-e2e"
DEMO_SERVICES = {"web", "api", "worker"}
DEMO_PLACES = [("api", "host-b"), ("web", "host-a"), ("worker", "host-a"), ("worker", "host-b")]
BURNER_CPUS = 0.3


def eventually(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"{what} not within {timeout:g} s (last: {last!r})")


def standin_url(stack: Stack) -> str:
    from conftest import parse_env_file

    return str(parse_env_file(stack.dir / "stack.env")["CADVISOR_URL"])


def fed(stack: Stack) -> tuple[Exposition, float]:
    """The page the stand-in served Prometheus last, and when."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{standin_url(stack)}/debug/fed", timeout=5) as answer:
        at = float(answer.headers["X-Fed-At"])
        return parse_exposition(answer.read().decode()), at


@pytest.fixture(scope="module")
def inventory(stack: Stack) -> Inventory:
    return load_inventory(stack.inventory)


@pytest.fixture(scope="module")
def pool(inventory: Inventory) -> Iterator[HostPool]:
    made = HostPool(inventory.hosts)
    yield made
    made.close()


@pytest.fixture(scope="module")
def prometheus(inventory: Inventory) -> Iterator[PrometheusMetrics]:
    assert inventory.prometheus is not None
    source = PrometheusMetrics(inventory.prometheus)
    yield source
    source.close()


def running(pool: HostPool, host: str, **filters: str) -> list[ContainerInfo]:
    answer = pool[host].client.api.containers(filters={"status": "running", **filters})
    return [container_from_api(data, host) for data in answer]


def demo_now(pool: HostPool) -> list[ContainerInfo] | None:
    """The container serving each demo service on each of its hosts right now;
    ``None`` while one is missing (another test may be rolling it out)."""
    found = []
    for host in pool:
        mine = running(pool, host)
        for service in DEMO_SERVICES:
            current = current_container([c for c in mine if belongs_to(c, service)])
            if current is not None:
                found.append(current)
    return found if sorted((c.service, c.host) for c in found) == DEMO_PLACES else None


def with_demo(
    pool: HostPool, check: Callable[[list[ContainerInfo]], Any], *, timeout: float, what: str
) -> tuple[list[ContainerInfo], Any]:
    """Poll ``check`` on the current demo containers (listed afresh each time: tests
    running beside this one may replace them) until it gives something truthy."""

    def attempt() -> tuple[list[ContainerInfo], Any] | None:
        demo = demo_now(pool)
        result = check(demo) if demo is not None else None
        return (demo, result) if demo is not None and result else None

    found: tuple[list[ContainerInfo], Any] = eventually(attempt, timeout=timeout, what=what)
    return found


def complete(usages: dict[str, Usage], ids: list[str]) -> bool:
    return all(i in usages and usages[i].cpu_percent is not None for i in ids)


def test_usage_agrees_with_what_the_standin_published(
    stack: Stack, pool: HostPool, prometheus: PrometheusMetrics
) -> None:
    # CPU % is a rate: it needs two scrapes of each container.
    demo, _ = with_demo(
        pool, lambda d: complete(dict(prometheus.usage(d)), [c.id for c in d]),
        timeout=30, what="CPU % of every demo container",
    )  # fmt: skip
    before, _ = fed(stack)
    started = time.monotonic()
    usages = prometheus.usage(demo)
    took = time.monotonic() - started
    after, _ = fed(stack)
    published = [container_counters(page, demo) for page in (before, after)]
    for c in demo:
        usage = usages[c.id]
        fed_mem = [p[c.id].mem_working_set for p in published if c.id in p]
        assert fed_mem, f"{c.name}: the stand-in published nothing"
        assert usage.mem_bytes is not None
        assert any(abs(usage.mem_bytes - m) <= 0.05 * m for m in fed_mem if m), (
            f"{c.name}: Prometheus says {usage.mem_bytes}, the stand-in fed {fed_mem}"
        )
        assert usage.mem_limit is None  # the demo sets no limits
        assert usage.cpu_percent is not None and 0 <= usage.cpu_percent < 50
        assert usage.rx_bps is None  # network_mode host: no interfaces of its own
    assert took < 1.0, f"one usage query took {took:.2f} s"


@pytest.fixture
def burner(stack: Stack, pool: HostPool) -> Iterator[ContainerInfo]:
    client: docker.DockerClient = pool["host-b"].client
    for leftover in client.containers.list(
        all=True, filters={"label": f"{TEST_LABEL}={TEST_VALUE}"}
    ):
        leftover.remove(force=True)
    made = client.containers.run(
        stack.image("worker:v1"), ["sh", "-c", "while :; do :; done"],
        detach=True, network_mode="host",
        nano_cpus=int(BURNER_CPUS * 1e9), labels={TEST_LABEL: TEST_VALUE},
        name=f"jobtui-test-burner-{int(time.time())}",
    )  # fmt: skip
    try:
        yield eventually(
            lambda: running(pool, "host-b", id=made.id), timeout=10, what="burner running"
        )[0]
    finally:
        made.remove(force=True)


def _cpu_rate(first: tuple[Exposition, float], second: tuple[Exposition, float], cid: str) -> float:
    """CPU % of a container between two pages the stand-in fed, from their sample times."""
    points = []
    for page, _ in (first, second):
        samples = [s for s in page.named(CPU_SECONDS) if s.labels.get("id", "").endswith(cid)]
        seconds = cpu_seconds(samples)
        assert seconds is not None and samples[0].timestamp_ms is not None
        points.append((samples[0].timestamp_ms / 1000, seconds))
    (t1, c1), (t2, c2) = points
    return (c2 - c1) / (t2 - t1) * 100


def test_cpu_of_a_busy_container_matches_the_standins_counters(
    stack: Stack, prometheus: PrometheusMetrics, burner: ContainerInfo
) -> None:
    def fed_with_burner() -> tuple[Exposition, float] | None:
        page = fed(stack)
        return page if burner.id in container_counters(page[0], [burner]) else None

    first = eventually(fed_with_burner, timeout=15, what="the stand-in publishing the burner")
    eventually(
        lambda: complete(dict(prometheus.usage([burner])), [burner.id]),
        timeout=15, what="Prometheus having two scrapes of the burner",
    )  # fmt: skip
    second = eventually(
        lambda: (page := fed(stack))[1] >= first[1] + 4 and page,
        timeout=15, what="a stand-in page 4 s newer",
    )  # fmt: skip
    fed_percent = _cpu_rate(first, second, burner.id)
    usage = prometheus.usage([burner])[burner.id]
    assert usage.cpu_percent is not None
    # The quota caps it; the daemon's own accounting says how close it gets.
    assert abs(fed_percent - BURNER_CPUS * 100) < 10, fed_percent
    assert abs(usage.cpu_percent - fed_percent) <= max(3.0, 0.2 * fed_percent), (
        f"Prometheus {usage.cpu_percent:.1f} % vs stand-in {fed_percent:.1f} %"
    )
    # Graphs are one-minute averages: a container this young is still ramping up there.
    series = prometheus.series([burner], "cpu", 60, 2)[burner.id]
    assert len(series) >= 2 and series.last is not None and 0 < series.last <= fed_percent + 3


def test_the_standin_drops_a_removed_container(stack: Stack, pool: HostPool) -> None:
    client: docker.DockerClient = pool["host-b"].client
    made = client.containers.run(
        stack.image("worker:v1"), ["sleep", "300"], detach=True, network_mode="host", init=True,
        labels={TEST_LABEL: TEST_VALUE}, name=f"jobtui-test-gone-{int(time.time())}",
    )  # fmt: skip
    try:

        def published() -> bool:
            page, _ = fed(stack)
            return any(made.id in s.labels.get("id", "") for s in page.named(MEM_WORKING_SET))

        eventually(published, timeout=15, what="the stand-in publishing the new container")
    finally:
        made.remove(force=True)
    eventually(lambda: not published(), timeout=15, what="the stand-in dropping it")


def test_series_cover_the_last_minute(pool: HostPool, prometheus: PrometheusMetrics) -> None:
    def enough(demo: list[ContainerInfo]) -> dict[str, Any] | None:
        found = prometheus.series(demo, "mem", 60, 2)
        return dict(found) if all(len(found.get(c.id, ())) >= 2 for c in demo) else None

    demo, series = with_demo(pool, enough, timeout=30, what="two memory points per container")
    now = time.time()
    for c in demo:
        times = series[c.id].times
        assert list(times) == sorted(times)
        assert now - 62 <= times[0] and times[-1] <= now + 1
    cpu = prometheus.series(demo, "cpu", 60, 5)
    assert set(cpu) == {c.id for c in demo}
    with pytest.raises(ValueError):
        prometheus.series(demo, "disk", 60, 5)


def test_host_usage_from_the_root_cgroup(stack: Stack, prometheus: PrometheusMetrics) -> None:
    hosts = ["host-a", "host-b", "host-nowhere"]
    usages = eventually(
        lambda: (u := dict(prometheus.host_usage(hosts)))
        and all(u.get(h) and u[h].cpu_percent is not None for h in hosts[:2])
        and u,
        timeout=30, what="CPU of both hosts",
    )  # fmt: skip
    assert set(usages) == {"host-a", "host-b"}
    page, _ = fed(stack)
    total = {s.labels["host"]: s.value for s in page.named(MACHINE_MEMORY)}
    root_mem = {
        s.labels["host"]: s.value for s in page.named(MEM_WORKING_SET) if s.labels["id"] == "/"
    }
    for host in hosts[:2]:
        usage = usages[host]
        assert usage.mem_limit == total[host]
        assert usage.mem_bytes is not None
        assert abs(usage.mem_bytes - root_mem[host]) <= 0.15 * root_mem[host]
        assert usage.cpu_percent is not None and 0 <= usage.cpu_percent <= 100
        assert usage.rx_bps is not None and usage.rx_bps >= 0


def test_an_unreachable_prometheus_is_reported_fast(pool: HostPool) -> None:
    demo = running(pool, "host-a")
    source = PrometheusMetrics(PrometheusConfig("http://127.0.0.1:1"))
    try:
        for call in (
            lambda: source.usage(demo),
            lambda: source.series(demo, "cpu", 300, 5),
            lambda: source.host_usage(["host-a"]),
        ):
            started = time.monotonic()
            with pytest.raises(MetricsUnavailable, match=r"127\.0\.0\.1:1: connection refused"):
                call()
            assert time.monotonic() - started < 1.0
    finally:
        source.close()


def test_docker_stats_never_block_and_deliver_a_value(pool: HostPool) -> None:
    (worker,) = [c for c in running(pool, "host-a") if c.service == "worker"]
    source = DockerStatsMetrics(pool)
    slowest = 0.0
    try:

        def value() -> Usage | None:
            nonlocal slowest
            started = time.monotonic()
            found = source.usage([worker]).get(worker.id)
            slowest = max(slowest, time.monotonic() - started)
            return found if found is not None and found.cpu_percent is not None else None

        usage = eventually(value, timeout=15, what="a Docker stats value for the worker")
        assert usage.mem_bytes is not None and usage.mem_bytes > 0
        assert 0 <= (usage.cpu_percent or 0) < 50
        assert slowest < 0.05, f"usage() blocked {slowest * 1000:.0f} ms"
        assert len(source.series([worker], "mem", 60, 1)[worker.id]) >= 1
        assert source.host_usage(["host-a"]) == {}
    finally:
        source.close()
