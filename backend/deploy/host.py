"""One service on one host: replace its container safely, or start, stop, restart it.

:class:`HostRollout` carries out the per-host part of every operation and
reports each step through ``emit``. The replacement protocol
(:meth:`HostRollout.replace`):

* start-first (the default): the new container starts and passes its health
  gate while the old one still serves; only then is the old one stopped
  (and kept for rollback).
* stop-first (asked for, or a host-network service on a fixed port): the old
  one stops first; if the new one fails, it is removed and the old one is
  started again and gated (step ``restore``).

On any failure the new container's last log lines are captured and, when
this operation created it, it is removed: nothing of a failed attempt is left.

Safe points: between two steps, ``aborting()`` is asked; when it says yes
(an abort with restore), the host is treated as failed there, so the
failure path above puts the old container back. Before ``register`` the
host can still go back; once the new container is registered it is done
(a later restore is a revert, by the batch runner).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import docker.errors
import docker.types

from jobtui.backend.contract import Coordinator, HostOutcome, HostResult, Instance, StepStatus
from jobtui.backend.coordination import CoordinationError
from jobtui.backend.deploy.create import (
    PullFailed,
    PullProgress,
    container_name,
    create_args,
    grace_seconds,
    pull_auth,
    rollout_labels,
)
from jobtui.backend.deploy.failpoint import hold
from jobtui.backend.deploy.health import (
    Decision,
    choose_gate,
    service_port,
    wait_for_gate,
)
from jobtui.backend.deploy.policy import is_stop_first, to_prune
from jobtui.backend.deploy.pull_watch import until_quiet
from jobtui.backend.docker import (
    DOCKER_ERRORS,
    ContainerSpec,
    HostConnection,
    container_from_api,
    current_container,
    describe_error,
    list_service_containers,
)
from jobtui.backend.errors import JobtuiError
from jobtui.backend.model import ContainerInfo
from jobtui.config.models import Host, RegistryConfig, Service
from jobtui.config.secrets import mask_text, secret_values

log = logging.getLogger(__name__)

LOG_LINES = 20
"""Last log lines of a failed container kept in its report."""

Emit = Callable[[str, StepStatus, str], None]
"""``emit(step, status, message)``: report a step on this host."""

OPERATIONAL_ERRORS: tuple[type[BaseException], ...] = (
    CoordinationError,
    PullFailed,
    *DOCKER_ERRORS,
)
"""What fails a step without being a bug: Docker, the network, coordination, a pull."""


class StepFailed(JobtuiError):
    """A step failed; ``str()`` is the reason an operator reads."""


RESTORE_FAILED = "RESTORE FAILED"
"""Ends a host's reason when its old container was stopped and could not be started again."""


def left_unrestored(result: HostResult) -> bool:
    """The host failed after its old container was stopped, and it could not be started
    again (its daemon went away): nothing of the service serves there."""
    return not result.ok and result.reason.endswith(RESTORE_FAILED)


FAILURES: tuple[type[BaseException], ...] = (StepFailed, *OPERATIONAL_ERRORS)
"""Everything that fails an operation on a host without being a bug."""


@dataclass(frozen=True)
class Replaced:
    """A host's result plus what a later revert needs to know."""

    result: HostResult
    new_id: str | None = None
    """The container that serves now (after success)."""
    old_id: str | None = None
    """The container it replaced, stopped and retained (after success)."""
    created: bool = False
    """Whether this operation created ``new_id`` (a revert then removes it)."""


