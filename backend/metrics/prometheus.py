"""Usage numbers from Prometheus, read from the cAdvisor series it scrapes.

* CPU %: the rate of ``container_cpu_usage_seconds_total`` summed over cores, x100.
* Memory: ``container_memory_working_set_bytes`` and ``container_spec_memory_limit_bytes``.
* Network: rates of ``container_network_{receive,transmit}_bytes_total``, summed
  over interfaces.

Rates: graphs (:meth:`PrometheusMetrics.series`) are one-minute averages,
``rate(…[1m])`` as cAdvisor dashboards draw them. The current figures
(:meth:`PrometheusMetrics.usage`, ``host_usage``) are ``irate(…[1m])``, the
rate between the last two scrapes: ``rate()`` divides by the whole window, so
a container started 10 s ago would show a sixth of its load for a minute —
just when an operator watches a rollout.

One HTTP request answers :meth:`PrometheusMetrics.usage` for every container
on screen: each metric is one PromQL expression over all of them (a regex on
the cgroup ``id``), tagged with a ``jobtui_metric`` label and joined with
``or``. Series are matched back to containers in Python
(:class:`~jobtui.backend.metrics.cadvisor.ContainerIndex`). Hosts are cAdvisor's
``id="/"`` series, named by a ``host`` label or Prometheus' ``instance``
(see :mod:`jobtui.backend.metrics.cadvisor`); host CPU % is of all cores
(``machine_cpu_cores``), host memory limit is ``machine_memory_bytes``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from jobtui.backend.metrics.base import MetricsUnavailable, Series, Usage, check_metric
from jobtui.backend.metrics.cadvisor import (
    CPU_SECONDS,
    CPU_TOTAL,
    MACHINE_CORES,
    MACHINE_MEMORY,
    MEM_LIMIT,
    MEM_WORKING_SET,
    NET_RX,
    NET_TX,
    ROOT_ID,
    SERVICE_LABEL,
    ContainerIndex,
    match_host,
    memory_limit,
)
from jobtui.backend.model import ContainerInfo
from jobtui.config.models import PrometheusConfig

T = TypeVar("T")

RATE_WINDOW_S = 60.0
"""The window of ``rate()``/``irate()``: one minute, as in cAdvisor dashboards."""

ID_PREFIX = 12
"""Container ids are matched in PromQL by this many hex digits (and exactly in Python)."""

MAX_POINTS = 10_000
"""Prometheus refuses range queries of more than 11,000 points per series."""

TAG = "jobtui_metric"
"""Label that tells the parts of a combined query apart."""

CONTAINER_KEYS = ("id", "name", "host", "instance", SERVICE_LABEL)
HOST_KEYS = ("host", "instance")


def promql_string(text: str) -> str:
    """``text`` as a double-quoted PromQL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def container_selectors(containers: Iterable[ContainerInfo]) -> list[str]:
    """Label matchers that select the series of ``containers``: by cgroup id, and by
    name for cgroup layouts that do not carry the id."""
    items = list(containers)
    prefixes = sorted({c.id[:ID_PREFIX] for c in items if c.id})
    names = sorted({c.name.lstrip("/") for c in items if c.name})
    selectors = []
    if prefixes:
        selectors.append(f"id=~{promql_string('.*(?:' + '|'.join(prefixes) + ').*')}")
    if names:
        selectors.append(f"name=~{promql_string('|'.join(re.escape(n) for n in names))}")
    return selectors


def _by(keys: Sequence[str]) -> str:
    return ", ".join(keys)


