"""The health gate a new (or restarted) container must pass before the old one goes.

Three kinds, the first that applies wins:

* ``docker``: the container has a Docker HEALTHCHECK (the image's, or the
  inventory's ``healthcheck`` which replaces it at creation): wait for
  ``healthy``; ``unhealthy`` or the deadline fails it.
* ``tcp``: the service has a ``port``: a TCP connect to it on the host's
  address must succeed.
* ``running``: neither: the container must still be running after
  ``update_config.monitor`` seconds.

Every kind fails at once when the container exits or Docker restarts it.
:func:`choose_gate` and :func:`judge` are pure; :func:`wait_for_gate` polls
Docker (and the port) until :func:`judge` decides.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobtui.config.models import Healthcheck, Service

NANOS = 1_000_000_000
POLL_INTERVAL = 0.2
"""Seconds between two looks at a container that is being gated."""
SLACK = 3.0
"""Seconds added to a Docker healthcheck's own worst case before jobtui gives up."""
TCP_CONNECT_TIMEOUT = 0.5

# Docker's defaults for a HEALTHCHECK that leaves a value at zero.
DOCKER_INTERVAL = 30.0
DOCKER_TIMEOUT = 30.0
DOCKER_RETRIES = 3


class GateKind(StrEnum):
    DOCKER = "docker"
    TCP = "tcp"
    RUNNING = "running"


@dataclass(frozen=True)
class HealthGate:
    """How a container proves it is healthy, and how long it may take."""

    kind: GateKind
    timeout: float
    """Seconds from start until the gate fails (for ``running``: the time it must stay up)."""
    address: str | None = None
    port: int | None = None

    def describe(self) -> str:
        if self.kind is GateKind.DOCKER:
            return f"Docker healthcheck healthy within {self.timeout:g} s"
        if self.kind is GateKind.TCP:
            return f"TCP {self.address}:{self.port} answers within {self.timeout:g} s"
        return f"still running after {self.timeout:g} s"


@dataclass(frozen=True)
class Observation:
    """One look at a gated container (from ``GET /containers/{id}/json``)."""

    elapsed: float
    """Seconds since the gate began."""
    state: str
    """Docker's State.Status: ``running``, ``exited``, ``restarting`` …"""
    exit_code: int = 0
    health: str | None = None
    """State.Health.Status: ``starting``, ``healthy``, ``unhealthy``; ``None`` without a check."""
    restarts: int = 0
    """How often Docker restarted it since the gate began."""
    port_open: bool | None = None
    """For the ``tcp`` gate: whether the last connect succeeded."""
    health_log: str = ""
    """The last healthcheck output, to explain ``unhealthy``."""


@dataclass(frozen=True)
class Decision:
    """The gate's verdict: ``done`` once decided, then ``ok`` or not with a reason."""

    done: bool
    ok: bool = False
    reason: str = ""


PENDING = Decision(False)


def has_docker_healthcheck(config: Mapping[str, Any] | None) -> bool:
    """Whether a container's ``Config.Healthcheck`` defines a check that runs."""
    test = list((config or {}).get("Test") or [])
    return bool(test) and test[0] != "NONE"


def docker_gate_timeout(config: Mapping[str, Any]) -> float:
    """The longest a healthcheck can take to call a container healthy or unhealthy.

    Docker probes every ``interval`` after ``start_period`` and calls it
    unhealthy after ``retries`` failures in a row, each probe taking up to
    ``timeout``.
    """
    interval = (config.get("Interval") or 0) / NANOS or DOCKER_INTERVAL
    timeout = (config.get("Timeout") or 0) / NANOS or DOCKER_TIMEOUT
    retries = int(config.get("Retries") or 0) or DOCKER_RETRIES
    start = (config.get("StartPeriod") or 0) / NANOS
    return start + (interval + timeout) * (retries + 1) + SLACK


def tcp_gate_timeout(check: Healthcheck | None) -> float:
    """How long a port may take to answer: the inventory healthcheck's start_period
    plus its retries at its interval (Compose's defaults without one)."""
    check = check or Healthcheck()
    return max(check.start_period + check.interval * max(check.retries, 1), 1.0)


def service_port(service: Service) -> int | None:
    """Where the service answers on its host: the published port, else the one it listens on."""
    if service.port is None:
        return None
    if service.network_mode == "host" or service.port.host_port is None:
        return service.port.container_port
    return service.port.host_port


