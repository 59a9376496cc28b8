"""A host's Docker daemon restarted, down at start, killed in the middle of a rollout, hung.

Expected (RELIABILITY.md), all on host-b (api, worker and the unmanaged
adhoc-debug run there; the daemon's restart leaves them exited, since the
demo runs them without a restart policy):

* events stream dropped by a daemon restart: the observer sees host-b down,
  then up again by itself with a new events stream; it lists host-b's
  containers exactly once each, with the states the daemon reports
  (exited), and follows their start through the new stream; ``status
  --json`` has one row per service and host;
* daemon down at start: ``deploy api`` exits 1 naming host-b, nothing
  changed; ``status`` shows host-b down, exit 1;
* daemon stopped during the pull / during the health gate: the operation
  ends failed (never "done"); once the daemon is back no two api
  containers ever run, and the next deploy to the inventory's version
  leaves exactly one serving ``web v1``;
* daemon hung (SIGSTOP): ``status`` and ``deploy`` end within a bounded
  time, exit 1; ``deploy`` says "no answer in time" naming host-b, ``status``
  shows host-b down with "no answer within 10 s".

Every test starts the daemon again (SIGCONT first), starts the containers
that ran before and removes the containers its operations created.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import pytest
from fault_support import CliRun, DelayProxy, no_traceback, pid_of, run_cli
from rollout_support import Rollouts, answer, wait_for, write_inventory

from jobtui.backend.model import HostStatus
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.config.models import Host

if TYPE_CHECKING:
    from conftest import Stack

HOST = "host-b"
HUNG_BOUND = 60.0
"""Seconds a verb may take against a hung daemon (measured: status ~21 s, deploy ~32 s)."""


def _api_b(stack: Stack) -> docker.APIClient:
    return docker.APIClient(base_url=stack.host_b_url, timeout=30)


def _answers(stack: Stack) -> bool:
    try:
        client = docker.APIClient(base_url=stack.host_b_url, timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextlib.contextmanager
def _host_b_kept(stack: Stack) -> Iterator[set[str]]:
    """host-b's daemon running and answering after, with what ran before running again.

    Yields the ids of every container on host-b before the test; containers
    created since are removed at the end.
    """
    api = _api_b(stack)
    before = api.containers(all=True)
    was_running = [c["Id"] for c in before if c["State"] == "running"]
    known = {c["Id"] for c in before}
    api.close()
    try:
        yield known
    finally:
        with contextlib.suppress(ProcessLookupError, AssertionError, ValueError):
            os.kill(pid_of(stack, HOST), signal.SIGCONT)
        if not _answers(stack):
            stack.stop_host(HOST)  # cleans up a half-dead daemon and its containerd
            stack.start_host(HOST)
        api = _api_b(stack)
        try:
            for row in api.containers(all=True):
                if row["Id"] not in known:
                    api.remove_container(row["Id"], force=True)
            for cid in was_running:
                if not api.inspect_container(cid)["State"]["Running"]:
                    api.start(cid)
        finally:
            api.close()
        wait_for(lambda: answer(stack.api_port) == "web v1", 30, "api answering web v1 again")


def _running_api(stack: Stack) -> list[str]:
    api = _api_b(stack)
    try:
        rows = api.containers(filters={"label": "jobtui.service=api", "status": "running"})
        return [r["Id"] for r in rows]
    finally:
        api.close()


# ------------------------------------------------------------------ events dropped


def test_daemon_restart_observer_resubscribes_without_duplicates(
    stack: Stack, tmp_path: Path
) -> None:
    hosts = {name: Host(name, url) for name, url in stack.host_urls.items()}
    fleet = FleetObserver(hosts)
    fleet.start(lambda: None)
    try:
        with _host_b_kept(stack):
            assert fleet.wait_settled(15)
            before = {c.id: c.name for c in fleet.snapshot().hosts[HOST].containers}
            assert {"adhoc-debug"} <= set(before.values())
            events_before = fleet.api_calls["events"]

            stack.stop_host(HOST)
            wait_for(lambda: fleet.snapshot().hosts[HOST].status is HostStatus.DOWN, 10,
                     "host-b DOWN in the observer")  # fmt: skip
            stack.start_host(HOST)
            up = wait_for(
                lambda: fleet.snapshot().hosts[HOST].status is HostStatus.UP, 15,
                "host-b UP again in the observer without any help",
            )  # fmt: skip
            assert up
            api = _api_b(stack)
            try:
                real = {r["Id"]: r["State"] for r in api.containers(all=True)}

                def same_as_daemon() -> bool:
                    seen = fleet.snapshot().hosts[HOST].containers
                    return {c.id: c.state for c in seen} == real and len(seen) == len(real)

                wait_for(same_as_daemon, 10, "the observer listing host-b as its daemon does")
                seen = fleet.snapshot().hosts[HOST].containers
                assert len({c.id for c in seen}) == len(seen), "duplicate rows"
                assert {c.id: c.name for c in seen} == before  # the same containers, once each
                assert all(c.state == "exited" for c in seen), [(c.name, c.state) for c in seen]

                # Their start reaches the observer through the new events stream.
                for cid in before:
                    api.start(cid)
            finally:
                api.close()

            def all_running() -> bool:
                seen = fleet.snapshot().hosts[HOST].containers
                return len(seen) == len(before) and all(c.running for c in seen)

            wait_for(all_running, 10, "the restarted containers seen running again")
            assert fleet.api_calls["events"] > events_before, "no new events stream"

            status, _ = run_cli("-i", str(stack.inventory), "status", "--json",
                                state_dir=tmp_path / "state")  # fmt: skip
            no_traceback(status)
            assert status.returncode == 0, status.stderr
            rows = json.loads(status.stdout)["services"]
            pairs = [(r["service"], r["host"]) for r in rows]
            assert len(pairs) == len(set(pairs)), pairs
            on_b = {r["service"]: r["state"] for r in rows if r["host"] == HOST}
            assert on_b == {"api": "running", "worker": "running"}, on_b
    finally:
        fleet.stop()


# ------------------------------------------------------------------ down at start


def test_daemon_down_at_start_deploy_and_status_name_the_host(stack: Stack, tmp_path: Path) -> None:
    inv, state = str(stack.inventory), tmp_path / "state"
    with _host_b_kept(stack) as known:
        stack.stop_host(HOST)
        deploy, deploy_s = run_cli("-i", inv, "deploy", "api", "--version", "v2", "--yes",
                                   state_dir=state, timeout=60)  # fmt: skip
        status, status_s = run_cli("-i", inv, "status", state_dir=state, timeout=60)
        stack.start_host(HOST)
        api = _api_b(stack)
        after = {c["Id"] for c in api.containers(all=True)}
        api.close()
    print(f"host down: deploy {deploy_s:.1f} s: {deploy.stderr.strip()!r}; status {status_s:.1f} s")
    for done in (deploy, status):
        no_traceback(done)
    assert deploy.returncode == 1 and HOST in deploy.stderr, deploy.stdout + deploy.stderr
    assert "nothing changed" in deploy.stderr
    assert status.returncode == 1
    (line,) = [ln for ln in status.stdout.splitlines() if ln.startswith(HOST)]
    assert line.split()[1] == "down", line
    assert after == known, "the refused deploy created a container"
    assert deploy_s < 30 and status_s < 30


# ------------------------------------------------------------------ killed mid-rollout


def _kill_daemon_then_start(stack: Stack) -> None:
    """SIGTERM host-b's dockerd by its pid file, wait until it is gone, start it again."""
    pid = pid_of(stack, HOST)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60, "host-b's dockerd gone")
    stack.stop_host(HOST)  # its leftover containerd and mounts, if any
    stack.start_host(HOST)


