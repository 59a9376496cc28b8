"""Prometheus down or slow: metrics say so within their timeout; nothing else waits.

Expected (RELIABILITY.md): with Prometheus stopped, a usage query raises
``MetricsUnavailable`` naming Prometheus and "connection refused" at once;
with Prometheus answering only after 8 s (a delaying proxy), it raises "no
answer in time" after its 5 s timeout, while a plan of web computed at the
same time answers in its usual time.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from fault_support import DelayProxy, part_down
from rollout_support import Rollouts

from jobtui.backend.metrics import MetricsUnavailable
from jobtui.backend.metrics.prometheus import PrometheusMetrics
from jobtui.config.models import PrometheusConfig

if TYPE_CHECKING:
    from conftest import Stack


def _web_containers(rollouts: Rollouts) -> list:  # type: ignore[type-arg]
    return [c for c in rollouts.guard.containers("host-a", "web") if c.running]


def test_prometheus_down_is_reported_at_once(stack: Stack, tmp_path: Path) -> None:
    rollouts = Rollouts(stack.inventory, tmp_path)
    try:
        containers = _web_containers(rollouts)
        metrics = PrometheusMetrics(PrometheusConfig(url=stack.prometheus_url))
        with part_down(stack, "prometheus"):
            start = time.monotonic()
            with pytest.raises(MetricsUnavailable) as failed:
                metrics.usage(containers)
            took = time.monotonic() - start
        metrics.close()
    finally:
        rollouts.close()
    print(f"Prometheus down reported in {took:.2f} s: {failed.value}")
    assert "Prometheus" in str(failed.value) and "refused" in str(failed.value)
    assert took < 2


def test_slow_prometheus_times_out_and_the_plan_does_not_wait(stack: Stack, tmp_path: Path) -> None:
    rollouts = Rollouts(stack.inventory, tmp_path)
    port = urlsplit(stack.prometheus_url).port
    assert port is not None
    try:
        containers = _web_containers(rollouts)
        run = rollouts.run()
        with DelayProxy(port, delay=8) as proxy:
            metrics = PrometheusMetrics(PrometheusConfig(url=f"http://127.0.0.1:{proxy.port}"))
            outcome: dict[str, object] = {}

            def ask() -> None:
                start = time.monotonic()
                try:
                    metrics.usage(containers)
                except MetricsUnavailable as exc:
                    outcome["error"] = str(exc)
                outcome["seconds"] = time.monotonic() - start

            asking = threading.Thread(target=ask)
            asking.start()
            start = time.monotonic()
            plan = run.deployer.plan("web")
            plan_took = time.monotonic() - start
            asking.join(timeout=15)
            metrics.close()
    finally:
        rollouts.close()
    print(f"slow Prometheus: {outcome}; plan took {plan_took:.2f} s meanwhile")
    assert "no answer in time" in str(outcome.get("error")), outcome
    assert 4 <= float(outcome["seconds"]) < 8  # type: ignore[arg-type]
    assert plan.service == "web" and plan_took < 3
