"""backend/ as rooms: front doors only, imports pointing down, small modules, one error family."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"

# Highest first: a room may import only rooms listed after it (ARCHITECTURE.md).
ROOMS = ("deploy", "ops", "observe", "metrics", "logs", "coordination", "docker")
MAX_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for folder in ("app", "widgets", "backend", "config")
                  for p in (ROOT / folder).rglob("*.py"))  # fmt: skip


def _room_of(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "backend" and len(parts) > 2 and parts[1] in ROOMS:
        return parts[1]
    return None


def _backend_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, m) for line, m in found if m.startswith("jobtui.backend.")]


def test_rooms_are_entered_through_their_front_doors() -> None:
    wrong = []
    for path in _modules():
        mine = _room_of(path)
        for line, module in _backend_imports(path):
            parts = module.split(".")
            if len(parts) > 3 and parts[2] in ROOMS and parts[2] != mine:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert wrong == []


def test_rooms_import_only_rooms_below_them() -> None:
    upward = []
    for path in _modules():
        mine = _room_of(path)
        if mine is None:
            continue
        for line, module in _backend_imports(path):
            other = module.split(".")[2]
            if other in ROOMS and ROOMS.index(other) < ROOMS.index(mine):
                upward.append(f"{path.relative_to(ROOT)}:{line}: {mine} -> {other}")
    assert upward == []


@pytest.mark.parametrize("room", ROOMS)
def test_each_door_offers_what_it_declares(room: str) -> None:
    door = importlib.import_module(f"jobtui.backend.{room}")
    tree = ast.parse((BACKEND / room / "__init__.py").read_text())
    typed = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith(f"jobtui.backend.{room}.")
        for alias in node.names
    }
    assert typed == set(door.__all__)
    for name in door.__all__:
        assert getattr(door, name) is not None
    with pytest.raises(AttributeError):
        _ = door.no_such_name


def test_no_module_is_over_the_size_limit() -> None:
    big = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]
    assert big == []


def test_backend_has_only_a_handful_of_top_level_modules() -> None:
    top = sorted(p.name for p in BACKEND.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 6, top


def test_every_engine_error_is_a_jobtui_error() -> None:
    # The app shows JobtuiError's message; a bare Exception subclass would
    # reach the operator as a class name.
    stray = []
    for path in _modules():
        if path.relative_to(ROOT).parts[0] not in ("backend", "config"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = isinstance(node, ast.ClassDef) and not node.name.startswith("_")
            if named and node.name != "JobtuiError":
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                if bases & {"Exception", "ImportError", "RuntimeError", "ValueError"} and not (
                    bases & {"JobtuiError"}
                ):
                    stray.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}")
    assert stray == []
