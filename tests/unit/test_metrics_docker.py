"""Turning Docker stats answers into usage figures (pure functions, no daemon)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from jobtui.backend.metrics.docker_stats import (
    cpu_percent,
    downsample,
    usage_from_stats,
    working_set,
)

UNLIMITED_V1 = 9223372036854771712


def stats(
    read: str,
    cpu: int,
    system: int,
    *,
    pre_cpu: int = 0,
    pre_system: int | None = None,
    networks: dict[str, Any] | None = None,
    limit: int = UNLIMITED_V1,
) -> dict[str, Any]:
    """A Docker 20.10 (cgroup v1) stats answer, trimmed to what matters."""
    answer: dict[str, Any] = {
        "read": read,
        "cpu_stats": {
            "cpu_usage": {"total_usage": cpu, "percpu_usage": [cpu // 2, cpu - cpu // 2]},
            "system_cpu_usage": system,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": pre_cpu}},
        "memory_stats": {
            "usage": 503808,
            "stats": {
                "total_inactive_file": 8192,
                "cache": 24576,
                "hierarchical_memory_limit": limit,
            },
            "limit": 25276510208,
        },
    }
    if pre_system is not None:
        answer["precpu_stats"]["system_cpu_usage"] = pre_system
    if networks is not None:
        answer["networks"] = networks
    return answer


def test_streamed_answers_use_their_own_previous_reading() -> None:
    answer = stats(
        "2026-11-25T14:22:58.332070562Z", 373_475_102, 6_609_390_000_000,
        pre_cpu=371_967_937, pre_system=6_607_420_000_000,
    )  # fmt: skip
    result = usage_from_stats(answer, None)
    assert result is not None
    sample, usage = result
    # docker stats' formula: Δcpu / Δsystem x online cpus x 100
    expected = (373_475_102 - 371_967_937) / (6_609_390_000_000 - 6_607_420_000_000) * 2 * 100
    assert usage.cpu_percent is not None and math.isclose(usage.cpu_percent, expected)
    assert usage.mem_bytes == 503808 - 8192
    assert usage.mem_limit is None  # v1's huge hierarchical limit means none
    assert usage.rx_bps is None and usage.tx_bps is None  # host network: no interfaces
    assert sample.cpu_ns == 373_475_102 and sample.system_ns == 6_609_390_000_000


def test_one_shot_answers_are_compared_with_the_previous_sample() -> None:
    nets = {"eth0": {"rx_bytes": 1000, "tx_bytes": 500}}
    first = usage_from_stats(stats("2026-11-25T14:00:00Z", 1_000, 10_000, networks=nets), None)
    assert first is not None
    sample, usage = first
    assert usage.cpu_percent is None and usage.rx_bps is None  # nothing to compare with yet
    nets2 = {"eth0": {"rx_bytes": 5000, "tx_bytes": 900}, "eth1": {"rx_bytes": 0, "tx_bytes": 100}}
    answer = stats("2026-11-25T14:00:02Z", 3_000, 20_000, networks=nets2, limit=2**29)
    second = usage_from_stats(answer, sample)
    assert second is not None
    _, usage = second
    assert usage.cpu_percent == pytest.approx(2_000 / 10_000 * 2 * 100)
    assert usage.rx_bps == pytest.approx(2000.0) and usage.tx_bps == pytest.approx(250.0)
    assert usage.mem_limit == 2**29


def test_a_stopped_containers_zeroed_answer_is_no_data() -> None:
    assert usage_from_stats(stats("0001-01-01T00:00:00Z", 0, 0), None) is None


def test_cpu_percent_edge_cases() -> None:
    assert cpu_percent(None, 1, 0, 0, 2) is None
    assert cpu_percent(10, 100, 10, 100, 2) is None  # no time passed
    assert cpu_percent(5, 200, 10, 100, 2) is None  # counter went back (restart)
    assert cpu_percent(60, 200, 10, 100, 4) == pytest.approx(200.0)


def test_working_set_subtracts_inactive_cache() -> None:
    assert working_set({"usage": 1000, "stats": {"inactive_file": 300}}) == 700  # cgroup v2
    assert working_set({"usage": 1000, "stats": {"cache": 1200}}) == 1000
    assert working_set({"usage": 1000}) == 1000
    assert working_set({}) is None


def test_downsample_keeps_the_last_point_per_step() -> None:
    points = [(0.5, 1.0), (10.0, 2.0), (11.0, 3.0), (12.5, 4.0), (19.9, 5.0), (21.0, 6.0)]
    assert downsample(points, start=10.0, step=5.0) == ((12.5, 19.9, 21.0), (4.0, 5.0, 6.0))
    assert downsample([], start=0.0, step=1.0) == ((), ())
