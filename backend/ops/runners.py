"""Start a detached runner, and follow an operation's events file until its result.

:func:`spawn_runner` starts the runner in a session of its own (``setsid``):
not in the operator's process group, without a controlling terminal, stdin
from ``/dev/null`` and its output in the operation's log. A hung-up SSH
session (SIGHUP to the terminal's process group), Ctrl-C or a closed terminal
never reaches it. :func:`follow` reads what it reports from any process on
this bastion — the CLI that started it, ``jobtui attach``, a TUI.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from jobtui.backend.contract import OpResult
from jobtui.backend.ops.records import Record, RecordError, RunnerInfo
from jobtui.backend.ops.store import START_GRACE, OpStore, runner_alive

POLL = 0.1
"""Seconds between two reads of an events file."""
LIVENESS_EVERY = 0.5
"""Seconds between two checks that the runner still exists."""


class RunnerDied(RecordError):
    """The runner is gone without a result: what it did is left to crash recovery."""


def spawn_runner(
    command: Sequence[str], store: OpStore, op_id: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command + [request file]`` detached (see the module doc)."""
    request = store.path(op_id, "request.json")
    log_path = store.path(op_id, "log")
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [*command, str(request)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd="/",
            env=dict(env) if env is not None else None,
        )


def log_tail(store: OpStore, op_id: str, lines: int = 5) -> str:
    try:
        text = store.path(op_id, "log").read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line for line in text.splitlines()[-lines:] if line.strip())


class Follower:
    """Follows one operation's events; can be resumed where it stopped (after Ctrl-C)."""

    def __init__(
        self, store: OpStore, op_id: str, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.store, self.op_id, self.process = store, op_id, process
        self.offset = 0
        self.runner: RunnerInfo | None = None
        self.result: OpResult | None = None
        self._created = store.read_request(op_id).created
        self._checked = time.monotonic()

    def run(
        self, on_record: Callable[[Record], None], stop: threading.Event | None = None
    ) -> OpResult | None:
        """Hand each new record to ``on_record``; the result at the end, ``None`` when
        ``stop`` is set first, :class:`RunnerDied` when the runner went without one."""
        while self.result is None:
            if self.poll(on_record):
                break
            if stop is not None and stop.is_set():
                return None
            if stop is not None:
                stop.wait(POLL)
            else:
                time.sleep(POLL)  # polling a file another process appends to
        return self.result

    def poll(self, on_record: Callable[[Record], None]) -> bool:
        """Hand on what is there now, without waiting; ``True`` once the result came.

        For following several operations from one loop; raises :class:`RunnerDied`
        like :meth:`run` (the liveness check runs at most every ``LIVENESS_EVERY``).
        """
        if self.result is not None or self._read(on_record):
            return True
        if time.monotonic() - self._checked < LIVENESS_EVERY:
            return False
        self._checked = time.monotonic()
        if not _died(self.runner, self.process, self._created):
            return False
        if self._read(on_record):  # it may have written its result just before
            return True
        why = log_tail(self.store, self.op_id)
        raise RunnerDied(
            f"the runner of {self.op_id} is gone without finishing"
            + (f" ({why})" if why else "")
            + "; the next operation on the service recovers it"
        )

    def _read(self, on_record: Callable[[Record], None]) -> bool:
        for record, end in self.store.records_at(self.op_id, self.offset):
            self.offset = end  # before the call: a Ctrl-C in it does not repeat the record
            if isinstance(record, RunnerInfo):
                self.runner = record
            elif isinstance(record, OpResult):
                self.result = record
            on_record(record)
            if self.result is not None:
                return True
        return False


def follow(
    store: OpStore,
    op_id: str,
    on_record: Callable[[Record], None],
    *,
    stop: threading.Event | None = None,
    process: subprocess.Popen[bytes] | None = None,
) -> OpResult | None:
    """Hand every record of ``op_id`` to ``on_record`` as it comes; the result at the end
    (see :meth:`Follower.run`)."""
    return Follower(store, op_id, process).run(on_record, stop)


def _died(
    runner: RunnerInfo | None, process: subprocess.Popen[bytes] | None, created: float
) -> bool:
    if process is not None and process.poll() is not None:
        return True
    if runner is not None:
        return runner_alive(runner) is False
    # Not started yet: only a runner we did not start can be waited for in vain.
    return process is None and time.time() - created > START_GRACE


def runner_env(store: OpStore) -> dict[str, str]:
    """The runner's environment: this one, with the state directory made absolute."""
    env = dict(os.environ)
    env["JOBTUI_STATE_DIR"] = str(store.dir.parent.resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env



