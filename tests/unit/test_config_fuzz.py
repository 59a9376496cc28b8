"""Random mutations of the example inventories: the loader's own error or a plan, fast.

Every mutation either loads or raises ``InventoryError`` (never another
exception), within a second; what loads goes through the pure plan (spec,
hash, per-host plan and its text) without an exception, and its host URLs
print back to what they parse from.

CI runs a fast profile (200 examples per test); set JOBTUI_HYPOTHESIS_LONG=1
for a long run (5,000 each).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from jobtui.backend.deploy.plan import plan_service, render_plan
from jobtui.backend.docker.spec import desired_spec, spec_hash
from jobtui.backend.model import ContainerInfo, FleetSnapshot, HostState, HostStatus
from jobtui.config.errors import InventoryError
from jobtui.config.grammar import parse_host_url
from jobtui.config.loader import parse_inventory
from jobtui.config.models import Inventory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOURCES = {name: (EXAMPLES / name).read_text() for name in ("seed.yml", "full.yml")}
LONG = os.environ.get("JOBTUI_HYPOTHESIS_LONG") == "1"
FUZZ = settings(
    max_examples=5000 if LONG else 200,
    deadline=1000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENVIRON = MappingProxyType({"HOME": "/root", "REG_PW": "x"})
SECOND = 1.0

# What breaks YAML or a grammar: structure, tags, YAML 1.1 surprises, huge and
# non-ASCII numbers, control characters, ssh options, reserved names.
TOKENS = [
    "&a ", "*a", "&b [*a, *a, *a]", "!!int ", "!!float ", "!!bool ", "!!str ", "!!binary ",
    "!!python/object:os.system ", "!custom ", "[", "]", "{", "}", ": ", "- ", "? ", ",", "\n",
    "\n  ", "\t", "#", "'", '"', "~", "null", "yes", "no", "on", "0755", "0x1F", "1:30",
    "2001-12-14", ".inf", "-.inf", ".nan", "-1", "0", "1e-300", "9" * 5000, "1" * 400 + "m",
    "\x00", "\x07", "\x85", "\u2028", "\ufeff", "é", "٨٠", "²", "%", "@", "../", "/..",
    "-oProxyCommand=x", "jobtui.", "=", ":", "::", "---\n", "...\n", "<<: ", "\\ud800",
    "[::1]", "unix://", "tcp://h:99999", "ssh://-x@h", "http://u:p@h", "CMD", "NONE", "100%",
    "secret: true", "value_env: HOME", "value_env: NOT_SET", "ssh: {options: [BatchMode=no]}",
]  # fmt: skip
NASTY = st.one_of(
    st.sampled_from(TOKENS),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)


def load(text: str) -> Inventory | None:
    """The inventory or ``None`` for the loader's own error; anything else fails the test."""
    start = time.perf_counter()
    try:
        return parse_inventory(text, file="fuzz.yml", environ=ENVIRON)
    except InventoryError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
        return None
    finally:
        assert time.perf_counter() - start < SECOND


def plan_everything(inventory: Inventory) -> None:
    for name, host in inventory.hosts.items():
        assert parse_host_url(str(host.endpoint)) == host.endpoint, name
    for service in inventory.services:
        spec = desired_spec(service)
        digest = spec_hash(spec)
        running = {
            name: HostState(
                name,
                inventory.hosts[name].url,
                HostStatus.UP,
                containers=(
                    ContainerInfo(
                        id=f"{name}-1",
                        name=f"/{service.name}_1700000000",
                        host=name,
                        image=service.image,
                        state="running",
                        created=1.0,
                        labels=MappingProxyType(
                            {
                                "jobtui.service": service.name,
                                "jobtui.version": service.tag,
                                "jobtui.spec-hash": digest,
                            }
                        ),
                    ),
                ),
            )
            for name in service.run_on_host
        }
        for fleet, observed in (
            (FleetSnapshot(MappingProxyType({})), {}),
            (FleetSnapshot(MappingProxyType(running)), {}),
            (FleetSnapshot(MappingProxyType(running)), {f"{h}-1": spec for h in running}),
        ):
            render_plan(plan_service(service, fleet, observed))
            render_plan(plan_service(service, fleet, observed, version="v2"))


@st.composite
def text_mutation(draw: st.DrawFn) -> str:
    text = SOURCES[draw(st.sampled_from(sorted(SOURCES)))]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "line", "indent"]))
        if op == "insert":
            text = text[:at] + draw(NASTY.map(str)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=40)) :]
        elif op == "replace":
            end = at + draw(st.integers(min_value=1, max_value=12))
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[end:]
        else:
            lines = text.split("\n")
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            if op == "line":
                lines.insert(draw(st.integers(0, len(lines))), lines[index])
            else:
                lines[index] = " " * draw(st.integers(0, 6)) + lines[index].lstrip()
            text = "\n".join(lines)
    return text


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@st.composite
def value_mutation(draw: st.DrawFn) -> str:
    document = yaml.safe_load(SOURCES[draw(st.sampled_from(sorted(SOURCES)))])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        op = draw(st.sampled_from(["set", "drop", "wrap", "add"]))
        if op == "set":
            parent[path[-1]] = draw(NASTY)
        elif op == "drop":
            del parent[path[-1]]
        elif op == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(TOKENS))] = draw(NASTY)
        else:
            parent.append(draw(NASTY))
    return yaml.safe_dump(document, allow_unicode=draw(st.booleans()))


@FUZZ
@given(text_mutation())
def test_text_mutations_load_or_fail_cleanly(text: str) -> None:
    inventory = load(text)
    if inventory is not None:
        plan_everything(inventory)


@FUZZ
@given(value_mutation())
def test_value_mutations_load_or_fail_cleanly(text: str) -> None:
    inventory = load(text)
    if inventory is not None:
        plan_everything(inventory)


def test_the_examples_themselves_plan() -> None:
    for text in SOURCES.values():
        inventory = load(text)
        assert inventory is not None
        plan_everything(inventory)
