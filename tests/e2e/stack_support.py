"""The suite's own stack: where it lives, how scripts/stack is run on it, what it offers.

Used by conftest.py (the session fixture ``stack``) and by tests that check
the set-up itself (tests/e2e/test_stack_isolation.py).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK_SCRIPT = REPO / "scripts" / "stack"

DEMO_DIR = Path("/tmp/jobtui-stack")
"""scripts/stack's default directory: the demo's (scripts/demo)."""
TEST_DIR_ENV = "JOBTUI_TEST_STACK_DIR"
DEFAULT_TEST_DIR = Path("/tmp/jobtui-test-stack")
PORT_BASE_ENV = "JOBTUI_TEST_STACK_PORT_BASE"
"""Passed to scripts/stack as JOBTUI_STACK_PORT_BASE (default: a free block)."""
KEEP_ENV = "JOBTUI_TEST_STACK_KEEP"
"""``1``: leave the suite's stack running after the session."""
WAIT_ENV = "JOBTUI_TEST_STACK_WAIT"
"""Seconds to wait for another session using the same stack (default 1200)."""

UP_TIMEOUT = 900.0  # a fresh machine installs Debian packages first
HOST_TIMEOUT = 120.0

ENV_KEYS = (
    "JOBTUI_STACK_DIR",
    "STACK_PORTS_FILE",
    "HOST_A_URL",
    "HOST_B_URL",
    "HOST_TLS_URL",
    "HOST_TLS_CERT_DIR",
    "HOST_SSH_URL",
    "HOST_SSH_SOCKET",
    "HOST_SSH_IN_INVENTORY",
    "SSHD_PORT",
    "SSH_CONFIG",
    "SSH_IDENTITY",
    "SSH_KNOWN_HOSTS",
    "REGISTRY_URL",
    "REGISTRY_AUTH_URL",
    "REGISTRY_AUTH_USERNAME",
    "REGISTRY_AUTH_PASSWORD_ENV",
    "REGISTRY_AUTH_PASSWORD_FILE",
    "REGISTRY_AUTH_INVENTORY",
    "ETCD_ENDPOINT",
    "PROMETHEUS_URL",
    "CADVISOR_URL",
    "WEB_PORT",
    "API_PORT",
    "SHOP_PORT",
    "BILLING_PORT",
    "JOBTUI_INVENTORY",
)


def demo_dirs() -> set[Path]:
    """Where a person's demo stack lives: the default directory and `$JOBTUI_STACK_DIR`."""
    found = {DEMO_DIR}
    if os.environ.get("JOBTUI_STACK_DIR"):
        found.add(Path(os.environ["JOBTUI_STACK_DIR"]))
    return found


def suite_stack_dir() -> Path:
    """The suite's own stack directory; never one of :func:`demo_dirs`."""
    where = Path(os.environ.get(TEST_DIR_ENV) or DEFAULT_TEST_DIR)
    if not where.is_absolute():
        pytest.fail(f"{TEST_DIR_ENV} must be an absolute path (got {where})", pytrace=False)
    if where in demo_dirs():
        pytest.fail(
            f"{TEST_DIR_ENV}={where} is the demo's stack: the suite runs on a stack of its own",
            pytrace=False,
        )
    return where


def stack_script_env(stack_dir: Path) -> dict[str, str]:
    """The environment of scripts/stack for ``stack_dir``: none of the demo's settings."""
    env = dict(os.environ)
    env["JOBTUI_STACK_DIR"] = str(stack_dir)
    env.pop("JOBTUI_STACK_PORT_BASE", None)
    if os.environ.get(PORT_BASE_ENV):
        env["JOBTUI_STACK_PORT_BASE"] = os.environ[PORT_BASE_ENV]
    return env


