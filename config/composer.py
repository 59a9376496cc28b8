"""Compose YAML events into a node tree, bounded, without PyYAML's recursive composer.

PyYAML's composer recurses once per nesting level (a RecursionError at ~900
levels) and shares aliased nodes, so that anything walking the result can
be made to walk an exponential graph. This one works from libyaml's event
stream with an explicit stack and caps what a file can make the loader do:

* nesting depth, the number of nodes, and the nodes that aliases add
  (``ALIAS_NODES_MAX``, counted as if every alias were written out);
* an alias becomes a node of its own marked where the alias is written, so a
  problem with it is reported on that line, not at its anchor;
* explicit tags: ``!!str`` is a string, ``!!int``/``!!float``/``!!bool``/``!!null``
  apply only to values of that type (``!!int many`` becomes a value no field
  accepts, reported as an ordinary type error), any other tag is kept so that
  no field accepts it.
"""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jobtui.config.errors import InventoryError, Problem

DEPTH_MAX = 64
NODES_MAX = 200_000
ALIAS_NODES_MAX = 100_000

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
MISMATCH = "tag:jobtui,mismatch:"
"""Prefix of the tag given to ``!!int many``: an explicit tag its value does not fit."""
_FITS = {INT: (INT,), FLOAT: (FLOAT, INT), BOOL: (BOOL,), NULL: (NULL,)}

# libyaml's parser is ~10x faster and keeps the same marks; PyYAML ships
# without it on some platforms, so fall back to the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:int`` as it is written in a file: ``!!int``."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _resolve(value: str, implicit: tuple[bool, bool]) -> str:
    # Inventories repeat short values (names, hosts, booleans): remember those.
    if len(value) <= 64:
        return _resolve_short(value, implicit)
    return str(_RESOLVER.resolve(ScalarNode, value, implicit))  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=4096)
def _resolve_short(value: str, implicit: tuple[bool, bool]) -> str:
    return str(_RESOLVER.resolve(ScalarNode, value, implicit))  # type: ignore[no-untyped-call]


def implicit_tag(value: str) -> str:
    """The tag YAML 1.1 (as PyYAML) gives a plain scalar written ``value``."""
    return _resolve(value, (True, False))


def is_plain(node: ScalarNode) -> bool:
    """Written without quotes or block style (libyaml says ``''``, PyYAML ``None``)."""
    return not node.style


@dataclass
class _Frame:
    node: SequenceNode | MappingNode
    counted_at: int
    anchor: str | None
    key: Node | None = None
    items: list[Node] = field(default_factory=list)


class _Composer:
    """Turns one document's events into nodes (see the module doc)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.counted = 0
        self.aliased = 0
        self.root: Node | None = None
        self.documents = 0

    def fail(self, event: Event, message: str) -> InventoryError:
        mark: Any = event.start_mark
        return InventoryError([Problem(self.file, mark.line + 1 if mark else 0, "", message)])

    def feed(self, event: Event) -> None:
        if isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail(
                    event, "a second YAML document ('---'): an inventory is a single document"
                )
        elif isinstance(event, ScalarEvent):
            self.count(event)
            self.add(self.scalar(event), event.anchor, 1)
        elif isinstance(event, AliasEvent):
            self.add(self.alias(event), None, 0)
        elif isinstance(event, CollectionStartEvent):
            self.count(event)
            if len(self.stack) >= DEPTH_MAX:
                raise self.fail(event, f"nested deeper than {DEPTH_MAX} levels")
            node = self.collection(event)
            if event.anchor is not None:
                self.open_anchors.add(event.anchor)
            self.stack.append(_Frame(node, self.counted, event.anchor))
        elif isinstance(event, (SequenceEndEvent, MappingEndEvent)):
            frame = self.stack.pop()
            if isinstance(frame.node, MappingNode):
                frame.node.value = list(zip(frame.items[::2], frame.items[1::2], strict=True))
            else:
                frame.node.value = frame.items
            frame.node.end_mark = event.end_mark
            if frame.anchor is not None:
                self.open_anchors.discard(frame.anchor)
            self.add(frame.node, frame.anchor, self.counted - frame.counted_at + 1)

    def count(self, event: Event) -> None:
        self.nodes += 1
        self.counted += 1
        if self.nodes > NODES_MAX:
            raise self.fail(
                event, f"more than {NODES_MAX} YAML values; an inventory has a few thousand"
            )

    def add(self, node: Node, anchor: str | None, size: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (node, size)
        if self.stack:
            self.stack[-1].items.append(node)
        else:
            self.root = node

    def scalar(self, event: ScalarEvent) -> ScalarNode:
        value = event.value
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolve(value, event.implicit)
        elif tag in _FITS and implicit_tag(value) not in _FITS[tag]:
            tag = MISMATCH + tag
        start: Any = event.start_mark
        end: Any = event.end_mark
        return ScalarNode(tag, value, start, end, style=event.style)

    def collection(self, event: CollectionStartEvent) -> SequenceNode | MappingNode:
        mapping = isinstance(event, MappingStartEvent)
        tag = event.tag
        if tag is None or tag == "!":
            tag = MAP if mapping else SEQ
        kind = MappingNode if mapping else SequenceNode
        start: Any = event.start_mark
        return kind(tag, [], start, None, flow_style=event.flow_style)

    def alias(self, event: AliasEvent) -> Node:
        name = event.anchor
        if name in self.open_anchors:
            raise self.fail(event, f"alias *{name} is used inside its own anchor")
        if name not in self.anchors:
            raise self.fail(event, f"alias *{name} names no anchor before it")
        node, size = self.anchors[name]
        self.aliased += size
        self.counted += size
        if self.aliased > ALIAS_NODES_MAX:
            raise self.fail(
                event,
                f"aliases expand to more than {ALIAS_NODES_MAX} values (an alias bomb?)",
            )
        # A node of its own, marked where the alias is written; its contents are shared.
        start: Any = event.start_mark
        end: Any = event.end_mark
        if isinstance(node, ScalarNode):
            return ScalarNode(node.tag, node.value, start, end, node.style)
        return type(node)(node.tag, node.value, start, end)


def compose(text: str, file: str) -> Node | None:
    """The root node of ``text``'s single document (``None`` for an empty stream)."""
    composer = _Composer(file)
    # The tree is acyclic and short-lived; the cyclic collector would rescan
    # every node each time a few hundred more are made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            composer.feed(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or str(exc)
        raise InventoryError([Problem(file, line, "", f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([Problem(file, 0, "", f"YAML error: {exc}")]) from None
    finally:
        if collecting:
            gc.enable()
    return composer.root
