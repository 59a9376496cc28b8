"""Read-only: ``--read-only``, and an inventory's ``read_only: true`` that only an explicit
``--read-write`` lifts (and that the engine is told about, for the journal)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest

from jobtui.app.cli import _read_only, main
from jobtui.backend.contract import LockOwner, Outcome
from jobtui.backend.coordination.local import LocalCoordinator
from jobtui.backend.deploy.deployer import Deployer
from jobtui.backend.docker.hosts import HostPool
from jobtui.config.loader import load_inventory

INVENTORY = """\
hosts:
  h1: unix:///nonexistent/h1.sock
services:
  - name: web
    image: reg.lan:5000/web:v1
    run_on_host: h1
"""


@pytest.fixture
def inventory_file(tmp_path: Path) -> Path:
    path = tmp_path / "jobtui.yml"
    path.write_text(INVENTORY)
    return path


@pytest.mark.parametrize("verb", ["deploy", "rollback", "start", "stop", "restart"])
def test_read_only_refuses_every_mutating_verb_before_any_host_is_asked(
    inventory_file: Path, verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-i", str(inventory_file), "--read-only", verb, "web", "--yes"]) == 2
    assert capsys.readouterr().err == f"jobtui: {verb} refused: read-only (--read-only)\n"


def test_read_only_and_read_write_together_are_a_usage_error(
    inventory_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-i", str(inventory_file), "--read-only", "--read-write", "stop", "web"]) == 2
    assert "contradict" in capsys.readouterr().err


def _args(*, read_only: bool = False, read_write: bool = False) -> argparse.Namespace:
    return argparse.Namespace(read_only=read_only, read_write=read_write)


def test_an_inventorys_read_only_is_lifted_only_by_read_write_and_remembered() -> None:
    pinned = SimpleNamespace(read_only=True, source=Path("/etc/jobtui/prod.yml"))
    args = _args()
    assert _read_only(args, pinned) == (  # type: ignore[arg-type]
        True,
        "read-only: prod.yml says read_only: true (pass --read-write to lift it for this run)",
    )
    assert args.read_write_lifted is False
    lifted = _args(read_write=True)
    assert _read_only(lifted, pinned) == (False, "")  # type: ignore[arg-type]
    assert lifted.read_write_lifted is True
    free = SimpleNamespace(read_only=False, source=Path("x.yml"))
    plain = _args(read_write=True)
    assert _read_only(plain, free) == (False, "")  # type: ignore[arg-type]
    assert plain.read_write_lifted is False  # nothing was lifted


def test_a_read_only_engine_changes_nothing_whoever_calls_it(
    inventory_file: Path, tmp_path: Path
) -> None:
    inventory = load_inventory(inventory_file)
    pool = HostPool(inventory.hosts)
    deployer = Deployer(
        inventory, pool, LocalCoordinator(tmp_path / "state"),
        owner=LockOwner("op", "bastion", 1, 0.0), read_only=True, hash_key=b"k" * 32,
    )  # fmt: skip
    try:
        for result in (deployer.deploy("web"), deployer.stop("web"), deployer.restart("web")):
            assert result.outcome is Outcome.FAILED
            assert result.message == "read-only: nothing may be changed"
        assert not (tmp_path / "state" / "journal.jsonl").exists()
    finally:
        pool.close()


def test_the_inventory_key_pins_read_only_until_read_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "prod.yml"
    inventory.write_text(
        'read_only: true\nhosts: {a: "unix:///nonexistent.sock"}\n'
        'services:\n  - {name: web, image: "r/web:1", run_on_host: a}\n'
    )
    assert main(["-i", str(inventory), "deploy", "web", "-y"]) == 2
    assert "prod.yml says read_only: true" in capsys.readouterr().err
