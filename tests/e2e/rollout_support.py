"""Helpers of the rollout e2e tests: deployers on the real stack, and the demo kept as found.

Before a test, :func:`settle` puts every demo service on its inventory
version on each of its hosts (``worker`` on v1 …) if it is not there,
whatever an earlier test or a person left. :class:`DemoGuard` then notes
which container serves each demo service on each host and, afterwards,
whatever happened, starts that one again, stops the others and removes every
container the test's operations created. Test-only services (names starting
``rt-``) are removed entirely.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from jobtui.backend.contract import Coordinator, OpResult, Outcome, StepEvent
from jobtui.backend.coordination.factory import current_owner
from jobtui.backend.coordination.local import LocalCoordinator
from jobtui.backend.deploy.deployer import Deployer
from jobtui.backend.deploy.health import port_answers, service_port
from jobtui.backend.deploy.slots import HostSlots
from jobtui.backend.docker.answers import container_from_api
from jobtui.backend.docker.hosts import HostPool
from jobtui.backend.docker.service_containers import belongs_to
from jobtui.backend.model import LABEL_ROLLOUT, ContainerInfo
from jobtui.backend.registry import RegistryClient
from jobtui.config.loader import load_inventory
from jobtui.config.models import Inventory

TEST_PREFIX = "rt-"
"""Services only these tests create; all their containers go at the end."""


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until truthy or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def answer(port: int) -> str | None:
    """What the demo web image says on ``port`` (``web v1`` …), ``None`` if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return str(response.read().decode().strip())
    except OSError:
        return None


def write_inventory(
    source: Path,
    target_dir: Path,
    changes: dict[str, dict[str, Any]] | None = None,
    extra: Iterable[dict[str, Any]] = (),
) -> Inventory:
    """The stack's inventory with some services' keys changed and test services added."""
    data = yaml.safe_load(source.read_text())
    for service in data["services"]:
        service.update((changes or {}).get(service["name"], {}))
    data["services"].extend(extra)
    path = target_dir / "jobtui.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_inventory(path)


@dataclass
class Run:
    """A deployer on the real stack and everything it reported."""

    deployer: Deployer
    coordinator: Coordinator
    events: list[StepEvent] = field(default_factory=list)

    def steps(self, op_id: str, host: str | None = None) -> list[tuple[str, str, str]]:
        """``(host, step, status)`` of one operation, in the order they happened."""
        return [
            (e.host, e.step, e.status.value)
            for e in self.events
            if e.op_id == op_id and (host is None or e.host == host)
        ]


def settle(
    inventory: Inventory, pool: HostPool, state_dir: Path, registry: RegistryClient | None
) -> None:
    """Deploy, with a deployer of its own, each service whose plan is not a no-op."""
    deployer = Deployer(
        inventory, pool, LocalCoordinator(state_dir), owner=current_owner(), registry=registry
    )
    for service in inventory.services:
        if deployer.plan(service.name).changes:
            result = deployer.deploy(service.name)
            assert result.outcome is Outcome.DONE, f"{service.name} not put back first: {result}"


class DemoGuard:
    """Keeps the shared demo as a test found it (see the module doc)."""

    def __init__(self, inventory: Inventory, pool: HostPool) -> None:
        self.inventory, self.pool = inventory, pool
        self.op_ids: set[str] = set()
        self._lock = threading.Lock()
        self.serving: dict[tuple[str, str], str] = {}
        for service in inventory.services:
            for host in service.run_on_host:
                running = [c for c in self.containers(host, service.name) if c.running]
                if running:
                    self.serving[(service.name, host)] = running[0].id

    def containers(self, host: str, service: str) -> list[ContainerInfo]:
        rows = self.pool[host].client.api.containers(all=True)
        found = (container_from_api(row, host) for row in rows)
        return [c for c in found if belongs_to(c, service)]

    def note(self, event: StepEvent) -> None:
        with self._lock:
            self.op_ids.add(event.op_id)

    def restore(self) -> None:
        """Start what served before, stop the rest, remove what the test created."""
        for service in self.inventory.services:
            for host in service.run_on_host:
                api = self.pool[host].client.api
                keep = self.serving.get((service.name, host))
                for container in self.containers(host, service.name):
                    ours = container.labels.get(LABEL_ROLLOUT) in self.op_ids
                    test_only = service.name.startswith(TEST_PREFIX)
                    if container.id == keep:
                        if not container.running:
                            api.start(container.id)
                    elif test_only or ours:
                        api.remove_container(container.id, force=True)
                    elif container.running and keep is not None:
                        api.stop(container.id, timeout=5)
                port = service_port(service)
                if keep is not None and port is not None:
                    # The next test may ask the port at once: wait until it answers again.
                    check = partial(port_answers, "127.0.0.1", port)
                    wait_for(check, 15, f"{service.name} answering on {port}")

    def assert_restored(self) -> None:
        for (service, host), cid in self.serving.items():
            running = [c.id for c in self.containers(host, service) if c.running]
            assert running == [cid], f"{service}@{host} not as found: {running} != {cid}"


