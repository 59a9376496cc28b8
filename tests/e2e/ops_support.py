"""Helpers of the tests of operations that outlive their operator (signals, locks, ops).

Each test gets an inventory of its own in ``tmp_path`` (the stack's, plus
test-only services named ``rt-…`` on free loopback ports) and a state
directory of its own (``JOBTUI_STATE_DIR``), so its runners, events files and
local journal are its own; with etcd the journal and locks are the stack's,
under the test services' names. :class:`Ops` runs ``jobtui`` as an operator
would (a separate process) and reads what the runners record.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rollout_support import wait_for, write_inventory

from jobtui.backend.contract import Coordinator, StepEvent, StepStatus
from jobtui.backend.coordination.factory import make_coordinator
from jobtui.backend.deploy.failpoint import HOLD_ENV
from jobtui.backend.deploy.recovery import unfinished
from jobtui.backend.docker.answers import container_from_api
from jobtui.backend.docker.hosts import HostPool
from jobtui.backend.docker.service_containers import belongs_to
from jobtui.backend.model import ContainerInfo
from jobtui.backend.ops.store import OpStore, OpSummary
from jobtui.config.loader import load_inventory
from jobtui.config.models import Inventory

JOBTUI = str(Path(sys.executable).with_name("jobtui"))
RUN_DEADLINE = 60.0
"""Seconds any one operation may take here (a loaded 2-core machine)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def web_service(name: str, port: int, **more: Any) -> dict[str, Any]:
    """A test service of the demo web image on ``port`` in the host network: stop-first.

    Its healthcheck asks every 0.3 s, so a rollout takes about a second.
    """
    health = f"wget -q -O /dev/null http://127.0.0.1:{port}/health || exit 1"
    return {
        "name": name,
        "image": "",  # filled in by Ops
        "run_on_host": "host-a",
        "port": port,
        "envs": [{"key": "PORT", "value": port}],
        "network_mode": "host",
        "stop_grace_period": 2,
        "healthcheck": {
            "test": ["CMD-SHELL", health],
            "interval": "0.3s",
            "timeout": "2s",
            "retries": 3,
        },
        **more,
    }


def worker_service(name: str, hosts: Sequence[str] = ("host-a",), **more: Any) -> dict[str, Any]:
    """A test service of the demo worker (no port): start-first, gate "running after 0.5 s"."""
    config = {"monitor": "0.5s", **more.pop("update_config", {})}
    return {
        "name": name,
        "image": "",
        "run_on_host": list(hosts),
        "network_mode": "host",
        "stop_grace_period": 2,
        "update_config": config,
        **more,
    }


def answer(port: int) -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return str(response.read().decode().strip())
    except OSError:
        return None


