"""The mutating CLI verbs on the real stack: plan, deploy, locks, rollback, history."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from jobtui.backend.coordination.factory import make_coordinator
from jobtui.config.loader import load_inventory

JOBTUI = str(Path(sys.executable).with_name("jobtui"))


def jobtui(stack: Any, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def answer(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as response:
        return str(response.read().decode().strip())


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_mutating_verbs_need_yes_without_a_terminal(stack: Any) -> None:
    result = jobtui(stack, "stop", "worker")
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    status = jobtui(stack, "status", "--json")
    assert '"state": "stopped"' not in status.stdout


def test_plan_shows_field_diffs_for_another_version(stack: Any) -> None:
    result = jobtui(stack, "plan", "web", "--version", "v2")
    assert result.returncode == 0, result.stderr
    assert "web@host-a: update v1 -> v2" in result.stdout


def started_by(runner: int) -> int:
    """Who started the runner ``runner``: the ``requested_by`` of the request it runs."""
    args = Path(f"/proc/{runner}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    assert args[-2:-1] == [b"jobtui.app.runner"], args
    return int(json.loads(Path(args[-1].decode()).read_text())["requested_by"])


def test_second_deployer_is_refused_with_exit_3_naming_the_holder(stack: Any) -> None:
    inventory = load_inventory(stack.inventory)
    coordinator = make_coordinator(inventory)
    first = subprocess.Popen(
        [JOBTUI, "-i", str(stack.inventory), "deploy", "web", "--version", "v2", "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        holder = wait_for(lambda: coordinator.holder("web"), 30, "the first deployer's lock")
        second = jobtui(stack, "deploy", "web", "--version", "v3", "--yes")
        assert second.returncode == 3, second.stdout + second.stderr
        assert f"pid {holder.pid}" in second.stdout + second.stderr
        # The lock is held by the detached runner that the first deployer started.
        assert started_by(holder.pid) == first.pid
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
        assert answer(stack.web_port) == "web v2"
        history = jobtui(stack, "history", "web")
        assert history.returncode == 0
        newest = history.stdout.splitlines()[1]
        assert "deploy" in newest and "v1 -> v2" in newest and "done" in newest
        locked = [line for line in history.stdout.splitlines() if "v3" in line]
        assert not locked or all("locked" in line or "failed" in line for line in locked)
    finally:
        if first.poll() is None:
            first.communicate(timeout=120)
        coordinator.close()
        restore = jobtui(stack, "rollback", "web", "--to", "v1", "--yes")
        assert restore.returncode == 0, restore.stdout + restore.stderr
    assert answer(stack.web_port) == "web v1"


def test_failed_deploy_exits_1_and_v1_keeps_serving(stack: Any) -> None:
    result = jobtui(stack, "deploy", "web", "--version", "broken", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout
    assert answer(stack.web_port) == "web v1"
