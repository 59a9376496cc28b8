"""Parsing real cAdvisor output and matching its series to containers and hosts."""

from __future__ import annotations

import math
from pathlib import Path
from types import MappingProxyType

import pytest
from support.exposition import (
    Counters,
    container_counters,
    cpu_seconds,
    parse_exposition,
    parse_sample,
)

from jobtui.backend.metrics.cadvisor import (
    SERVICE_LABEL,
    ContainerIndex,
    container_id_from_cgroup,
    instance_host,
    match_host,
    memory_limit,
    rate,
    sanitize_label_name,
)
from jobtui.backend.model import ContainerInfo

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cadvisor" / "prometheus_metrics"
ID_A = "57007c8d32898e8683d2a04debbb9427cbe09d6e529fb9161a9509de479c65f9"
ID_B = "ae0ea4bb59af49a4cd39a448cbedb5bcbf12644d66b1fa1a58c82cad332d3538"


def container(
    cid: str, name: str, host: str = "host-a", service: str | None = None
) -> ContainerInfo:
    labels = {"jobtui.service": service} if service else {}
    return ContainerInfo(
        id=cid, name=name, host=host, image="img", state="running",
        labels=MappingProxyType(labels),
    )  # fmt: skip


@pytest.fixture(scope="module")
def fixture_text() -> str:
    return FIXTURE.read_text()


def test_the_fixture_parses_completely(fixture_text: str) -> None:
    page = parse_exposition(fixture_text)
    sample_lines = [ln for ln in fixture_text.splitlines() if ln and not ln.startswith("#")]
    assert len(page.samples) == len(sample_lines)
    assert page.types["container_cpu_usage_seconds_total"] == "counter"
    assert page.types["container_memory_working_set_bytes"] == "gauge"
    assert page.help["container_network_receive_bytes_total"] == (
        "Cumulative count of bytes received"
    )
    cpu = page.named("container_cpu_usage_seconds_total")
    assert [s.labels["cpu"] for s in cpu] == ["cpu00", "cpu01", "cpu02", "cpu03"]
    first = cpu[0]
    assert first.value == 2e-09 and first.timestamp_ms == 1395066363000
    assert dict(first.labels) == {
        "container_env_foo_env": "prod",
        "container_label_foo_label": "bar",
        "cpu": "cpu00",
        "id": "testcontainer",
        "image": "test",
        "name": "testcontaineralias",
        "zone_name": "hello",
    }
    # Samples without timestamps and without labels parse too.
    (scrape_error,) = page.named("container_scrape_error")
    assert scrape_error.value == 0 and scrape_error.timestamp_ms is None
    assert not scrape_error.labels


def test_fixture_values_land_on_the_right_container(fixture_text: str) -> None:
    # The fixture's id is not a Docker cgroup, so its `name` label decides.
    ours = container(ID_A, "testcontaineralias")
    other = container(ID_B, "somethingelse")
    counters = container_counters(parse_exposition(fixture_text), [ours, other])
    assert set(counters) == {ID_A}
    found = counters[ID_A]
    assert found.cpu_seconds is not None
    assert math.isclose(found.cpu_seconds, 2e-9 + 3e-9 + 4e-9 + 5e-9)
    assert found == Counters(
        cpu_seconds=found.cpu_seconds, mem_working_set=9.0, mem_limit=None,
        rx_bytes=14.0, tx_bytes=18.0, timestamp_ms=1395066363000,
    )  # fmt: skip


def test_docker_cgroup_ids_decide_over_names(fixture_text: str) -> None:
    text = fixture_text.replace('id="testcontainer"', f'id="/docker/{ID_B}"')
    same_name = container(ID_A, "testcontaineralias")
    by_id = container(ID_B, "renamed")
    counters = container_counters(parse_exposition(text), [same_name, by_id])
    assert set(counters) == {ID_B}
    assert counters[ID_B].mem_working_set == 9.0


