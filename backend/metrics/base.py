"""Live resource usage of containers and hosts: the values and the source interface.

The TUI asks a :class:`MetricsSource` (Prometheus with cAdvisor series, or
Docker stats when no Prometheus is configured) from thread workers; both are
blocking. Units are the same whatever the source:

* ``cpu_percent`` of a container: percent of one core, as ``docker stats``
  shows it (200 = two cores busy). Of a host: percent of all its cores (0 to 100).
* ``mem_bytes``: the working set (usage minus inactive page cache, what the
  kernel cannot reclaim cheaply — cAdvisor's and ``docker stats``' figure).
* ``mem_limit``: the container's memory limit in bytes, ``None`` when it has
  none; for a host, its physical memory.
* ``rx_bps`` / ``tx_bps``: network bytes per second received / sent. ``None``
  for ``network_mode: host`` containers: they have no interfaces of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from jobtui.backend.errors import JobtuiError
from jobtui.backend.model import ContainerInfo

METRICS = ("cpu", "mem", "rx", "tx")
"""The names :meth:`MetricsSource.series` accepts: CPU %, working set, rx and tx rates."""


@dataclass(frozen=True)
class Usage:
    """Resource usage at one moment; a field is ``None`` when the source has no value."""

    cpu_percent: float | None
    mem_bytes: float | None
    mem_limit: float | None
    rx_bps: float | None
    tx_bps: float | None


NO_USAGE = Usage(None, None, None, None, None)


@dataclass(frozen=True)
class Series:
    """One metric over time: unix times (seconds, ascending) and their values."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.times)

    @property
    def last(self) -> float | None:
        """The newest value, ``None`` when empty."""
        return self.values[-1] if self.values else None


class MetricsUnavailable(JobtuiError):
    """The metrics source cannot answer at all; ``str()`` is a sentence for the operator.

    The UI shows it as a state ("metrics: Prometheus unreachable …"), not as
    an error dialog; it asks again later.
    """


class MetricsSource(Protocol):
    """Where usage numbers come from. Every method may block: call it from a worker."""

    name: str
    """What the UI calls the source: ``"prometheus"`` or ``"docker stats"``."""

    def usage(self, containers: Sequence[ContainerInfo]) -> Mapping[str, Usage]:
        """The latest usage of ``containers``, by container id; an id missing = no data yet.

        Raises :class:`MetricsUnavailable` when the source cannot be asked at all.
        """
        ...

    def series(
        self, containers: Sequence[ContainerInfo], metric: str, range_s: float, step_s: float
    ) -> Mapping[str, Series]:
        """``metric`` (one of :data:`METRICS`) over the last ``range_s`` seconds,
        one point per ``step_s``, by container id. Raises :class:`MetricsUnavailable`
        (also ``ValueError`` for an unknown metric)."""
        ...

    def host_usage(self, hosts: Sequence[str]) -> Mapping[str, Usage]:
        """The latest usage of whole hosts (inventory names); a name missing = no data."""
        ...

    def close(self) -> None:
        """Release connections and threads; the source is not used afterwards."""


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def service_usage(usages: Iterable[Usage]) -> Usage:
    """A service's usage: the sum over its instances (a field is ``None`` only if
    no instance has a value for it)."""
    items = list(usages)
    return Usage(
        cpu_percent=_sum(u.cpu_percent for u in items),
        mem_bytes=_sum(u.mem_bytes for u in items),
        mem_limit=_sum(u.mem_limit for u in items),
        rx_bps=_sum(u.rx_bps for u in items),
        tx_bps=_sum(u.tx_bps for u in items),
    )


def check_metric(metric: str) -> str:
    """``metric`` itself if it is one of :data:`METRICS`; ``ValueError`` otherwise."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (expected one of {', '.join(METRICS)})")
    return metric
