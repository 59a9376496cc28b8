"""EtcdCoordinator against the stack's real etcd, each test under its own prefix."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from jobtui.backend.contract import Instance, JournalEntry, LockedError, LockOwner, OpKind
from jobtui.backend.coordination import etcd as coordination_etcd
from jobtui.backend.coordination.etcd import EtcdCoordinator
from jobtui.backend.coordination.etcd_import import load_etcd3
from jobtui.backend.coordination.factory import CoordinationError
from jobtui.config.models import EtcdConfig

if TYPE_CHECKING:
    from conftest import Stack

# A deployer in another process: takes `web`'s lock with a 2 s lease and
# waits to be killed, as a crashed jobtui would leave it.
CRASHING_HOLDER = textwrap.dedent(
    """
    import sys
    from jobtui.backend.coordination.factory import current_owner
    from jobtui.backend.coordination.etcd import EtcdCoordinator
    from jobtui.config.models import EtcdConfig

    config = EtcdConfig((sys.argv[1],), prefix=sys.argv[2])
    EtcdCoordinator(config).acquire("web", current_owner("deploy web v1 -> v2"), ttl=2)
    print("held", flush=True)
    sys.stdin.read()
    """
)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` until true; the seconds it took. Fails the test at the deadline."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def prefix(stack: Stack) -> Iterator[str]:
    """A fresh key prefix, deleted with everything under it afterwards."""
    name = f"/jobtui-test-{uuid.uuid4().hex}"
    try:
        yield name
    finally:
        raw = raw_client(stack)
        try:
            raw.delete_prefix(name + "/")
        finally:
            raw.close()


@pytest.fixture
def config(stack: Stack, prefix: str) -> EtcdConfig:
    return EtcdConfig((stack.etcd_endpoint,), prefix=prefix)


@pytest.fixture
def coordinators(config: EtcdConfig) -> Iterator[Callable[[], EtcdCoordinator]]:
    """Make separate coordinators (separate etcd clients), all closed afterwards."""
    made: list[EtcdCoordinator] = []

    def make() -> EtcdCoordinator:
        made.append(EtcdCoordinator(config, timeout=3.0))
        return made[-1]

    try:
        yield make
    finally:
        for coordinator in made:
            coordinator.close()


def raw_client(stack: Stack) -> Any:
    host, _, port = stack.etcd_endpoint.rpartition(":")
    return load_etcd3().client(host, int(port), timeout=5)


def owner(user: str, pid: int) -> LockOwner:
    return LockOwner(user=user, host="bastion", pid=pid, since=time.time(), op="deploy web")


def test_lock_is_exclusive_across_clients_and_names_the_holder(
    coordinators: Callable[[], EtcdCoordinator], stack: Stack, prefix: str
) -> None:
    first, second = coordinators(), coordinators()
    alice, bob = owner("alice", 101), owner("bob", 202)
    lock = first.acquire("web", alice, ttl=30)
    with pytest.raises(LockedError) as refused:
        second.acquire("web", bob)
    assert refused.value.holder == alice
    assert "alice@bastion pid 101" in str(refused.value)
    assert second.holder("web") == alice
    second.acquire("api", bob).release()  # other services are independent

    raw = raw_client(stack)
    try:
        value, meta = raw.get(f"{prefix}/locks/web")
        assert json.loads(value)["user"] == "alice"
        assert meta.lease_id == lock.lease_id
    finally:
        raw.close()

    lock.refresh()
    lock.release()
    lock.release()  # idempotent
    assert second.holder("web") is None
    second.acquire("web", bob).release()


def test_a_crashed_holders_lock_expires_with_its_lease(
    coordinators: Callable[[], EtcdCoordinator], stack: Stack, prefix: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", CRASHING_HOLDER, stack.etcd_endpoint, prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        other = coordinators()
        with pytest.raises(LockedError) as refused:
            other.acquire("web", owner("bob", 202))
        assert refused.value.holder is not None and refused.value.holder.pid == holder.pid

        def taken() -> bool:
            try:
                other.acquire("web", owner("bob", 202), ttl=30).release()
            except LockedError:
                return False
            return True

        waited = wait_for(taken, 10.0, "the dead holder's lock expiring")
        assert waited < 6.0
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=10)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()


def test_an_expired_lock_refuses_refresh_and_release_spares_the_new_holder(
    coordinators: Callable[[], EtcdCoordinator],
) -> None:
    first, second = coordinators(), coordinators()
    stale = first.acquire("web", owner("alice", 101), ttl=2)
    wait_for(lambda: second.holder("web") is None, 10.0, "the lease expiring")
    with pytest.raises(CoordinationError, match="expired"):
        stale.refresh()
    bob = owner("bob", 202)
    fresh = second.acquire("web", bob, ttl=30)
    stale.release()  # must not delete bob's lock
    assert second.holder("web") == bob
    fresh.release()


def test_instances_are_json_keys_a_confd_template_can_read(
    coordinators: Callable[[], EtcdCoordinator], stack: Stack, prefix: str
) -> None:
    coordinator = coordinators()
    a = Instance("worker", "host-a", "127.0.0.1", None, "worker_1700000000", "v1")
    b = Instance("worker", "host-b", "127.0.0.1", None, "worker_1700000001", "v1")
    web = Instance("web", "host-a", "127.0.0.1", 18080, "web_1700000002", "v2")
    for instance in (b, a, web):
        coordinator.register(instance)
    assert list(coordinator.instances("worker")) == [a, b]
    assert list(coordinator.instances("web")) == [web]
    assert list(coordinator.instances("we")) == []  # a prefix of a name is not the name

    raw = raw_client(stack)
    try:
        value, _meta = raw.get(f"{prefix}/services/web/host-a")
        data = json.loads(value)
        assert set(data) == {"address", "port", "container", "version", "updated"}
        assert (data["address"], data["port"], data["version"]) == ("127.0.0.1", 18080, "v2")
        assert abs(data["updated"] - time.time()) < 60

        coordinator.deregister("worker", "host-a")
        keys = sorted(m.key.decode() for _v, m in raw.get_prefix(f"{prefix}/services/"))
        assert keys == [f"{prefix}/services/web/host-a", f"{prefix}/services/worker/host-b"]
    finally:
        raw.close()
    coordinator.deregister("worker", "host-a")  # already gone: no error
    assert list(coordinator.instances("worker")) == [b]


def test_journal_newest_first_filtered_and_paged(
    coordinators: Callable[[], EtcdCoordinator],
    stack: Stack,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(coordination_etcd, "JOURNAL_PAGE", 2)  # filtering crosses pages
    coordinator = coordinators()
    base = time.time()
    written = [
        JournalEntry(
            f"op{n // 2}",
            OpKind.DEPLOY,
            "web" if n % 4 < 2 else "api",
            "alice",
            ("host-a",),
            "v1",
            "v2",
            "started" if n % 2 == 0 else "done",
            base + n,
            0.0 if n % 2 == 0 else 1.0,
        )
        for n in range(9)
    ]
    for item in written:
        coordinator.record(item)
    assert list(coordinator.journal()) == written[::-1]
    web = [e for e in written[::-1] if e.service == "web"]
    assert list(coordinator.journal("web")) == web
    assert list(coordinator.journal("web", limit=3)) == web[:3]
    assert list(coordinator.journal("nothing")) == []

    raw = raw_client(stack)
    try:
        keys = [m.key.decode() for _v, m in raw.get_prefix(f"{prefix}/journal/")]
    finally:
        raw.close()
    assert len(keys) == 9
    assert all(re.fullmatch(rf"{prefix}/journal/\d{{20}}-op\d-(started|done)", k) for k in keys)


def test_an_unreachable_etcd_fails_fast_with_a_clear_error(stack: Stack) -> None:
    coordinator = EtcdCoordinator(EtcdConfig(("127.0.0.1:1",)), timeout=2.0)
    calls: list[Callable[[], object]] = [
        lambda: coordinator.acquire("web", owner("alice", 101)),
        lambda: coordinator.holder("web"),
        lambda: coordinator.journal(),
        lambda: coordinator.register(Instance("web", "host-a", "127.0.0.1", 1, "c", "v1")),
    ]
    try:
        for call in calls:
            start = time.monotonic()
            with pytest.raises(CoordinationError, match=r"etcd cannot be reached: 127\.0\.0\.1:1"):
                call()
            assert time.monotonic() - start < 3.0
    finally:
        coordinator.close()

    # With a second endpoint that answers, the dead one is skipped.
    failover = EtcdCoordinator(EtcdConfig(("127.0.0.1:1", stack.etcd_endpoint)), timeout=2.0)
    try:
        assert failover.holder(f"jobtui-test-{uuid.uuid4().hex}") is None
        assert failover.endpoint == stack.etcd_endpoint
    finally:
        failover.close()
