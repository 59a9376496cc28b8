"""Live usage numbers: the metrics interface, Prometheus over cAdvisor's series,
and the Docker stats fallback.

The room's front door: other rooms and the app import only these names.
Each is loaded on first use, so a verb pays only for the clients it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtui.backend.doors import lazy_attribute

if TYPE_CHECKING:
    from jobtui.backend.metrics.base import (
        METRICS as METRICS,
        MetricsSource as MetricsSource,
        MetricsUnavailable as MetricsUnavailable,
        Series as Series,
        Usage as Usage,
    )
    from jobtui.backend.metrics.docker_stats import (
        DockerStatsMetrics as DockerStatsMetrics,
    )
    from jobtui.backend.metrics.prometheus import (
        PrometheusMetrics as PrometheusMetrics,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "base": (
        "METRICS",
        "MetricsSource",
        "MetricsUnavailable",
        "Series",
        "Usage",
    ),
    "docker_stats": (
        "DockerStatsMetrics",
    ),
    "prometheus": (
        "PrometheusMetrics",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
