"""Metric values, service sums and the PromQL that PrometheusMetrics sends (no I/O)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from jobtui.backend.metrics.base import NO_USAGE, Series, Usage, check_metric, service_usage
from jobtui.backend.metrics.prometheus import (
    any_of,
    container_selectors,
    container_usage_query,
    metric_expr,
    promql_string,
    tagged,
    usage_from_vector,
)
from jobtui.backend.model import ContainerInfo

ID_A = "57007c8d32898e8683d2a04debbb9427cbe09d6e529fb9161a9509de479c65f9"
ID_B = "ae0ea4bb59af49a4cd39a448cbedb5bcbf12644d66b1fa1a58c82cad332d3538"


def container(cid: str, name: str, host: str = "host-a") -> ContainerInfo:
    return ContainerInfo(
        id=cid, name=name, host=host, image="i", state="running",
        labels=MappingProxyType({"jobtui.service": "worker"}),
    )  # fmt: skip


def test_service_usage_sums_instances_and_keeps_unknowns_unknown() -> None:
    a = Usage(cpu_percent=10.0, mem_bytes=100.0, mem_limit=None, rx_bps=None, tx_bps=1.0)
    b = Usage(cpu_percent=2.5, mem_bytes=50.0, mem_limit=None, rx_bps=None, tx_bps=None)
    assert service_usage([a, b]) == Usage(12.5, 150.0, None, None, 1.0)
    assert service_usage([]) == NO_USAGE


def test_series_and_metric_names() -> None:
    series = Series((1.0, 2.0), (5.0, 7.0))
    assert len(series) == 2 and series.last == 7.0
    assert Series((), ()).last is None
    assert check_metric("rx") == "rx"
    with pytest.raises(ValueError, match="unknown metric 'disk'"):
        check_metric("disk")


def test_containers_are_selected_by_id_prefix_and_by_escaped_name() -> None:
    selectors = container_selectors([container(ID_B, "web.v-2"), container(ID_A, "worker_1")])
    assert selectors == [
        'id=~".*(?:57007c8d3289|ae0ea4bb59af).*"',
        'name=~"web\\\\.v\\\\-2|worker_1"',
    ]
    assert promql_string('a"b\\c') == '"a\\"b\\\\c"'


def test_cpu_prefers_the_total_series_and_falls_back_to_cores() -> None:
    assert metric_expr("cpu", 'id="/"', ("host",), 60) == (
        '100 * (sum by (host) (rate(container_cpu_usage_seconds_total{id="/", cpu="total"}[60s]))'
        ' or sum by (host) (rate(container_cpu_usage_seconds_total{id="/", cpu!="total"}[60s])))'
    )


def test_other_metric_expressions() -> None:
    sel = 'id=~"x"'
    assert metric_expr("mem", sel, ("id", "name"), 60) == (
        'max by (id, name) (container_memory_working_set_bytes{id=~"x"})'
    )
    assert metric_expr("limit", sel, ("id",), 60) == (
        'max by (id) (container_spec_memory_limit_bytes{id=~"x"})'
    )
    assert metric_expr("tx", sel, ("id",), 90.5) == (
        'sum by (id) (rate(container_network_transmit_bytes_total{id=~"x"}[91s]))'
    )
    assert metric_expr("rx", sel, ("id",), 60, "irate") == (
        'sum by (id) (irate(container_network_receive_bytes_total{id=~"x"}[60s]))'
    )
    with pytest.raises(ValueError):
        metric_expr("disk", sel, ("id",), 60)


def test_one_query_carries_every_metric_tagged() -> None:
    assert tagged({"mem": "A", "rx": "B"}) == (
        'label_replace(A, "jobtui_metric", "mem", "", "") or '
        'label_replace(B, "jobtui_metric", "rx", "", "")'
    )
    assert any_of(["A", "B"]) == "(A) or (B)"
    query = container_usage_query([container(ID_A, "worker_1")], 60)
    for metric in ("cpu", "mem", "limit", "rx", "tx"):
        assert f'"jobtui_metric", "{metric}"' in query
    assert query.count("label_replace(") == 5
    assert query.count("57007c8d3289") == 6  # cpu has two selectors (total, cores)
    # Current figures are the rate between the last two scrapes (see the module).
    assert "irate(container_cpu_usage_seconds_total" in query
    assert " rate(" not in query and "(rate(" not in query


def _item(metric: str, labels: dict[str, str], value: Any) -> dict[str, Any]:
    return {"metric": {**labels, "jobtui_metric": metric}, "value": [1795617000.5, value]}


def test_a_tagged_vector_becomes_values_per_container() -> None:
    a, b = container(ID_A, "worker_1"), container(ID_B, "worker_1", host="host-b")
    ids = {a.id: a, b.id: b}

    def key_of(labels: Any) -> str | None:
        found = labels.get("id", "").rsplit("/", 1)[-1]
        return found if found in ids else None

    result = [
        _item("cpu", {"id": f"/docker/{ID_A}"}, "12.5"),
        _item("mem", {"id": f"/docker/{ID_A}"}, "1024"),
        _item("mem", {"id": f"/docker/{ID_B}"}, "NaN"),  # dropped: not a number
        _item("mem", {"id": "/docker/unknown"}, "7"),  # dropped: not asked for
        _item("rx", {"id": f"/docker/{ID_B}"}, "3.5"),
    ]
    assert usage_from_vector(result, key_of) == {
        ID_A: {"cpu": 12.5, "mem": 1024.0},
        ID_B: {"rx": 3.5},
    }