class HostRollout:
    """Carries out operations for one service on one host."""

    def __init__(
        self,
        *,
        op_id: str,
        service: Service,
        host: Host,
        connection: HostConnection,
        coordinator: Coordinator,
        emit: Emit,
        clock: Callable[[], float],
        registry: RegistryConfig | None = None,
        registry_password: str | None = None,
        keep: int = 3,
        aborting: Callable[[], bool | str] = lambda: False,
    ) -> None:
        self.op_id = op_id
        self.aborting = aborting
        self.service = service
        self.host = host
        self.connection = connection
        self.coordinator = coordinator
        self.emit = emit
        self.clock = clock
        self.registry = registry
        self.registry_password = registry_password
        self.keep = keep
        # Whatever a step reports (Docker's errors, a failed container's logs)
        # is cleaned of these before anyone sees it: screens, journal, CLI.
        self.secrets = secret_values(service) | (
            {registry_password} if registry_password else set()
        )

    @property
    def api(self) -> Any:
        return self.connection.client.api

    # -- reading -------------------------------------------------------------

    def all_containers(self) -> list[ContainerInfo]:
        rows = self.api.containers(all=True)
        return [container_from_api(row, self.host.name) for row in rows]

    def containers(self) -> list[ContainerInfo]:
        """This service's containers on this host."""
        return list_service_containers(self.api, self.host.name, self.service.name)

    def current(self) -> ContainerInfo | None:
        return current_container(self.containers())

    # -- steps ---------------------------------------------------------------

    def step(self, name: str, action: Callable[[], str | None], message: str = "") -> str:
        """Run one step with start/end events; a failure raises :class:`StepFailed`."""
        self.emit(name, StepStatus.RUNNING, message)
        hold(name, self.host.name)  # crash tests only (JOBTUI_TEST_HOLD)
        try:
            said = action() or ""
        except StepFailed as exc:
            self.emit(name, StepStatus.FAILED, str(exc))
            raise
        except OPERATIONAL_ERRORS as exc:
            reason = self.explain(exc)
            self.emit(name, StepStatus.FAILED, reason)
            raise StepFailed(f"{name}: {reason}") from exc
        self.emit(name, StepStatus.OK, said or message)
        return said

    def safe_point(self) -> None:
        """Between steps: raise :class:`StepFailed` when the operator aborts with restore,
        or the operation must stop (``aborting()`` then says why: its lock was lost)."""
        asked = self.aborting()
        if asked:
            if isinstance(asked, str):
                why, said = asked, f"stopped at a safe point: {asked}"
            else:
                why = "aborted by the operator"
                said = f"{why} at a safe point"
            self.emit("abort", StepStatus.FAILED, said)
            raise StepFailed(why)

    def explain(self, exc: BaseException) -> str:
        if isinstance(exc, PullFailed):
            text = str(exc)
        elif isinstance(exc, docker.errors.APIError):
            text = str(exc.explanation or exc)
        else:
            text = describe_error(exc, self.host.url)
        return mask_text(text, self.secrets)

    def pull(self, version: str) -> str | None:
        repository = self.service.repository
        auth = pull_auth(self.registry, self.registry_password, repository)
        progress = PullProgress()
        stream = self.api.pull(repository, tag=version, stream=True, decode=True, auth_config=auth)
        # A quiet pull may take as long as one Docker call may (a stalled registry ends it).
        for event in until_quiet(stream, self.connection.timeout, f"{repository}:{version}"):
            message = progress.feed(event)
            if message:
                self.emit("pull", StepStatus.RUNNING, message)
        return progress.message() if progress.layers or progress.final else "pulled"

    def create(self, spec: ContainerSpec, version: str, digest: str) -> str:
        """Create the new container; its id."""
        labels = rollout_labels(spec, self.service.name, version, digest, self.op_id)
        taken = {c.name for c in self.all_containers()}
        for _ in range(5):
            name = container_name(self.service.name, self.clock(), taken)
            args = create_args(spec, self.service, name=name, labels=labels)
            host = dict(args.host_config)
            if "ulimits" in host:
                host["ulimits"] = [docker.types.Ulimit(**u) for u in host["ulimits"]]
            if "log_config" in host:
                host["log_config"] = docker.types.LogConfig(**host["log_config"])
            try:
                made = self.api.create_container(
                    **args.container, host_config=self.api.create_host_config(**host)
                )
            except docker.errors.APIError as exc:
                if exc.status_code == 409:  # the name was taken meanwhile
                    taken.add(name)
                    continue
                raise
            return str(made["Id"])
        raise StepFailed("create: no free container name")

    def gate(self, container_id: str, monitor: float = 0.0) -> Decision:
        config = self.api.inspect_container(container_id).get("Config") or {}
        gate = choose_gate(self.service, config.get("Healthcheck"), self.host.address)
        watch = f", then up for {monitor:g} s" if monitor > 0 else ""
        self.emit("health", StepStatus.RUNNING, gate.describe() + watch)
        return wait_for_gate(self.api, container_id, gate, monitor=monitor)

    def healthy(self, container_id: str, *, monitor: bool = False) -> str:
        """Start-of-service check: raises :class:`StepFailed` unless the gate passes.

        ``monitor``: a new version must also stay up for ``update_config.monitor``.
        """
        decision = self.gate(container_id, self.service.update_config.monitor if monitor else 0.0)
        if not decision.ok:
            raise StepFailed(decision.reason)
        return decision.reason

    def stop_container(self, container_id: str) -> None:
        self.api.stop(container_id, timeout=grace_seconds(self.service))

    def last_logs(self, container_id: str) -> tuple[str, ...]:
        try:
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=LOG_LINES)
        except OPERATIONAL_ERRORS:
            return ()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        text = mask_text(text, self.secrets)
        return tuple(line for line in text.splitlines() if line.strip())[-LOG_LINES:]

    def register(self, container_id: str, version: str) -> None:
        info = self.api.inspect_container(container_id)
        name = str(info.get("Name") or container_id[:12]).lstrip("/")
        port = service_port(self.service)
        self.coordinator.register(
            Instance(self.service.name, self.host.name, self.host.address, port, name, version)
        )

    def deregister(self) -> None:
        self.coordinator.deregister(self.service.name, self.host.name)

    # -- the replacement protocol -------------------------------------------------

    def deploy(
        self, current: ContainerInfo | None, spec: ContainerSpec, version: str, digest: str
    ) -> Replaced:
        """Pull ``version`` and replace ``current`` with a new container of ``spec``."""

        def make() -> str:
            self.safe_point()
            self.step("pull", lambda: self.pull(version), f"{self.service.repository}:{version}")
            self.safe_point()
            made: list[str] = []
            self.step("create", lambda: self._create_into(made, spec, version, digest))
            return made[0]

        return self.replace(current, make, version, created=True)

    def _create_into(self, out: list[str], spec: ContainerSpec, version: str, digest: str) -> str:
        out.append(self.create(spec, version, digest))
        name = self.api.inspect_container(out[0]).get("Name") or out[0][:12]
        return str(name).lstrip("/")

    def replace(
        self,
        current: ContainerInfo | None,
        make: Callable[[], str],
        version: str,
        *,
        created: bool,
        abortable: bool = True,
    ) -> Replaced:
        """Put the container ``make()`` returns in ``current``'s place (see the module doc).

        ``abortable=False`` (a revert, itself the restore) ignores the safe points.
        """
        from_version = current.version if current else None
        old_running = current is not None and current.running
        stop_first = is_stop_first(self.service, old_running)
        new_id: str | None = None
        old_stopped = False
        safe_point = self.safe_point if abortable else lambda: None
        try:
            safe_point()
            new_id = make()
            safe_point()
            if stop_first and current is not None and old_running:
                self.deregister()
                # Set first: a stop the client gave up on may still happen in the daemon.
                old_stopped = True
                self.step("stop-old", lambda: self.stop_container(current.id), current.name)
                safe_point()
            self.step("start", lambda: self.api.start(new_id))
            safe_point()
            self.step("health", lambda: self.healthy(new_id, monitor=True))
            safe_point()
            # The balancers learn of the new one before the old one goes.
            self.step("register", lambda: self.register(new_id, version))
            # Every other running instance goes, not only `current`: never two
            # containers of a service serving on one host.
            others = [c for c in self.containers() if c.running and c.id != new_id]
            for other in others:
                if current is not None and other.id == current.id:
                    old_stopped = True
                self.step("stop-old", partial(self.stop_container, other.id), other.name)
        except FAILURES as exc:
            logs = self.last_logs(new_id) if new_id else ()
            self._undo_new(new_id, created)
            serving = current if old_running else None
            if old_stopped and current is not None:
                serving = self._restore(current)
            elif current is not None and old_running:
                # The old one never stopped: make sure the balancers point at it again.
                with contextlib.suppress(*OPERATIONAL_ERRORS):
                    self.register(current.id, current.version)
            reason = str(exc) if isinstance(exc, StepFailed) else self.explain(exc)
            if old_stopped:
                reason += "; old container restored" if serving else f"; {RESTORE_FAILED}"
            result = HostResult(
                self.host.name,
                False,
                from_version,
                version,
                serving.name if serving else None,
                reason,
                logs,
            )
            return Replaced(result)
        # The container just replaced is the rollback target: never prune it,
        # however old its creation date (pruning goes by creation time).
        self._prune(new_id, current.id if current is not None else None)
        name = self._name(new_id)
        result = HostResult(
            self.host.name, True, from_version, version, name, outcome=HostOutcome.UPDATED
        )
        old_id = current.id if current is not None and current.id != new_id else None
        return Replaced(result, new_id, old_id, created)

    def _name(self, container_id: str) -> str:
        with contextlib.suppress(*OPERATIONAL_ERRORS):
            return str(self.api.inspect_container(container_id).get("Name") or "").lstrip("/")
        return container_id[:12]

    def _undo_new(self, new_id: str | None, created: bool) -> None:
        if new_id is None:
            return
        if created:
            remove = partial(self.api.remove_container, new_id, force=True)
            with contextlib.suppress(StepFailed):
                self.step("remove-new", remove)
        else:
            # A retained container that failed again: stop it, keep it.
            with contextlib.suppress(StepFailed):
                self.step("stop-new", partial(self.stop_container, new_id))

    def bring_up(
        self, step: str, container: ContainerInfo, action: Callable[[], object], note: str = ""
    ) -> None:
        """Start ``container`` with ``action``, pass its health gate, register it.

        The one way a container comes (back) into service outside a replace:
        start, restart, a restore after a failed stop-first attempt, recovery.
        Raises :class:`StepFailed` at the first step that fails.
        """
        self.step(step, lambda: str(action() or ""), container.name)
        self.step("health", partial(self.healthy, container.id), note)
        self.step("register", partial(self.register, container.id, container.version))

    def _restore(self, old: ContainerInfo) -> ContainerInfo | None:
        """Start the old container again after a failed stop-first attempt."""
        try:
            self.bring_up("restore", old, partial(self.api.start, old.id), "restored container")
        except StepFailed:
            return None
        return old

    def _prune(self, serving: str, replaced: str | None) -> None:
        """Remove retained containers beyond ``keep``; a failure here fails nothing."""
        protect = [serving] if replaced is None else [serving, replaced]
        try:
            victims = to_prune(self.containers(), self.keep, protect=protect)
        except OPERATIONAL_ERRORS:
            return
        for victim in victims:
            remove = partial(self.api.remove_container, victim.id)
            with contextlib.suppress(StepFailed):
                self.step("prune", remove, f"{victim.name} ({victim.version})")

    def revert(self, done: Replaced) -> HostResult:
        """Undo a successful replacement: the retained old container serves again."""
        if done.new_id is None or done.old_id is None:
            # Nothing to go back to (the service was new here): stop what we made.
            if done.new_id is not None:
                with contextlib.suppress(StepFailed):
                    self.step("deregister", self.deregister)
                    self.step("revert", partial(self.stop_container, done.new_id))
            return HostResult(
                self.host.name,
                False,
                done.result.to_version,
                None,
                None,
                "reverted: the service had no previous container here",
                outcome=HostOutcome.RESTORED,
            )
        try:
            containers = {c.id: c for c in self.containers()}
        except OPERATIONAL_ERRORS as exc:
            return HostResult(self.host.name, False, done.result.to_version, None,
                              done.result.container, f"revert: {self.explain(exc)}")  # fmt: skip
        new, old = containers.get(done.new_id), containers.get(done.old_id)
        if old is None:
            return HostResult(
                self.host.name,
                False,
                done.result.to_version,
                None,
                done.result.container,
                "revert: the old container is gone",
            )
        back = self.replace(new, lambda: old.id, old.version, created=False, abortable=False)
        if back.result.ok and done.created and new is not None:
            with contextlib.suppress(StepFailed):
                self.step("remove-new", partial(self.api.remove_container, new.id), new.name)
        reason = "reverted" if back.result.ok else f"revert failed: {back.result.reason}"
        return HostResult(
            self.host.name,
            False,
            done.result.to_version,
            old.version,
            back.result.container,
            reason,
            outcome=HostOutcome.RESTORED if back.result.ok else HostOutcome.FAILED,
        )
