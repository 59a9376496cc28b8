"""The operations of this bastion on disk, under the state directory.

``<state>/ops/<op_id>.request.json``
    What the runner was asked (:class:`~jobtui.backend.ops.records.OpRequest`).
``<state>/ops/<op_id>.events.jsonl``
    What it reports, one JSON object a line (``runner``, ``step`` …, ``result``),
    appended with one ``write`` each; readers follow it from any offset.
``<state>/ops/<op_id>.control``
    What the operator asks of it meanwhile: ``{"paused", "abort", "restore"}``.
``<state>/ops/<op_id>.log``
    The runner's own output (Python warnings, a traceback if it crashed).

An operation is *running* while its runner lives (pid, start time and boot id
as it recorded them), *ended* once the result is written, and *died* when the
runner is gone without a result: crash recovery then finishes or undoes it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jobtui.backend.contract import OpResult, StepEvent, StepStatus
from jobtui.backend.coordination import boot_id, process_start_time
from jobtui.backend.ops.records import (
    OpRequest,
    Record,
    RecordError,
    RunnerInfo,
    decode_line,
    result_line,
    runner_line,
    step_line,
)

START_GRACE = 30.0
"""Seconds a requested operation may go without a runner before it counts as died."""
KEEP = 200
"""Ended operations whose files are kept (older ones are pruned)."""


@dataclass(frozen=True)
class Control:
    """What the operator asks of a running operation."""

    paused: bool = False
    abort: bool = False
    restore: bool = False


@dataclass
class OpSummary:
    """One operation as ``jobtui ops`` shows it."""

    request: OpRequest
    runner: RunnerInfo | None = None
    steps: list[StepEvent] = field(default_factory=list)
    result: OpResult | None = None
    alive: bool | None = None
    """Whether the runner process exists (``None``: it runs on another machine)."""

    @property
    def op_id(self) -> str:
        return self.request.op_id

    @property
    def state(self) -> str:
        """``running``, ``starting``, ``ended`` or ``died``."""
        if self.result is not None:
            return "ended"
        if self.runner is None:
            late = time.time() - self.request.created > START_GRACE
            return "died" if late else "starting"
        return "died" if self.alive is False else "running"

    @property
    def running(self) -> bool:
        return self.state in ("running", "starting")

    def progress(self) -> str:
        """Each host's latest step, e.g. ``host-a health running; host-b pull ok``."""
        latest: dict[str, StepEvent] = {}
        for event in self.steps:
            latest[event.host] = event
        parts = [f"{h} {e.step} {e.status.value}" for h, e in latest.items()]
        if self.result is not None:
            return self.result.outcome.value + (f": {'; '.join(parts)}" if parts else "")
        return "; ".join(parts) or "starting"

    def failed_steps(self) -> list[StepEvent]:
        return [e for e in self.steps if e.status is StepStatus.FAILED]


def runner_alive(info: RunnerInfo) -> bool | None:
    """Whether the recorded runner process still exists; ``None`` when it is not on this
    machine in this boot (a state directory shared between bastions)."""
    if info.host != socket.gethostname() or not info.boot_id or info.boot_id != boot_id():
        return None
    started = process_start_time(info.pid)
    return started is not None and (not info.start_time or started == info.start_time)


