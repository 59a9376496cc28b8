"""Read one service entry: the seed's keys plus Compose's names for the rest."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from jobtui.config import fields
from jobtui.config.models import (
    EnvVar,
    Healthcheck,
    LogConfig,
    PortSpec,
    Service,
    Ulimit,
    UpdateConfig,
    Volume,
)
from jobtui.config.nodes import INT, NULL, STR, Checker, line_of

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


def read_service(check: Checker, node: Node, key: str) -> Service | None:
    """The service at ``node``, or ``None`` after reporting what is wrong."""
    values = check.mapping(node, key, SERVICE_KEYS, required=("name", "image", "run_on_host"))
    if values is None:
        return None
    before = len(check.problems)
    reader = _Reader(check, values, key)
    name = reader.get("name", lambda n, k: _parsed(check, n, k, fields.parse_name))
    image = reader.get("image", lambda n, k: _parsed(check, n, k, fields.parse_image))
    hosts = reader.get("run_on_host", reader.hosts)
    settings: dict[str, Any] = {
        "port": reader.get("port", reader.port),
        "envs": reader.get("envs", reader.envs) or (),
        "volumes": reader.get("volumes", reader.volumes) or (),
        "ulimits": reader.get("ulimits", reader.ulimits) or (),
        "log_config": reader.get("log_config", reader.log_config),
        "entrypoint": reader.get("entrypoint", reader.command),
        "cmd": reader.get("cmd", reader.command),
        "network_mode": reader.get("network_mode", reader.optional_text),
        "healthcheck": reader.get("healthcheck", reader.healthcheck),
        "restart": reader.get("restart", lambda n, k: _parsed(check, n, k, fields.parse_restart)),
        "mem_limit": reader.get("mem_limit", reader.size),
        "cpus": reader.get("cpus", check.number),
        "labels": reader.get("labels", reader.labels),
    }
    grace = reader.get("stop_grace_period", reader.duration)
    if grace is not None:
        settings["stop_grace_period"] = grace
    update = reader.get("update_config", reader.update_config)
    if update is not None:
        settings["update_config"] = update
    if len(check.problems) > before or name is None or image is None or not hosts:
        return None
    if settings["labels"] is None:
        settings["labels"] = MappingProxyType({})
    return Service(name=name, image=image, run_on_host=hosts, line=line_of(node), **settings)


def _parsed(check: Checker, node: Node, key: str, parse: Callable[[str], Any]) -> Any:
    text = check.text(node, key)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        check.report(node, key, str(exc))
        return None


def _empty(node: Node) -> bool:
    """The seed writes "" and null for "not set"."""
    return isinstance(node, ScalarNode) and (node.tag == NULL or node.value == "")


class _Reader:
    """Field readers for one service; each reports its own problems."""

    def __init__(self, check: Checker, values: dict[str, Node], key: str) -> None:
        self.check, self.values, self.key = check, values, key

    def get(self, name: str, read: Callable[[Node, str], Any]) -> Any:
        node = self.values.get(name)
        if node is None or (_empty(node) and name not in ("name", "image", "run_on_host")):
            return None
        return read(node, f"{self.key}.{name}")

    def items(self, node: Node, key: str) -> list[tuple[Node, str]]:
        return [(n, f"{key}[{i}]") for i, n in enumerate(self.check.sequence(node, key) or [])]

    def hosts(self, node: Node, key: str) -> tuple[str, ...] | None:
        names = (
            [self.check.text(node, key)]
            if isinstance(node, ScalarNode)
            else (self.check.strings(node, key))
        )
        if names is None or any(n is None for n in names):
            return None
        if not names:
            self.check.report(node, key, "needs at least one host")
            return None
        if len(set(names)) != len(names):
            self.check.report(node, key, "names a host twice")
            return None
        return tuple(n for n in names if n)

    def port(self, node: Node, key: str) -> PortSpec | None:
        if isinstance(node, ScalarNode) and node.tag == INT:
            return _parsed(self.check, _as_str(node), key, fields.parse_port)  # type: ignore[no-any-return]
        return _parsed(self.check, node, key, fields.parse_port)  # type: ignore[no-any-return]

    def envs(self, node: Node, key: str) -> tuple[EnvVar, ...]:
        result: list[EnvVar] = []
        seen: set[str] = set()
        for item, k in self.items(node, key):
            values = self.check.mapping(item, k, ("key", "value"), required=("key",))
            if values is None or "key" not in values:
                continue
            name = self.check.text(values["key"], f"{k}.key")
            value_node = values.get("value")
            value = (
                ""
                if value_node is None or _empty(value_node)
                else (self.check.string(value_node, f"{k}.value", numbers=True))
            )
            if name is not None and name in seen:
                self.check.report(values["key"], f"{k}.key", f"duplicate variable {name!r}")
            elif name is not None and value is not None:
                seen.add(name)
                result.append(EnvVar(name, value))
        return tuple(result)

    def volumes(self, node: Node, key: str) -> tuple[Volume, ...]:
        result: list[Volume] = []
        for item, k in self.items(node, key):
            values = self.check.mapping(
                item,
                k,
                ("container_path", "host_path", "read_only"),
                required=("container_path", "host_path"),
            )
            if values is None or "container_path" not in values or "host_path" not in values:
                continue
            inside = self.check.text(values["container_path"], f"{k}.container_path")
            outside = self.check.text(values["host_path"], f"{k}.host_path")
            read_only = (
                self.check.boolean(values["read_only"], f"{k}.read_only")
                if "read_only" in values
                else False
            )
            for path, n, field in (
                (inside, values["container_path"], "container_path"),
                (outside, values["host_path"], "host_path"),
            ):
                if path is not None and not path.startswith("/"):
                    self.check.report(n, f"{k}.{field}", f"{path!r} must be an absolute path")
            if inside and outside and read_only is not None:
                result.append(Volume(inside, outside, read_only))
        return tuple(result)

    def ulimits(self, node: Node, key: str) -> tuple[Ulimit, ...]:
        result: list[Ulimit] = []
        for item, k in self.items(node, key):
            values = self.check.mapping(
                item, k, ("name", "soft", "hard"), required=("name", "soft")
            )
            if values is None or "name" not in values or "soft" not in values:
                continue
            name = self.check.text(values["name"], f"{k}.name")
            soft = self.check.integer(values["soft"], f"{k}.soft", minimum=-1)
            hard = (
                self.check.integer(values["hard"], f"{k}.hard", minimum=-1)
                if ("hard" in values)
                else soft
            )
            if name and soft is not None and hard is not None:
                result.append(Ulimit(name, soft, hard))
        return tuple(result)

    def log_config(self, node: Node, key: str) -> LogConfig | None:
        values = self.check.mapping(node, key, ("type", "config"), required=("type",))
        if values is None or "type" not in values:
            return None
        kind = self.check.text(values["type"], f"{key}.type")
        options = self.string_map(values["config"], f"{key}.config") if "config" in values else {}
        if kind is None or options is None:
            return None
        return LogConfig(kind, MappingProxyType(options))

    def string_map(self, node: Node, key: str) -> dict[str, str] | None:
        if _empty(node):
            return {}
        if not isinstance(node, MappingNode):
            self.check.report(node, key, "expected a mapping of names to values")
            return None
        result: dict[str, str] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            value = self.check.string(value_node, f"{key}.{name}", numbers=True)
            if value is not None:
                result[name] = value
        return result

    def labels(self, node: Node, key: str) -> MappingProxyType[str, str] | None:
        if isinstance(node, MappingNode):
            labels = self.string_map(node, key)
            return MappingProxyType(labels) if labels is not None else None
        pairs = self.check.strings(node, key)
        if pairs is None:
            return None
        bad = [p for p in pairs if "=" not in p]
        if bad:
            self.check.report(node, key, f"list entries must be name=value, found {bad[0]!r}")
            return None
        return MappingProxyType(dict(p.split("=", 1) for p in pairs))

    def command(self, node: Node, key: str) -> tuple[str, ...] | None:
        """A string is split as a shell would; a list is taken as it is (Compose's rule)."""
        if isinstance(node, ScalarNode):
            text = self.check.string(node, key)
            if text is None:
                return None
            try:
                return tuple(shlex.split(text))
            except ValueError as exc:
                self.check.report(node, key, f"cannot split {text!r}: {exc}")
                return None
        words = self.check.strings(node, key)
        return tuple(words) if words is not None else None

    def optional_text(self, node: Node, key: str) -> str | None:
        return self.check.text(node, key)

    def duration(self, node: Node, key: str) -> float | None:
        if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:str":
            return self.check.number(node, key)
        return _parsed(self.check, node, key, fields.parse_duration)  # type: ignore[no-any-return]

    def size(self, node: Node, key: str) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == INT:
            return self.check.integer(node, key, minimum=0)
        return _parsed(self.check, node, key, fields.parse_size)  # type: ignore[no-any-return]

    def healthcheck(self, node: Node, key: str) -> Healthcheck | None:
        sub = _Reader(self.check, {}, key)
        values = self.check.mapping(
            node, key, ("test", "interval", "timeout", "retries", "start_period", "disable")
        )
        if values is None:
            return None
        sub.values = values
        test: tuple[str, ...] = ()
        if "test" in values:
            raw = values["test"]
            if isinstance(raw, ScalarNode):
                text = self.check.text(raw, f"{key}.test")
                test = ("CMD-SHELL", text) if text else ()
            else:
                test = tuple(self.check.strings(raw, f"{key}.test") or ())
        timing = {k: sub.get(k, sub.duration) for k in ("interval", "timeout", "start_period")}
        retries = sub.get("retries", lambda n, k: self.check.integer(n, k, minimum=0))
        disable = sub.get("disable", self.check.boolean)
        defaults = Healthcheck()
        return Healthcheck(
            test,
            timing["interval"] if timing["interval"] is not None else defaults.interval,
            timing["timeout"] if timing["timeout"] is not None else defaults.timeout,
            retries if retries is not None else defaults.retries,
            timing["start_period"] if timing["start_period"] is not None else defaults.start_period,
            bool(disable),
        )

    def update_config(self, node: Node, key: str) -> UpdateConfig | None:
        keys = ("parallelism", "delay", "order", "failure_action", "monitor")
        values = self.check.mapping(node, key, keys)
        if values is None:
            return None
        sub = _Reader(self.check, values, key)
        defaults = UpdateConfig()
        found: dict[str, Any] = {
            "parallelism": sub.get("parallelism", self.parallelism),
            "delay": sub.get("delay", sub.duration),
            "order": sub.get(
                "order", lambda n, k: self.check.choice(n, k, ("start-first", "stop-first"))
            ),
            "failure_action": sub.get(
                "failure_action", lambda n, k: self.check.choice(n, k, ("rollback", "pause"))
            ),
            "monitor": sub.get("monitor", sub.duration),
        }
        percent = None
        if isinstance(found["parallelism"], float):
            percent, found["parallelism"] = found["parallelism"], None
        return UpdateConfig(
            parallelism_percent=percent,
            **{k: (v if v is not None else getattr(defaults, k)) for k, v in found.items()},
        )

    def parallelism(self, node: Node, key: str) -> int | float | None:
        """Hosts per batch: an integer, or a share of the hosts such as ``25%`` (a float)."""
        if isinstance(node, ScalarNode) and node.tag == STR and node.value.endswith("%"):
            try:
                percent = float(node.value[:-1].strip())
            except ValueError:
                percent = -1.0
            if not 0 < percent <= 100:
                self.check.report(node, key, f"{node.value!r} must be a percentage in (0, 100]")
                return None
            return percent
        return self.check.integer(node, key, minimum=1)


def _as_str(node: ScalarNode) -> ScalarNode:
    """An integer port (``port: 8080``) read as the string "8080"."""
    return ScalarNode("tag:yaml.org,2002:str", node.value, node.start_mark, node.end_mark)
