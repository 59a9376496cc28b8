"""The spec-hash key on a full state dir: no temp file left behind, and no second message.

A 16 KiB tmpfs (the suite runs as root, as tests/e2e/test_fault_disk.py
does), filled to the last byte, is a real full disk: creating the temp file
still works (an inode), writing its 65 bytes does not.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobtui.backend.contract import LockOwner
from jobtui.backend.coordination.local import LocalCoordinator
from jobtui.backend.deploy.deployer import Deployer
from jobtui.backend.deploy.spec_key import KEY_FILE, SpecKeyNotMade, load_spec_key
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
def full_dir(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs with no byte left; unmounted after the test whatever happened."""
    where = tmp_path / "state"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(where)], check=True)
    try:
        fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    os.write(fd, b"\0" * 4096)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
        finally:
            os.close(fd)
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_full_state_dir_leaves_no_temp_file_and_says_why(full_dir: Path) -> None:
    with pytest.raises(SpecKeyNotMade, match="No space left on device"):
        load_spec_key(full_dir)
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]
    # Room again: the key is made, and only the key file is added.
    (full_dir / "filler").unlink()
    assert len(load_spec_key(full_dir)) == 32
    assert sorted(p.name for p in full_dir.iterdir()) == [KEY_FILE]


@contextlib.contextmanager
def deployer_on(state: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Deployer]:
    monkeypatch.setenv("JOBTUI_STATE_DIR", str(state))
    path = tmp_path / "jobtui.yml"
    path.write_text(INVENTORY)
    inventory = load_inventory(path)
    pool = HostPool(inventory.hosts)
    try:
        yield Deployer(
            inventory, pool, LocalCoordinator(tmp_path / "locks"),
            owner=LockOwner("op", "bastion", 1, 0.0),
        )  # fmt: skip
    finally:
        pool.close()


def test_the_engine_does_not_warn_about_a_key_it_cannot_write(
    full_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The operation's own first write to the full dir (request, lock, journal)
    # fails next with the same reason: that is the one line the operator reads.
    caplog.set_level(logging.DEBUG, logger="jobtui")
    with deployer_on(full_dir, monkeypatch, tmp_path) as deployer:
        assert deployer.hash_key is None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("No space left on device" in r.getMessage() for r in caplog.records)
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]


def test_a_damaged_key_is_still_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing else would say it: the operation goes on with keyless labels.
    state = tmp_path / "state"
    state.mkdir()
    (state / KEY_FILE).write_text("nonsense\n")
    with deployer_on(state, monkeypatch, tmp_path) as deployer:
        assert deployer.hash_key is None
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "holds no key" in warning.getMessage()
