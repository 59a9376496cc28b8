"""A service's structured fields: envs, volumes, ulimits, labels, logging, health, rollouts."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from yaml.nodes import MappingNode, Node, ScalarNode

from jobtui.config import grammar
from jobtui.config.errors import show
from jobtui.config.models import (
    EnvVar,
    Healthcheck,
    LogConfig,
    Ulimit,
    UpdateConfig,
    Volume,
)
from jobtui.config.nodes import INT_MAX, STR, is_unset, key_path, line_of

if TYPE_CHECKING:
    from jobtui.config.service_reader import ServiceReader

ULIMITS = (
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip
"""The limits Docker knows (``docker run --ulimit``); it refuses any other name."""
TEST_FORMS = ("CMD", "CMD-SHELL", "NONE")
PARALLELISM_MAX = 100_000
RETRIES_MAX = 2**31 - 1
_MILLISECOND = 1e-3


class Parts:
    """Readers of one service's structured fields; each reports its own problems."""

    def __init__(self, reader: ServiceReader) -> None:
        self.reader = reader
        self.check = reader.check

    def items(self, node: Node, key: str) -> list[tuple[Node, str]]:
        return [(n, f"{key}[{i}]") for i, n in enumerate(self.check.sequence(node, key) or [])]

    # -- envs -------------------------------------------------------------

    def envs(self, node: Node, key: str) -> tuple[EnvVar, ...]:
        result: list[EnvVar] = []
        seen: dict[str, int] = {}
        for item, k in self.items(node, key):
            values = self.check.mapping(
                item, k, ("key", "value", "value_env", "secret"), required=("key",)
            )
            if values is None or "key" not in values:
                continue
            name = self.check.parsed(values["key"], f"{k}.key", grammar.parse_env_key)
            value = self.env_value(values, k)
            secret = (
                self.check.boolean(values["secret"], f"{k}.secret") if "secret" in values else False
            )
            if name is not None and name in seen:
                self.check.report(
                    values["key"],
                    f"{k}.key",
                    f"duplicate variable {show(name)} (first at line {seen[name]})",
                )
            elif name is not None and value is not None and secret is not None:
                seen[name] = line_of(values["key"])
                source = values.get("value_env")
                result.append(EnvVar(name, value, secret, source.value if source else None))
        return tuple(result)

    def env_value(self, values: dict[str, Node], key: str) -> str | None:
        """``value`` as written, or what the bastion's ``value_env`` variable holds now."""
        value_node, env_node = values.get("value"), values.get("value_env")
        if env_node is not None:
            if value_node is not None:
                self.check.report(env_node, f"{key}.value_env", "give value or value_env, not both")
                return None
            env = self.check.parsed(env_node, f"{key}.value_env", grammar.parse_env_name)
            if env is None:
                return None
            found = self.reader.environ.get(env)
            if found is None:
                self.check.report(
                    env_node, f"{key}.value_env", f"the environment variable {env} is not set"
                )
                return None
            if "\x00" in found:
                self.check.report(env_node, f"{key}.value_env", f"{env} holds a NUL character")
                return None
            return found
        if value_node is None or is_unset(value_node):
            return ""
        return self.check.string(value_node, f"{key}.value", numbers=True)

    # -- volumes, ulimits -------------------------------------------------

    def volumes(self, node: Node, key: str) -> tuple[Volume, ...]:
        result: list[Volume] = []
        mounted: dict[str, int] = {}
        for item, k in self.items(node, key):
            values = self.check.mapping(
                item,
                k,
                ("container_path", "host_path", "read_only"),
                required=("container_path", "host_path"),
            )
            if values is None or "container_path" not in values or "host_path" not in values:
                continue
            inside = self.check.parsed(
                values["container_path"],
                f"{k}.container_path",
                lambda t: grammar.parse_volume_path(t, container=True),
            )
            outside = self.check.parsed(
                values["host_path"],
                f"{k}.host_path",
                lambda t: grammar.parse_volume_path(t, container=False),
            )
            read_only = (
                self.check.boolean(values["read_only"], f"{k}.read_only")
                if "read_only" in values
                else False
            )
            if inside is not None and inside in mounted:
                self.check.report(
                    values["container_path"],
                    f"{k}.container_path",
                    f"{show(inside)} is mounted twice (first at line {mounted[inside]})",
                )
            elif inside and outside and read_only is not None:
                mounted[inside] = line_of(values["container_path"])
                result.append(Volume(inside, outside, read_only))
        return tuple(result)

    def ulimits(self, node: Node, key: str) -> tuple[Ulimit, ...]:
        result: list[Ulimit] = []
        seen: set[str] = set()
        for item, k in self.items(node, key):
            values = self.check.mapping(
                item, k, ("name", "soft", "hard"), required=("name", "soft")
            )
            if values is None or "name" not in values or "soft" not in values:
                continue
            name = self.check.choice(values["name"], f"{k}.name", ULIMITS)
            soft = self.check.integer(values["soft"], f"{k}.soft", minimum=-1)
            hard = (
                self.check.integer(values["hard"], f"{k}.hard", minimum=-1)
                if "hard" in values
                else soft
            )
            if name is None or soft is None or hard is None:
                continue
            if name in seen:
                self.check.report(values["name"], f"{k}.name", f"ulimit {name} is set twice")
            elif hard != -1 and (soft == -1 or soft > hard):
                self.check.report(
                    values["soft"],
                    f"{k}.soft",
                    f"the soft limit ({soft}) exceeds the hard limit ({hard}; -1 is unlimited)",
                )
            else:
                seen.add(name)
                result.append(Ulimit(name, soft, hard))
        return tuple(result)

    # -- labels, logging --------------------------------------------------

    def string_map(self, node: Node, key: str, parse_name: Any) -> dict[str, str] | None:
        """A mapping of names to strings or numbers; names checked by ``parse_name``."""
        if is_unset(node):
            return {}
        pairs = self.check.pairs(node, key, "a mapping of names to values")
        if pairs is None:
            return None
        result: dict[str, str] = {}
        for name, key_node, value_node in pairs:
            path = key_path(key, name)
            try:
                parse_name(name)
            except ValueError as exc:
                self.check.report(key_node, path, str(exc))
                continue
            value = (
                "" if is_unset(value_node) else self.check.string(value_node, path, numbers=True)
            )
            if value is not None:
                result[name] = value
        return result

    def labels(self, node: Node, key: str) -> MappingProxyType[str, str] | None:
        if isinstance(node, MappingNode):
            labels = self.string_map(node, key, grammar.parse_label_name)
            return MappingProxyType(labels) if labels is not None else None
        pairs = self.check.strings(node, key)
        if pairs is None:
            return None
        result: dict[str, str] = {}
        items = self.check.sequence(node, key) or []
        for index, (pair, item) in enumerate(zip(pairs, items, strict=True)):
            name, equals, value = pair.partition("=")
            where = f"{key}[{index}]"
            if not equals:
                self.check.report(
                    item, where, f"list entries must be name=value, found {show(pair)}"
                )
                continue
            try:
                grammar.parse_label_name(name)
            except ValueError as exc:
                self.check.report(item, where, str(exc))
                continue
            if name in result:
                self.check.report(item, where, f"label {show(name)} is set twice")
                continue
            result[name] = value
        return MappingProxyType(result) if len(result) == len(pairs) else None

    def log_config(self, node: Node, key: str) -> LogConfig | None:
        values = self.check.mapping(node, key, ("type", "config"), required=("type",))
        if values is None or "type" not in values:
            return None
        kind = self.check.parsed(values["type"], f"{key}.type", grammar.parse_driver)
        options = (
            self.string_map(values["config"], f"{key}.config", grammar.parse_option_name)
            if "config" in values
            else {}
        )
        if kind is None or options is None:
            return None
        return LogConfig(kind, MappingProxyType(options))

    # -- healthcheck, update_config --------------------------------------

    def healthcheck(self, node: Node, key: str) -> Healthcheck | None:
        keys = ("test", "interval", "timeout", "retries", "start_period", "disable")
        values = self.check.mapping(node, key, keys)
        if values is None:
            return None
        sub = self.reader.within(values, key)
        test = self.test(values["test"], f"{key}.test") if "test" in values else ()
        timing = {
            k: sub.get(k, self.health_duration) for k in ("interval", "timeout", "start_period")
        }
        retries = sub.get(
            "retries", lambda n, k: self.check.integer(n, k, minimum=0, maximum=RETRIES_MAX)
        )
        disable = sub.get("disable", self.check.boolean)
        if disable and test and test != ("NONE",):
            self.check.report(
                values["disable"],
                f"{key}.disable",
                "disable: true and a test contradict each other",
            )
        defaults = Healthcheck()
        return Healthcheck(
            test or (),
            timing["interval"] if timing["interval"] is not None else defaults.interval,
            timing["timeout"] if timing["timeout"] is not None else defaults.timeout,
            retries if retries is not None else defaults.retries,
            timing["start_period"] if timing["start_period"] is not None else defaults.start_period,
            bool(disable),
        )

    def test(self, node: Node, key: str) -> tuple[str, ...] | None:
        """A string is a shell command (CMD-SHELL); a list starts with CMD, CMD-SHELL or NONE."""
        if isinstance(node, ScalarNode) and node.tag == STR:
            text = self.check.text(node, key)
            return ("CMD-SHELL", text) if text else None
        words = self.check.strings(node, key)
        if not words:
            return () if words == [] else None
        form, args = words[0], words[1:]
        if form not in TEST_FORMS:
            self.check.report(
                node,
                key,
                f"a test list starts with CMD, CMD-SHELL or NONE, found {show(form)} "
                '(e.g. ["CMD", "curl", "-f", "http://localhost/"])',
            )
            return None
        wrong = (
            (form == "CMD" and not args)
            or (form == "CMD-SHELL" and len(args) != 1)
            or (form == "NONE" and args)
        )
        if wrong:
            shape = {"CMD": "a command", "CMD-SHELL": "one shell command", "NONE": "nothing"}
            self.check.report(node, key, f"{form} takes {shape[form]} after it")
            return None
        return tuple(words)

    def health_duration(self, node: Node, key: str) -> float | None:
        """Docker takes 0 (its default) or at least a millisecond."""
        seconds: float | None = self.reader.duration(node, key)
        if seconds is not None and 0 < seconds < _MILLISECOND:
            self.check.report(node, key, "must be 0 or at least 1ms")
            return None
        return seconds

    def update_config(self, node: Node, key: str) -> UpdateConfig | None:
        keys = ("parallelism", "delay", "order", "failure_action", "monitor")
        values = self.check.mapping(node, key, keys)
        if values is None:
            return None
        sub = self.reader.within(values, key)
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
        if isinstance(node, ScalarNode) and node.tag == STR and node.value.strip().endswith("%"):
            return self.check.parsed(node, key, grammar.parse_percent)
        return self.check.integer(node, key, minimum=1, maximum=min(PARALLELISM_MAX, INT_MAX))
