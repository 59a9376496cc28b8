"""Choosing a coordinator, the lock owner, stored JSON shapes and `jobtui history` lines."""

from __future__ import annotations

import calendar
import os
import socket
import time
from pathlib import Path

import pytest

from jobtui.backend.contract import Instance, JournalEntry, LockOwner, OpKind
from jobtui.backend.coordination.etcd import EtcdCoordinator, parse_endpoint
from jobtui.backend.coordination.factory import (
    CoordinationError,
    current_owner,
    default_state_dir,
    entry_from_json,
    entry_to_json,
    format_journal,
    instance_from_json,
    instance_to_json,
    make_coordinator,
    owner_from_json,
    owner_to_json,
)
from jobtui.backend.coordination.local import LocalCoordinator
from jobtui.backend.times import format_duration
from jobtui.config.models import EtcdConfig, Inventory


def inventory(etcd: EtcdConfig | None) -> Inventory:
    return Inventory(source=Path("jobtui.yml"), services=(), hosts={}, etcd=etcd)


def test_owner_is_the_sudo_user_when_run_under_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("USER", "root")
    before = time.time()
    owner = current_owner("deploy web v1 -> v2")
    assert owner.user == "alice"
    assert owner.host == socket.gethostname()
    assert owner.pid == os.getpid()
    assert before <= owner.since <= time.time()
    assert owner.op == "deploy web v1 -> v2"


def test_owner_is_the_login_user_without_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUDO_USER", raising=False)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "carol")
    assert current_owner().user == "carol"
    assert current_owner().op == ""


def test_make_coordinator_uses_etcd_when_configured(tmp_path: Path) -> None:
    coordinator = make_coordinator(inventory(EtcdConfig(("127.0.0.1:1",))), state_dir=tmp_path)
    try:
        # Building it does not connect: an unreachable etcd fails the first call.
        assert isinstance(coordinator, EtcdCoordinator)
    finally:
        coordinator.close()


def test_make_coordinator_falls_back_to_local_files(tmp_path: Path) -> None:
    coordinator = make_coordinator(inventory(None), state_dir=tmp_path / "state")
    assert isinstance(coordinator, LocalCoordinator)
    assert coordinator.state_dir == tmp_path / "state"
    assert (tmp_path / "state" / "locks").is_dir()


def test_default_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JOBTUI_STATE_DIR", str(tmp_path))
    assert default_state_dir() == tmp_path
    monkeypatch.delenv("JOBTUI_STATE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "jobtui"


def test_etcd_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBTUI_TEST_ETCD_PW", raising=False)
    config = EtcdConfig(("127.0.0.1:1",), username="ops", password_env="JOBTUI_TEST_ETCD_PW")
    with pytest.raises(CoordinationError, match="JOBTUI_TEST_ETCD_PW, which is not set"):
        EtcdCoordinator(config)
    with pytest.raises(CoordinationError, match="password_env is not"):
        EtcdCoordinator(EtcdConfig(("127.0.0.1:1",), username="ops"))


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("127.0.0.1:42379", ("127.0.0.1", 42379)),
        ("http://etcd-1:2379/", ("etcd-1", 2379)),
        ("etcd-2", ("etcd-2", 2379)),
        ("[::1]:2380", ("::1", 2380)),
    ],
)
def test_parse_endpoint(endpoint: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(endpoint) == expected


@pytest.mark.parametrize("endpoint", ["etcd:port", "etcd:0", ":2379"])
def test_parse_endpoint_refuses_nonsense(endpoint: str) -> None:
    with pytest.raises(CoordinationError, match="not host:port"):
        parse_endpoint(endpoint)


def test_stored_shapes_round_trip() -> None:
    owner = LockOwner("alice", "bastion", 12, 1_700_000_000.25, "deploy web v1 -> v2")
    assert owner_from_json(owner_to_json(owner)) == owner
    assert owner_from_json("not json") is None
    assert owner_from_json('{"user": "x"}') is None

    record = JournalEntry(
        "op1", OpKind.ROLLBACK, "web", "alice", ("host-a",), "v2", None, "done", 5.0, 1.5, "ok"
    )
    assert entry_from_json(entry_to_json(record)) == record
    assert entry_from_json('{"kind": "dance"}') is None

    instance = Instance("web", "host-a", "127.0.0.1", 18080, "web_1700000000", "v2")
    text = instance_to_json(instance, updated=7.0)
    assert text == (
        '{"address": "127.0.0.1", "container": "web_1700000000", "port": 18080, '
        '"updated": 7.0, "version": "v2"}'
    )
    assert instance_from_json("web", "host-a", text) == instance


def test_format_journal_lines() -> None:
    at = calendar.timegm((2024, 5, 1, 12, 30, 0))  # history shows UTC
    entries = [
        JournalEntry(
            "op2",
            OpKind.DEPLOY,
            "web",
            "alice",
            ("host-a", "host-b"),
            "v1",
            "v2",
            "done",
            at + 60,
            75.0,
        ),
        JournalEntry("op1", OpKind.START, "api", "bob", (), None, None, "started", at),
    ]
    assert format_journal(entries) == [
        "time                     user   kind    service  from -> to  hosts          result   duration",  # noqa: E501
        "2024-05-01 12:31:00 UTC  alice  deploy  web      v1 -> v2    host-a,host-b  done     1m15s",  # noqa: E501
        "2024-05-01 12:30:00 UTC  bob    start   api      - -> -      -              started",
    ]
    assert format_journal([]) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.44, "0.4s"), (12.4, "12s"), (185, "3m05s"), (3720, "1h02m")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_an_etcd_that_never_answers_times_out_instead_of_hanging() -> None:
    # A socket that accepts connections but never speaks: the gRPC handshake stalls.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"127.0.0.1:{silent.getsockname()[1]}"
        coordinator = EtcdCoordinator(EtcdConfig((endpoint,)), timeout=0.5)
        start = time.monotonic()
        try:
            with pytest.raises(CoordinationError, match=f"{endpoint}: etcd connection timeout"):
                coordinator.holder("web")
        finally:
            coordinator.close()
        assert time.monotonic() - start < 3.0
