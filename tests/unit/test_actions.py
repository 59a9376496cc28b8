"""The key registry: one source for bindings, help, palette and the README's keys table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from jobtui.app.actions import (
    KEYS,
    MUTATING_ACTIONS,
    SECTIONS,
    Scope,
    help_sections,
    keys_of,
    markdown,
    palette_keys,
)

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- keys:start -->\n", "<!-- keys:end -->"


def test_the_readme_holds_exactly_the_generated_keys_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    between = text.split(START, 1)[1].split(END, 1)[0]
    assert between == markdown(), (
        "README.md's keys table differs from app/actions.py: paste the output of "
        "`python -m jobtui.app.actions --markdown` between the keys markers"
    )


def test_the_module_prints_the_table_without_loading_textual() -> None:
    code = (
        "import runpy, sys\n"
        "sys.argv = ['actions', '--markdown']\n"
        "try:\n"
        "    runpy.run_module('jobtui.app.actions', run_name='__main__')\n"
        "except SystemExit as end:\n"
        "    assert end.code == 0, end.code\n"
        "print('textual loaded' if 'textual' in sys.modules else '', file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == markdown()
    assert "textual loaded" not in result.stderr


def test_no_screen_binds_one_key_twice() -> None:
    for scope in Scope:
        keys = [name for key in keys_of(scope) for name in key.key.split(",")]
        assert len(keys) == len(set(keys)), scope


def test_every_bound_key_names_an_action_and_a_footer_word() -> None:
    for key in KEYS:
        assert key.section in SECTIONS, key
        assert key.help, key
        if key.bound:
            assert key.action and key.label, key
            assert re.fullmatch(r"[\w.]+(\(.*\))?", key.action), key


def test_the_mutating_actions_are_the_deploy_keys() -> None:
    assert sorted(MUTATING_ACTIONS) == ["restart", "rollback", "start", "stop", "update"]
    for key in KEYS:
        if key.mutating:
            # The main and the service screen both offer them, and so does the palette.
            assert set(key.screens) == {Scope.MAIN, Scope.SERVICE}, key
            assert key.palette.endswith("{service}"), key


def test_help_lists_every_documented_key_once_by_section() -> None:
    rows = [row for _, keys in help_sections() for row in keys]
    documented = [k for k in KEYS if k.section.documented]
    assert len(rows) == len(documented)
    (first, _), *_ = help_sections()
    assert first.title == "Everywhere"
    assert ("enter", "hosts panel: open the hosts screen on that host") in rows


def test_the_palette_commands_are_named_once() -> None:
    texts = [key.palette for key in palette_keys()]
    assert len(texts) == len(set(texts))
    assert "update {service}" in texts and "quit" in texts