@pytest.fixture
def rollouts(stack: Stack, tmp_path: Path) -> Iterator[Rollouts]:
    found = Rollouts(stack.inventory, tmp_path)
    try:
        yield found
    finally:
        found.close()


def _killed_during(
    stack: Stack, rollouts: Rollouts, tmp_path: Path, inventory: Path, step: str
) -> tuple[int, str, list[str], str]:
    """Deploy api v2 (CLI), kill host-b's daemon once ``step`` runs, start it again.

    Returns the deploy's exit code and output, the api containers running
    once the daemon is back, and the next deploy's output (to v1, the
    inventory's version, with the stack's own inventory). That next deploy
    leaves exactly one api container serving ``web v1``: the one that served
    before the test (started again, not recreated).
    """
    state = tmp_path / "state"
    with _host_b_kept(stack) as known:
        run = CliRun("-i", str(inventory), "deploy", "api", "--version", "v2", "--yes",
                     state_dir=state)  # fmt: skip
        try:
            wait_for(lambda: run.saw(HOST, step, "running") or run.proc.poll() is not None,
                     60, f"the deploy's {step} step")  # fmt: skip
            assert run.proc.poll() is None, f"deploy ended before its {step}:\n{run.text}"
            _kill_daemon_then_start(stack)
            code = run.wait(90)
        finally:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait(timeout=10)
        running_after = _running_api(stack)
        again, _ = run_cli("-i", str(stack.inventory), "deploy", "api", "--yes",
                           state_dir=state, timeout=90)  # fmt: skip
        no_traceback(again)
        assert again.returncode == 0, again.stdout + again.stderr
        serving = _running_api(stack)
        assert len(serving) == 1, again.stdout
        assert serving[0] in known, f"api was recreated, not its old container started:\n{again}"
        assert answer(stack.api_port) == "web v1"
    return code, run.text, running_after, again.stdout + again.stderr


