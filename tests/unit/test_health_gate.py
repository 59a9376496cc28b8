"""The health gate's choice and verdicts (pure), and the TCP probe on a real socket."""

from __future__ import annotations

import socket

from jobtui.backend.deploy.health import (
    PENDING,
    Decision,
    GateKind,
    HealthGate,
    Observation,
    choose_gate,
    docker_gate_timeout,
    judge,
    port_answers,
    tcp_gate_timeout,
)
from jobtui.config.loader import parse_inventory
from jobtui.config.models import Healthcheck

INVENTORY = parse_inventory(
    """
hosts:
  host-a: "unix:///a.sock"
services:
  - name: web
    image: "r/web:v1"
    run_on_host: host-a
    port: 18080
    network_mode: host
  - name: worker
    image: "r/worker:v1"
    run_on_host: host-a
    network_mode: host
    update_config: {monitor: 2s}
  - name: published
    image: "r/web:v1"
    run_on_host: host-a
    port: "9000:80"
    healthcheck: {interval: 1s, retries: 4, start_period: 3s}
""",
    file="inv.yml",
)
WEB, WORKER, PUBLISHED = INVENTORY.services
IMAGE_CHECK = {"Test": ["CMD-SHELL", "wget …"], "Interval": 2_000_000_000,
               "Timeout": 2_000_000_000, "Retries": 3}  # fmt: skip
DOCKER = HealthGate(GateKind.DOCKER, 19.0)
TCP = HealthGate(GateKind.TCP, 15.0, "127.0.0.1", 18080)
RUNNING = HealthGate(GateKind.RUNNING, 5.0)


def test_a_docker_healthcheck_wins_then_the_port_then_staying_up() -> None:
    assert choose_gate(WEB, IMAGE_CHECK, "127.0.0.1") == HealthGate(GateKind.DOCKER, 19.0)
    assert choose_gate(WEB, None, "10.0.0.5") == HealthGate(GateKind.TCP, 15.0, "10.0.0.5", 18080)
    # A disabled check (inventory `disable: true` becomes Docker's NONE) falls through.
    assert choose_gate(WEB, {"Test": ["NONE"]}, "127.0.0.1").kind is GateKind.TCP
    assert choose_gate(WORKER, None, "127.0.0.1") == HealthGate(GateKind.RUNNING, 2.0)


def test_gate_timeouts_come_from_the_check_or_the_inventory() -> None:
    # Docker's own defaults (30 s interval and timeout, 3 retries) for zero values.
    assert docker_gate_timeout({"Test": ["CMD", "x"]}) == 30 * 2 * 4 + 3.0
    assert tcp_gate_timeout(None) == 15.0
    assert tcp_gate_timeout(Healthcheck(interval=1.0, retries=4, start_period=3.0)) == 7.0
    # A published port is checked where it is published.
    gate = choose_gate(PUBLISHED, None, "127.0.0.1")
    assert (gate.kind, gate.port, gate.timeout) == (GateKind.TCP, 9000, 7.0)


def test_an_exit_or_a_restart_fails_every_gate_at_once() -> None:
    for gate in (DOCKER, TCP, RUNNING):
        exited = judge(gate, Observation(0.1, "exited", exit_code=1))
        assert exited == Decision(True, False, "container exited with code 1")
        restarted = judge(gate, Observation(0.1, "running", restarts=1))
        assert restarted.done and not restarted.ok and "restarted" in restarted.reason


def test_docker_gate_waits_for_healthy_and_fails_on_unhealthy_or_time() -> None:
    assert judge(DOCKER, Observation(1.0, "running", health="starting")) is PENDING
    assert judge(DOCKER, Observation(2.1, "running", health="healthy")) == Decision(
        True, True, "healthy"
    )
    sick = judge(DOCKER, Observation(8.0, "running", health="unhealthy", health_log="refused"))
    assert sick == Decision(True, False, "healthcheck reports unhealthy: refused")
    late = judge(DOCKER, Observation(19.5, "running", health="starting"))
    assert late.done and not late.ok and "not healthy after 19 s" in late.reason


def test_tcp_gate_passes_on_the_first_answer() -> None:
    assert judge(TCP, Observation(0.5, "running", port_open=False)) is PENDING
    assert judge(TCP, Observation(0.7, "running", port_open=True)).ok
    late = judge(TCP, Observation(15.2, "running", port_open=False))
    assert late == Decision(True, False, "127.0.0.1:18080 did not answer within 15 s")


def test_running_gate_needs_the_whole_monitor_period() -> None:
    assert judge(RUNNING, Observation(4.9, "running")) is PENDING
    assert judge(RUNNING, Observation(5.0, "running")) == Decision(
        True, True, "still running after 5 s"
    )


def test_port_answers_on_a_real_listening_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert port_answers("127.0.0.1", port)
    assert not port_answers("127.0.0.1", port, timeout=0.2)