def run_stack_script(
    *args: str, stack_dir: Path, timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run scripts/stack on ``stack_dir``; fail the test (with its output) unless it succeeds."""
    if not STACK_SCRIPT.is_file():
        pytest.fail(f"{STACK_SCRIPT} is missing", pytrace=False)
    try:
        result = subprocess.run(
            [str(STACK_SCRIPT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=stack_script_env(stack_dir),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode()
        pytest.fail(
            f"`scripts/stack {' '.join(args)}` did not finish in {timeout:.0f}s:\n{partial}",
            pytrace=False,
        )
    if check and result.returncode != 0:
        pytest.fail(
            f"`scripts/stack {' '.join(args)}` on {stack_dir} failed with exit status "
            f"{result.returncode}:\n{result.stdout}",
            pytrace=False,
        )
    return result


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
    ports: Mapping[str, int] = field(default_factory=dict)
    """Every port of the stack by its name in ports.env (``registry``, ``web``, ``sshd`` …)."""
    cadvisor_url: str = ""
    host_tls_url: str = ""
    host_tls_cert_dir: Path = Path()
    """The client certificate of host-tls: ``ca.pem``, ``cert.pem``, ``key.pem``."""
    host_ssh_url: str = ""
    host_ssh_socket: str = ""
    """host-ssh's Docker socket on the far side of its sshd."""
    host_ssh_in_inventory: bool = False
    sshd_port: int = 0
    ssh_config: Path = Path()
    ssh_identity: Path = Path()
    ssh_known_hosts: Path = Path()
    registry_auth_url: str = ""
    registry_auth_username: str = ""
    registry_auth_password_env: str = ""
    registry_auth_password_file: Path = Path()
    registry_auth_inventory: Path = Path()

    @property
    def host_urls(self) -> dict[str, str]:
        """The two plain ``unix://`` hosts."""
        return {"host-a": self.host_a_url, "host-b": self.host_b_url}

    @property
    def registry_host(self) -> str:
        """``127.0.0.1:PORT`` of the open registry, as in image references."""
        return self.registry_url.split("://", 1)[1]

    def image(self, name_tag: str) -> str:
        """A demo image in the open registry: ``image("worker:v1")``."""
        return f"{self.registry_host}/demo/{name_tag}"

    @property
    def web_port(self) -> int:
        return self.ports["web"]

    @property
    def api_port(self) -> int:
        return self.ports["api"]

    def registry_auth_password(self) -> str:
        """The auth registry's password (jobtui gets it from the environment only)."""
        return self.registry_auth_password_file.read_text().strip()

    def stop_host(self, name: str) -> None:
        """Stop the Docker daemon of one host (`scripts/stack stop-host`)."""
        run_stack_script("stop-host", name, stack_dir=self.dir, timeout=HOST_TIMEOUT)

    def start_host(self, name: str) -> None:
        """Start the Docker daemon of one host and wait until it answers."""
        run_stack_script("start-host", name, stack_dir=self.dir, timeout=HOST_TIMEOUT)

    def stop_part(self, name: str) -> None:
        """Stop one service of the stack (registry, registry-auth, etcd, prometheus, sshd …)."""
        run_stack_script("stop-part", name, stack_dir=self.dir, timeout=HOST_TIMEOUT)

    def start_part(self, name: str) -> None:
        """Start one service of the stack and wait until it answers."""
        run_stack_script("start-part", name, stack_dir=self.dir, timeout=HOST_TIMEOUT)

    @classmethod
    def from_env_file(cls, path: Path) -> Stack:
        values = parse_env_file(path)
        missing = [key for key in ENV_KEYS if not values.get(key)]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        ports = {
            key.removeprefix("PORT_").lower(): int(value)
            for key, value in parse_env_file(Path(values["STACK_PORTS_FILE"])).items()
            if key.startswith("PORT_") and key != "PORT_BASE"
        }
        return cls(
            dir=Path(values["JOBTUI_STACK_DIR"]),
            host_a_url=values["HOST_A_URL"],
            host_b_url=values["HOST_B_URL"],
            registry_url=values["REGISTRY_URL"],
            etcd_endpoint=values["ETCD_ENDPOINT"],
            prometheus_url=values["PROMETHEUS_URL"],
            inventory=Path(values["JOBTUI_INVENTORY"]),
            ports=ports,
            cadvisor_url=values["CADVISOR_URL"],
            host_tls_url=values["HOST_TLS_URL"],
            host_tls_cert_dir=Path(values["HOST_TLS_CERT_DIR"]),
            host_ssh_url=values["HOST_SSH_URL"],
            host_ssh_socket=values["HOST_SSH_SOCKET"],
            host_ssh_in_inventory=values["HOST_SSH_IN_INVENTORY"] == "yes",
            sshd_port=int(values["SSHD_PORT"]),
            ssh_config=Path(values["SSH_CONFIG"]),
            ssh_identity=Path(values["SSH_IDENTITY"]),
            ssh_known_hosts=Path(values["SSH_KNOWN_HOSTS"]),
            registry_auth_url=values["REGISTRY_AUTH_URL"],
            registry_auth_username=values["REGISTRY_AUTH_USERNAME"],
            registry_auth_password_env=values["REGISTRY_AUTH_PASSWORD_ENV"],
            registry_auth_password_file=Path(values["REGISTRY_AUTH_PASSWORD_FILE"]),
            registry_auth_inventory=Path(values["REGISTRY_AUTH_INVENTORY"]),
        )


def describe(stack_dir: Path) -> Stack:
    """The stack in ``stack_dir`` as its stack.env describes it."""
    env_file = stack_dir / "stack.env"
    if not env_file.is_file():
        pytest.fail(f"`scripts/stack up` succeeded but wrote no {env_file}", pytrace=False)
    try:
        described = Stack.from_env_file(env_file)
    except (ValueError, OSError) as exc:
        pytest.fail(str(exc), pytrace=False)
    if not described.inventory.is_file():
        pytest.fail(f"the stack's inventory {described.inventory} is missing", pytrace=False)
    return described


def prepare_stack(stack_dir: Path) -> tuple[Stack, bool]:
    """The session's set-up: the stack in ``stack_dir`` up and reset to the demo's first state.

    Returns the stack and whether it was already up before.
    """
    was_up = run_stack_script("status", stack_dir=stack_dir, timeout=60, check=False)
    print(run_stack_script("up", stack_dir=stack_dir, timeout=UP_TIMEOUT).stdout)
    print(run_stack_script("reset", stack_dir=stack_dir, timeout=HOST_TIMEOUT).stdout)
    return describe(stack_dir), was_up.returncode == 0


@contextmanager
def session_lock(stack_dir: Path) -> Iterator[None]:
    """Take turns with other sessions on the same stack (a lock file beside its directory)."""
    path = stack_dir.with_name(stack_dir.name + ".session.lock")
    wait = float(os.environ.get(WAIT_ENV) or 1200)
    with path.open("a+") as handle:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"another test session still uses {stack_dir} after {wait:.0f}s; "
                        f"set {TEST_DIR_ENV} to run beside it",
                        pytrace=False,
                    )
                if not told:
                    print(f"waiting for another test session on {stack_dir} ({path})")
                    told = True
                time.sleep(0.5)  # polling a lock held by another process
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