def _summary(text: str) -> str:
    """The deploy's last word: ``deploy api: done …`` or ``deploy api: failed …``."""
    (line,) = [ln for ln in text.splitlines() if ln.startswith("deploy api:")]
    return line


def test_daemon_killed_during_pull(stack: Stack, rollouts: Rollouts, tmp_path: Path) -> None:
    port = int(stack.registry_host.rsplit(":", 1)[1])
    with DelayProxy(port, delay=4) as proxy:
        # The same image through a proxy that holds every connection: a pull of seconds.
        slow = f"127.0.0.1:{proxy.port}/demo/web:v1"
        inventory = write_inventory(stack.inventory, tmp_path, {"api": {"image": slow}})
        assert inventory.service("api").image == slow
        code, text, after, again = _killed_during(
            stack, rollouts, tmp_path, tmp_path / "jobtui.yml", "pull"
        )
    print(f"killed during pull: exit {code}\n{text}\nafter: {len(after)} running\n{again}")
    assert code == 1 and "failed" in _summary(text) and "pull" in _summary(text), text
    assert len(after) <= 1


def test_daemon_killed_during_health_gate(stack: Stack, rollouts: Rollouts, tmp_path: Path) -> None:
    code, text, after, again = _killed_during(stack, rollouts, tmp_path, stack.inventory, "health")
    print(f"killed during health: exit {code}\n{text}\nafter: {len(after)} running\n{again}")
    assert code == 1 and "failed" in _summary(text), text
    # The gate fails on the lost socket or on the new container's exit (dockerd stops
    # every container as it shuts down), whichever it sees first.
    assert any(ln.split()[1:4] == [HOST, "health", "failed"] for ln in text.splitlines()
               if len(ln.split()) > 3), text  # fmt: skip
    assert len(after) <= 1
    if "RESTORE FAILED" in text:
        # Left unfinished in the journal: the next deploy recovers it first, under its lock.
        assert "nothing serves api on host-b" in _summary(text), text
        assert "recovering it first" in again, again


# ------------------------------------------------------------------ hung (SIGSTOP)


def test_hung_daemon_verbs_time_out_naming_the_host(stack: Stack, tmp_path: Path) -> None:
    inv, state = str(stack.inventory), tmp_path / "state"
    with _host_b_kept(stack) as known:
        pid = pid_of(stack, HOST)
        os.kill(pid, signal.SIGSTOP)
        try:
            status, status_s = run_cli("-i", inv, "status", state_dir=state, timeout=HUNG_BOUND)
            deploy, deploy_s = run_cli("-i", inv, "deploy", "api", "--version", "v2", "--yes",
                                       state_dir=state, timeout=HUNG_BOUND)  # fmt: skip
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: _answers(stack), 30, "host-b answering after SIGCONT")
        api = _api_b(stack)
        after = {c["Id"] for c in api.containers(all=True)}
        api.close()
    print(f"hung: status {status_s:.1f} s; deploy {deploy_s:.1f} s: {deploy.stderr.strip()!r}")
    for done in (status, deploy):
        no_traceback(done)
    assert status.returncode == 1
    (line,) = [ln for ln in status.stdout.splitlines() if ln.startswith(HOST)]
    # A host that never answered within the settle time is down, with that reason.
    assert line.split()[1] == "down" and "no answer within" in line, status.stdout
    assert status_s < HUNG_BOUND and deploy_s < HUNG_BOUND
    assert deploy.returncode == 1 and HOST in deploy.stderr, deploy.stderr
    assert "no answer in time" in deploy.stderr and "nothing changed" in deploy.stderr
    assert after == known
