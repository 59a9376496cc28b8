"""Operations as records: what a runner is asked to do, and what it reports, as JSON.

A runner (see ``jobtui.app.runner``) gets an :class:`OpRequest` and writes one
JSON object per line to its operation's events file: first ``runner`` (its
pid, process start time and boot id), then every ``step`` as it happens, and
at last ``result`` (the :class:`~jobtui.backend.contract.OpResult`). Everything
here only encodes and decodes; :mod:`jobtui.backend.ops.store` keeps the files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from jobtui.backend.contract import (
    HostOutcome,
    HostResult,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
    StepStatus,
)
from jobtui.backend.errors import JobtuiError


class RecordError(JobtuiError):
    """An operation's request or events file cannot be read."""


@dataclass(frozen=True)
class OpRequest:
    """What a runner is to do: one operation on one service."""

    op_id: str
    kind: OpKind
    service: str
    inventory: str
    """The inventory file (absolute path), loaded again by the runner."""
    version: str | None = None
    """deploy: the version (default the inventory's tag); rollback: the target."""
    hosts: tuple[str, ...] = ()
    """Only these hosts (start/stop/restart ``--host``); empty: all of the service's."""
    host_url_pattern: str | None = None
    fingerprint: Mapping[str, Any] | None = None
    """The confirmed plan's fingerprint (``fingerprint.to_data``); ``None``: not checked."""
    user: str = ""
    bastion: str = ""
    requested_by: int = 0
    """The pid of the CLI or TUI that asked."""
    created: float = 0.0
    title: str = ""
    """What it does in words, e.g. ``deploy web v1 -> v2``."""
    no_lock: bool = False
    """``--no-lock``: etcd is down; run under this bastion's local lock only, journalled
    locally (see :mod:`jobtui.backend.coordination.unlocked`)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["hosts"] = list(self.hosts)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> OpRequest:
        data = _object(text)
        if data is None:
            raise RecordError("an operation request is not a JSON object")
        try:
            return cls(
                op_id=str(data["op_id"]),
                kind=OpKind(data["kind"]),
                service=str(data["service"]),
                inventory=str(data["inventory"]),
                version=_str(data.get("version")),
                hosts=tuple(str(h) for h in data.get("hosts") or ()),
                host_url_pattern=_str(data.get("host_url_pattern")),
                fingerprint=data.get("fingerprint"),
                user=str(data.get("user") or ""),
                bastion=str(data.get("bastion") or ""),
                requested_by=int(data.get("requested_by") or 0),
                created=float(data.get("created") or 0.0),
                title=str(data.get("title") or ""),
                no_lock=bool(data.get("no_lock")),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"an operation request lacks or mangles {exc}") from exc


@dataclass(frozen=True)
class RunnerInfo:
    """The process that runs an operation."""

    pid: int
    start_time: int
    boot_id: str
    host: str
    time: float


def runner_line(info: RunnerInfo) -> str:
    return json.dumps({"type": "runner", **asdict(info)}, sort_keys=True)


def step_line(event: StepEvent) -> str:
    data = asdict(event)
    data["status"] = event.status.value
    return json.dumps({"type": "step", **data}, sort_keys=True)


def result_line(result: OpResult) -> str:
    return json.dumps({"type": "result", **result_to_data(result)}, sort_keys=True)


def result_to_data(result: OpResult) -> dict[str, Any]:
    data = asdict(result)
    data["kind"] = result.kind.value
    data["outcome"] = result.outcome.value
    data["hosts"] = [
        {**asdict(h), "logs": list(h.logs), "outcome": h.outcome.value if h.outcome else None}
        for h in result.hosts
    ]
    data["plan"] = list(result.plan)
    return data


def result_from_data(data: Mapping[str, Any]) -> OpResult:
    hosts = tuple(
        HostResult(
            host=str(h["host"]),
            ok=bool(h["ok"]),
            from_version=_str(h.get("from_version")),
            to_version=_str(h.get("to_version")),
            container=_str(h.get("container")),
            reason=str(h.get("reason") or ""),
            logs=tuple(str(line) for line in h.get("logs") or ()),
            outcome=HostOutcome(h["outcome"]) if h.get("outcome") else None,
        )
        for h in data.get("hosts") or ()
    )
    return OpResult(
        op_id=str(data["op_id"]),
        kind=OpKind(data["kind"]),
        service=str(data["service"]),
        outcome=Outcome(data["outcome"]),
        hosts=hosts,
        message=str(data.get("message") or ""),
        started=float(data.get("started") or 0.0),
        finished=float(data.get("finished") or 0.0),
        plan=tuple(str(line) for line in data.get("plan") or ()),
    )


def step_from_data(data: Mapping[str, Any]) -> StepEvent:
    return StepEvent(
        op_id=str(data["op_id"]),
        service=str(data["service"]),
        host=str(data["host"]),
        step=str(data["step"]),
        status=StepStatus(data["status"]),
        message=str(data.get("message") or ""),
        time=float(data.get("time") or 0.0),
    )


def runner_from_data(data: Mapping[str, Any]) -> RunnerInfo:
    return RunnerInfo(
        pid=int(data["pid"]),
        start_time=int(data.get("start_time") or 0),
        boot_id=str(data.get("boot_id") or ""),
        host=str(data.get("host") or ""),
        time=float(data.get("time") or 0.0),
    )


Record = RunnerInfo | StepEvent | OpResult


def decode_line(text: str | bytes) -> Record | None:
    """One line of an events file; ``None`` for a torn or unknown line."""
    data = _object(text)
    if data is None:
        return None
    try:
        kind = data.get("type")
        if kind == "step":
            return step_from_data(data)
        if kind == "result":
            return result_from_data(data)
        if kind == "runner":
            return runner_from_data(data)
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _object(text: str | bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
