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


def memory_limit(value: float | None) -> float | None:
    """A memory limit as jobtui shows it: ``None`` when unset (0) or unlimited."""
    if value is None or not math.isfinite(value) or value <= 0 or value >= UNLIMITED_MEMORY:
        return None
    return value


def rate(earlier: float | None, later: float | None, seconds: float) -> float | None:
    """Per-second increase of a counter; ``None`` without both values, time or on a reset."""
    if earlier is None or later is None or seconds <= 0 or later < earlier:
        return None
    return (later - earlier) / seconds
