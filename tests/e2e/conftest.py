"""The real stack for end-to-end tests.

`scripts/stack up` starts (or finds running) two Docker daemons, a registry,
etcd and Prometheus on loopback and deploys the demo; the session fixture
`stack` runs it once and describes the result. Nothing here skips: a missing
package or a part that will not start fails the session loudly. The stack is
left running afterwards (the demo and later runs reuse it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK_SCRIPT = REPO / "scripts" / "stack"
E2E_DIR = Path(__file__).resolve().parent

UP_TIMEOUT = 900.0  # a fresh machine installs Debian packages first
HOST_TIMEOUT = 120.0

ENV_KEYS = (
    "JOBTUI_STACK_DIR",
    "HOST_A_URL",
    "HOST_B_URL",
    "REGISTRY_URL",
    "ETCD_ENDPOINT",
    "PROMETHEUS_URL",
    "JOBTUI_INVENTORY",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as `e2e` (select or deselect with -m)."""
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


def run_stack_script(*args: str, stack_dir: Path | None, timeout: float) -> str:
    """Run scripts/stack; fail the test (with the script's output) unless it succeeds."""
    if not STACK_SCRIPT.is_file():
        pytest.fail(f"{STACK_SCRIPT} is missing", pytrace=False)
    env = dict(os.environ)
    if stack_dir is not None:
        env["JOBTUI_STACK_DIR"] = str(stack_dir)
    command = [str(STACK_SCRIPT), *args]
    try:
        result = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode()
        pytest.fail(
            f"`scripts/stack {' '.join(args)}` did not finish in {timeout:.0f}s:\n{partial}",
            pytrace=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"`scripts/stack {' '.join(args)}` failed with exit status "
            f"{result.returncode}:\n{result.stdout}",
            pytrace=False,
        )
    return result.stdout


def parse_env_file(path: Path) -> dict[str, str]:
    """Read the script's `KEY=value` lines (no quoting is used)."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not a KEY=value line: {raw!r}")
        values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Stack:
    """Where the parts of the running stack answer."""

    dir: Path
    host_a_url: str
    host_b_url: str
    registry_url: str
    etcd_endpoint: str
    prometheus_url: str
    inventory: Path

    @property
    def host_urls(self) -> dict[str, str]:
        return {"host-a": self.host_a_url, "host-b": self.host_b_url}

    def stop_host(self, name: str) -> None:
        """Stop the Docker daemon of one host (`scripts/stack stop-host`)."""
        run_stack_script("stop-host", name, stack_dir=self.dir, timeout=HOST_TIMEOUT)

    def start_host(self, name: str) -> None:
        """Start the Docker daemon of one host and wait until it answers."""
        run_stack_script("start-host", name, stack_dir=self.dir, timeout=HOST_TIMEOUT)

    @classmethod
    def from_env_file(cls, path: Path) -> Stack:
        values = parse_env_file(path)
        missing = [key for key in ENV_KEYS if not values.get(key)]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        return cls(
            dir=Path(values["JOBTUI_STACK_DIR"]),
            host_a_url=values["HOST_A_URL"],
            host_b_url=values["HOST_B_URL"],
            registry_url=values["REGISTRY_URL"],
            etcd_endpoint=values["ETCD_ENDPOINT"],
            prometheus_url=values["PROMETHEUS_URL"],
            inventory=Path(values["JOBTUI_INVENTORY"]),
        )


@pytest.fixture(scope="session")
def stack() -> Stack:
    """Bring the real stack up (idempotent) and describe it."""
    output = run_stack_script("up", stack_dir=None, timeout=UP_TIMEOUT)
    print(output)
    stack_dir = Path(os.environ.get("JOBTUI_STACK_DIR") or "/tmp/jobtui-stack")
    env_file = stack_dir / "stack.env"
    if not env_file.is_file():
        pytest.fail(f"`scripts/stack up` succeeded but wrote no {env_file}", pytrace=False)
    try:
        described = Stack.from_env_file(env_file)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    if not described.inventory.is_file():
        pytest.fail(f"the stack's inventory {described.inventory} is missing", pytrace=False)
    return described
