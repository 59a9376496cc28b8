"""`jobtui validate` and inventory errors on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobtui.app.cli import EXIT_OK, EXIT_USAGE, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_validate_accepts_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("seed.yml", "full.yml"):
        assert main(["validate", str(EXAMPLES / name)]) == EXIT_OK
        assert "valid (" in capsys.readouterr().out


def test_validate_lists_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("- name: web\n  image: web:1\n  run_on_host: h\n  port: x\n- name: web\n")
    assert main(["validate", str(bad)]) == EXIT_USAGE
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{bad}:4: [0].port: 'x' is not a port number (1-65535)"
    assert out[1].startswith(f"{bad}:5: [1].image: missing required key")
    assert out[-1] == f"{bad}: invalid (3 problems)"


def test_other_verbs_refuse_an_invalid_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("services: 3\n")
    assert main(["-i", str(bad), "status"]) == EXIT_USAGE
    assert "bad.yml:1: services: expected a list" in capsys.readouterr().err


def test_inventory_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBTUI_INVENTORY", str(EXAMPLES / "seed.yml"))
    assert main(["validate"]) == EXIT_OK
    assert "seed.yml: valid (1 service on 1 host)" in capsys.readouterr().out


def test_console_script_help_for_each_verb() -> None:
    jobtui = Path(sys.executable).with_name("jobtui")
    for verb in ([], ["validate"], ["status"], ["tags"]):
        result = subprocess.run([str(jobtui), *verb, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "usage: jobtui" in result.stdout


def test_validate_refuses_what_is_not_a_file_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero", str(tmp_path)):
        assert main(["validate", path]) == EXIT_USAGE
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith(f"{path}: cannot read the file: it is a ")
        assert out[-1] == f"{path}: invalid (1 problem)"
    assert main(["-i", "/dev/zero", "status"]) == EXIT_USAGE
    assert "/dev/zero: cannot read the file" in capsys.readouterr().err


def test_validate_shows_hostile_values_escaped_and_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        '- name: "web\\e[2J' + "x" * 300 + '"\n  image: web:1\n  run_on_host: "-oProxyCommand=x"\n'
    )
    assert main(["validate", str(bad)]) == EXIT_USAGE
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{bad}:1: [0].name: 'web\\x1b[2Jxx")
    assert "\x1b" not in out[0] and len(out[0]) - len(str(bad)) < 200
    assert out[1].startswith(f"{bad}:3: [0].run_on_host: '-oProxyCommand=x' is not a valid name")
