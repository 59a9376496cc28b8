"""Fixed log lines and metrics for the shop fleet of :mod:`fleet_data`.

``log_lines()`` is what shop-web's two running instances said; ``FixedMetrics``
answers every metrics question with made-up, repeatable usage as of ``NOW``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobtui.backend.logs.lines import LogLine, Stream
from jobtui.backend.metrics.base import MetricsUnavailable, Series, Usage
from jobtui.backend.model import ContainerInfo
from support.fleet_data import NOW, WEB_1_CONTAINER, WEB_2_CONTAINER


def log_lines(count: int = 80) -> list[LogLine]:
    """shop-web's two running instances talking: access log, warnings on stderr, a long line."""
    paths = ("/api/cart", "/api/products", "/checkout", "/api/search?q=lamp", "/health")
    lines: list[LogLine] = []
    for i in range(count):
        host, name = ("web-1", WEB_1_CONTAINER) if i % 3 else ("web-2", WEB_2_CONTAINER)
        stamp = NOW - 2 * count + 2 * i + 0.125 * (i % 7)
        path = paths[i % len(paths)]
        status = 502 if i % 23 == 22 else 200
        text = (
            f'10.0.3.{17 + i % 9} - - "GET {path} HTTP/1.1" {status} {512 + 37 * i} {12 + i % 5}ms'
        )
        stream: Stream = "stdout"
        if i % 13 == 12:
            text = "WARNING [shop.payments] stripe: retrying after 429 (attempt 2/3)"
            stream = "stderr"
        elif i % 29 == 28:
            text = f"ERROR [shop.orders] order 81{i:02d} failed: timeout from db.shop.lan:5432"
            stream = "stderr"
        elif i % 31 == 30:
            steps = " ".join(f"step{n}={n * 3}ms" for n in range(40))
            text = f"INFO [shop.cart] slow request: {steps}"
        lines.append(LogLine(host, name, stamp, text, stream))
    return lines


GIB = 1024.0**3
MIB = 1024.0**2
# Made-up load: a service's typical CPU % and memory, and a wave to vary it over time.
_LOAD = {"shop-web": (38.0, 412 * MIB), "shop-api": (12.0, 180 * MIB), "mailer": (0.4, 24 * MIB)}
_WAVE = (0.55, 0.7, 0.6, 0.9, 1.2, 1.0, 0.8, 1.5, 1.9, 1.3, 0.9, 0.75, 1.1, 1.4, 0.95, 0.65)


class FixedMetrics:
    """A :class:`~jobtui.backend.metrics.base.MetricsSource` with made-up, repeatable usage.

    ``fail`` makes every call raise :class:`MetricsUnavailable` with that reason.
    Containers use host networking here, so network rates are ``None``.
    """

    name = "fixed"

    def __init__(self, *, fail: str | None = None) -> None:
        self.fail = fail
        self.calls: list[str] = []

    def _answer(self, call: str) -> None:
        self.calls.append(call)
        if self.fail is not None:
            raise MetricsUnavailable(self.fail)

    @staticmethod
    def _at(container: ContainerInfo, step: int) -> tuple[float, float]:
        service = container.service or container.name.rsplit("_", 1)[0]
        cpu, mem = _LOAD.get(service, (1.0, 8 * MIB))
        shift = sum(container.id.encode()) % len(_WAVE)
        wave = _WAVE[(step + shift) % len(_WAVE)]
        return cpu * wave, mem * (0.9 + wave / 10)

    def usage(self, containers: Sequence[ContainerInfo]) -> Mapping[str, Usage]:
        self._answer("usage")
        found = {}
        for container in containers:
            cpu, mem = self._at(container, 0)
            limit = GIB if container.service == "shop-web" else None
            found[container.id] = Usage(cpu, mem, limit, None, None)
        return found

    def series(
        self, containers: Sequence[ContainerInfo], metric: str, range_s: float, step_s: float
    ) -> Mapping[str, Series]:
        self._answer(f"series {metric} {range_s:g}")
        if metric in ("rx", "tx"):
            return {}
        count = int(range_s // step_s)
        times = tuple(NOW - (count - 1 - k) * step_s for k in range(count))
        found = {}
        which = 1 if metric == "mem" else 0
        for container in containers:
            values = tuple(self._at(container, count - 1 - k)[which] for k in range(count))
            found[container.id] = Series(times, values)
        return found

    def host_usage(self, hosts: Sequence[str]) -> Mapping[str, Usage]:
        self._answer("hosts")
        known = {
            "web-1": Usage(23.5, 5.2 * GIB, 16 * GIB, None, None),
            "web-2": Usage(61.0, 11.9 * GIB, 16 * GIB, None, None),
        }
        return {host: known[host] for host in hosts if host in known}

    def close(self) -> None:
        self.calls.append("close")
