"""The test stack's cAdvisor stand-in stays faithful to real cAdvisor output."""

from __future__ import annotations

import math
from pathlib import Path
from types import MappingProxyType

import cadvisor_standin as standin
import pytest
from support.exposition import Exposition, container_counters, parse_exposition

from jobtui.backend.metrics.cadvisor import CPU_SECONDS, MEM_WORKING_SET, ContainerIndex
from jobtui.backend.model import ContainerInfo

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cadvisor" / "prometheus_metrics"
CID = "57007c8d32898e8683d2a04debbb9427cbe09d6e529fb9161a9509de479c65f9"
READ = "2026-11-25T14:22:58.332070562Z"
READ_MS = 1795616578332


def feed() -> standin.Feed:
    return standin.Feed(
        host="host-a",
        id=CID,
        name="worker_1795614209",
        image="127.0.0.1:45000/demo/worker:v1",
        labels={"jobtui.service": "worker", "jobtui.spec-hash": "abc"},
        cgroup=f"/docker/{CID}",
        started=1795614209.5,
        stats={
            "read": READ,
            "cpu_stats": {
                "cpu_usage": {
                    "total_usage": 373475102,
                    "percpu_usage": [198892149, 174582953],
                    "usage_in_kernelmode": 270000000,
                    "usage_in_usermode": 90000000,
                },
            },
            "memory_stats": {
                "usage": 503808,
                "stats": {
                    "total_inactive_file": 4096,
                    "total_cache": 24576,
                    "total_rss": 110592,
                    "hierarchical_memory_limit": 9223372036854771712,
                },
                "limit": 25276510208,
            },
            "networks": {"eth0": {"rx_bytes": 1234, "tx_bytes": 567}},
        },
    )


@pytest.fixture(scope="module")
def real() -> Exposition:
    return parse_exposition(FIXTURE.read_text())


def test_shared_families_have_cadvisors_help_and_type(real: Exposition) -> None:
    page = parse_exposition(standin.render(standin.container_lines(feed())))
    shared = set(page.types) & set(real.types)
    assert {CPU_SECONDS, MEM_WORKING_SET, "container_network_receive_bytes_total"} <= shared
    for name in shared:
        assert (page.help[name], page.types[name]) == (real.help[name], real.types[name]), name


def test_container_series_have_cadvisors_label_shape(real: Exposition) -> None:
    page = parse_exposition(standin.render(standin.container_lines(feed())))
    (fixture_mem,) = real.named(MEM_WORKING_SET)
    (mem,) = page.named(MEM_WORKING_SET)
    # Same keys as cAdvisor's minus its env whitelist and test zone, plus `host`.
    wanted = {k for k in fixture_mem.labels if not k.startswith(("container_env_", "zone"))}
    wanted -= {"container_label_foo_label"}
    assert wanted <= set(mem.labels)
    assert mem.labels["container_label_jobtui_service"] == "worker"
    assert mem.labels["container_label_jobtui_spec_hash"] == "abc"
    assert mem.labels["id"] == f"/docker/{CID}" and mem.labels["host"] == "host-a"
    cores = [s.labels["cpu"] for s in page.named(CPU_SECONDS)]
    assert cores == ["cpu00", "cpu01"]  # the fixture's per-core spelling
    assert mem.timestamp_ms == READ_MS
    assert not any(k.startswith("container_env_") for s in page.samples for k in s.labels)


def test_what_it_publishes_reads_back_as_the_docker_numbers() -> None:
    container = ContainerInfo(
        id=CID, name="worker_1795614209", host="host-a", image="i", state="running",
        labels=MappingProxyType({"jobtui.service": "worker"}),
    )  # fmt: skip
    page = parse_exposition(standin.render(standin.container_lines(feed())))
    counters = container_counters(page, [container])[CID]
    assert counters.cpu_seconds is not None
    assert math.isclose(counters.cpu_seconds, 373475102 / 1e9)
    assert counters.mem_working_set == 503808 - 4096
    assert counters.mem_limit is None
    assert (counters.rx_bytes, counters.tx_bytes) == (1234, 567)
    assert counters.timestamp_ms == READ_MS


def test_machine_series_are_published_per_host() -> None:
    page = parse_exposition(
        standin.render([*standin.machine_lines("host-a"), *standin.machine_lines("host-b")])
    )
    roots = [s for s in page.named(MEM_WORKING_SET) if s.labels["id"] == "/"]
    assert sorted(s.labels["host"] for s in roots) == ["host-a", "host-b"]
    cores = page.named("machine_cpu_cores")
    assert {s.labels["host"] for s in cores} == {"host-a", "host-b"}
    assert all(s.value >= 1 for s in cores)
    cpu = [s for s in page.named(CPU_SECONDS) if s.labels["host"] == "host-a"]
    assert cpu and all(s.labels["cpu"].startswith("cpu") for s in cpu)
    # Root series match no container.
    assert ContainerIndex([]).match(roots[0].labels) is None


def test_docker_times_become_epoch_milliseconds() -> None:
    assert standin.docker_time_ms(READ) == READ_MS
    assert standin.docker_time_ms("2026-11-25T14:22:58+01:00") == READ_MS - 332 - 3600_000
    assert standin.docker_time_ms("0001-01-01T00:00:00Z") is None
