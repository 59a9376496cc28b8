"""The one place that wires the engine's parts for an inventory.

The TUI, every CLI verb and the tests build their host pool, registry client,
coordinator, deployer, observer, metrics and log source here, so a part is
configured once (timeouts, credentials, ssh settings) and closed once. Parts
are built on first use: ``jobtui status`` never imports etcd, ``jobtui logs``
never builds a deployer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from jobtui.config.models import Host, Inventory

if TYPE_CHECKING:
    from jobtui.app.log_source import DockerLogSource
    from jobtui.backend.contract import Coordinator, StepEvent
    from jobtui.backend.deploy import Deployer
    from jobtui.backend.docker import HostPool
    from jobtui.backend.metrics import MetricsSource
    from jobtui.backend.model import FleetSnapshot
    from jobtui.backend.observe import FleetObserver
    from jobtui.backend.registry import RegistryClient

OPERATION_TIMEOUT = 30.0
"""Seconds one Docker API call may take during an operation (pulls stream within it)."""


class Engine:
    """The engine's parts for one inventory, built lazily, closed together."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        timeout: float = OPERATION_TIMEOUT,
        hosts: Collection[str] | None = None,
    ) -> None:
        self.inventory = inventory
        self.timeout = timeout
        self._hosts = None if hosts is None else set(hosts)
        self._closers: list[Callable[[], object]] = []

    @cached_property
    def pool(self) -> HostPool:
        """One Docker client per host, shared by every part below."""
        from jobtui.backend.docker import HostPool

        hosts = self.inventory.hosts
        if self._hosts is not None:
            hosts = {name: host for name, host in hosts.items() if name in self._hosts}
        pool = HostPool(hosts, timeout=self.timeout)
        self._closers.append(pool.close)
        return pool

    @cached_property
    def registry(self) -> RegistryClient | None:
        from jobtui.backend.registry import RegistryClient

        if self.inventory.registry is None:
            return None
        client = RegistryClient(self.inventory.registry)
        self._closers.append(client.close)
        return client

    @cached_property
    def coordinator(self) -> Coordinator:
        """etcd when the inventory names it, else local files; raises ``JobtuiError``."""
        from jobtui.backend.coordination import make_coordinator

        coordinator = make_coordinator(self.inventory)
        self._closers.append(coordinator.close)
        return coordinator

    def deployer(self, op: str, on_step: Callable[[StepEvent], None] | None = None) -> Deployer:
        """A deployer acting as this operator (``op`` names the verb in lock records)."""
        from jobtui.backend.coordination import current_owner, default_state_dir
        from jobtui.backend.deploy import Deployer, HostSlots

        return Deployer(
            self.inventory,
            self.pool,
            self.coordinator,
            owner=current_owner(op),
            registry=self.registry,
            on_step=on_step,
            # Shared with every runner of this bastion: independent services run
            # at once, but only so many work on one daemon at a time.
            slots=HostSlots(default_state_dir() / "slots"),
        )

    def observer(self) -> FleetObserver:
        from jobtui.backend.observe import FleetObserver

        return FleetObserver(self.pool_hosts(), pool=self.pool)

    def observe_once(self, timeout: float) -> FleetSnapshot:
        """Every host asked once: the fleet when each answered, or ``timeout`` passed.

        A host still connecting then (a hung daemon, a slow ssh hop) is
        reported down with that reason rather than as "connecting".
        """
        from jobtui.backend.model import HostState, HostStatus

        observer = self.observer()
        observer.start(lambda: None)
        try:
            observer.wait_settled(timeout)
            fleet = observer.snapshot()
        finally:
            observer.stop()
        silent = f"no answer within {timeout:g} s (daemon hung or host unreachable)"
        hosts = {
            name: HostState(name, host.url, HostStatus.DOWN, error=host.error or silent)
            if host.status is HostStatus.CONNECTING
            else host
            for name, host in fleet.hosts.items()
        }
        return replace(fleet, hosts=hosts)

    def pool_hosts(self) -> dict[str, Host]:
        """The inventory hosts this engine reaches (all, or the ones asked for)."""
        return {name: self.inventory.hosts[name] for name in self.pool}

    @cached_property
    def metrics(self) -> MetricsSource:
        """Prometheus (cAdvisor's series) when configured, else Docker's stats API."""
        from jobtui.backend.metrics import DockerStatsMetrics, PrometheusMetrics

        source: MetricsSource = (
            PrometheusMetrics(self.inventory.prometheus)
            if self.inventory.prometheus
            else DockerStatsMetrics(self.pool)
        )
        self._closers.append(source.close)
        return source

    def log_source(self) -> DockerLogSource:
        from jobtui.app.log_source import DockerLogSource

        return DockerLogSource(self.pool)

    def close(self) -> None:
        """Close what was built, newest first (the pool, which the others use, last)."""
        while self._closers:
            closer = self._closers.pop()
            closer()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
