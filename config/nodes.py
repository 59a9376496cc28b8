"""Typed reads of YAML nodes that remember every problem with its line.

Each node keeps a source mark, which is what lets each problem name its
line. A read that fails records a Problem and returns ``None`` so validation
goes on and all problems surface at once.

Values are read from the text as written, never through PyYAML's
constructor: that is where YAML 1.1's surprises are caught (``0755`` is
octal, ``1:30`` is base 60, ``yes`` is true) and where huge integers,
``.inf`` and ``.nan`` are refused instead of raising or slipping through.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jobtui.config.composer import (
    BOOL,
    FLOAT,
    INT,
    MAP,
    MISMATCH,
    NULL,
    SEQ,
    STR,
    is_plain,
    short_tag,
)
from jobtui.config.errors import Problem, show

__all__ = ["BOOL", "FLOAT", "INT", "NULL", "STR", "Checker", "describe", "line_of"]

TIMESTAMP = "tag:yaml.org,2002:timestamp"
INT_MAX = 2**63 - 1
_DIGITS_MAX = 20
_TRUE = ("yes", "true", "on")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,60}", re.ASCII)
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
_QUOTABLE = (INT, FLOAT, BOOL, NULL, TIMESTAMP)
T = TypeVar("T")


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _written(node: ScalarNode) -> str:
    """A plain scalar's text for a message; implicit types only match short ASCII."""
    value = str(node.value)
    return value if len(value) <= 40 else f"{value[:39]}…"


def describe(node: Node) -> str:
    """How a node looks to a person, with its value: "a list", "the integer 8080" …"""
    if isinstance(node, (MappingNode, SequenceNode)):
        kind = "a mapping" if isinstance(node, MappingNode) else "a list"
        own = MAP if isinstance(node, MappingNode) else SEQ
        return kind if node.tag == own else f"{kind} tagged {short_tag(node.tag)}"
    if not isinstance(node, ScalarNode):
        return "a value"
    tag, value = node.tag, str(node.value)
    if tag == STR:
        return f"the text {show(value)}"
    if tag.startswith(MISMATCH):
        wanted = tag.removeprefix(MISMATCH)
        return f"{show(value)} tagged {short_tag(wanted)}, which it is not"
    if tag == INT:
        return f"the integer {_written(node)}"
    if tag == FLOAT:
        return f"the number {_written(node)}"
    if tag == BOOL:
        return f"{_written(node)}, which YAML 1.1 reads as true/false"
    if tag == NULL:
        return "nothing (an empty value)" if value in ("", "~") else f"{_written(node)} (empty)"
    if tag == TIMESTAMP:
        return f"{_written(node)}, which YAML 1.1 reads as a date"
    return f"{show(value)} tagged {short_tag(tag)}"


def _quote_hint(node: Node) -> str:
    if isinstance(node, ScalarNode) and is_plain(node) and node.tag in _QUOTABLE:
        return f' (quote it to mean the text: "{_written(node)}")'
    return ""


def key_path(key: str, name: str) -> str:
    """``key.name``, or ``key['odd name']`` when the name would garble the message."""
    if _PLAIN_KEY.fullmatch(name):
        return f"{key}.{name}" if key else name
    return f"{key}[{show(name)}]"


def yaml_int(text: str) -> int:
    """A YAML 1.1 integer as its writer meant it; refuses octal-looking and base-60 forms."""
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    if ":" in digits:
        raise ValueError(
            f"YAML 1.1 reads {text} as a base-60 number: write the number itself, "
            f'or quote it ("{text}")'
        )
    base = {"0x": 16, "0b": 2}.get(digits[:2].lower(), 10)
    if base == 10 and len(digits) > 1 and digits.startswith("0"):
        raise ValueError(
            f"YAML 1.1 reads {text} as an octal number ({int(digits, 8)}): write it without "
            f'the leading zero, or quote it ("{text}")'
        )
    body = digits[2:] if base != 10 else digits
    if len(body) > _DIGITS_MAX * (4 if base == 2 else 1):
        raise ValueError(f"{text[:30]}… is far too large")
    return sign * int(body, base)


def yaml_float(text: str) -> float:
    """A YAML 1.1 float, finite; refuses base-60 forms."""
    lowered = text.replace("_", "").lower()
    if ":" in lowered:
        raise ValueError(f'YAML 1.1 reads {text} as a base-60 number: quote it ("{text}")')
    value = float(lowered.replace(".inf", "inf").replace(".nan", "nan"))
    if not math.isfinite(value):
        raise ValueError(f"{_short(text)} is not a finite number")
    return value


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:39]}…"


def key_node(node: Node, name: str) -> Node:
    """The key ``name`` of mapping ``node`` (for reporting at the key), else ``node`` itself."""
    if isinstance(node, MappingNode):
        for key, _ in node.value:
            if isinstance(key, ScalarNode) and key.value == name:
                return key
    return node