@dataclass
class Ops:
    """``jobtui`` on a test inventory, as separate processes, and what they leave."""

    stack: Any
    tmp_path: Path
    services: list[dict[str, Any]]
    etcd: bool = True
    inventory: Inventory = field(init=False)
    state: Path = field(init=False)
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for service in self.services:
            image = service.pop("image_name", "web")
            service["image"] = self.stack.image(f"{image}:v1")
        self.inventory = write_inventory(self.stack.inventory, self.tmp_path, extra=self.services)
        if not self.etcd:  # local locks and journal: files in the state directory
            path = self.inventory.source
            data = yaml.safe_load(path.read_text())
            data.pop("etcd", None)
            path.write_text(yaml.safe_dump(data, sort_keys=False))
            self.inventory = load_inventory(path)
            assert self.inventory.etcd is None
        self.state = self.tmp_path / "state"
        self.pool = HostPool(self.inventory.hosts)
        self.coordinator: Coordinator = _coordinator(self.inventory, self.state)
        self.store = OpStore(self.state)

    @property
    def hold_file(self) -> Path:
        return self.tmp_path / "hold"

    def release(self) -> None:
        """Let a held runner go on."""
        self.hold_file.unlink(missing_ok=True)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "JOBTUI_STATE_DIR": str(self.state)}

    def jobtui(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [JOBTUI, "-i", str(self.inventory.source), *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env=self.env,
        )  # fmt: skip

    def spawn(self, *args: str, hold: str = "") -> subprocess.Popen[str]:
        """``jobtui`` in the background, its output in files (no pipe to fill up).

        ``hold`` (a step name): its runner waits at that step while :attr:`hold_file`
        exists (see ``backend/deploy/failpoint.py``).
        """
        out = (self.tmp_path / f"out-{len(self.started)}.txt").open("w")
        env = self.env
        if hold:
            self.hold_file.touch()
            env[HOLD_ENV] = f"{hold}:{self.hold_file}"
        process = subprocess.Popen(
            [JOBTUI, "-i", str(self.inventory.source), *args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        process.output_path = out.name  # type: ignore[attr-defined]
        self.started.append(process)
        return process

    def output(self, process: subprocess.Popen[str]) -> str:
        return Path(process.output_path).read_text()  # type: ignore[attr-defined]

    def deploy(self, service: str, version: str) -> None:
        """Put ``service`` on ``version`` (and wait until it is)."""
        done = self.jobtui("deploy", service, "--version", version, "-y")
        assert done.returncode == 0, done.stdout + done.stderr

    # -- what the runners record --------------------------------------------------

    def newest(self, service: str, after: float = 0.0) -> OpSummary | None:
        for summary in self.store.summaries(limit=20):
            if summary.request.service == service and summary.request.created >= after:
                return summary
        return None

    def wait_op(self, service: str, after: float) -> OpSummary:
        found: OpSummary = wait_for(lambda: self.newest(service, after), 30, f"{service}'s op")
        return found

    def wait_step(
        self, op_id: str, step: str, host: str = "host-a", status: StepStatus | None = None
    ) -> StepEvent:
        def seen() -> StepEvent | None:
            for event in self.store.summary(op_id).steps:
                wanted = status is None or event.status is status
                if event.step == step and event.host == host and wanted:
                    return event
            return None

        found: StepEvent = wait_for(seen, RUN_DEADLINE, f"step {step} of {op_id}")
        return found

    def wait_ended(self, op_id: str) -> OpSummary:
        def ended() -> OpSummary | None:
            summary = self.store.summary(op_id)
            return summary if summary.state in ("ended", "died") else None

        found: OpSummary = wait_for(ended, RUN_DEADLINE, f"the end of {op_id}")
        return found

    # -- what Docker, the lock and the journal say --------------------------------

    def containers(self, service: str, host: str = "host-a") -> list[ContainerInfo]:
        rows = self.pool[host].client.api.containers(all=True)
        found = (container_from_api(row, host) for row in rows)
        return [c for c in found if belongs_to(c, service)]

    def running(self, service: str, host: str = "host-a") -> list[ContainerInfo]:
        return [c for c in self.containers(service, host) if c.running]

    def settled(self, service: str, hosts: Sequence[str] = ("host-a",)) -> bool:
        """Exactly one container runs per host, the lock is free, the journal is closed."""
        one_each = all(len(self.running(service, h)) == 1 for h in hosts)
        free = self.coordinator.holder(service) is None
        closed = unfinished(self.coordinator.journal(service, limit=200)) == []
        return one_each and free and closed

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        # Runners of this test that still run (a failed test): end them, then clean up.
        for summary in self.store.summaries():
            if summary.running and summary.runner is not None:
                with contextlib.suppress(OSError):
                    os.kill(summary.runner.pid, signal.SIGKILL)
        for service in self.services:
            hosts = service["run_on_host"]
            for host in hosts if isinstance(hosts, list) else [hosts]:
                api = self.pool[host].client.api
                for container in self.containers(service["name"], host):
                    with contextlib.suppress(Exception):
                        api.remove_container(container.id, force=True)
            with contextlib.suppress(Exception):
                self.coordinator.break_lock(service["name"], None)
        self.coordinator.close()
        self.pool.close()


def _coordinator(inventory: Inventory, state: Path) -> Coordinator:
    return make_coordinator(inventory, state_dir=state)


def exit_code_of(sig: signal.Signals) -> int:
    """What a follower exits with after ``sig`` (SIGKILL: killed)."""
    if sig is signal.SIGKILL:
        return -signal.SIGKILL
    if sig is signal.SIGINT:
        return 130
    return 128 + sig


def poll_until(check: Callable[[], Any], timeout: float, what: str) -> float:
    """Seconds it took ``check`` to hold (polled), or fail after ``timeout``."""
    start = time.monotonic()
    wait_for(check, timeout, what)
    return time.monotonic() - start


class Terminal:
    """``jobtui`` on a pseudo-terminal of its own, as an operator types at it."""

    def __init__(self, ops: Ops, *args: str, hold: str = "") -> None:
        import pty

        self.master, slave = pty.openpty()
        env = {**ops.env, "TERM": "dumb"}
        if hold:
            ops.hold_file.touch()
            env[HOLD_ENV] = f"{hold}:{ops.hold_file}"
        self.process = subprocess.Popen(
            [JOBTUI, "-i", str(ops.inventory.source), *args],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.seen = ""

    def read_until(self, text: str, timeout: float = RUN_DEADLINE) -> str:
        """Everything printed until ``text`` shows (polled with a deadline)."""
        import select

        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {text!r} in:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the other side closed
                    chunk = b""
                if not chunk and self.process.poll() is not None:
                    raise AssertionError(f"jobtui ended before {text!r}:\n{self.seen}")
                self.seen += chunk.decode(errors="replace")
        return self.seen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self, timeout: float = RUN_DEADLINE) -> int:
        """The exit status, once everything it printed has been read."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"jobtui did not end:\n{self.seen}"
            self._drain(0.1)
        self._drain(0.1)
        return self.process.returncode

    def _drain(self, wait: float) -> None:
        import select

        ready, _, _ = select.select([self.master], [], [], wait)
        if ready:
            with contextlib.suppress(OSError):
                self.seen += os.read(self.master, 4096).decode(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            os.close(self.master)
