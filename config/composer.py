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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
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
_TOO_MANY = f"more than {NODES_MAX} YAML values; an inventory has a few thousand"

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


class _Caps:
    """The running totals that the caps bound, and the anchors seen so far."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.open_anchors: set[str] = set()
        self.aliased = 0

    def fail(self, event: Event, message: str) -> InventoryError:
        mark: Any = event.start_mark
        return InventoryError([Problem(self.file, mark.line + 1 if mark else 0, "", message)])

    def alias(self, event: AliasEvent) -> tuple[Node, int]:
        """The node an alias stands for, marked where the alias is written, and its size."""
        name = event.anchor
        if name in self.open_anchors:
            raise self.fail(event, f"alias *{name} is used inside its own anchor")
        if name not in self.anchors:
            raise self.fail(event, f"alias *{name} names no anchor before it")
        node, size = self.anchors[name]
        self.aliased += size
        if self.aliased > ALIAS_NODES_MAX:
            raise self.fail(
                event,
                f"aliases expand to more than {ALIAS_NODES_MAX} values (an alias bomb?)",
            )
        # A node of its own, marked where the alias is written; its contents are shared.
        start: Any = event.start_mark
        end: Any = event.end_mark
        if isinstance(node, ScalarNode):
            return ScalarNode(node.tag, node.value, start, end, node.style), size
        return type(node)(node.tag, node.value, start, end), size


def _compose_events(next_event: Callable[[], Any], file: str) -> Node | None:
    """The root node of one document's events (see the module doc).

    One loop with its state in locals: an inventory of a thousand instances
    is some 30,000 events, and a method call per event and per step (count,
    build, attach) was a third of the time of composing them.
    """
    caps = _Caps(file)
    anchors = caps.anchors
    # Open collections, innermost last: (node, its items so far, count when opened, anchor).
    stack: list[tuple[SequenceNode | MappingNode, list[Node], int, str | None]] = []
    items: list[Node] | None = None  # the innermost open collection's items
    root: Node | None = None
    nodes = 0  # values written in the file
    counted = 0  # values with every alias written out
    documents = 0
    plain_tags: dict[str, str] = {}  # a plain scalar's implicit tag, by its text
    while True:
        # Any: the event's class is tested once (``kind is ...``), which mypy
        # does not take as narrowing; isinstance per branch would cost again.
        event = next_event()
        kind = event.__class__
        if kind is ScalarEvent:
            nodes += 1
            counted += 1
            if nodes > NODES_MAX:
                raise caps.fail(event, _TOO_MANY)
            value = event.value
            tag = event.tag
            if tag is None or tag == "!":
                if event.implicit[0]:
                    tag = plain_tags.get(value)
                    if tag is None:
                        tag = plain_tags[value] = _resolve(value, event.implicit)
                else:
                    tag = STR  # quoted or block text: the resolver's default
            elif tag in _FITS and implicit_tag(value) not in _FITS[tag]:
                tag = MISMATCH + tag
            node: Node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
            if event.anchor is not None:
                anchors[event.anchor] = (node, 1)
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            collection, done, counted_at, anchor = stack.pop()
            if collection.__class__ is MappingNode:
                collection.value = list(zip(done[::2], done[1::2], strict=True))
            else:
                collection.value = done
            collection.end_mark = event.end_mark
            node = collection
            if anchor is not None:
                caps.open_anchors.discard(anchor)
                anchors[anchor] = (node, counted - counted_at + 1)
            items = stack[-1][1] if stack else None
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            nodes += 1
            counted += 1
            if nodes > NODES_MAX:
                raise caps.fail(event, _TOO_MANY)
            if len(stack) >= DEPTH_MAX:
                raise caps.fail(event, f"nested deeper than {DEPTH_MAX} levels")
            mapping = kind is MappingStartEvent
            tag = event.tag
            if tag is None or tag == "!":
                tag = MAP if mapping else SEQ
            opened = (MappingNode if mapping else SequenceNode)(
                tag, [], event.start_mark, None, flow_style=event.flow_style
            )
            if event.anchor is not None:
                caps.open_anchors.add(event.anchor)
            items = []
            stack.append((opened, items, counted, event.anchor))
            continue
        elif kind is AliasEvent:
            node, size = caps.alias(event)
            counted += size
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise caps.fail(
                    event, "a second YAML document ('---'): an inventory is a single document"
                )
            continue
        elif kind is StreamEndEvent or event is None:
            return root
        else:  # stream start, document end
            continue
        if items is not None:
            items.append(node)
        else:
            root = node


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (as it was before, after it).

    Loading makes tens of thousands of acyclic, short-lived nodes and then
    the long-lived models; the collector would rescan all of them each time a
    few hundred more are made, for nothing to collect.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def compose(text: str, file: str) -> Node | None:
    """The root node of ``text``'s single document (``None`` for an empty stream)."""
    loader = None
    try:
        with collector_paused():
            # Inside the try: the pure-Python loader reads (and may refuse) the text at once.
            loader = _LOADER(text)
            return _compose_events(loader.get_event, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or str(exc)
        raise InventoryError([Problem(file, line, "", f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([Problem(file, 0, "", f"YAML error: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