def test_fixture_label_names_follow_cadvisors_sanitising() -> None:
    assert sanitize_label_name("foo.label") == "foo_label"
    assert sanitize_label_name("jobtui.spec-hash") == "jobtui_spec_hash"
    assert SERVICE_LABEL == "container_label_jobtui_service"


@pytest.mark.parametrize(
    ("cgroup", "expected"),
    [
        (f"/docker/{ID_A}", ID_A),
        (f"/system.slice/docker-{ID_A}.scope", ID_A),
        (f"/kubepods/burstable/pod1/{ID_A}/", ID_A),
        ("/", None),
        ("testcontainer", None),
        (f"/docker/{ID_A[:12]}", None),
        ("/system.slice/docker.service", None),
    ],
)
def test_container_id_from_cgroup(cgroup: str, expected: str | None) -> None:
    assert container_id_from_cgroup(cgroup) == expected


def test_an_unknown_docker_id_is_no_match_even_with_a_known_name() -> None:
    index = ContainerIndex([container(ID_A, "worker_1")])
    assert index.match({"id": f"/docker/{ID_B}", "name": "worker_1"}) is None
    assert index.match({"id": f"/docker/{ID_A}", "name": "other"}) is not None


def test_names_are_narrowed_by_service_label_and_host() -> None:
    a = container(ID_A, "worker", host="host-a", service="worker")
    b = container(ID_B, "worker", host="host-b", service="worker")
    index = ContainerIndex([a, b])
    assert index.match({"id": "x", "name": "worker"}) is None  # ambiguous
    assert index.match({"id": "x", "name": "worker", "host": "host-b"}) == b
    assert index.match({"id": "x", "name": "worker", "instance": "host-a:8080"}) == a
    # An instance that names no inventory host does not settle it.
    assert index.match({"id": "x", "name": "worker", "instance": "10.0.0.7:8080"}) is None
    assert index.match({"id": "x", "name": "worker", "host": "host-c"}) is None
    single = ContainerIndex([a])
    assert single.match({"id": "x", "name": "worker", SERVICE_LABEL: "api"}) is None
    assert single.match({"id": "x", "name": "worker", SERVICE_LABEL: "worker"}) == a


def test_host_series_are_named_by_host_label_or_instance() -> None:
    hosts = ["host-a", "host-b"]
    assert match_host({"id": "/", "host": "host-a", "instance": "x:1"}, hosts) == "host-a"
    assert match_host({"id": "/", "instance": "host-b:8080"}, hosts) == "host-b"
    assert match_host({"id": "/", "instance": "host-c:8080"}, hosts) is None
    assert instance_host("[::1]:8080") == "::1"
    assert instance_host("host-a") == "host-a"


def test_parse_sample_handles_escapes_and_special_values() -> None:
    sample = parse_sample('m{a="x\\"y\\\\z\\nw",b="{,}"} NaN 12')
    assert dict(sample.labels) == {"a": 'x"y\\z\nw', "b": "{,}"}
    assert math.isnan(sample.value) and sample.timestamp_ms == 12
    assert parse_sample("m +Inf").value == math.inf
    with pytest.raises(ValueError):
        parse_sample('m{a="open} 1')


def test_cpu_total_wins_over_per_core_series() -> None:
    total = parse_sample('c{cpu="total"} 5')
    cores = [parse_sample('c{cpu="cpu00"} 2'), parse_sample('c{cpu="cpu01"} 2.5')]
    assert cpu_seconds([*cores, total]) == 5
    assert cpu_seconds(cores) == 4.5
    assert cpu_seconds([]) is None


def test_memory_limit_and_rate_edge_cases() -> None:
    assert memory_limit(0) is None
    assert memory_limit(9223372036854771712) is None  # cgroup v1 "unlimited"
    assert memory_limit(512 * 2**20) == 512 * 2**20
    assert rate(10, 30, 4) == 5
    assert rate(30, 10, 4) is None  # counter reset
    assert rate(None, 10, 4) is None
