"""The rollout executor: deploy, rollback, start, stop and restart a service safely.

Every mutating operation of :class:`Deployer`:

1. takes the service's deploy lock from the :class:`Coordinator` (refused:
   outcome ``LOCKED``, nothing touched) and keeps its lease alive meanwhile;
2. writes a ``started`` journal entry before touching anything, with a short
   op id that labels every container it creates (``jobtui.rollout``);
3. works host by host (:mod:`jobtui.backend.deploy.host`), in batches for
   deploys and rollbacks (:mod:`jobtui.backend.deploy.batches`);
4. writes ``done``, ``failed`` or ``aborted`` with the duration, and releases
   the lock.

Methods block (callers run them in threads) and never raise for operational
failures: the :class:`OpResult` says what happened.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from jobtui.backend.contract import (
    Coordinator,
    HostResult,
    JournalEntry,
    LockOwner,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
    StepStatus,
)
from jobtui.backend.deploy.batches import FleetResult, HostTask, roll
from jobtui.backend.deploy.frame import (
    Operation,
    OperationFailed,
    refused,
    run_operation,
)
from jobtui.backend.deploy.host import FAILURES, OPERATIONAL_ERRORS, HostRollout, Replaced
from jobtui.backend.deploy.lifecycle import restart_service, start_service, stop_service
from jobtui.backend.deploy.plan import ActionKind, ServicePlan, plan_service
from jobtui.backend.deploy.policy import (
    RollbackCandidate,
    RolloutControl,
    order_candidates,
    retained_version,
)
from jobtui.backend.deploy.recovery import JOURNAL_SCAN, run_recovery, unfinished
from jobtui.backend.docker import (
    ContainerSpec,
    HostPool,
    belongs_to,
    container_from_api,
    current_container,
    describe_error,
    list_service_containers,
)
from jobtui.backend.model import FleetSnapshot, HostState, HostStatus, RegistryError
from jobtui.backend.observe import inspect_spec
from jobtui.backend.registry import RegistryClient, repository_in_registry
from jobtui.config.models import Inventory, Service

log = logging.getLogger(__name__)


class Deployer:
    """Carries out mutating operations on the inventory's services (see the module doc)."""

    def __init__(
        self,
        inventory: Inventory,
        pool: HostPool,
        coordinator: Coordinator,
        *,
        owner: LockOwner,
        registry: RegistryClient | None = None,
        on_step: Callable[[StepEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
        keep: int = 3,
        max_parallel_per_host: int = 2,
    ) -> None:
        self.inventory = inventory
        self.pool = pool
        self.coordinator = coordinator
        self.owner = owner
        self.registry = registry
        self.on_step = on_step
        self.clock = clock
        self.keep = keep
        self._slots = {
            name: threading.BoundedSemaphore(max(max_parallel_per_host, 1))
            for name in inventory.hosts
        }
        self._log_drivers: dict[str, str] = {}

    # -- reading -------------------------------------------------------------

    def plan(self, service: str, version: str | None = None) -> ServicePlan:
        """What :meth:`deploy` would do: current containers inspected against the inventory."""
        svc = self.inventory.service(service)
        hosts: dict[str, HostState] = {}
        observed: dict[str, ContainerSpec] = {}
        for name in svc.run_on_host:
            url = self.inventory.hosts[name].url if name in self.inventory.hosts else name
            try:
                api = self.pool[name].client.api
                rows = api.containers(all=True)
                found = tuple(container_from_api(row, name) for row in rows)
                hosts[name] = HostState(name, url, HostStatus.UP, containers=found)
                current = current_container([c for c in found if belongs_to(c, svc.name)])
                if current is not None:
                    observed[current.id] = inspect_spec(api, current.id, self._log_driver(name))
            except KeyError:
                hosts[name] = HostState(name, url, HostStatus.DOWN, error="not a known host")
            except OPERATIONAL_ERRORS as exc:
                hosts[name] = HostState(name, url, HostStatus.DOWN, error=describe_error(exc, url))
        return plan_service(svc, FleetSnapshot(hosts), observed, version=version)

    def _log_driver(self, host: str) -> str:
        if host not in self._log_drivers:
            info = self.pool[host].client.api.info()
            self._log_drivers[host] = str(info.get("LoggingDriver") or "json-file")
        return self._log_drivers[host]

    def rollback_candidates(self, service: str) -> list[RollbackCandidate]:
        """Versions to roll back to: retained on hosts first (most recently stopped
        first), then the registry's other tags, newest first."""
        svc = self.inventory.service(service)
        retained: dict[str, list[tuple[str, float]]] = {}
        running: list[set[str]] = []
        for name in svc.run_on_host:
            try:
                mine = list_service_containers(self.pool[name].client.api, name, svc.name)
                running.append({c.version for c in mine if c.running})
                stopped = [c for c in mine if not c.running]
                retained[name] = [(c.version, c.finished_at or c.created) for c in stopped]
            except (KeyError, *OPERATIONAL_ERRORS) as exc:  # type: ignore[misc]
                log.info("rollback candidates: %s skipped: %s", name, exc)
        everywhere = set.intersection(*running) if running else set()
        return order_candidates(retained, self._registry_tags(svc), everywhere)

    def _registry_tags(self, svc: Service) -> list[str]:
        config = self.inventory.registry
        if self.registry is None or config is None:
            return []
        repository = repository_in_registry(svc.image, config)
        if repository is None:
            return []
        try:
            return [t.tag for t in self.registry.tags(repository)]
        except RegistryError as exc:
            log.info("rollback candidates: registry skipped: %s", exc)
            return []

    # -- deploy and rollback -------------------------------------------------------

    def deploy(
        self,
        service: str,
        version: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
    ) -> OpResult:
        """Roll ``service`` out to ``version`` (default: the inventory's tag)."""
        return self._fleet_op(OpKind.DEPLOY, service, version, hosts, control)

    def rollback(
        self,
        service: str,
        to: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
    ) -> OpResult:
        """Go back to ``to`` (default: the previous version, see :meth:`rollback_candidates`).

        A host that retains a stopped container of ``to`` starts it again (no
        pull); others recreate it from the registry like a deploy.
        """
        if to is None:
            try:
                candidates = self.rollback_candidates(service)
            except KeyError:
                candidates = []
            if not candidates:
                message = "no previous version to go back to"
                return refused(OpKind.ROLLBACK, service, message, self.clock())
            to = candidates[0].version
        return self._fleet_op(OpKind.ROLLBACK, service, to, hosts, control)

    def deploy_many(
        self, services: Sequence[str], *, control: RolloutControl | None = None
    ) -> list[OpResult]:
        """Deploy independent services at once (each host still bounded by its slots)."""
        if not services:
            return []
        with ThreadPoolExecutor(len(services)) as pool:
            return list(pool.map(lambda s: self.deploy(s, control=control), services))

    def _fleet_op(
        self,
        kind: OpKind,
        service: str,
        version: str | None,
        hosts: Sequence[str] | None,
        control: RolloutControl | None,
    ) -> OpResult:
        control = control or RolloutControl()

        def body(op: Operation) -> FleetResult:
            plan = self.plan(service, version)
            op.to_version = plan.version
            actions = [a for a in plan.actions if a.host in op.hosts]
            op.from_versions = [a.current_version for a in actions]
            op.started()
            down = [a for a in actions if a.kind is ActionKind.UNREACHABLE]
            if down:
                why = "; ".join(f"{a.host}: {a.reason}" for a in down)
                raise OperationFailed(f"unreachable, nothing changed: {why}")
            tasks: list[tuple[HostRollout, HostTask]] = []
            results: list[HostResult] = []
            for action in actions:
                if kind is OpKind.DEPLOY and action.kind is ActionKind.NOOP:
                    current, name = action.current_version, action.container_name
                    results.append(
                        HostResult(action.host, True, current, plan.version, name, "up to date")
                    )
                    continue
                tasks.append((op.host_rollout(action.host), self._task(kind, plan, action.kind)))
            fleet = roll(op.service, tasks, control, self._slots)
            merged = {r.host: r for r in [*results, *fleet.hosts]}
            hosts_in_order = tuple(merged[h] for h in op.hosts if h in merged)
            return FleetResult(fleet.outcome, hosts_in_order, fleet.message)

        return self._operation(kind, service, hosts, version, body)

    def _task(self, kind: OpKind, plan: ServicePlan, action: ActionKind) -> HostTask:
        version, spec, digest = plan.version, plan.spec, plan.spec_hash

        def run(rollout: HostRollout) -> Replaced:
            current = rollout.current()
            if kind is OpKind.ROLLBACK:
                if current is not None and current.running and current.version == version:
                    same = "already on this version"
                    host = rollout.host.name
                    return Replaced(HostResult(host, True, version, version, current.name, same))
                keep = retained_version(rollout.containers(), version)
                if keep is not None:
                    retained = keep

                    def reuse() -> str:
                        # Named in the step log: a retained container, so no pull.
                        rollout.step("reuse", lambda: retained.name, retained.name)
                        return retained.id

                    return rollout.replace(current, reuse, version, created=False)
            if kind is OpKind.DEPLOY and action is ActionKind.START and current is not None:
                return rollout.replace(current, lambda: current.id, version, created=False)
            return rollout.deploy(current, spec, version, digest)

        return run

    # -- crash recovery ------------------------------------------------------------

    def unfinished(self, service: str) -> list[JournalEntry]:
        """Operations on ``service`` whose end the journal never got (newest first)."""
        return unfinished(self.coordinator.journal(service, limit=JOURNAL_SCAN))

    def recover(self, service: str) -> OpResult:
        """Finish or undo the service's unfinished operations (see :mod:`.recovery`)."""
        try:
            svc = self.inventory.service(service)
        except KeyError:
            return refused(OpKind.DEPLOY, service, f"unknown service {service!r}", self.clock())

        def rollout_for(op_id: str, host: str) -> HostRollout:
            op = Operation(
                OpKind.DEPLOY, svc, svc.run_on_host, coordinator=self.coordinator,
                user=self.owner.user, clock=self.clock, host_rollout=self._host_rollout,
            )  # fmt: skip
            op.id = op_id
            return self._host_rollout(op, host)

        return run_recovery(service=svc, coordinator=self.coordinator, owner=self.owner,
                            clock=self.clock, rollout_for=rollout_for)  # fmt: skip

    # -- start / stop / restart ----------------------------------------------------

    def start(self, service: str, host: str | None = None) -> OpResult:
        """Start the service's current container on every host (or ``host``); gated."""
        return self._each_host(OpKind.START, service, host, start_service, parallel=True)

    def stop(self, service: str, host: str | None = None) -> OpResult:
        """Stop (and deregister) the service's running containers; kept, not removed."""
        return self._each_host(OpKind.STOP, service, host, stop_service, parallel=True)

    def restart(self, service: str, host: str | None = None) -> OpResult:
        """Restart one host at a time, each gated, so the service never goes fully down."""
        return self._each_host(OpKind.RESTART, service, host, restart_service, parallel=False)

    def _each_host(
        self,
        kind: OpKind,
        service: str,
        host: str | None,
        work: Callable[[HostRollout], HostResult],
        *,
        parallel: bool,
    ) -> OpResult:
        def body(op: Operation) -> FleetResult:
            rollouts = [op.host_rollout(h) for h in op.hosts]
            try:
                op.from_versions = [_version_of(r) for r in rollouts]
            except OPERATIONAL_ERRORS as exc:
                op.started()
                raise OperationFailed(describe_error(exc, "host")) from exc
            op.to_version = next((v for v in op.from_versions if v), None)
            op.started()
            if parallel and len(rollouts) > 1:
                with ThreadPoolExecutor(len(rollouts)) as pool:
                    results = list(pool.map(lambda r: self._guarded(r, work), rollouts))
            else:
                results = [self._guarded(r, work) for r in rollouts]
            failed = [r for r in results if not r.ok]
            outcome = Outcome.FAILED if failed else Outcome.DONE
            message = "; ".join(f"{r.host}: {r.reason}" for r in failed)
            return FleetResult(outcome, tuple(results), message)

        return self._operation(kind, service, [host] if host else None, None, body)

    def _guarded(
        self, rollout: HostRollout, work: Callable[[HostRollout], HostResult]
    ) -> HostResult:
        with self._slots[rollout.host.name]:
            try:
                return work(rollout)
            except FAILURES as exc:
                return HostResult(rollout.host.name, False, None, None, None, str(exc))

    def _operation(
        self,
        kind: OpKind,
        service: str,
        hosts: Sequence[str] | None,
        version: str | None,
        body: Callable[[Operation], FleetResult],
    ) -> OpResult:
        return run_operation(
            inventory=self.inventory, coordinator=self.coordinator, owner=self.owner,
            clock=self.clock, kind=kind, service=service, hosts=hosts, version=version,
            host_rollout=self._host_rollout, body=body,
        )  # fmt: skip

    def _host_rollout(self, op: Operation, host: str) -> HostRollout:
        registry = self.inventory.registry
        password = None
        if registry is not None and registry.password_env:
            password = os.environ.get(registry.password_env)

        def emit(step: str, status: StepStatus, message: str) -> None:
            self._emit(StepEvent(op.id, op.service.name, host, step, status, message, self.clock()))

        return HostRollout(
            op_id=op.id, service=op.service, host=self.inventory.hosts[host],
            connection=self.pool[host], coordinator=self.coordinator, emit=emit, clock=self.clock,
            registry=registry, registry_password=password, keep=self.keep,
        )  # fmt: skip

    def _emit(self, event: StepEvent) -> None:
        if self.on_step is None:
            return
        try:
            self.on_step(event)
        except Exception:  # a listener's bug must not break a rollout
            log.exception("step listener failed")


def _version_of(rollout: HostRollout) -> str | None:
    current = rollout.current()
    return current.version if current else None