def _window(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def metric_expr(
    metric: str, selector: str, keys: Sequence[str], window_s: float, rate: str = "rate"
) -> str:
    """The PromQL of one metric (``cpu``/``mem``/``limit``/``rx``/``tx``) for ``selector``,
    aggregated ``by`` ``keys``; counters through ``rate`` (``rate`` or ``irate``)."""
    by, window = _by(keys), _window(window_s)
    if metric == "cpu":
        # A cAdvisor publishes either cpu="total" or one series per core, never
        # needs both: prefer the total, fall back to the sum of cores.
        total = f'sum by ({by}) ({rate}({CPU_SECONDS}{{{selector}, cpu="{CPU_TOTAL}"}}[{window}]))'
        cores = f'sum by ({by}) ({rate}({CPU_SECONDS}{{{selector}, cpu!="{CPU_TOTAL}"}}[{window}]))'
        return f"100 * ({total} or {cores})"
    if metric == "mem":
        return f"max by ({by}) ({MEM_WORKING_SET}{{{selector}}})"
    if metric == "limit":
        return f"max by ({by}) ({MEM_LIMIT}{{{selector}}})"
    if metric in ("rx", "tx"):
        counter = NET_RX if metric == "rx" else NET_TX
        return f"sum by ({by}) ({rate}({counter}{{{selector}}}[{window}]))"
    raise ValueError(f"unknown metric {metric!r}")


def tagged(parts: Mapping[str, str]) -> str:
    """One query returning every expression of ``parts``, each result labelled
    ``jobtui_metric=<key>``."""
    return " or ".join(
        f'label_replace({expr}, "{TAG}", "{key}", "", "")' for key, expr in parts.items()
    )


def any_of(expressions: Iterable[str]) -> str:
    """Expressions joined with ``or`` (identical series collapse into one)."""
    return " or ".join(f"({e})" for e in expressions)


def container_usage_query(containers: Sequence[ContainerInfo], window_s: float) -> str:
    """The single query behind :meth:`PrometheusMetrics.usage`."""
    selectors = container_selectors(containers)
    parts = {
        metric: any_of(metric_expr(metric, s, CONTAINER_KEYS, window_s, "irate") for s in selectors)
        for metric in ("cpu", "mem", "limit", "rx", "tx")
    }
    return tagged(parts)


def container_series_query(
    containers: Sequence[ContainerInfo], metric: str, window_s: float
) -> str:
    """The range query behind :meth:`PrometheusMetrics.series`."""
    selectors = container_selectors(containers)
    return any_of(metric_expr(metric, s, CONTAINER_KEYS, window_s) for s in selectors)


def host_usage_query(window_s: float) -> str:
    """The single query behind :meth:`PrometheusMetrics.host_usage` (every host's root cgroup)."""
    root = f'id="{ROOT_ID}"'
    parts = {
        m: metric_expr(m, root, HOST_KEYS, window_s, "irate") for m in ("cpu", "mem", "rx", "tx")
    }
    parts["cores"] = f"max by ({_by(HOST_KEYS)}) ({MACHINE_CORES})"
    parts["limit"] = f"max by ({_by(HOST_KEYS)}) ({MACHINE_MEMORY})"
    return tagged(parts)


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def usage_from_vector(
    result: Iterable[Mapping[str, Any]], key_of: Callable[[Mapping[str, str]], str | None]
) -> dict[str, dict[str, float]]:
    """``{key: {metric: value}}`` from a tagged instant vector; ``key_of`` names a series'
    container or host (``None`` = not asked for)."""
    found: dict[str, dict[str, float]] = {}
    for item in result:
        labels = item.get("metric", {})
        key = key_of(labels)
        value = _number((item.get("value") or [None, None])[1])
        if key is None or value is None:
            continue
        found.setdefault(key, {}).setdefault(labels.get(TAG, ""), value)
    return found


def _usage(values: Mapping[str, float], cpu: float | None) -> Usage:
    return Usage(
        cpu_percent=cpu,
        mem_bytes=values.get("mem"),
        mem_limit=memory_limit(values.get("limit")),
        rx_bps=values.get("rx"),
        tx_bps=values.get("tx"),
    )


def _explain(exc: BaseException) -> str:
    if isinstance(exc, PrometheusApiClientException):
        said = re.search(r'"error":"((?:[^"\\]|\\.)*)"', str(exc))
        return said.group(1) if said else str(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return "no answer in time"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "timed out" in text:  # urllib3 wraps a read timeout when retries are off
            return "no answer in time"
        if "Connection refused" in text:
            return "connection refused (not running?)"
        if "Name or service not known" in text or "getaddrinfo" in text:
            return "unknown host name"
        return "cannot connect"
    return f"{exc.__class__.__name__}: {exc}"


class PrometheusMetrics:
    """A :class:`~jobtui.backend.metrics.base.MetricsSource` reading Prometheus (blocking)."""

    name = "prometheus"

    def __init__(
        self,
        config: PrometheusConfig,
        *,
        timeout: float = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = config.url.rstrip("/")
        self._clock = clock
        session = requests.Session()
        # Prometheus sits on the operators' network: an http_proxy meant for
        # the internet must not capture it.
        session.trust_env = False
        # No retries: a down Prometheus must be reported at once; the UI asks again anyway.
        self._client = PrometheusConnect(
            url=self.url, session=session, timeout=timeout, retry=Retry(total=0)
        )

    def _ask(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (requests.exceptions.RequestException, PrometheusApiClientException) as exc:
            raise MetricsUnavailable(f"Prometheus at {self.url}: {_explain(exc)}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise MetricsUnavailable(
                f"Prometheus at {self.url}: unexpected answer ({exc})"
            ) from exc

    def usage(self, containers: Sequence[ContainerInfo]) -> Mapping[str, Usage]:
        """Latest usage of ``containers`` by id, from one query."""
        if not containers:
            return {}
        query = container_usage_query(containers, RATE_WINDOW_S)
        result = self._ask(lambda: self._client.custom_query(query))
        index = ContainerIndex(containers)

        def key_of(labels: Mapping[str, str]) -> str | None:
            found = index.match(labels)
            return found.id if found is not None else None

        return {
            key: _usage(values, values.get("cpu"))
            for key, values in usage_from_vector(result, key_of).items()
        }

    def series(
        self, containers: Sequence[ContainerInfo], metric: str, range_s: float, step_s: float
    ) -> Mapping[str, Series]:
        """``metric`` over the last ``range_s`` seconds, by container id."""
        check_metric(metric)
        if not containers:
            return {}
        step = max(step_s, range_s / MAX_POINTS, 1.0)
        query = container_series_query(containers, metric, max(RATE_WINDOW_S, step))
        end = self._clock()
        start_time = datetime.fromtimestamp(end - range_s, UTC)
        end_time = datetime.fromtimestamp(end, UTC)
        result = self._ask(
            lambda: self._client.custom_query_range(
                query, start_time=start_time, end_time=end_time, step=f"{step:g}"
            )
        )
        index = ContainerIndex(containers)
        found: dict[str, Series] = {}
        for item in result:
            container = index.match(item.get("metric", {}))
            if container is None or container.id in found:
                continue
            points = [(float(t), _number(v)) for t, v in item.get("values", [])]
            kept = [(t, v) for t, v in points if v is not None]
            found[container.id] = Series(
                tuple(t for t, _ in kept), tuple(v for _, v in kept if v is not None)
            )
        return found

    def host_usage(self, hosts: Sequence[str]) -> Mapping[str, Usage]:
        """Latest usage of whole hosts, from their cAdvisor root-cgroup series."""
        if not hosts:
            return {}
        query = host_usage_query(RATE_WINDOW_S)
        result = self._ask(lambda: self._client.custom_query(query))
        names = list(hosts)
        found = usage_from_vector(result, lambda labels: match_host(labels, names))
        usages = {}
        for host, values in found.items():
            cores, busy = values.get("cores"), values.get("cpu")
            cpu = busy / cores if busy is not None and cores else None
            usages[host] = _usage(values, cpu)
        return usages

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()
