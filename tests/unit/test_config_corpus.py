"""The corpus of bad inventories: each file names its exact problems, line and key.

Every file in ``tests/fixtures/bad/`` starts with one comment per expected
problem::

    # expect: LINE: KEY: TEXT

and the loader must report problems at exactly those (line, key) pairs, with
a message containing each TEXT. KEY is empty for problems of the whole file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobtui.config.errors import InventoryError
from jobtui.config.loader import load_inventory

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
FILES = sorted(BAD.glob("*.yml"))
PREFIX = b"# expect: "


def expectations(path: Path) -> list[tuple[int, str, str]]:
    found = []
    for raw in path.read_bytes().splitlines():
        if not raw.startswith(PREFIX):
            break
        line, key, text = raw[len(PREFIX) :].decode("utf-8").split(": ", 2)
        found.append((int(line), key, text))
    return found


def test_the_corpus_is_large_enough() -> None:
    assert len(FILES) >= 60
    assert all(expectations(path) for path in FILES)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_bad_inventory_reports_its_line_and_key(path: Path) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(path, environ={})
    reported: dict[tuple[int, str], list[str]] = {}
    for problem in info.value.problems:
        reported.setdefault((problem.line, problem.key), []).append(problem.message)
    expected = expectations(path)
    assert sorted(reported) == sorted({(line, key) for line, key, _ in expected}), "\n".join(
        str(p) for p in info.value.problems
    )
    for line, key, text in expected:
        messages = reported[(line, key)]
        assert any(text in message for message in messages), f"{line}: {key}: {messages}"
