"""The suite runs on a stack of its own and never touches the demo's (issue 14).

The flow of the issue, cheaply: the suite's stack is left changed as a person
leaves their demo (a different version deployed through the CLI), a
demo-like directory is where `$JOBTUI_STACK_DIR` points (as in a shell that
ran scripts/demo), and the session's set-up runs again: it must pick the
suite's own directory and ports, leave every demo directory exactly as it
was, and hand back a clean stack.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import pytest
from docker.errors import DockerException
from stack_support import (
    DEMO_DIR,
    TEST_DIR_ENV,
    demo_dirs,
    parse_env_file,
    prepare_stack,
    run_stack_script,
    suite_stack_dir,
)

if TYPE_CHECKING:
    from conftest import Stack

JOBTUI = str(Path(sys.executable).with_name("jobtui"))

DEMO_PORTS = {
    45000, 45001, 42379, 42380, 49090, 48080, 42376, 42222, 18080, 18081, 18082, 18083, 18090,
}  # fmt: skip
"""The demo's fixed ports (the README's), which the suite's stack must never use."""


def jobtui(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), *args], capture_output=True, text=True, timeout=120
    )


def fingerprint(where: Path) -> dict[str, Any]:
    """What the suite's set-up would change in a stack directory: its files and containers."""
    if not where.exists():
        return {"exists": False}
    files = {}
    watched = ["ports.env", "stack.env", "jobtui.yml", ".jobtui-stack"]
    watched += [p.name for p in where.glob("*.pid")]
    watched += [f"{h.name}/docker.pid" for h in where.glob("host-*")]
    for name in watched:
        path = where / name
        if path.is_file():
            files[name] = (path.stat().st_mtime_ns, path.read_bytes())
    containers = {}
    for sock in sorted(where.glob("host-*/docker.sock")):
        try:
            api = docker.APIClient(base_url=f"unix://{sock}", version="1.41", timeout=5)
            for row in api.containers(all=True):
                started = api.inspect_container(row["Id"])["State"]["StartedAt"]
                containers[row["Id"]] = (sock.parent.name, started)
            api.close()
        except DockerException:
            containers[str(sock)] = "down"
    return {"exists": True, "files": files, "containers": containers}


@pytest.fixture
def demo_like_dir() -> Iterator[Path]:
    """A directory `$JOBTUI_STACK_DIR` may point at: a demo's, with its marker and ports."""
    where = Path(tempfile.mkdtemp(prefix="jt-demo-", dir="/tmp"))
    (where / ".jobtui-stack").touch()
    (where / "ports.env").write_text("STACK_ID=\nPORT_BASE=demo\n")
    try:
        yield where
    finally:
        if any(where.glob("*.pid")) or any(where.glob("host-*/docker.pid")):
            # Only if the set-up wrongly started a stack there.
            run_stack_script("down", "--purge", stack_dir=where, timeout=300, check=False)
        shutil.rmtree(where, ignore_errors=True)


def running_versions(stack: Stack) -> dict[tuple[str, str], list[str]]:
    result = jobtui(stack, "status", "--json")
    assert result.returncode == 0, result.stderr
    rows: dict[tuple[str, str], list[str]] = {}
    for row in json.loads(result.stdout)["services"]:
        if row["state"] == "running":
            rows.setdefault((row["service"], row["host"]), []).append(row["running_version"])
    return rows


def test_the_suites_set_up_leaves_every_demo_alone_and_cleans_its_own_stack(
    stack: Stack, demo_like_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBTUI_STACK_DIR", str(demo_like_dir))
    demos = demo_dirs()
    assert demos == {DEMO_DIR, demo_like_dir}
    assert stack.dir not in demos
    taken = set(DEMO_PORTS)
    for where in demos:
        if (where / "ports.env").is_file():
            recorded = parse_env_file(where / "ports.env")
            taken |= {int(v) for k, v in recorded.items() if k.startswith("PORT_") and v.isdigit()}
    assert not set(stack.ports.values()) & taken, "the suite's ports are the demo's"

    # Changed the way a person changes their demo: another version through the CLI.
    deployed = jobtui(stack, "deploy", "worker", "--version", "v2", "--yes")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert running_versions(stack)[("worker", "host-a")] == ["v2"]
    before = {where: fingerprint(where) for where in demos}

    again, was_up = prepare_stack(suite_stack_dir())

    assert (again.dir, again.ports, was_up) == (stack.dir, stack.ports, True)
    assert {where: fingerprint(where) for where in demos} == before, "a demo was changed"
    # The suite's own stack is as at its first `up`: every service on its inventory version.
    versions = running_versions(stack)
    assert versions == {
        ("web", "host-a"): ["v1"], ("api", "host-b"): ["v1"], ("worker", "host-a"): ["v1"],
        ("worker", "host-b"): ["v1"], ("billing", "host-tls"): ["v1"],
        **({("shop", "host-ssh"): ["v1"]} if stack.host_ssh_in_inventory else {}),
    }  # fmt: skip
    history = jobtui(stack, "history")
    assert history.returncode == 0, history.stderr
    assert "worker" not in history.stdout, "the journal of the earlier deploy is gone"
    retained = docker.DockerClient(base_url=stack.host_a_url, timeout=10)
    try:
        workers = retained.containers.list(all=True, filters={"label": "jobtui.service=worker"})
        assert [c.labels["jobtui.version"] for c in workers] == ["v1"], "no v2 left to roll to"
    finally:
        retained.close()


def test_the_suites_directory_is_never_a_demos(monkeypatch: pytest.MonkeyPatch) -> None:
    for demo in (DEMO_DIR, Path("/tmp/my-demo")):
        monkeypatch.setenv("JOBTUI_STACK_DIR", "/tmp/my-demo")
        monkeypatch.setenv(TEST_DIR_ENV, str(demo))
        with pytest.raises(pytest.fail.Exception, match="is the demo's stack"):
            suite_stack_dir()
    monkeypatch.delenv(TEST_DIR_ENV)
    assert suite_stack_dir() not in demo_dirs()


def test_status_lists_the_ports_in_use(stack: Stack) -> None:
    result = run_stack_script("status", stack_dir=stack.dir, timeout=60)
    lines = result.stdout.splitlines()
    for name, port in stack.ports.items():
        (line,) = [x for x in lines if x.split()[1:3] == [name, str(port)]]
        # probe is kept free for the tests' own services.
        assert ("free" if name == "probe" else "in use by") in line, line
    assert any("in use by docker-registry (pid " in x for x in lines)


def test_up_names_the_process_holding_a_port_before_starting_anything() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        where = Path(tempfile.mkdtemp(prefix="jt-taken-", dir="/tmp"))
        claims = Path(tempfile.mkdtemp(prefix="jt-claims-", dir="/tmp"))
        try:
            env = dict(os.environ, JOBTUI_STACK_DIR=str(where), JOBTUI_STACK_CLAIMS_DIR=str(claims))
            env["JOBTUI_STACK_PORT_BASE"] = str(port)  # the registry's port is the block's first
            result = subprocess.run(
                ["bash", str(Path(__file__).parents[2] / "scripts" / "stack"), "up"],
                capture_output=True, text=True, timeout=300, env=env,
            )  # fmt: skip
            assert result.returncode == 1, result.stdout + result.stderr
            assert f"registry: 127.0.0.1:{port} is taken by " in result.stderr
            assert f"(pid {os.getpid()})" in result.stderr
            assert not list(where.glob("*.pid")), "nothing was started"
        finally:
            shutil.rmtree(where, ignore_errors=True)
            shutil.rmtree(claims, ignore_errors=True)
