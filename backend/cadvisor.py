"""cAdvisor's series: parse its ``/metrics`` text and match series to containers and hosts.

Pure functions, no I/O. cAdvisor names a Docker container's series by

* ``id`` — the cgroup path: ``/docker/<64-hex id>`` (cgroupfs driver) or
  ``/system.slice/docker-<id>.scope`` (systemd driver); ``/`` is the whole machine;
* ``name`` — the Docker container name; ``image``;
* ``container_label_<label>`` — every Docker label, with characters that are
  not allowed in Prometheus label names (``.``, ``-`` …) turned into ``_``:
  ``jobtui.service`` becomes ``container_label_jobtui_service``.

A machine's own series (``id="/"``) are told apart by a ``host`` label naming
the inventory host (the test stand-in sets it; with one cAdvisor per host a
Prometheus relabel rule adds it), or else by the host part of Prometheus'
``instance`` label (``host-a:8080`` → ``host-a``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from jobtui.backend.model import LABEL_SERVICE, ContainerInfo

ROOT_ID = "/"
CPU_TOTAL = "total"
"""The ``cpu`` label of the all-cores CPU counter (newer cAdvisor); older ones publish per core."""

CPU_SECONDS = "container_cpu_usage_seconds_total"
MEM_WORKING_SET = "container_memory_working_set_bytes"
MEM_LIMIT = "container_spec_memory_limit_bytes"
NET_RX = "container_network_receive_bytes_total"
NET_TX = "container_network_transmit_bytes_total"
MACHINE_CORES = "machine_cpu_cores"
MACHINE_MEMORY = "machine_memory_bytes"

UNLIMITED_MEMORY = 2.0**60
"""Limits at or above this are "no limit": cgroup v1 reports 2^63 rounded to a page."""

_FULL_ID = re.compile(r"[0-9a-f]{64}")
_LABEL_BAD = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_label_name(name: str) -> str:
    """A Docker label or env name as cAdvisor writes it into a Prometheus label name."""
    return _LABEL_BAD.sub("_", name)


SERVICE_LABEL = "container_label_" + sanitize_label_name(LABEL_SERVICE)
"""``container_label_jobtui_service``: the ``jobtui.service`` label in cAdvisor's series."""


def container_id_from_cgroup(cgroup: str) -> str | None:
    """The 64-hex container id at the end of a cgroup path, ``None`` if there is none."""
    last = cgroup.rstrip("/").rsplit("/", 1)[-1]
    last = last.removeprefix("docker-").removesuffix(".scope")
    return last if _FULL_ID.fullmatch(last) else None


def instance_host(instance: str) -> str:
    """The host part of Prometheus' ``instance`` label (``host:port``, ``[v6]:port``)."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    return instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance


def series_host(labels: Mapping[str, str]) -> str | None:
    """Which host a series says it comes from: its ``host`` label, else ``instance``'s host."""
    if labels.get("host"):
        return labels["host"]
    if labels.get("instance"):
        return instance_host(labels["instance"])
    return None


class ContainerIndex:
    """Finds the container a series belongs to among the containers asked about."""

    def __init__(self, containers: Iterable[ContainerInfo]) -> None:
        self._by_id: dict[str, ContainerInfo] = {}
        self._by_name: dict[str, list[ContainerInfo]] = {}
        for container in containers:
            self._by_id[container.id] = container
            self._by_name.setdefault(container.name.lstrip("/"), []).append(container)

    def match(self, labels: Mapping[str, str]) -> ContainerInfo | None:
        """The container a series with ``labels`` describes, ``None`` if none or unsure.

        The cgroup ``id`` decides when it names a Docker container. Otherwise
        (another cgroup layout) the ``name`` label does, narrowed by the
        ``jobtui.service`` label and by a ``host`` label; an ``instance``
        label is used only when it picks one of several same-named
        containers. Still ambiguous means no match.
        """
        full_id = container_id_from_cgroup(labels.get("id", ""))
        if full_id is not None:
            return self._by_id.get(full_id)
        candidates = self._by_name.get(labels.get("name", ""), [])
        service = labels.get(SERVICE_LABEL)
        if service is not None:
            candidates = [c for c in candidates if c.service == service]
        if labels.get("host"):
            candidates = [c for c in candidates if c.host == labels["host"]]
        elif len(candidates) > 1 and labels.get("instance"):
            # instance may be an address rather than the inventory name:
            # use it only when it settles the question.
            narrowed = [c for c in candidates if c.host == series_host(labels)]
            candidates = narrowed or candidates
        return candidates[0] if len(candidates) == 1 else None

    @property
    def ids(self) -> list[str]:
        """The full ids of the indexed containers."""
        return list(self._by_id)

    @property
    def names(self) -> list[str]:
        """The distinct names of the indexed containers."""
        return list(self._by_name)


def match_host(labels: Mapping[str, str], hosts: Sequence[str]) -> str | None:
    """The inventory host (one of ``hosts``) a machine-level series comes from."""
    named = series_host(labels)
    return named if named in hosts else None


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


def memory_limit(value: float | None) -> float | None:
    """A memory limit as jobtui shows it: ``None`` when unset (0) or unlimited."""
    if value is None or not math.isfinite(value) or value <= 0 or value >= UNLIMITED_MEMORY:
        return None
    return value


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


def rate(earlier: float | None, later: float | None, seconds: float) -> float | None:
    """Per-second increase of a counter; ``None`` without both values, time or on a reset."""
    if earlier is None or later is None or seconds <= 0 or later < earlier:
        return None
    return (later - earlier) / seconds
