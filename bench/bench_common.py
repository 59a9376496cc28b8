"""What every benchmark section shares: the row, A/B rounds, a real stack, scratch dirs.

The rows that run on the real stack find it through ``--stack DIR`` or
``$JOBTUI_STACK_DIR`` (a directory ``scripts/stack up`` filled: stack.env
names its daemons, registry and etcd). Every scratch directory a section
makes is ``/tmp/jobtui-bench-<what>-XXXX`` and is removed when the section
ends, whatever happens; so are the containers it creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
SCRATCH_PREFIX = "jobtui-bench-"


@dataclass
class Row:
    what: str
    baseline: str
    base: float
    ours: float
    unit: str
    target: str
    met: bool | None
    why: str = ""

    @property
    def ratio(self) -> str:
        return f"{self.ours / self.base:.2f}x" if self.base else "-"


def fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value * 1e3:.0f} ms" if value >= 0.1 else f"{value * 1e3:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if value >= 1000:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


def not_run(what: str, why: str) -> Row:
    """A row that could not be measured in this run, saying why."""
    return Row(what, "-", 0.0, 0.0, "", "-", None, f"not run: {why}")


def alternate(
    base: Callable[[int], float], ours: Callable[[int], float], rounds: int
) -> tuple[float, float]:
    """Medians of ``base(i)`` and ``ours(i)`` run in turn (A/B, A/B …) ``rounds`` times."""
    b, o = [], []
    for i in range(rounds):
        b.append(base(i))
        o.append(ours(i))
    return statistics.median(b), statistics.median(o)


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


@contextlib.contextmanager
def scratch(what: str) -> Iterator[Path]:
    """A fresh ``/tmp/jobtui-bench-<what>-XXXX``, removed on the way out."""
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{what}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_ports(count: int) -> list[int]:
    """``count`` loopback ports nobody listens on now (the kernel picks them)."""
    holders = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            holders.append(s)
        return [s.getsockname()[1] for s in holders]
    finally:
        for s in holders:
            s.close()


def wait_port(port: int, deadline: float = 30.0, poll: float = 0.01) -> None:
    """Return once 127.0.0.1:``port`` accepts a connection (raise after ``deadline`` s)."""
    end = time.monotonic() + deadline
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > end:
                raise TimeoutError(f"port {port} did not answer within {deadline:g} s") from None
            time.sleep(poll)  # a poll interval, not a readiness guess


@dataclass(frozen=True)
class Stack:
    """A stack that ``scripts/stack up`` started (its stack.env)."""

    dir: Path
    env: dict[str, str]

    @classmethod
    def find(cls, given: str | None) -> Stack | None:
        where = given or os.environ.get("JOBTUI_STACK_DIR")
        if not where:
            return None
        path = Path(where)
        try:
            text = (path / "stack.env").read_text()
        except OSError:
            return None
        env = dict(
            line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
        )
        return cls(path, env)

    @property
    def registry(self) -> str:
        return self.env["REGISTRY_URL"].removeprefix("http://")

    def host_url(self, host: str) -> str:
        return self.env[f"HOST_{host.removeprefix('host-').upper()}_URL"]

    def docker(self, host: str, *args: str, check: bool = True) -> str:
        """The Docker CLI against one of the stack's daemons; its stdout."""
        done = subprocess.run(
            ["docker", "-H", self.host_url(host), *args],
            capture_output=True, text=True, env=docker_env(self.dir), check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:2])} on {host}: {done.stderr.strip()}")
        return done.stdout.strip()

    def remove_service(self, host: str, service: str, *, stopped_only: bool = False) -> None:
        """Remove the containers labelled ``jobtui.service=service`` on ``host``."""
        filters = ["--filter", f"label=jobtui.service={service}"]
        if stopped_only:
            filters += ["--filter", "status=exited", "--filter", "status=created"]
        ids = self.docker(host, "ps", "-aq", *filters).split()
        if ids:
            self.docker(host, "rm", "-f", *ids)


def docker_env(stack_dir: Path) -> dict[str, str]:
    """The Docker CLI's environment: the stack's own config, no context of the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(stack_dir / "docker-cli")
    return env


def python_env(pycache: Path, **extra: str) -> dict[str, str]:
    """The environment of a measured Python process: bytecode cached, as an install has it.

    Sessions here run with PYTHONDONTWRITEBYTECODE=1, which makes every
    process compile jobtui's sources again (~0.3 s each); an installed
    jobtui has its .pyc files. The cache goes to the bench's scratch dir,
    never into the source tree.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra)
    return env


def run_quiet(argv: Sequence[str], env: dict[str, str], timeout: float = 120.0) -> None:
    """Run ``argv``; raise with its last output lines if it fails."""
    done = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(argv[:4])} … exited {done.returncode}: {' | '.join(tail)}")
