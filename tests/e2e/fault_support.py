"""Helpers of the fault tests (tests/e2e/test_fault_*.py): faulty images, parts stopped
and always started again, a delaying TCP proxy, and the ``jobtui`` CLI as a process.

Faulty release images are built in the test session itself, with the stack's
Docker CLI on host-a, ``FROM`` the demo's ``web:v1`` (no file is copied: only
``ENTRYPOINT``/``HEALTHCHECK`` change), and pushed to the stack's registry:

* ``web:crashloop`` exits 1 s after it starts (with a restart policy Docker
  restarts it over and over);
* ``web:unhealthy`` serves, but its HEALTHCHECK never passes;
* ``web:dies`` is healthy within ~2 s, then exits after 6 s (inside
  ``update_config.monitor``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from rollout_support import answer, wait_for

if TYPE_CHECKING:
    from stack_support import Stack

REPO = Path(__file__).resolve().parents[2]
JOBTUI = [sys.executable, "-m", "jobtui.app.cli"]

VARIANTS: dict[str, str] = {
    "crashloop": (
        'ENTRYPOINT ["/bin/sh", "-c", "echo web crashloop starting; sleep 1; '
        'echo web crashloop: fatal: out of memory >&2; exit 3"]\n'
    ),
    "unhealthy": "HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD exit 1\n",
    "dies": (
        'ENTRYPOINT ["/bin/sh", "-c", "/bin/sh /entrypoint.sh & sleep 6; '
        'echo web dies: lost its database >&2; exit 4"]\n'
    ),
}


def docker_cli(stack: Stack, host: str, *args: str, timeout: float = 120) -> str:
    """Run the stack's Docker CLI against one of its daemons; its output (fails loudly)."""
    url = stack.host_urls[host]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(stack.dir / "docker-cli"), DOCKER_BUILDKIT="0")
    done = subprocess.run(
        ["docker", "-H", url, *args], capture_output=True, text=True, env=env,
        timeout=timeout, check=False, input=None,
    )  # fmt: skip
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def build_variants(stack: Stack) -> dict[str, str]:
    """Build and push the faulty web images (idempotent); tag -> image reference."""
    base = stack.image("web:v1")
    made: dict[str, str] = {}
    for tag, lines in VARIANTS.items():
        ref = stack.image(f"web:{tag}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_CONFIG=str(stack.dir / "docker-cli"), DOCKER_BUILDKIT="0")
        dockerfile = f"FROM {base}\n{lines}"
        built = subprocess.run(
            ["docker", "-H", stack.host_a_url, "build", "-q", "-t", ref, "-"],
            input=dockerfile, capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert built.returncode == 0, f"building {ref}: {built.stdout}{built.stderr}"
        docker_cli(stack, "host-a", "push", ref)
        made[tag] = ref
    return made


@contextmanager
def part_down(stack: Stack, part: str) -> Iterator[None]:
    """A stack part (etcd, registry, prometheus …) stopped; always started again after."""
    stack.stop_part(part)
    try:
        yield
    finally:
        stack.start_part(part)


def pid_of(stack: Stack, name: str) -> int:
    """The pid scripts/stack recorded for a part or a host's daemon."""
    for candidate in (stack.dir / f"{name}.pid", stack.dir / name / "docker.pid"):
        if candidate.is_file():
            return int(candidate.read_text().strip())
    raise AssertionError(f"no pid file of {name} under {stack.dir}")


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that holds every connection ``delay`` seconds first."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port, self.delay = target_port, delay
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._stop.wait(self.delay):
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


class SlowProxy(DelayProxy):
    """A TCP proxy on 127.0.0.1 whose answers come slowly: at most ``rate`` bytes a second
    from upstream to the client, and, with ``stall_after``, nothing more on a connection
    once it has passed that many bytes (until the proxy closes)."""

    def __init__(self, target_port: int, *, rate: int, stall_after: int | None = None) -> None:
        super().__init__(target_port, delay=0)
        self.rate, self.stall_after = rate, stall_after
        self.stalled = threading.Event()
        """Set once some connection stalled."""

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=self._trickle, args=(upstream, client), daemon=True).start()

    def _trickle(self, source: socket.socket, sink: socket.socket) -> None:
        passed = 0
        chunk = max(1, self.rate // 10)
        try:
            while data := source.recv(chunk):
                if self.stall_after is not None and passed + len(data) > self.stall_after:
                    self.stalled.set()
                    self._stop.wait()  # the fault: the registry stops sending mid-answer
                    return
                sink.sendall(data)
                passed += len(data)
                self._stop.wait(len(data) / self.rate)  # the fault: a slow link
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def run_cli(
    *args: str, state_dir: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``jobtui ARGS`` as an operator runs it (stdin not a terminal); result and seconds."""
    full_env = dict(os.environ)
    full_env["JOBTUI_STATE_DIR"] = str(state_dir)
    full_env.update(env or {})
    start = time.monotonic()
    done = subprocess.run(
        [*JOBTUI, *args], capture_output=True, text=True, env=full_env, timeout=timeout,
        check=False, stdin=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    return done, time.monotonic() - start


class CliRun:
    """``jobtui ARGS`` started as a process; its output lines collected as they come."""

    def __init__(self, *args: str, state_dir: Path, env: dict[str, str] | None = None) -> None:
        full_env = dict(os.environ, JOBTUI_STATE_DIR=str(state_dir), **(env or {}))
        self.proc = subprocess.Popen(
            [*JOBTUI, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=full_env, stdin=subprocess.DEVNULL, cwd=REPO,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, *words: str) -> bool:
        return any(all(w in line.split() for w in words) for line in self.lines)

    def op_id(self) -> str | None:
        """The operation id from the banner (``jobtui: operation ID runs in runner …``)."""
        for line in self.lines:
            words = line.split()
            if words[:2] == ["jobtui:", "operation"] and len(words) > 2:
                return words[2]
        return None

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            why = f"jobtui still running after {timeout:g} s:\n{self.text}"
            raise AssertionError(why) from None
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """Kill the follower if it still runs (its runner goes on by itself)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    """The operator never sees a traceback nor an internal error."""
    text = done.stdout + done.stderr
    assert "Traceback" not in text, text
    assert "internal error" not in text, text


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` with a deadline (re-exported from rollout_support)."""
    return wait_for(check, timeout, what)


@contextmanager
def etcd_prefix_of_its_own(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    """The stack's inventory under an etcd prefix of its own (its journal and locks apart
    from the other tests'); afterwards web is deployed back to the inventory's v1 and
    the prefix deleted."""
    from jobtui.backend.coordination.etcd import EtcdCoordinator
    from jobtui.config.loader import load_inventory

    prefix = f"/jobtui-fault-{uuid.uuid4().hex[:8]}"
    data = yaml.safe_load(stack.inventory.read_text())
    data["etcd"]["prefix"] = prefix
    path = tmp_path / "jobtui.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        yield path
    finally:
        back, _ = run_cli("-i", str(path), "deploy", "web", "--yes",
                          state_dir=tmp_path / "state-after")  # fmt: skip
        assert answer(stack.web_port) == "web v1", back.stdout + back.stderr
        etcd = EtcdCoordinator(load_inventory(path).etcd)  # type: ignore[arg-type]
        with contextlib.suppress(Exception):
            etcd._call("cleanup", lambda c: c.delete_prefix(prefix))
        etcd.close()
