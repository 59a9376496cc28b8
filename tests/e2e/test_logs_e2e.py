"""Log follow on the real daemons: merged across hosts, exact tails, clean stops, floods.

The demo `worker` service logs a line a second on host-a and host-b. Containers
this module starts carry the label below and are removed at the end of their
test, and also at the start of the next run should a killed run leave one.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from jobtui.backend.docker.answers import container_from_api
from jobtui.backend.docker.hosts import HostConnection
from jobtui.backend.logs.follower import LogFollower
from jobtui.backend.logs.lines import LogLine
from jobtui.backend.logs.stream import LogTarget, service_targets
from jobtui.backend.model import LABEL_SERVICE
from jobtui.config.models import Host

if TYPE_CHECKING:
    from conftest import Stack

TEST_LABEL = "jobtui.test"
TEST_LABEL_VALUE = "logs-e2e"


def eventually(check: Callable[[], Any], *, timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    pytest.fail(f"{what or 'condition'} not met within {timeout:.0f}s (last: {last!r})")


def connect(stack: Stack) -> dict[str, HostConnection]:
    return {name: HostConnection(Host(name, url)) for name, url in stack.host_urls.items()}


@pytest.fixture
def connections(stack: Stack) -> Iterator[dict[str, HostConnection]]:
    made = connect(stack)
    yield made
    for connection in made.values():
        connection.close()


def worker_targets(connections: dict[str, HostConnection]) -> list[LogTarget]:
    infos = [
        container_from_api(data, name)
        for name, connection in connections.items()
        for data in connection.client.api.containers(
            filters={"label": f"{LABEL_SERVICE}=worker", "status": "running"}
        )
    ]
    return service_targets(infos, "worker", connections)


class Sink:
    """A consumer that records every batch, optionally taking ``delay`` seconds per batch."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self.batches: list[tuple[float, list[LogLine], int]] = []

    def __call__(self, batch: list[LogLine], dropped: int) -> None:
        with self._lock:
            self.batches.append((time.monotonic(), batch, dropped))
        if self.delay:
            time.sleep(self.delay)

    def lines(self) -> list[LogLine]:
        with self._lock:
            return [line for _, batch, _ in self.batches for line in batch]


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed meanwhile
    return count


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def remove_test_containers(client: Any) -> None:
    for container in client.containers.list(
        all=True, filters={"label": f"{TEST_LABEL}={TEST_LABEL_VALUE}"}
    ):
        container.remove(force=True)


def test_worker_on_both_hosts_arrives_merged_with_host_prefixes(
    connections: dict[str, HostConnection],
) -> None:
    targets = worker_targets(connections)
    assert {t.host for t in targets} == {"host-a", "host-b"}
    sink = Sink()
    started = time.time()
    with LogFollower(targets, sink, tail=2) as follower:

        def live_hosts() -> set[str]:
            return {ln.host for ln in sink.lines() if ln.timestamp > started}

        eventually(lambda: live_hosts() == {"host-a", "host-b"}, what="live lines of both hosts")
    assert not follower.errors
    lines = sink.lines()
    names = {t.host: t.container for t in targets}
    for line in lines:
        assert line.prefix == f"{line.host}/{names[line.host]}" and line.stream == "stdout"
        # A freshly started worker's tail may still hold its start-up line.
        assert line.text.startswith("worker ")
        assert "tick" in line.text or (line.timestamp <= started and "starting" in line.text)
    history = [ln for ln in lines if ln.timestamp <= started]
    assert sorted(ln.host for ln in history) == ["host-a", "host-a", "host-b", "host-b"]
    # Batches, never one call per line, and each batch merged in time order.
    for _, batch, dropped in sink.batches:
        assert dropped == 0
        assert [ln.timestamp for ln in batch] == sorted(ln.timestamp for ln in batch)
    times = [at for at, _, _ in sink.batches]
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(times))