def is_unset(node: Node) -> bool:
    """The seed writes "" and null for "not set"."""
    return isinstance(node, ScalarNode) and (
        node.tag == NULL or (node.tag == STR and node.value == "")
    )


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

    def key_name(self, node: Node, key: str) -> str | None:
        """A mapping key's text; a list or mapping as a key is a problem (never stringified)."""
        if isinstance(node, ScalarNode):
            return str(node.value)
        self.report(node, key, f"a mapping key must be a plain string, found {describe(node)}")
        return None

    def pairs(self, node: Node, key: str, what: str) -> list[tuple[str, Node, Node]] | None:
        """A mapping's (name, key node, value node) in file order; duplicates are problems."""
        if not isinstance(node, MappingNode) or node.tag != MAP:
            self.report(node, key, f"expected {what}, found {describe(node)}")
            return None
        seen: dict[str, Node] = {}
        found: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            name = self.key_name(key_node, key)
            if name is None:
                continue
            if name == "<<":
                self.report(
                    key_node,
                    key_path(key, name),
                    "YAML merge keys (<<) are not supported: write the keys out",
                )
            elif name in seen:
                self.report(
                    key_node,
                    key_path(key, name),
                    f"duplicate key (first at line {line_of(seen[name])})",
                )
            else:
                seen[name] = key_node
                found.append((name, key_node, value_node))
        return found

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
        pairs = self.pairs(node, key, "a mapping")
        if pairs is None:
            return None
        values: dict[str, Node] = {}
        for name, key_node, value_node in pairs:
            if hints and name in hints:
                self.report(key_node, key_path(key, name), hints[name])
            elif name not in allowed:
                self.report(key_node, key_path(key, name), _unknown_key_message(name, allowed))
            else:
                values[name] = value_node
        for name in required:
            if name not in values:
                self.report(node, key_path(key, name), "missing required key")
        return values

    def sequence(self, node: Node, key: str) -> list[Node] | None:
        if isinstance(node, SequenceNode) and node.tag == SEQ:
            return list(node.value)
        self.report(node, key, f"expected a list, found {describe(node)}")
        return None

    # -- scalars ----------------------------------------------------------

    def string(self, node: Node, key: str, *, numbers: bool = False) -> str | None:
        """A string; with ``numbers`` an integer, float or date is taken as written.

        The seed writes env values such as ``value: 8888``: they become "8888".
        """
        if isinstance(node, ScalarNode):
            tag, value = node.tag, str(node.value)
            if numbers and (tag in (INT, FLOAT) or (tag == TIMESTAMP and is_plain(node))):
                return value
            if tag == STR:
                bad = _NOT_TEXT.search(value)
                if bad is None:
                    return value
                what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate"
                self.report(node, key, f"{show(value)} contains {what}, which no program takes")
                return None
        expected = "a string or number" if numbers else "a string"
        self.report(node, key, f"expected {expected}, found {describe(node)}{_quote_hint(node)}")
        return None

    def text(self, node: Node, key: str) -> str | None:
        """A non-empty string."""
        value = self.string(node, key)
        if value is not None and not value.strip():
            self.report(node, key, "must not be empty")
            return None
        return value

    def parsed(self, node: Node, key: str, parse: Callable[[str], T]) -> T | None:
        """A non-empty string turned into a value by ``parse`` (whose ValueError is the message)."""
        text = self.text(node, key)
        if text is None:
            return None
        try:
            return parse(text)
        except ValueError as exc:
            self.report(node, key, str(exc))
            return None

    def integer(
        self, node: Node, key: str, minimum: int | None = None, maximum: int = INT_MAX
    ) -> int | None:
        if not isinstance(node, ScalarNode) or node.tag != INT:
            self.report(node, key, f"expected an integer, found {describe(node)}")
            return None
        try:
            value = yaml_int(str(node.value))
        except ValueError as exc:
            self.report(node, key, str(exc))
            return None
        if minimum is not None and value < minimum:
            self.report(node, key, f"must be at least {minimum}, found {value}")
            return None
        if value > maximum:
            self.report(node, key, f"must be at most {maximum}, found {_short(str(value))}")
            return None
        return value

    def number(self, node: Node, key: str) -> float | None:
        """A finite number (integer or float)."""
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            try:
                text = str(node.value)
                return float(yaml_int(text)) if node.tag == INT else yaml_float(text)
            except ValueError as exc:
                self.report(node, key, str(exc))
                return None
        self.report(node, key, f"expected a number, found {describe(node)}")
        return None

    def boolean(self, node: Node, key: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return str(node.value).lower() in _TRUE
        self.report(node, key, f"expected true or false, found {describe(node)}")
        return None

    def choice(self, node: Node, key: str, choices: Collection[str]) -> str | None:
        value = self.string(node, key)
        if value is not None and value not in choices:
            self.report(
                node, key, f"must be one of {', '.join(sorted(choices))}, found {show(value)}"
            )
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
    # difflib is quadratic: only short names are worth a suggestion.
    close = (
        difflib.get_close_matches(name.replace(" ", "_"), list(allowed), n=1, cutoff=0.6)
        if len(name) <= 60
        else []
    )
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (allowed: {', '.join(sorted(allowed))})"
