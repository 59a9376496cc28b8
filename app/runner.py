"""The runner process: ``python -m jobtui.app.runner <state>/ops/<op_id>.request.json``.

Started detached by the CLI or the TUI (:mod:`jobtui.backend.deploy.detached`),
it loads the inventory again, wires the engine (:mod:`jobtui.app.engine`),
records who it is (pid, process start time, boot id), runs the one operation
(:func:`jobtui.backend.deploy.runner.execute`) writing every step to the
operation's events file, writes the result and exits. It holds the service's
deploy lock while the operation runs, so it is the lock's holder.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from jobtui.app.engine import Engine
from jobtui.backend.contract import OpResult, Outcome, StepEvent
from jobtui.backend.coordination import boot_id, process_start_time
from jobtui.backend.deploy import (
    ControlWatch,
    RolloutControl,
    execute,
    install_signals,
    run_interruptibly,
)
from jobtui.backend.ops import OpRequest, OpStore, RunnerInfo
from jobtui.config.errors import JobtuiError
from jobtui.config.loader import load_inventory

log = logging.getLogger("jobtui.runner")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m jobtui.app.runner REQUEST.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    path = Path(args[0])
    request = OpRequest.from_json(path.read_text())
    store = OpStore(path.parent.parent)
    writer = store.writer(request.op_id)
    pid = os.getpid()
    started = process_start_time(pid) or 0
    writer.runner(RunnerInfo(pid, started, boot_id(), socket.gethostname(), time.time()))
    control = RolloutControl()
    install_signals(control)
    watch = ControlWatch(store, request.op_id, control)
    try:
        result = run(request, control, writer.step)
    finally:
        watch.stop()
    writer.result(result)
    writer.close()
    try:
        store.prune()
    except Exception:
        log.warning("pruning old operations failed", exc_info=True)
    return 0


def run(
    request: OpRequest, control: RolloutControl, on_step: Callable[[StepEvent], None]
) -> OpResult:
    """The request's operation on a freshly wired engine; a ``FAILED`` result if it cannot."""
    try:
        inventory = load_inventory(request.inventory, host_url_pattern=request.host_url_pattern)
        with Engine(inventory) as engine:
            if request.no_lock:
                from jobtui.backend.coordination import make_coordinator

                # etcd is down: this bastion's lock and journal (refused if etcd is back).
                engine.coordinator = make_coordinator(inventory, no_lock=True)
            deployer = engine.deployer(request.title or request.kind.value, on_step)
            return run_interruptibly(lambda: execute(deployer, request, control))
    except JobtuiError as exc:
        message = f"the runner cannot start: {exc}"
    except Exception as exc:
        traceback.print_exc()
        message = f"the runner failed: {type(exc).__name__}: {exc}"
    now = time.time()
    return OpResult(request.op_id, request.kind, request.service, Outcome.FAILED, (), message,
                    now, now)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
