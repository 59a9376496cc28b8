"""The Prometheus text format as cAdvisor publishes it, parsed for tests.

jobtui itself reads cAdvisor through Prometheus (PromQL); only the tests and
the stand-in exporter read ``/metrics`` pages, so the parser lives here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from jobtui.backend.metrics.cadvisor import (
    CPU_SECONDS,
    CPU_TOTAL,
    MEM_LIMIT,
    MEM_WORKING_SET,
    NET_RX,
    NET_TX,
    ContainerIndex,
    memory_limit,
)
from jobtui.backend.model import ContainerInfo

# ---------------------------------------------------------------- text format


@dataclass(frozen=True)
class Sample:
    """One line of the Prometheus text format."""

    name: str
    labels: Mapping[str, str]
    value: float
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class Exposition:
    """A parsed ``/metrics`` page: its samples and each family's HELP and TYPE."""

    samples: tuple[Sample, ...]
    help: Mapping[str, str]
    types: Mapping[str, str]

    def named(self, name: str) -> list[Sample]:
        """The samples of one metric."""
        return [s for s in self.samples if s.name == name]


_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


def _parse_labels(text: str, start: int, line: str) -> tuple[dict[str, str], int]:
    """Labels from ``{`` at ``start``; returns them and the index after ``}``."""
    labels: dict[str, str] = {}
    i = start + 1
    while True:
        while i < len(text) and text[i] in " ,":
            i += 1
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        eq = text.find("=", i)
        if eq < 0 or eq + 1 >= len(text) or text[eq + 1] != '"':
            raise ValueError(f"bad labels in {line!r}")
        key = text[i:eq].strip()
        i, value = eq + 2, []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                value.append(_UNESCAPE.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
            else:
                value.append(text[i])
                i += 1
        if i >= len(text):
            raise ValueError(f"unterminated label value in {line!r}")
        labels[key] = "".join(value)
        i += 1


def parse_sample(line: str) -> Sample:
    """One sample line: ``name{labels} value [timestamp_ms]``; ``ValueError`` if malformed."""
    brace = line.find("{")
    space = line.find(" ")
    if brace >= 0 and (space < 0 or brace < space):
        name = line[:brace]
        labels, rest_at = _parse_labels(line, brace, line)
        rest = line[rest_at:].split()
    else:
        name, labels, rest = line[:space], {}, line[space + 1 :].split()
    if not name or not 1 <= len(rest) <= 2:
        raise ValueError(f"bad sample line {line!r}")
    value = float(rest[0])  # accepts NaN, +Inf, -Inf as the format spells them
    stamp = int(rest[1]) if len(rest) == 2 else None
    return Sample(name, MappingProxyType(labels), value, stamp)


def parse_exposition(text: str) -> Exposition:
    """Parse a whole page of the Prometheus text format (version 0.0.4)."""
    samples: list[Sample] = []
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] == "HELP":
                helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            elif len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        samples.append(parse_sample(line))
    return Exposition(tuple(samples), MappingProxyType(helps), MappingProxyType(types))


# ---------------------------------------------------------------- reading values


@dataclass(frozen=True)
class Counters:
    """A container's raw cAdvisor values at one scrape (``None`` = not published)."""

    cpu_seconds: float | None = None
    mem_working_set: float | None = None
    mem_limit: float | None = None
    rx_bytes: float | None = None
    tx_bytes: float | None = None
    timestamp_ms: int | None = None


def cpu_seconds(samples: Iterable[Sample]) -> float | None:
    """A container's CPU seconds from its ``container_cpu_usage_seconds_total`` samples:
    the ``cpu="total"`` one if published, else the sum over cores."""
    total: float | None = None
    per_core: list[float] = []
    for sample in samples:
        if sample.labels.get("cpu") == CPU_TOTAL:
            total = sample.value
        else:
            per_core.append(sample.value)
    if total is not None:
        return total
    return math.fsum(per_core) if per_core else None


def container_counters(
    exposition: Exposition, containers: Iterable[ContainerInfo]
) -> dict[str, Counters]:
    """Each matched container's counters in one scrape, by container id."""
    index = ContainerIndex(containers)
    grouped: dict[str, dict[str, list[Sample]]] = {}
    for sample in exposition.samples:
        if sample.name not in (CPU_SECONDS, MEM_WORKING_SET, MEM_LIMIT, NET_RX, NET_TX):
            continue
        container = index.match(sample.labels)
        if container is not None:
            grouped.setdefault(container.id, {}).setdefault(sample.name, []).append(sample)
    result: dict[str, Counters] = {}
    for container_id, by_name in grouped.items():

        def total(name: str, by_name: dict[str, list[Sample]] = by_name) -> float | None:
            found = by_name.get(name)
            return math.fsum(s.value for s in found) if found else None

        stamps = [s.timestamp_ms for group in by_name.values() for s in group if s.timestamp_ms]
        mem = by_name.get(MEM_WORKING_SET)
        limit = by_name.get(MEM_LIMIT)
        result[container_id] = Counters(
            cpu_seconds=cpu_seconds(by_name.get(CPU_SECONDS, [])),
            mem_working_set=mem[0].value if mem else None,
            mem_limit=memory_limit(limit[0].value) if limit else None,
            rx_bytes=total(NET_RX),
            tx_bytes=total(NET_TX),
            timestamp_ms=max(stamps) if stamps else None,
        )
    return result
