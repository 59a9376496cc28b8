"""The engine's mutating verbs run by detached runner processes, followed from here.

:class:`DetachedDeployer` has the :class:`Deployer`'s interface: reading
(plans, rollback candidates) is done in this process; each mutating call
writes an :class:`~jobtui.backend.ops.OpRequest`, starts a runner (see
:mod:`jobtui.backend.ops.runners`) and follows its events until the result,
handing every step to ``on_step`` as a local deployer would. Whatever then
happens to this process — a dropped SSH session, Ctrl-C, SIGTERM, SIGKILL —
the runner carries the operation to its end. Pause, resume and abort of a
:class:`RolloutControl` reach the runner through its control file.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jobtui.backend.contract import (
    JournalEntry,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
)
from jobtui.backend.coordination import record_action
from jobtui.backend.deploy.deployer import Deployer
from jobtui.backend.deploy.fingerprint import Fingerprint, to_data
from jobtui.backend.deploy.frame import new_op_id
from jobtui.backend.deploy.plan import ServicePlan
from jobtui.backend.deploy.policy import RollbackCandidate, RolloutControl
from jobtui.backend.deploy.recovery import unfinished
from jobtui.backend.ops import (
    Control,
    OpRequest,
    OpStore,
    Record,
    RecordError,
    RunnerDied,
    follow,
    runner_env,
    spawn_runner,
)

MIRROR_POLL = 0.1
"""Seconds between two looks at a RolloutControl to mirror it into the control file."""


@dataclass(frozen=True)
class Launched:
    """A runner started for one operation."""

    op_id: str
    process: subprocess.Popen[bytes]


class DetachedDeployer:
    """A :class:`Deployer` whose operations run in detached runners (see the module doc)."""

    def __init__(
        self,
        local: Deployer,
        store: OpStore,
        command: Sequence[str],
        *,
        on_step: Callable[[StepEvent], None] | None = None,
        host_url_pattern: str | None = None,
    ) -> None:
        self.local = local
        self.store = store
        self.command = tuple(command)
        self.on_step = on_step
        self.host_url_pattern = host_url_pattern
        self.stopping = threading.Event()
        """Set it to stop following (the TUI quits): the operations themselves go on."""
        self._no_lock = False

    # -- reading: here -----------------------------------------------------------

    def plan(self, service: str, version: str | None = None) -> ServicePlan:
        return self.local.plan(service, version)

    def plan_rollback(self, service: str, to: str | None = None) -> ServicePlan:
        return self.local.plan_rollback(service, to)

    def rollback_candidates(self, service: str) -> list[RollbackCandidate]:
        return self.local.rollback_candidates(service)

    def unfinished(self, service: str) -> list[JournalEntry]:
        return self.local.unfinished(service)

    def unfinished_everywhere(self, scan: int = 500) -> dict[str, list[JournalEntry]]:
        """Service → its unfinished operations, from one read of the journal."""
        pending: dict[str, list[JournalEntry]] = {}
        for entry in unfinished(self.local.coordinator.journal(None, limit=scan)):
            pending.setdefault(entry.service, []).append(entry)
        return pending

    def unreachable(self, service: str, host: str | None = None) -> dict[str, str]:
        return self.local.unreachable(service, host)

    @property
    def read_write(self) -> bool:
        """The operator lifted the inventory's ``read_only: true`` (journalled per operation)."""
        return self.local.read_write

    @read_write.setter
    def read_write(self, lifted: bool) -> None:
        self.local.read_write = lifted

    @property
    def no_lock(self) -> bool:
        """``--no-lock``: etcd is down and the operator runs without the cluster lock."""
        return self._no_lock

    @no_lock.setter
    def no_lock(self, wanted: bool) -> None:
        """Switch to this bastion's lock and journal (``CoordinationError`` when etcd
        answers, or the inventory has none): the lock checks, recovery and every
        operation launched from here on run without the cluster lock."""
        if wanted and not self._no_lock:
            from jobtui.backend.coordination import make_coordinator

            state = self.store.dir.parent
            self.local.coordinator = make_coordinator(
                self.local.inventory, state_dir=state, no_lock=True
            )
        elif not wanted and self._no_lock:
            raise ValueError("a deployer without the cluster lock cannot take it back")
        self._no_lock = wanted

    # -- mutating: in a runner ---------------------------------------------------

    def deploy(
        self,
        service: str,
        version: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult:
        return self.run(OpKind.DEPLOY, service, version, hosts, control, expect)

    def rollback(
        self,
        service: str,
        to: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult:
        return self.run(OpKind.ROLLBACK, service, to, hosts, control, expect)

    def start(self, service: str, host: str | None = None) -> OpResult:
        return self.run(OpKind.START, service, None, [host] if host else None)

    def stop(self, service: str, host: str | None = None) -> OpResult:
        return self.run(OpKind.STOP, service, None, [host] if host else None)

    def restart(self, service: str, host: str | None = None) -> OpResult:
        return self.run(OpKind.RESTART, service, None, [host] if host else None)

    def recover(self, service: str) -> OpResult:
        return self.run(OpKind.RECOVER, service, None, None)

    def run(
        self,
        kind: OpKind,
        service: str,
        version: str | None,
        hosts: Sequence[str] | None,
        control: RolloutControl | None = None,
        expect: Fingerprint | None = None,
    ) -> OpResult:
        """Launch a runner for the operation and follow it to its result."""
        try:
            launched = self.launch(kind, service, version=version, hosts=hosts, expect=expect)
        except (RecordError, OSError) as exc:
            return _failed(new_op_id(), kind, service, f"cannot start a runner: {exc}")
        return self.follow(launched.op_id, control=control, process=launched.process)

    def launch(
        self,
        kind: OpKind,
        service: str,
        *,
        version: str | None = None,
        hosts: Sequence[str] | None = None,
        expect: Fingerprint | None = None,
        title: str = "",
        no_lock: bool | None = None,
    ) -> Launched:
        """Write the request and start its runner; returns at once.

        ``no_lock`` (default :attr:`no_lock`): the runner works under this bastion's
        lock only; it refuses when etcd answers by then."""
        owner = self.local.owner
        request = OpRequest(
            op_id=new_op_id(),
            kind=kind,
            service=service,
            inventory=str(self.local.inventory.source.resolve()),
            version=version,
            hosts=tuple(hosts or ()),
            host_url_pattern=self.host_url_pattern,
            fingerprint=to_data(expect) if expect is not None else None,
            user=owner.user,
            bastion=owner.host,
            requested_by=os.getpid(),
            created=time.time(),
            title=title or f"{kind.value} {service}" + (f" {version}" if version else ""),
            no_lock=self._no_lock if no_lock is None else no_lock,
        )
        if self.local.read_write:
            lifted = "read_only: true lifted with --read-write"
            message = f"{lifted} for {request.title} [{request.op_id}]"
            record_action(self.local.coordinator, OpKind.READ_WRITE, service, owner, time.time(),
                          message)  # fmt: skip
        self.store.write_request(request)
        process = spawn_runner(self.command, self.store, request.op_id, runner_env(self.store))
        return Launched(request.op_id, process)

    def follow(
        self,
        op_id: str,
        *,
        control: RolloutControl | None = None,
        process: subprocess.Popen[bytes] | None = None,
        on_record: Callable[[Record], None] | None = None,
        stop: threading.Event | None = None,
    ) -> OpResult:
        """Follow ``op_id`` to its result (a ``FAILED`` one if its runner died)."""
        mirror = _Mirror(self.store, op_id, control) if control is not None else None

        def seen(record: Record) -> None:
            if isinstance(record, StepEvent) and self.on_step is not None:
                self.on_step(record)
            if on_record is not None:
                on_record(record)

        try:
            request = self.store.read_request(op_id)
            result = follow(self.store, op_id, seen, stop=stop or self.stopping, process=process)
        except RunnerDied as exc:
            return _failed(op_id, request.kind, request.service, str(exc))
        except RecordError as exc:
            return _failed(op_id, OpKind.DEPLOY, "?", str(exc))
        finally:
            if mirror is not None:
                mirror.stop()
        if result is None:  # stopped by the caller: the operation goes on
            return _failed(op_id, request.kind, request.service, "detached; it goes on")
        return result

    def ask(self, op_id: str, control: Control) -> None:
        """Steer a running operation (pause, resume, abort, abort and restore)."""
        self.store.set_control(op_id, control)


class _Mirror:
    """Writes a RolloutControl's state into the control file whenever it changes."""

    def __init__(self, store: OpStore, op_id: str, control: RolloutControl) -> None:
        self.store, self.op_id, self.control = store, op_id, control
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="jobtui-mirror")
        self._thread.start()

    def _state(self) -> Control:
        c = self.control
        return Control(paused=c.paused, abort=c.aborted, restore=c.restore)

    def _run(self) -> None:
        written = Control()
        while not self._stop.wait(MIRROR_POLL):
            now = self._state()
            if now != written:
                self.store.set_control(self.op_id, now)
                written = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def _failed(op_id: str, kind: OpKind, service: str, message: str) -> OpResult:
    now = time.time()
    return OpResult(op_id, kind, service, Outcome.FAILED, (), message, now, now)
