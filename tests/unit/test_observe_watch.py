"""The fleet watcher's idle cost, threads and failure detection, on fake daemons (no Docker).

The fakes answer like docker-py's APIClient: ``events`` returns a blocking
stream that ``close()`` ends, ``containers``/``inspect_container``/``_ping``
answer from memory, and a "hung" daemon answers nothing until its timeout.
Timings are scaled down (quiet probe 0.2 s) so the rates are measured in
seconds; the default constants give the same rate per minute.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from jobtui.backend.docker import HostUnavailable
from jobtui.backend.model import HostStatus
from jobtui.backend.observe import watch
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.config.models import Host

QUIET = 0.2
TIMEOUT = 0.1


class FakeStream:
    def __init__(self) -> None:
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.closed = False

    def push(self, event: dict[str, Any]) -> None:
        self._events.put(event)

    def end(self) -> None:
        self._events.put(None)

    def close(self) -> None:
        self.closed = True
        self._events.put(None)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            event = self._events.get()
            if event is None or self.closed:
                return
            yield event


class FakeDaemon:
    """One daemon: its containers, its open streams, and whether it is up, stopped or hung."""

    def __init__(self, name: str, containers: int) -> None:
        self.host = Host(name, f"unix:///fake/{name}.sock")
        self.state = "up"
        self.rows = [
            {"Id": f"{name}-{i:04d}", "Names": [f"/c{i}"], "Image": "img", "State": "running",
             "Status": "Up 1 hour", "Created": 1, "Labels": {"jobtui.service": f"s{i}"}}
            for i in range(containers)
        ]  # fmt: skip
        self.streams: list[FakeStream] = []
        self.calls: list[str] = []
        self.client = SimpleNamespace(api=self)

    # HostConnection
    def connect(self) -> SimpleNamespace:
        self._answer("version", 0.5)
        return SimpleNamespace(version="27.0")

    def ping(self, timeout: float) -> None:
        self._answer("ping", timeout)

    def _answer(self, what: str, timeout: float) -> None:
        self.calls.append(what)
        if self.state == "hung":
            time.sleep(timeout)
            raise HostUnavailable(f"{self.host.url}: no answer in time (daemon hung)")
        if self.state == "stopped":
            raise HostUnavailable(f"{self.host.url}: no Docker socket there")

    # APIClient
    def events(self, **_: Any) -> FakeStream:
        self._answer("events", 0.5)
        stream = FakeStream()
        self.streams.append(stream)
        return stream

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[Any]:
        self._answer("list", 0.5)
        ids = set((filters or {}).get("id") or [])
        return [r for r in self.rows if not ids or r["Id"] in ids]

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self._answer("inspect", 0.5)
        return {"State": {"StartedAt": "2024-01-01T00:00:00Z", "FinishedAt": ""}}

    def stop(self) -> None:
        """dockerd stopping: its streams end and its socket goes."""
        self.state = "stopped"
        for stream in self.streams:
            stream.end()


class FakePool(dict[str, FakeDaemon]):
    def close(self) -> None:
        pass


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.005)
    pytest.fail(f"not within {timeout} s: {what}")


def observer_threads() -> list[threading.Thread]:
    prefixes = ("jobtui-watch", "jobtui-events")
    return [t for t in threading.enumerate() if t.name.startswith(prefixes)]


@pytest.fixture
def fleet_of() -> Iterator[Callable[..., tuple[FleetObserver, FakePool]]]:
    started: list[FleetObserver] = []

    def make(hosts: int, containers: int = 10, **kwargs: Any) -> tuple[FleetObserver, FakePool]:
        pool = FakePool({f"h{i}": FakeDaemon(f"h{i}", containers) for i in range(hosts)})
        fleet = FleetObserver(
            {n: d.host for n, d in pool.items()},
            pool=pool,  # type: ignore[arg-type]
            quiet_probe=kwargs.pop("quiet_probe", QUIET),
            probe_timeout=kwargs.pop("probe_timeout", TIMEOUT),
            **kwargs,
        )
        fleet.start(lambda: None)
        started.append(fleet)
        assert fleet.wait_settled(5)
        return fleet, pool

    yield make
    for fleet in started:
        fleet.stop()
    wait_for(lambda: observer_threads() == [], 3, "observer threads ended")


def test_default_idle_rate_meets_the_budget() -> None:
    per_minute = 60 / watch.QUIET_PROBE
    assert per_minute <= 6, "one probe per quiet period is the whole idle cost"
    assert watch.QUIET_PROBE + watch.PROBE_TIMEOUT <= 15, "a hung daemon is DOWN within 15 s"


def test_an_idle_fleet_costs_one_ping_per_host_per_quiet_period(fleet_of: Any) -> None:
    fleet, pool = fleet_of(hosts=20, containers=30)
    before = fleet.api_calls
    window = 2.0
    time.sleep(window)  # the measuring window, not a readiness wait
    spent = fleet.api_calls - before
    assert set(spent) <= {"ping"}, f"an idle fleet only probes: {dict(spent)}"
    per_host = spent["ping"] / 20
    # 2.0 s / 0.2 s = 10 quiet periods: at most one probe each (and not none: it does probe).
    assert 5 <= per_host <= window / QUIET + 1, per_host
    # What the daemons saw agrees with the counter.
    assert sum(d.calls.count("ping") for d in pool.values()) >= spent["ping"]


def test_threads_are_one_reader_per_connected_host_plus_a_bounded_pool(fleet_of: Any) -> None:
    fleet, pool = fleet_of(hosts=30, workers=4)
    readers = [t for t in observer_threads() if t.name.startswith("jobtui-events")]
    workers = [t for t in observer_threads() if t.name.startswith("jobtui-watch")]
    assert len(readers) == 30
    assert 1 <= len(workers) <= 4
    for daemon in list(pool.values())[:10]:
        daemon.stop()
    wait_for(
        lambda: sum(h.status is HostStatus.DOWN for h in fleet.snapshot().hosts.values()) == 10,
        3,
        "10 stopped hosts DOWN",
    )
    time.sleep(0.5)  # reconnect attempts run on the pool meanwhile
    readers = [t for t in observer_threads() if t.name.startswith("jobtui-events")]
    assert len(readers) == 20, "a down host has no thread of its own"
    assert len([t for t in observer_threads() if t.name.startswith("jobtui-watch")]) <= 4


def test_events_keep_a_host_proven_alive_without_pings(fleet_of: Any) -> None:
    fleet, pool = fleet_of(hosts=1, quiet_probe=0.5)
    daemon = pool["h0"]
    before = fleet.api_calls
    stream = daemon.streams[-1]
    for _ in range(15):
        stream.push({"Action": "exec_start: sh", "Actor": {"ID": daemon.rows[0]["Id"]},
                     "timeNano": time.time_ns()})  # fmt: skip
        time.sleep(0.1)
    spent = fleet.api_calls - before
    assert spent["ping"] == 0, "a stream that talks needs no probe"
    assert spent["list"] == 0, "exec events change nothing a list shows"


def test_an_event_burst_costs_one_filtered_list(fleet_of: Any) -> None:
    fleet, pool = fleet_of(hosts=1)
    daemon = pool["h0"]
    before = fleet.api_calls
    generation = fleet.snapshot().generation
    daemon.rows[0]["State"], daemon.rows[0]["Status"] = "exited", "Exited (0) 1 second ago"
    for action in ("kill", "die", "stop"):
        daemon.streams[-1].push({"Action": action, "Actor": {"ID": daemon.rows[0]["Id"]},
                                 "timeNano": time.time_ns()})  # fmt: skip
    wait_for(lambda: fleet.snapshot().generation > generation, 2, "the change published")
    (container,) = [c for c in fleet.snapshot().hosts["h0"].containers if c.name == "c0"]
    assert container.state == "exited"
    assert (fleet.api_calls - before)["list"] == 1


def test_a_stopped_daemon_is_down_at_once_and_relisted_when_back(fleet_of: Any) -> None:
    fleet, pool = fleet_of(hosts=2)
    daemon = pool["h1"]
    daemon.stop()
    took = wait_for(lambda: fleet.snapshot().hosts["h1"].status is HostStatus.DOWN, 2, "DOWN")
    assert took < 0.5
    assert fleet.snapshot().hosts["h1"].containers == ()
    assert "events stream ended" in (fleet.snapshot().hosts["h1"].error or "")
    assert fleet.snapshot().hosts["h0"].status is HostStatus.UP
    lists = daemon.calls.count("list")
    daemon.state = "up"
    wait_for(lambda: fleet.snapshot().hosts["h1"].status is HostStatus.UP, 5, "UP again")
    assert len(fleet.snapshot().hosts["h1"].containers) == 10
    assert daemon.calls.count("list") > lists, "a full re-list after the drop"


def test_a_hung_daemon_is_down_within_quiet_plus_timeout(fleet_of: Any) -> None:
    fleet, pool = fleet_of(hosts=2)
    daemon = pool["h0"]
    daemon.state = "hung"  # SIGSTOP: the stream stays open and silent
    took = wait_for(lambda: fleet.snapshot().hosts["h0"].status is HostStatus.DOWN, 3, "DOWN")
    # The probe comes after at most one quiet period, then fails at its timeout.
    assert took <= QUIET + TIMEOUT + 0.3, took
    assert "no answer in time" in (fleet.snapshot().hosts["h0"].error or "")
    assert daemon.streams[0].closed, "the hung session's stream was given up"
    daemon.state = "up"  # SIGCONT
    wait_for(lambda: fleet.snapshot().hosts["h0"].status is HostStatus.UP, 5, "UP again")


def test_a_dropped_stream_on_a_daemon_that_answers_is_no_outage(fleet_of: Any) -> None:
    states: list[HostStatus] = []
    fleet, pool = fleet_of(hosts=1)
    daemon = pool["h0"]
    daemon.streams[-1].end()  # a proxy's idle timeout
    wait_for(lambda: len(daemon.streams) == 2, 3, "resubscribed")
    states.append(fleet.snapshot().hosts["h0"].status)
    assert states == [HostStatus.UP]


def test_stop_ends_every_thread_quickly(fleet_of: Any) -> None:
    fleet, _ = fleet_of(hosts=10)
    started = time.monotonic()
    fleet.stop()
    assert time.monotonic() - started < 1.0
    assert observer_threads() == []
