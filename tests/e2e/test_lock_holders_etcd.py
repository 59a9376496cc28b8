"""EtcdCoordinator.holders() on the stack's etcd: every held lock in one range read."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from jobtui.backend.contract import LockOwner
from jobtui.backend.coordination.etcd import EtcdCoordinator
from jobtui.backend.coordination.etcd_import import load_etcd3
from jobtui.config.models import EtcdConfig

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture
def coordinator(stack: Stack) -> Iterator[EtcdCoordinator]:
    """A coordinator under a fresh prefix; the prefix is deleted afterwards."""
    prefix = f"/jobtui-test-{uuid.uuid4().hex}"
    made = EtcdCoordinator(EtcdConfig((stack.etcd_endpoint,), prefix=prefix), timeout=3.0)
    host, _, port = stack.etcd_endpoint.rpartition(":")
    raw = load_etcd3().client(host, int(port), timeout=5)
    try:
        yield made
    finally:
        made.close()
        try:
            raw.delete_prefix(prefix + "/")
        finally:
            raw.close()


def owner(user: str, op: str) -> LockOwner:
    return LockOwner(user=user, host="bastion", pid=4242, since=round(time.time(), 3), op=op)


def test_holders_reads_every_lock_in_one_question(
    coordinator: EtcdCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert coordinator.holders() == {}
    alice, bob = owner("alice", "deploy web v1 -> v2"), owner("bob", "restart api")
    web = coordinator.acquire("web", alice, ttl=30)
    api = coordinator.acquire("api", bob, ttl=30)
    coordinator.acquire("worker", alice, ttl=30).release()
    questions: list[str] = []
    real_call = coordinator._call

    def counted(what: str, action: Callable[[Any], Any]) -> Any:
        questions.append(what)
        return real_call(what, action)

    monkeypatch.setattr(coordinator, "_call", counted)
    held = coordinator.holders()
    assert held == {"web": alice, "api": bob}
    assert questions == ["read the locks"]  # one range read, however many services
    monkeypatch.undo()
    api.release()
    assert coordinator.holders() == {"web": alice}  # as holder() says of each
    assert coordinator.holder("api") is None and coordinator.holder("web") == alice
    web.release()
    assert coordinator.holders() == {}
