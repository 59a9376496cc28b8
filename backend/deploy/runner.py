"""Inside a runner process: carry out one requested operation, steered from outside.

The process itself is started by ``jobtui.app.runner`` (which wires the engine
for the inventory); here is what it does once it has a :class:`Deployer`:

* :func:`execute` runs the request's verb with the op id it was given, the
  fingerprint of the plan the operator confirmed, and a
  :class:`~jobtui.backend.deploy.policy.RolloutControl`;
* :class:`ControlWatch` applies what the operator asks through the control
  file (pause, resume, abort, abort and restore) to that control;
* :func:`install_signals`: SIGTERM and SIGINT mean "abort at the next safe
  point and restore" (so ``kill`` never leaves a service half-replaced);
  SIGHUP is ignored (the runner has no terminal to lose).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from jobtui.backend.contract import OpKind, OpResult, Outcome
from jobtui.backend.deploy.deployer import Deployer
from jobtui.backend.deploy.fingerprint import from_data
from jobtui.backend.deploy.policy import RolloutControl
from jobtui.backend.ops import OpRequest, OpStore

log = logging.getLogger(__name__)

CONTROL_POLL = 0.1
"""Seconds between two reads of the control file."""


def execute(deployer: Deployer, request: OpRequest, control: RolloutControl) -> OpResult:
    """Run the request's operation (blocks until it has ended)."""
    expect = from_data(request.fingerprint) if request.fingerprint else None
    hosts = request.hosts or None
    name, op_id = request.service, request.op_id
    if request.kind is OpKind.DEPLOY:
        return deployer.deploy(
            name, request.version, hosts=hosts, control=control, op_id=op_id, expect=expect
        )
    if request.kind is OpKind.ROLLBACK:
        return deployer.rollback(
            name, request.version, hosts=hosts, control=control, op_id=op_id, expect=expect
        )
    host = hosts[0] if hosts else None
    if request.kind is OpKind.START:
        return deployer.start(name, host, op_id=op_id)
    if request.kind is OpKind.STOP:
        return deployer.stop(name, host, op_id=op_id)
    if request.kind is OpKind.RESTART:
        return deployer.restart(name, host, op_id=op_id)
    if request.kind is OpKind.RECOVER:
        return deployer.recover(name, op_id=op_id)
    message = f"a runner does not run {request.kind.value} operations"
    return OpResult(op_id, request.kind, name, Outcome.FAILED, message=message)


class ControlWatch:
    """Applies the operation's control file to ``control`` until stopped."""

    def __init__(self, store: OpStore, op_id: str, control: RolloutControl) -> None:
        self.store, self.op_id, self.control = store, op_id, control
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="jobtui-control")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CONTROL_POLL):
            asked = self.store.read_control(self.op_id)
            newly_aborted = asked.abort and not self.control.aborted
            if newly_aborted or (asked.restore and not self.control.restore):
                self.control.abort(restore=asked.restore)
            elif asked.paused and not self.control.paused:
                self.control.pause()
            elif not asked.paused and self.control.paused:
                self.control.resume()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def install_signals(control: RolloutControl, said: Callable[[str], None] = log.warning) -> None:
    """SIGTERM/SIGINT: abort at the next safe point and restore; SIGHUP: ignored."""

    def abort(signum: int, _frame: FrameType | None) -> None:
        said(f"{signal.Signals(signum).name}: aborting at the next safe point, restoring")
        control.abort(restore=True)

    signal.signal(signal.SIGTERM, abort)
    signal.signal(signal.SIGINT, abort)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def run_interruptibly(work: Callable[[], OpResult]) -> OpResult:
    """``work()`` in a thread while this (main) thread stays free to run signal handlers."""
    box: list[OpResult | BaseException] = []

    def target() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # handed to the main thread below
            box.append(exc)

    thread = threading.Thread(target=target, name="jobtui-operation")
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
    outcome = box[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