def choose_gate(
    service: Service, container_healthcheck: Mapping[str, Any] | None, address: str
) -> HealthGate:
    """The gate for a container of ``service`` whose effective ``Config.Healthcheck``
    is ``container_healthcheck``, on a host reached at ``address``."""
    if has_docker_healthcheck(container_healthcheck):
        assert container_healthcheck is not None
        return HealthGate(GateKind.DOCKER, docker_gate_timeout(container_healthcheck))
    port = service_port(service)
    if port is not None:
        timeout = tcp_gate_timeout(service.healthcheck)
        return HealthGate(GateKind.TCP, timeout, address=address, port=port)
    return HealthGate(GateKind.RUNNING, max(service.update_config.monitor, 0.0))


def judge(gate: HealthGate, seen: Observation) -> Decision:
    """Decide the gate from one observation; :data:`PENDING` when it is too early."""
    if seen.state in ("exited", "dead"):
        return Decision(True, False, f"container exited with code {seen.exit_code}")
    if seen.restarts > 0 or seen.state == "restarting":
        return Decision(True, False, f"container crashed and was restarted ({seen.restarts}x)")
    if seen.state not in ("running", "created"):
        return Decision(True, False, f"container is {seen.state}")
    if gate.kind is GateKind.DOCKER:
        if seen.health == "healthy":
            return Decision(True, True, "healthy")
        if seen.health == "unhealthy":
            detail = f": {seen.health_log}" if seen.health_log else ""
            return Decision(True, False, f"healthcheck reports unhealthy{detail}")
    elif gate.kind is GateKind.TCP:
        if seen.port_open and seen.state == "running":
            return Decision(True, True, f"{gate.address}:{gate.port} answers")
    elif seen.elapsed >= gate.timeout and seen.state == "running":
        return Decision(True, True, f"still running after {gate.timeout:g} s")
    if seen.elapsed >= gate.timeout:
        return Decision(True, False, _timeout_reason(gate, seen))
    return PENDING


def _timeout_reason(gate: HealthGate, seen: Observation) -> str:
    if gate.kind is GateKind.DOCKER:
        return f"not healthy after {gate.timeout:g} s (health: {seen.health or 'none'})"
    if gate.kind is GateKind.TCP:
        return f"{gate.address}:{gate.port} did not answer within {gate.timeout:g} s"
    return f"not running after {gate.timeout:g} s"


def port_answers(address: str, port: int, timeout: float = TCP_CONNECT_TIMEOUT) -> bool:
    """Whether a TCP connect to ``address:port`` succeeds."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def observe(
    api: Any, container_id: str, gate: HealthGate, elapsed: float, restarts_before: int
) -> Observation:
    """Look at a gated container once (and at its port, for the ``tcp`` gate)."""
    data = api.inspect_container(container_id)
    state = data.get("State") or {}
    health = state.get("Health") or None
    log = (health or {}).get("Log") or []
    last = str(log[-1].get("Output") or "").strip() if log else ""
    status = str(state.get("Status") or "")
    port_open: bool | None = None
    if gate.kind is GateKind.TCP and status == "running" and gate.address and gate.port:
        port_open = port_answers(gate.address, gate.port)
    return Observation(
        elapsed=elapsed,
        state=status,
        exit_code=int(state.get("ExitCode") or 0),
        health=(health or {}).get("Status"),
        restarts=int(data.get("RestartCount") or 0) - restarts_before,
        port_open=port_open,
        health_log=last.splitlines()[-1] if last else "",
    )


def wait_for_gate(
    api: Any,
    container_id: str,
    gate: HealthGate,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = POLL_INTERVAL,
    monitor: float = 0.0,
) -> Decision:
    """Poll the container until :func:`judge` decides; Docker errors propagate.

    With ``monitor`` (``update_config.monitor``), a container that passed is
    still watched until ``monitor`` seconds after the gate began: exiting,
    being restarted or turning unhealthy in that time fails it.
    """
    start = clock()
    restarts_before = int(api.inspect_container(container_id).get("RestartCount") or 0)
    passed: Decision | None = None
    while True:
        seen = observe(api, container_id, gate, clock() - start, restarts_before)
        decision = judge(gate, seen)
        if decision.done and not decision.ok:
            if passed is not None:
                reason = f"{decision.reason} (within update_config.monitor, {monitor:g} s)"
                return Decision(True, False, reason)
            return decision
        if decision.done and passed is None:
            passed = decision
        if passed is not None and seen.elapsed >= monitor:
            return passed
        sleep(poll)