def test_tail_returns_exactly_the_last_lines(
    stack: Stack, connections: dict[str, HostConnection]
) -> None:
    client = connections["host-b"].client
    remove_test_containers(client)
    # stdout and stderr reach the log file through separate copiers: keep them apart
    # in time so that the file's order (which tail counts in) is the script's.
    script = "echo oops >&2; sleep 1; for i in $(seq 1 50); do echo line $i; done; printf end"
    container = client.containers.create(
        stack.image("worker:v1"), ["sh", "-c", script],
        name=f"jobtui-logs-tail-{uuid.uuid4().hex[:8]}",
        network_mode="host", labels={TEST_LABEL: TEST_LABEL_VALUE},
    )  # fmt: skip
    try:
        container.start()

        def exited() -> bool:
            container.reload()
            return bool(container.status == "exited")

        eventually(exited, what="the tail container to exit")
        target = LogTarget(connections["host-b"], container.id, "host-b", container.name)
        sink = Sink()
        with LogFollower([target], sink, tail=7, follow=False) as follower:
            assert follower.wait(10)
        expected = [f"line {i}" for i in range(45, 51)] + ["end"]
        assert [ln.text for ln in sink.lines()] == expected

        everything = Sink()
        with LogFollower([target], everything, tail=None, follow=False) as follower:
            assert follower.wait(10)
        lines = everything.lines()
        assert len(lines) == 52
        assert [ln.text for ln in lines if ln.stream == "stderr"] == ["oops"]
    finally:
        container.remove(force=True)

    # The same on a live container: exactly N, consecutive.
    (worker,) = [t for t in worker_targets(connections) if t.host == "host-a"]
    sink = Sink()
    with LogFollower([worker], sink, tail=3, follow=False) as follower:
        assert follower.wait(10)
    ticks = [int(ln.text.split("tick ")[1].split()[0]) for ln in sink.lines()]
    assert len(ticks) == 3 and ticks == list(range(ticks[0], ticks[0] + 3))


def test_stop_cancels_the_streams_and_leaves_no_threads_or_connections(stack: Stack) -> None:
    threads_before = set(threading.enumerate())
    sockets_before = open_sockets()
    made = connect(stack)
    try:
        targets = worker_targets(made)
        sink = Sink()
        follower = LogFollower(targets, sink, tail=0)
        follower.start()
        eventually(lambda: {ln.host for ln in sink.lines()} == {"host-a", "host-b"})
        assert open_sockets() >= sockets_before + len(targets)
        started = time.monotonic()
        assert follower.stop(timeout=2)
        latency = time.monotonic() - started
        print(f"stop latency with {len(targets)} streams: {latency * 1000:.1f} ms")
        assert latency < 1.0
    finally:
        for connection in made.values():
            connection.close()
    eventually(lambda: set(threading.enumerate()) <= threads_before, what="threads to end")
    # Closing the clients closes only the connections back in their pools: a stream
    # that was not cancelled would keep its socket open here.
    eventually(lambda: open_sockets() <= sockets_before, what="sockets to close")


def test_a_yes_flood_is_dropped_not_hoarded_and_stops_promptly(
    stack: Stack, connections: dict[str, HostConnection]
) -> None:
    client = connections["host-a"].client
    remove_test_containers(client)
    threads_before = set(threading.enumerate())
    container = client.containers.create(
        stack.image("worker:v1"), ["sh", "-c", "yes jobtui-flood-line"],
        name=f"jobtui-logs-flood-{uuid.uuid4().hex[:8]}",
        network_mode="host", labels={TEST_LABEL: TEST_LABEL_VALUE},
    )  # fmt: skip
    try:
        container.start()
        target = LogTarget(connections["host-a"], container.id, "host-a", container.name)
        sink = Sink(delay=0.25)  # a consumer far slower than the flood
        rss_before = rss_bytes()
        follower = LogFollower([target], sink, tail=0, capacity=5000, queue_size=2000)
        follower.start()
        peak_pending = peak_rss = 0
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            peak_pending = max(peak_pending, follower.stats().pending)
            peak_rss = max(peak_rss, rss_bytes())
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        stop_started = time.monotonic()
        assert follower.stop(timeout=2)
        stop_latency = time.monotonic() - stop_started
    finally:
        container.remove(force=True)
    stats = follower.stats()
    print(
        f"flood: read {stats.received / elapsed:,.0f} lines/s, delivered "
        f"{stats.delivered / elapsed:,.0f} lines/s in {len(sink.batches)} batches, dropped "
        f"{stats.dropped:,}, peak queue {peak_pending}, ring {len(follower.ring)}, "
        f"RSS +{(peak_rss - rss_before) / 2**20:.1f} MiB, stop {stop_latency * 1000:.0f} ms"
    )
    assert stats.received > 10_000, "the flood never reached us"
    assert stats.dropped > 0
    assert stats.received == stats.delivered + stats.dropped + stats.pending
    assert peak_pending <= 2000 and len(follower.ring) <= 5000
    assert all(len(batch) <= 2000 for _, batch, _ in sink.batches)
    assert sum(dropped for _, _, dropped in sink.batches) > 0
    assert {ln.text for ln in sink.lines()} == {"jobtui-flood-line"}
    assert peak_rss - rss_before < 16 * 2**20  # ~3.6 MiB measured; keeping all ~100k lines: ~16 MiB
    assert stop_latency < 1.0
    eventually(lambda: set(threading.enumerate()) <= threads_before, what="threads to end")