class Rollouts:
    """Builds deployers on the real stack, all guarded by one :class:`DemoGuard`."""

    def __init__(self, stack_inventory: Path, tmp_path: Path) -> None:
        self.stack_inventory, self.tmp_path = stack_inventory, tmp_path
        self.inventory = load_inventory(stack_inventory)
        self.pool = HostPool(self.inventory.hosts)
        self.registry: RegistryClient | None = None
        if self.inventory.registry is not None:
            self.registry = RegistryClient(self.inventory.registry)
        try:
            for name in self.pool:
                self.pool[name].connect()  # ssh:// hosts: starts the forward the guard reads
            settle(self.inventory, self.pool, tmp_path / "settle", self.registry)
            self.guard = DemoGuard(self.inventory, self.pool)
        except BaseException:
            self._close_clients()
            raise
        self._extra_guards: list[DemoGuard] = []

    def port(self, service: str) -> int:
        """Where the demo's ``service`` answers (on the stack's own ports)."""
        port = service_port(self.inventory.service(service))
        assert port is not None, f"{service} has no port"
        return port

    def run(
        self,
        inventory: Inventory | None = None,
        *,
        coordinator: Coordinator | None = None,
        keep: int = 3,
        on_step: Callable[[StepEvent], None] | None = None,
        per_host: int = 2,
    ) -> Run:
        inventory = inventory or self.inventory
        if inventory is not self.inventory:
            guard = DemoGuard(inventory, self.pool)
            guard.serving = {**self.guard.serving, **guard.serving}
            self._extra_guards.append(guard)
        coordinator = coordinator or LocalCoordinator(self.tmp_path / "state")
        events: list[StepEvent] = []

        def listen(event: StepEvent) -> None:
            events.append(event)
            self.guard.note(event)
            for guard in self._extra_guards:
                guard.note(event)
            if on_step is not None:
                on_step(event)

        deployer = Deployer(
            inventory, self.pool, coordinator, owner=current_owner(), registry=self.registry,
            on_step=listen, keep=keep, slots=HostSlots(per_host=per_host),
        )  # fmt: skip
        return Run(deployer, coordinator, events)

    def close(self) -> None:
        try:
            for guard in [*self._extra_guards, self.guard]:
                guard.restore()
            self.guard.assert_restored()
        finally:
            self._close_clients()

    def _close_clients(self) -> None:
        if self.registry is not None:
            self.registry.close()
        self.pool.close()


def timed(action: Callable[[], OpResult]) -> tuple[OpResult, float]:
    start = time.monotonic()
    result = action()
    return result, time.monotonic() - start


class PortWatch:
    """Asks a port every ~50 ms in a thread; records what answered, and the longest gap."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: list[str | None] = []
        self.longest_gap = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PortWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        gap_start: float | None = None
        while not self._stop.is_set():
            said = answer(self.port)
            now = time.monotonic()
            self.seen.append(said)
            if said is None and gap_start is None:
                gap_start = now
            elif said is not None and gap_start is not None:
                self.longest_gap = max(self.longest_gap, now - gap_start)
                gap_start = None
            self._stop.wait(0.05)
        if gap_start is not None:
            self.longest_gap = max(self.longest_gap, time.monotonic() - gap_start)

    @property
    def answers(self) -> set[str | None]:
        return set(self.seen)
