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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from jobtui.backend.contract import (
    Coordinator,
    HostOutcome,
    HostResult,
    JournalEntry,
    LockOwner,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
    StepStatus,
)
from jobtui.backend.deploy.batches import FleetResult, HostTask, roll, with_slot
from jobtui.backend.deploy.fingerprint import Fingerprint, differences
from jobtui.backend.deploy.frame import (
    Operation,
    OperationFailed,
    refused,
    run_operation,
)
from jobtui.backend.deploy.host import FAILURES, OPERATIONAL_ERRORS, HostRollout, Replaced
from jobtui.backend.deploy.lifecycle import restart_service, start_service, stop_service
from jobtui.backend.deploy.plan import (
    Action,
    ActionKind,
    ServicePlan,
    plain,
    plan_service,
    render_plan,
)
from jobtui.backend.deploy.planning import (
    observe,
    rollback_candidates,
    target_digest,
    with_fingerprint,
)
from jobtui.backend.deploy.policy import (
    RollbackCandidate,
    RolloutControl,
    retained_version,
)
from jobtui.backend.deploy.recovery import (
    JOURNAL_SCAN,
    recover_pending,
    run_recovery,
    unfinished,
)
from jobtui.backend.deploy.rollback_plan import plan_rollback
from jobtui.backend.deploy.slots import HostSlots
from jobtui.backend.deploy.spec_key import SpecKeyError, SpecKeyNotMade, load_spec_key
from jobtui.backend.docker import (
    HostPool,
    describe_error,
)
from jobtui.backend.registry import RegistryClient
from jobtui.config.models import Inventory, Service
from jobtui.config.secrets import secret_keys

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
        slots: HostSlots | None = None,
        hash_key: bytes | None = None,
        read_only: bool = False,
        read_write: bool = False,
    ) -> None:
        """``hash_key`` keys the spec-hash label (default: the state directory's key);
        ``read_only`` refuses every mutating operation; ``read_write`` records that
        the operator lifted an inventory's ``read_only: true`` (``--read-write``)."""
        self.inventory = inventory
        self.pool = pool
        self.coordinator = coordinator
        self.owner = owner
        self.registry = registry
        self.on_step = on_step
        self.clock = clock
        self.keep = keep
        self._slots = slots or HostSlots()
        self._log_drivers: dict[str, str] = {}
        self._names = frozenset(s.name for s in inventory.services)
        self._hash_key = hash_key
        self.read_only = read_only
        self.read_write = read_write
        """The operator lifted the inventory's ``read_only: true`` explicitly (for the audit)."""

    @property
    def hash_key(self) -> bytes | None:
        """The bastion's spec-hash key, read (or made) on first use; ``None`` if impossible."""
        if self._hash_key is None:
            from jobtui.backend.coordination import default_state_dir

            try:
                self._hash_key = load_spec_key(default_state_dir())
            except SpecKeyNotMade as exc:
                # The operation's own next write there says why (one line, not two).
                log.debug("%s", exc)
                self._hash_key = b""
            except SpecKeyError as exc:
                # Labels then leave secret values out (spec_hash without a key).
                log.warning("%s", exc)
                self._hash_key = b""
        return self._hash_key or None

    # -- reading -------------------------------------------------------------

    def plan(self, service: str, version: str | None = None) -> ServicePlan:
        """What :meth:`deploy` would do: current containers inspected against the inventory,
        with the fingerprint the deploy compares under the lock."""
        svc = self.inventory.service(service)
        seen = observe(self.inventory, self.pool, svc, self._log_driver)
        plan = plan_service(svc, seen.fleet, seen.specs, version=version, hash_key=self.hash_key)
        digest = target_digest(self.inventory, self.registry, svc, plan.version)
        return with_fingerprint(plan, seen, digest, self.hash_key)

    def plan_rollback(self, service: str, to: str | None = None) -> ServicePlan:
        """What :meth:`rollback` would do: per host the retained container restarted, or
        the version recreated from the registry (default ``to``: the previous version)."""
        svc = self.inventory.service(service)
        if to is None:
            candidates = self.rollback_candidates(service)
            if not candidates:
                raise OperationFailed("no previous version to go back to")
            to = candidates[0].version
        seen = observe(self.inventory, self.pool, svc, self._log_driver, retained=to)
        deploy = plan_service(svc, seen.fleet, seen.specs, version=to, hash_key=self.hash_key)
        retained = {h: k for h, mine in seen.mine.items() if (k := retained_version(mine, to))}
        plan = plan_rollback(deploy, retained, seen.running(), seen.specs, secret_keys(svc))
        digest = target_digest(self.inventory, self.registry, svc, to)
        return with_fingerprint(plan, seen, digest, self.hash_key)

    def unreachable(self, service: str, host: str | None = None) -> dict[str, str]:
        """The service's hosts (or ``host``) that cannot be asked now, each with why."""
        svc = self.inventory.service(service)
        found: dict[str, str] = {}
        for name in [host] if host else svc.run_on_host:
            try:
                self.pool[name].connect()
            except KeyError:
                found[name] = "not a known host"
            except OPERATIONAL_ERRORS as exc:
                found[name] = describe_error(exc, self.inventory.hosts[name].url)
        return found

    def _log_driver(self, host: str) -> str:
        if host not in self._log_drivers:
            info = self.pool[host].client.api.info()
            self._log_drivers[host] = str(info.get("LoggingDriver") or "json-file")
        return self._log_drivers[host]

    def rollback_candidates(self, service: str) -> list[RollbackCandidate]:
        """Versions to roll back to: retained on hosts first (most recently stopped
        first), then the registry's other tags, newest first."""
        svc = self.inventory.service(service)
        return rollback_candidates(self.inventory, self.pool, self.registry, svc)

    # -- deploy and rollback -------------------------------------------------------

    def deploy(
        self,
        service: str,
        version: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
        op_id: str | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult:
        """Roll ``service`` out to ``version`` (default: the inventory's tag).

        With ``expect`` (the fingerprint of the plan the operator confirmed) the
        plan made under the lock must match it, else nothing is touched and the
        outcome is ``CHANGED`` with the new plan.
        """
        return self._fleet_op(OpKind.DEPLOY, service, version, hosts, control, op_id, expect)

    def rollback(
        self,
        service: str,
        to: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
        op_id: str | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult:
        """Go back to ``to`` (default: the previous version, see :meth:`rollback_candidates`).

        Does what :meth:`plan_rollback` says: a host that retains a stopped
        container of ``to`` starts it again (no pull); others recreate it from
        the registry like a deploy. ``expect`` as for :meth:`deploy`.
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
        return self._fleet_op(OpKind.ROLLBACK, service, to, hosts, control, op_id, expect)

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
        op_id: str | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult:
        control = control or RolloutControl()

        def body(op: Operation) -> FleetResult:
            rollback = kind is OpKind.ROLLBACK
            plan = self.plan_rollback(service, version) if rollback else self.plan(service, version)
            op.to_version = plan.version
            actions = [a for a in plan.actions if a.host in op.hosts]
            op.from_versions = [a.current_version for a in actions]
            changed = _changed(expect, plan, op.hosts)
            if changed:
                lines = tuple(plain(line) for line in render_plan(plan))
                return FleetResult(Outcome.CHANGED, (), changed, lines)
            op.started()
            down = [a for a in actions if a.kind is ActionKind.UNREACHABLE]
            if down:
                why = "; ".join(f"{a.host}: {a.reason}" for a in down)
                raise OperationFailed(f"unreachable, nothing changed: {why}")
            tasks: list[tuple[HostRollout, HostTask]] = []
            results: list[HostResult] = []
            for action in actions:
                if action.kind is ActionKind.NOOP:
                    current, name = action.current_version, action.container_name
                    same = action.reason or "up to date"
                    unchanged = HostOutcome.UNCHANGED
                    results.append(
                        HostResult(
                            action.host, True, current, plan.version, name, same, outcome=unchanged
                        )
                    )
                    continue
                tasks.append((op.host_rollout(action.host), self._task(plan, action)))
            fleet = roll(op.service, tasks, control, self._slots)
            merged = {r.host: r for r in [*results, *fleet.hosts]}
            hosts_in_order = tuple(merged[h] for h in op.hosts if h in merged)
            return FleetResult(fleet.outcome, hosts_in_order, fleet.message)

        return self._operation(kind, service, hosts, version, body, op_id, control)

    def _task(self, plan: ServicePlan, action: Action) -> HostTask:
        """What the plan says for one host: restart the retained container, start the
        matching one, or pull and replace."""
        version, spec, digest = plan.version, plan.spec, plan.spec_hash

        def run(rollout: HostRollout) -> Replaced:
            current = rollout.current()
            source, name = action.source_id, action.source_name or ""
            if action.kind is ActionKind.REUSE and source is not None:

                def reuse() -> str:
                    # Named in the step log: a retained container, so no pull.
                    rollout.step("reuse", lambda: name, name)
                    return source

                return rollout.replace(current, reuse, version, created=False)
            if action.kind is ActionKind.START and current is not None:
                return rollout.replace(current, lambda: current.id, version, created=False)
            return rollout.deploy(current, spec, version, digest)

        return run

    # -- crash recovery ------------------------------------------------------------

    def unfinished(self, service: str) -> list[JournalEntry]:
        """Operations on ``service`` whose end the journal never got (newest first)."""
        return unfinished(self.coordinator.journal(service, limit=JOURNAL_SCAN))

    def recover(self, service: str, *, op_id: str | None = None) -> OpResult:
        """Finish or undo the service's unfinished operations (see :mod:`.recovery`)."""
        try:
            svc = self.inventory.service(service)
        except KeyError:
            return refused(OpKind.RECOVER, service, f"unknown service {service!r}", self.clock())
        return run_recovery(service=svc, coordinator=self.coordinator, owner=self.owner,
                            clock=self.clock, rollout_for=self._rollout_for(svc))  # fmt: skip

    def _recover_first(self, svc: Service) -> OpResult | None:
        """Under an operation's lock, before it plans: what a crash left is settled first."""
        result = recover_pending(service=svc, coordinator=self.coordinator, owner=self.owner,
                                 clock=self.clock, rollout_for=self._rollout_for(svc))  # fmt: skip
        if result is not None and result.outcome is not Outcome.DONE:
            why = f"an unfinished operation could not be recovered: {result.message}"
            raise OperationFailed(why)
        return result

    def _rollout_for(self, svc: Service) -> Callable[[str, str], HostRollout]:
        def rollout_for(op_id: str, host: str) -> HostRollout:
            op = Operation(
                OpKind.RECOVER, svc, svc.run_on_host, coordinator=self.coordinator,
                user=self.owner.user, clock=self.clock, host_rollout=self._host_rollout,
                op_id=op_id, bastion=self.owner.host,
            )  # fmt: skip
            return self._host_rollout(op, host)

        return rollout_for

    # -- start / stop / restart ----------------------------------------------------

    def start(self, service: str, host: str | None = None, *, op_id: str | None = None) -> OpResult:
        """Start the service's current container on every host (or ``host``); gated."""
        return self._each_host(OpKind.START, service, host, start_service, True, op_id)

    def stop(self, service: str, host: str | None = None, *, op_id: str | None = None) -> OpResult:
        """Stop (and deregister) the service's running containers; kept, not removed."""
        return self._each_host(OpKind.STOP, service, host, stop_service, True, op_id)

    def restart(
        self, service: str, host: str | None = None, *, op_id: str | None = None
    ) -> OpResult:
        """Restart one host at a time, each gated, so the service never goes fully down."""
        return self._each_host(OpKind.RESTART, service, host, restart_service, False, op_id)

    def _each_host(
        self,
        kind: OpKind,
        service: str,
        host: str | None,
        work: Callable[[HostRollout], HostResult],
        parallel: bool,
        op_id: str | None,
    ) -> OpResult:
        def body(op: Operation) -> FleetResult:
            rollouts = [op.host_rollout(h) for h in op.hosts]
            down: list[str] = []
            for rollout in rollouts:
                try:
                    op.from_versions.append(_version_of(rollout))
                except OPERATIONAL_ERRORS as exc:
                    op.from_versions.append(None)
                    down.append(f"{rollout.host.name}: {describe_error(exc, rollout.host.url)}")
            if down:
                op.started()
                raise OperationFailed(f"unreachable, nothing changed: {'; '.join(down)}")
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

        return self._operation(kind, service, [host] if host else None, None, body, op_id)

    def _guarded(
        self, rollout: HostRollout, work: Callable[[HostRollout], HostResult]
    ) -> HostResult:
        def guarded() -> HostResult:
            try:
                return work(rollout)
            except FAILURES as exc:
                return HostResult(rollout.host.name, False, None, None, None, str(exc))

        return with_slot(rollout, self._slots, guarded)

    def _operation(
        self,
        kind: OpKind,
        service: str,
        hosts: Sequence[str] | None,
        version: str | None,
        body: Callable[[Operation], FleetResult],
        op_id: str | None = None,
        control: RolloutControl | None = None,
    ) -> OpResult:
        if self.read_only:
            # The app refuses first and says why; this keeps an engine handed
            # to a read-only session from changing anything whatever calls it.
            return refused(kind, service, "read-only: nothing may be changed", self.clock())
        return run_operation(
            inventory=self.inventory, coordinator=self.coordinator, owner=self.owner,
            clock=self.clock, kind=kind, service=service, hosts=hosts, version=version,
            host_rollout=self._host_rollout, body=body, op_id=op_id, control=control,
            recover=partial(self._recover_first, self.inventory.service(service))
            if service in self._names else None,
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
            aborting=op.aborting,
        )  # fmt: skip

    def _emit(self, event: StepEvent) -> None:
        if self.on_step is None:
            return
        try:
            self.on_step(event)
        except Exception:  # a listener's bug must not break a rollout
            log.exception("step listener failed")


def _changed(expect: Fingerprint | None, plan: ServicePlan, hosts: Sequence[str]) -> str:
    """Why the plan under the lock is not the one confirmed; ``""`` when it is."""
    if expect is None or plan.fingerprint is None:
        return ""
    found = differences(expect, plan.fingerprint, hosts)
    if not found:
        return ""
    return "the service changed since the plan was shown: " + "; ".join(found)


def _version_of(rollout: HostRollout) -> str | None:
    current = rollout.current()
    return current.version if current else None