class EventWriter:
    """Appends one operation's records to its events file (thread-safe: one write a line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _write(self, line: str) -> None:
        os.write(self._fd, (line + "\n").encode())

    def runner(self, info: RunnerInfo) -> None:
        self._write(runner_line(info))

    def step(self, event: StepEvent) -> None:
        self._write(step_line(event))

    def result(self, result: OpResult) -> None:
        self._write(result_line(result))
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class OpStore:
    """The ``ops/`` directory of a state directory (see the module doc)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "ops"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordError(f"cannot create {self.dir}: {exc}") from exc

    def path(self, op_id: str, suffix: str) -> Path:
        if not op_id or "/" in op_id or op_id.startswith("."):
            raise RecordError(f"{op_id!r} is not an operation id")
        return self.dir / f"{op_id}.{suffix}"

    # Writing.

    def write_request(self, request: OpRequest) -> Path:
        target = self.path(request.op_id, "request.json")
        _write_atomically(target, request.to_json())
        return target

    def writer(self, op_id: str) -> EventWriter:
        return EventWriter(self.path(op_id, "events.jsonl"))

    def set_control(self, op_id: str, control: Control) -> None:
        data = {"paused": control.paused, "abort": control.abort, "restore": control.restore}
        _write_atomically(self.path(op_id, "control"), json.dumps(data))

    # Reading.

    def read_request(self, op_id: str) -> OpRequest:
        try:
            return OpRequest.from_json(self.path(op_id, "request.json").read_text())
        except OSError as exc:
            raise RecordError(f"no operation {op_id}: {exc.strerror}") from exc

    def read_control(self, op_id: str) -> Control:
        try:
            data = json.loads(self.path(op_id, "control").read_text())
        except (OSError, ValueError):
            return Control()
        if not isinstance(data, dict):
            return Control()
        return Control(bool(data.get("paused")), bool(data.get("abort")), bool(data.get("restore")))

    def records(self, op_id: str, offset: int = 0) -> tuple[list[Record], int]:
        """The complete records from byte ``offset`` on, and the offset after them."""
        found = self.records_at(op_id, offset)
        return [r for r, _ in found], (found[-1][1] if found else offset)

    def records_at(self, op_id: str, offset: int = 0) -> list[tuple[Record, int]]:
        """Each complete record from byte ``offset`` on, with the offset just after it."""
        try:
            with self.path(op_id, "events.jsonl").open("rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        found: list[tuple[Record, int]] = []
        position = offset
        # A line still being written has no newline yet: it waits for the next read.
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            position += len(line)
            record = decode_line(line) if line.strip() else None
            if record is not None:
                found.append((record, position))
        return found

    def summary(self, op_id: str) -> OpSummary:
        summary = OpSummary(self.read_request(op_id))
        records, _ = self.records(op_id)
        for record in records:
            if isinstance(record, RunnerInfo):
                summary.runner = record
            elif isinstance(record, StepEvent):
                summary.steps.append(record)
            else:
                summary.result = record
        if summary.runner is not None and summary.result is None:
            summary.alive = runner_alive(summary.runner)
        return summary

    def ids(self) -> list[str]:
        """Every operation's id, newest request first."""
        found = []
        for path in self.dir.glob("*.request.json"):
            try:
                found.append((path.stat().st_mtime, path.name.removesuffix(".request.json")))
            except OSError:
                continue  # pruned meanwhile
        return [op_id for _, op_id in sorted(found, reverse=True)]

    def summaries(self, limit: int | None = None) -> Iterator[OpSummary]:
        """Newest first; unreadable records are skipped."""
        for op_id in self.ids()[:limit]:
            try:
                yield self.summary(op_id)
            except RecordError:
                continue

    def resolve(self, prefix: str) -> str:
        """The one operation whose id starts with ``prefix``."""
        found = [op_id for op_id in self.ids() if op_id.startswith(prefix)]
        if len(found) != 1:
            what = "no operation" if not found else f"{len(found)} operations"
            raise RecordError(f"{what} with an id starting {prefix!r} on this bastion")
        return found[0]

    def newest_running(self, service: str | None = None) -> OpSummary | None:
        for summary in self.summaries(limit=50):
            if summary.running and (service is None or summary.request.service == service):
                return summary
        return None

    def prune(self, keep: int = KEEP) -> None:
        """Delete the files of ended (or died) operations beyond the newest ``keep``."""
        for op_id in self.ids()[keep:]:
            try:
                if self.summary(op_id).running:
                    continue
            except RecordError:
                pass
            for suffix in ("request.json", "events.jsonl", "control", "log"):
                self.path(op_id, suffix).unlink(missing_ok=True)


def _write_atomically(target: Path, text: str) -> None:
    temp = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        temp.write_text(text)
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise RecordError(f"cannot write {target}: {exc}") from exc
