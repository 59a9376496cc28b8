"""FleetObserver on the real daemons: listing, events, a host going down and coming back.

Containers this module starts carry the label below and are removed at the
end of their test (and at the start of the next run, should a killed run
leave one behind).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import docker
import docker.errors
import pytest

from jobtui.backend.docker.answers import parse_docker_time
from jobtui.backend.model import LABEL_SERVICE, LABEL_VERSION, ContainerInfo, HostStatus
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.backend.observe.watch import QUIET_PROBE
from jobtui.config.models import Host

if TYPE_CHECKING:
    from conftest import Stack

TEST_LABEL = "jobtui.test"
TEST_VALUE = "observe"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``predicate`` until true; the seconds it took. Fails the test at the deadline."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    pytest.fail(f"not within {timeout:g} s: {what}")


def _our_threads() -> list[threading.Thread]:
    prefixes = ("jobtui-watch", "jobtui-events")
    return [t for t in threading.enumerate() if t.name.startswith(prefixes)]


@pytest.fixture
def docker_a(stack: Stack) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=stack.host_a_url, timeout=30)
    for leftover in client.containers.list(all=True, filters={"label": TEST_LABEL}):
        leftover.remove(force=True)
    yield client
    client.close()


@pytest.fixture
def observer(stack: Stack) -> Iterator[FleetObserver]:
    hosts = {name: Host(name, url) for name, url in stack.host_urls.items()}
    fleet = FleetObserver(hosts)
    fleet.start(lambda: None)
    assert fleet.wait_settled(15), "hosts still connecting after 15 s"
    yield fleet
    started = time.monotonic()
    fleet.stop()
    assert time.monotonic() - started < 3.5
    assert _our_threads() == [], "observer threads left running"


def test_both_hosts_up_with_managed_and_unmanaged_containers(
    stack: Stack, observer: FleetObserver
) -> None:
    snapshot = observer.snapshot()
    assert set(snapshot.hosts) == {"host-a", "host-b"}
    for name, url in stack.host_urls.items():
        host = snapshot.hosts[name]
        real = docker.APIClient(base_url=url, timeout=30)
        assert host.status is HostStatus.UP and host.error is None
        assert host.docker_version == real.version()["Version"]
        running = {c["Id"] for c in real.containers(filters={"status": "running"})}
        seen = {c.id: c for c in host.containers}
        assert running <= set(seen), "every running container is in the snapshot"
        for container_id in running:
            container = seen[container_id]
            assert container.running and container.host == name
            inspected = real.inspect_container(container_id)["State"]["StartedAt"]
            assert container.started_at == pytest.approx(parse_docker_time(inspected), abs=1e-3)
        real.close()

    def services(name: str) -> set[str | None]:
        return {c.service for c in snapshot.hosts[name].containers if c.running}

    assert {"web", "worker"} <= services("host-a")
    assert {"api", "worker"} <= services("host-b")
    for container in snapshot.containers():
        if container.service in ("web", "api", "worker"):
            assert container.labels[LABEL_VERSION] == container.version
            assert container.image.startswith(f"{stack.registry_host}/demo/")
            assert container.image_id.startswith("sha256:")
    adhoc = [c for c in snapshot.hosts["host-b"].containers if c.name == "adhoc-debug"]
    assert len(adhoc) == 1 and adhoc[0].service is None and LABEL_SERVICE not in adhoc[0].labels


def test_steady_state_costs_at_most_one_ping_per_host_per_quiet_period(
    observer: FleetObserver,
) -> None:
    before = observer.api_calls
    threading.Event().wait(3.0)  # a measuring window, not a readiness wait
    spent = observer.api_calls - before
    assert spent["version"] == 0 and spent["events"] == 0, "no reconnects"
    assert spent["inspect"] == 0, "start times are not polled"
    # A healthy stream is pinged only after QUIET_PROBE s of silence: <= 1 per host here.
    assert QUIET_PROBE >= 10 and spent["ping"] <= 2


def test_a_down_host_in_the_inventory_is_reported_not_raised(stack: Stack) -> None:
    ghost = f"unix://{stack.dir}/no-such-host/docker.sock"
    hosts = {"host-a": Host("host-a", stack.host_a_url), "ghost": Host("ghost", ghost)}
    fleet = FleetObserver(hosts)
    fleet.start(lambda: None)
    try:
        assert fleet.wait_settled(10)
        hosts = fleet.snapshot().hosts
        assert hosts["host-a"].status is HostStatus.UP
        assert hosts["ghost"].status is HostStatus.DOWN
        assert hosts["ghost"].error == f"{ghost}: no Docker socket there (daemon not running?)"
    finally:
        fleet.stop()


def test_containers_started_and_stopped_elsewhere_show_up_through_events(
    stack: Stack, observer: FleetObserver, docker_a: docker.DockerClient
) -> None:
    name = f"e2e-observe-{uuid.uuid4().hex[:8]}"

    def probe() -> list[ContainerInfo]:
        return [c for c in observer.snapshot().hosts["host-a"].containers if c.name == name]

    before = observer.api_calls
    generation = observer.snapshot().generation
    container = docker_a.containers.run(
        stack.image("worker:v1"),
        ["sleep", "600"],
        name=name,
        detach=True,
        init=True,
        network_mode="host",
        labels={TEST_LABEL: TEST_VALUE, LABEL_SERVICE: "probe", LABEL_VERSION: "v9"},
    )
    try:
        seen_after = wait_for(lambda: any(c.running for c in probe()), 5, f"{name} running")
        container.reload()
        (info,) = probe()
        assert info.id == container.id and info.service == "probe" and info.version == "v9"
        started = parse_docker_time(container.attrs["State"]["StartedAt"])
        assert started is not None
        # The start event's time, not an inspect: within a few ms of Docker's own record.
        assert info.started_at == pytest.approx(started, abs=0.05)
        assert observer.snapshot().generation > generation

        container.restart(timeout=2)
        container.reload()
        restarted = parse_docker_time(container.attrs["State"]["StartedAt"])
        assert restarted is not None and restarted > started
        wait_for(
            lambda: any(c.started_at == pytest.approx(restarted, abs=0.05) for c in probe()),
            5,
            f"{name}'s new start time after a restart",
        )

        container.stop(timeout=2)
        wait_for(lambda: any(c.state == "exited" for c in probe()), 5, f"{name} exited")
        assert probe()[0].started_at is None

        container.remove()
        wait_for(lambda: probe() == [], 5, f"{name} gone")
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    spent = observer.api_calls - before
    assert spent["inspect"] == 0, "start times came from events"
    assert spent["events"] == 0 and spent["version"] == 0, "no reconnect"
    # create, start, kill/die/stop (x2), start, destroy: at most one filtered list each.
    assert 1 <= spent["list"] <= 12, spent
    print(f"start seen in {seen_after:.3f} s; calls for the lifecycle: {dict(spent)}")


def test_host_goes_down_and_comes_back_by_itself(stack: Stack, observer: FleetObserver) -> None:
    real_b = docker.APIClient(base_url=stack.host_b_url, timeout=30)
    was_running = [c["Id"] for c in real_b.containers(filters={"status": "running"})]
    names_b = {c.name for c in observer.snapshot().hosts["host-b"].containers}
    assert {"adhoc-debug"} <= names_b

    host_a_states: list[HostStatus] = []

    def b_down() -> bool:
        hosts = observer.snapshot().hosts
        host_a_states.append(hosts["host-a"].status)
        return hosts["host-b"].status is HostStatus.DOWN

    stopper = threading.Thread(target=stack.stop_host, args=("host-b",))
    stopped = False
    try:
        stopper.start()
        stopped = True
        down_after = wait_for(b_down, 5, "host-b DOWN after its daemon was stopped")
        stopper.join(timeout=120)
        host_b = observer.snapshot().hosts["host-b"]
        assert host_b.error and stack.host_b_url in host_b.error
        assert host_b.containers == ()
        assert set(host_a_states) == {HostStatus.UP}
        assert observer.snapshot().hosts["host-a"].status is HostStatus.UP

        stack.start_host("host-b")
        stopped = False
        up_after = wait_for(
            lambda: observer.snapshot().hosts["host-b"].status is HostStatus.UP,
            10,
            "host-b UP again without any help",
        )
        recovered = {c.name for c in observer.snapshot().hosts["host-b"].containers}
        assert names_b <= recovered
        print(f"host-b DOWN {down_after:.2f} s after stop began; UP {up_after:.2f} s after start")
    finally:
        if stopped:
            stopper.join(timeout=120)
            stack.start_host("host-b")
        # Leave the demo as we found it: a daemon restart leaves containers exited.
        for container_id in was_running:
            real_b.start(container_id)
        real_b.close()
    wait_for(
        lambda: all(
            c.running for c in observer.snapshot().hosts["host-b"].containers if c.id in was_running
        ),
        10,
        "host-b's demo containers running again, seen through events",
    )


def test_a_hung_daemon_is_down_after_one_quiet_period_and_back_after_it_resumes(
    stack: Stack,
) -> None:
    """SIGSTOP keeps the events stream open and silent: only the quiet-stream probe sees it.

    Scaled down (quiet period 1 s, timeout 1 s) to keep the test short; with the
    defaults the same path takes QUIET_PROBE + PROBE_TIMEOUT (<= 15 s).
    """
    import os
    import signal

    hosts = {name: Host(name, url) for name, url in stack.host_urls.items()}
    fleet = FleetObserver(hosts, quiet_probe=1.0, probe_timeout=1.0)
    pid = int((stack.dir / "host-b" / "docker.pid").read_text().strip())
    fleet.start(lambda: None)
    resumed = True
    try:
        assert fleet.wait_settled(15)
        assert fleet.snapshot().hosts["host-b"].status is HostStatus.UP
        os.kill(pid, signal.SIGSTOP)
        resumed = False
        down_after = wait_for(
            lambda: fleet.snapshot().hosts["host-b"].status is HostStatus.DOWN,
            1.0 + 1.0 + 1.5,
            "hung host-b DOWN after one quiet period and a probe timeout",
        )
        assert "no answer in time" in (fleet.snapshot().hosts["host-b"].error or "")
        assert fleet.snapshot().hosts["host-a"].status is HostStatus.UP
        os.kill(pid, signal.SIGCONT)
        resumed = True
        up_after = wait_for(
            lambda: fleet.snapshot().hosts["host-b"].status is HostStatus.UP,
            15,
            "host-b UP again after SIGCONT",
        )
        print(f"hung host-b DOWN in {down_after:.2f} s; UP {up_after:.2f} s after SIGCONT")
    finally:
        if not resumed:
            os.kill(pid, signal.SIGCONT)
        fleet.stop()
