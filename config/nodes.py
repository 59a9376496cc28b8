"""Typed reads of YAML nodes that remember every problem with its line.

PyYAML's composed node tree keeps a source mark on every node, which is what
lets each problem name its line. A read that fails records a Problem and
returns ``None`` so validation goes on and all problems surface at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jobtui.config.errors import Problem

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"

_KIND = {STR: "a string", INT: "an integer", FLOAT: "a number", BOOL: "true/false", NULL: "empty"}


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def describe(node: Node) -> str:
    """How a node looks to a person: 'a list', 'an integer' …"""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _KIND.get(node.tag, f"a {node.tag.rsplit(':', 1)[-1]}")


def scalar_value(node: ScalarNode) -> Any:
    """The Python value of a plain scalar as YAML 1.1 (PyYAML) resolves it."""
    return _CONSTRUCTOR.construct_object(node, deep=True)


# A constructor on its own (no stream): it turns one scalar node into a value.
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class Checker:
    """Collects problems for one file while reading typed values out of nodes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def report(self, node: Node | None, key: str, message: str, line: int = 0) -> None:
        self.problems.append(
            Problem(self.file, line or (line_of(node) if node else 0), key, message)
        )

    # -- containers -------------------------------------------------------

    def mapping(
        self,
        node: Node,
        key: str,
        allowed: Collection[str],
        required: Collection[str] = (),
        hints: dict[str, str] | None = None,
    ) -> dict[str, Node] | None:
        """The mapping's values by key; unknown, duplicate and missing keys are problems.

        ``hints`` maps a forbidden key to the advice shown instead of "unknown key".
        """
        if not isinstance(node, MappingNode):
            self.report(node, key, f"expected a mapping, found {describe(node)}")
            return None
        values: dict[str, Node] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            path = f"{key}.{name}" if key else name
            if name in values:
                self.report(
                    key_node, path, f"duplicate key (first at line {line_of(values[name])})"
                )
            elif hints and name in hints:
                self.report(key_node, path, hints[name])
            elif name not in allowed:
                self.report(key_node, path, _unknown_key_message(name, allowed))
            else:
                values[name] = value_node
        for name in required:
            if name not in values:
                self.report(node, f"{key}.{name}" if key else name, "missing required key")
        return values

    def sequence(self, node: Node, key: str) -> list[Node] | None:
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.report(node, key, f"expected a list, found {describe(node)}")
        return None

    # -- scalars ----------------------------------------------------------

    def is_null(self, node: Node) -> bool:
        return isinstance(node, ScalarNode) and node.tag == NULL

    def string(self, node: Node, key: str, *, numbers: bool = False) -> str | None:
        """A string; with ``numbers`` an integer or float is accepted and stringified.

        The seed writes env values such as ``value: 8888``: they become "8888".
        """
        if isinstance(node, ScalarNode):
            if node.tag == STR:
                return str(node.value)
            if numbers and node.tag in (INT, FLOAT):
                return str(node.value)
        expected = "a string or number" if numbers else "a string"
        self.report(node, key, f"expected {expected}, found {describe(node)}")
        return None

    def text(self, node: Node, key: str) -> str | None:
        """A non-empty string."""
        value = self.string(node, key)
        if value is not None and not value.strip():
            self.report(node, key, "must not be empty")
            return None
        return value

    def integer(self, node: Node, key: str, minimum: int | None = None) -> int | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) and node.tag == INT else None
        if not isinstance(value, int) or isinstance(value, bool):
            self.report(node, key, f"expected an integer, found {describe(node)}")
            return None
        if minimum is not None and value < minimum:
            self.report(node, key, f"must be at least {minimum}, found {value}")
            return None
        return value

    def number(self, node: Node, key: str) -> float | None:
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            return float(scalar_value(node))
        self.report(node, key, f"expected a number, found {describe(node)}")
        return None

    def boolean(self, node: Node, key: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return bool(scalar_value(node))
        self.report(node, key, f"expected true or false, found {describe(node)}")
        return None

    def choice(self, node: Node, key: str, choices: Collection[str]) -> str | None:
        value = self.string(node, key)
        if value is not None and value not in choices:
            self.report(node, key, f"must be one of {', '.join(sorted(choices))}, found {value!r}")
            return None
        return value

    def strings(self, node: Node, key: str) -> list[str] | None:
        """A list of strings (numbers allowed, as in command arguments)."""
        items = self.sequence(node, key)
        if items is None:
            return None
        values = [self.string(item, f"{key}[{i}]", numbers=True) for i, item in enumerate(items)]
        if any(v is None for v in values):
            return None
        return [v for v in values if v is not None]


def _unknown_key_message(name: str, allowed: Collection[str]) -> str:
    close = difflib.get_close_matches(name.replace(" ", "_"), list(allowed), n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (allowed: {', '.join(sorted(allowed))})"
