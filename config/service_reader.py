"""Read one service entry: the seed's keys plus Compose's names for the rest."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from yaml.nodes import Node, ScalarNode

from jobtui.config import grammar
from jobtui.config.composer import is_plain
from jobtui.config.errors import show
from jobtui.config.models import PortSpec, Service
from jobtui.config.nodes import BOOL, FLOAT, INT, STR, Checker, describe, is_unset, line_of
from jobtui.config.quantities import DAY, SIZE_MAX, bounded_seconds
from jobtui.config.service_parts import Parts

SEED_KEYS = (
    "name",
    "image",
    "run_on_host",
    "port",
    "envs",
    "volumes",
    "ulimits",
    "log_config",
    "entrypoint",
    "cmd",
    "network_mode",
)
COMPOSE_KEYS = (
    "healthcheck",
    "restart",
    "stop_grace_period",
    "mem_limit",
    "cpus",
    "labels",
    "update_config",
)
SERVICE_KEYS = SEED_KEYS + COMPOSE_KEYS
REQUIRED = ("name", "image", "run_on_host")
SERVICE_DURATION_MAX = DAY
"""Longest grace period, health timing, delay or monitor: a rollout must end."""


def read_service(
    check: Checker, node: Node, key: str, environ: Mapping[str, str]
) -> Service | None:
    """The service at ``node``, or ``None`` after reporting what is wrong."""
    values = check.mapping(node, key, SERVICE_KEYS, required=REQUIRED)
    if values is None:
        return None
    before = len(check.problems)
    reader = ServiceReader(check, values, key, environ)
    parts = reader.parts
    name = reader.get("name", lambda n, k: check.parsed(n, k, grammar.parse_name))
    image = reader.get("image", lambda n, k: check.parsed(n, k, grammar.parse_image))
    hosts = reader.get("run_on_host", reader.hosts)
    settings: dict[str, Any] = {
        "port": reader.get("port", reader.port),
        "envs": reader.get("envs", parts.envs) or (),
        "volumes": reader.get("volumes", parts.volumes) or (),
        "ulimits": reader.get("ulimits", parts.ulimits) or (),
        "log_config": reader.get("log_config", parts.log_config),
        "entrypoint": reader.get("entrypoint", reader.command),
        "cmd": reader.get("cmd", reader.command),
        "network_mode": reader.get(
            "network_mode", lambda n, k: check.parsed(n, k, grammar.parse_network_mode)
        ),
        "healthcheck": reader.get("healthcheck", parts.healthcheck),
        "restart": reader.get("restart", reader.restart),
        "mem_limit": reader.get("mem_limit", reader.memory),
        "cpus": reader.get("cpus", reader.cpus),
        "labels": reader.get("labels", parts.labels),
    }
    grace = reader.get("stop_grace_period", reader.duration)
    if grace is not None:
        settings["stop_grace_period"] = grace
    update = reader.get("update_config", parts.update_config)
    if update is not None:
        settings["update_config"] = update
    if len(check.problems) > before or name is None or image is None or not hosts:
        return None
    if settings["labels"] is None:
        settings["labels"] = MappingProxyType({})
    return Service(name=name, image=image, run_on_host=hosts, line=line_of(node), **settings)


class ServiceReader:
    """Field readers for one service (or one of its sub-mappings); each reports its problems."""

    def __init__(
        self, check: Checker, values: dict[str, Node], key: str, environ: Mapping[str, str]
    ) -> None:
        self.check, self.values, self.key, self.environ = check, values, key, environ
        self.parts = Parts(self)

    def get(self, name: str, read: Callable[[Node, str], Any]) -> Any:
        node = self.values.get(name)
        if node is None or (is_unset(node) and name not in REQUIRED):
            return None
        return read(node, f"{self.key}.{name}")

    def within(self, values: dict[str, Node], key: str) -> ServiceReader:
        """A reader of a sub-mapping (``healthcheck``, ``update_config``)."""
        return ServiceReader(self.check, values, key, self.environ)

    def hosts(self, node: Node, key: str) -> tuple[str, ...] | None:
        items: list[tuple[Node, str]]
        if isinstance(node, ScalarNode):
            items = [(node, key)]
        else:
            found = self.check.sequence(node, key)
            if found is None:
                return None
            if not found:
                self.check.report(node, key, "needs at least one host")
                return None
            items = [(n, f"{key}[{i}]") for i, n in enumerate(found)]
        names = [self.check.parsed(n, k, grammar.parse_name) for n, k in items]
        if not names or any(n is None for n in names):
            return None
        if len(set(names)) != len(names):
            self.check.report(node, key, "names a host twice")
            return None
        return tuple(n for n in names if n)

    def port(self, node: Node, key: str) -> PortSpec | None:
        # `port: 8080` is an integer, and YAML 1.1 even reads `8080:80` as one
        # (base 60): the port is what was written.
        if isinstance(node, ScalarNode) and node.tag == INT and is_plain(node):
            try:
                return grammar.parse_port(str(node.value))
            except ValueError as exc:
                self.check.report(node, key, str(exc))
                return None
        return self.check.parsed(node, key, grammar.parse_port)

    def command(self, node: Node, key: str) -> tuple[str, ...] | None:
        """A string is split as a shell would; a list is taken as it is (Compose's rule)."""
        if isinstance(node, ScalarNode):
            text = self.check.string(node, key)
            if text is None:
                return None
            try:
                return tuple(shlex.split(text))
            except ValueError as exc:
                self.check.report(node, key, f"cannot split {show(text)}: {exc}")
                return None
        words = self.check.strings(node, key)
        return tuple(words) if words is not None else None

    def duration(self, node: Node, key: str) -> float | None:
        """Seconds: a YAML number or a duration such as ``1m30s``, at most a day."""
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            seconds = self.check.number(node, key)
            if seconds is None:
                return None
            try:
                return bounded_seconds(seconds, str(node.value), maximum=SERVICE_DURATION_MAX)
            except ValueError as exc:
                self.check.report(node, key, str(exc))
                return None
        if isinstance(node, ScalarNode) and node.tag != STR:
            self.check.report(
                node, key, f"expected a duration (e.g. 10s, 1m30s), found {describe(node)}"
            )
            return None
        return self.check.parsed(
            node, key, lambda t: grammar.parse_duration(t, maximum=SERVICE_DURATION_MAX)
        )

    def memory(self, node: Node, key: str) -> int | None:
        """Bytes: an integer or a size such as ``512m``; 0 or at least Docker's 6 MiB."""
        if isinstance(node, ScalarNode) and node.tag == INT:
            size = self.check.integer(node, key, minimum=0, maximum=SIZE_MAX)
        elif isinstance(node, ScalarNode) and node.tag != STR:
            self.check.report(
                node, key, f"expected a size (e.g. 512m, 1g) or bytes, found {describe(node)}"
            )
            return None
        else:
            size = self.check.parsed(node, key, grammar.parse_size)
        if size is None:
            return None
        try:
            return grammar.check_memory(size, str(getattr(node, "value", size)))
        except ValueError as exc:
            self.check.report(node, key, str(exc))
            return None

    def cpus(self, node: Node, key: str) -> float | None:
        """A number of CPUs: ``1.5``, or the string ``"1.5"`` as Compose takes it."""
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            value = self.check.number(node, key)
            if value is None:
                return None
            try:
                return grammar.check_cpus(value, str(node.value))
            except ValueError as exc:
                self.check.report(node, key, str(exc))
                return None
        if isinstance(node, ScalarNode) and node.tag != STR:
            self.check.report(node, key, f"expected a number (e.g. 1.5), found {describe(node)}")
            return None
        return self.check.parsed(node, key, grammar.parse_cpus)

    def restart(self, node: Node, key: str) -> str | None:
        # Compose reads YAML 1.2, where `restart: no` is the word "no"; YAML
        # 1.1 makes it false. The operator meant the policy.
        if (
            isinstance(node, ScalarNode)
            and node.tag == BOOL
            and is_plain(node)
            and str(node.value).lower() == "no"
        ):
            return "no"
        return self.check.parsed(node, key, grammar.parse_restart)
