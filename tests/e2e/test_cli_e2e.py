"""The script verbs against the real stack: `jobtui status` and `jobtui tags`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

JOBTUI = str(Path(sys.executable).with_name("jobtui"))


def run(stack: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_json_shows_both_hosts_and_the_demo_services(stack: Any) -> None:
    result = run(stack, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    hosts = {h["name"]: h for h in status["hosts"]}
    assert set(hosts) == set(yaml.safe_load(stack.inventory.read_text())["hosts"])
    assert {"host-a", "host-b", "host-tls"} <= set(hosts)
    assert all(h["status"] == "up" and h["docker_version"] for h in hosts.values())
    rows = {(s["service"], s["host"]): s for s in status["services"]}
    assert set(rows) >= {
        ("web", "host-a"),
        ("api", "host-b"),
        ("worker", "host-a"),
        ("worker", "host-b"),
    }
    for row in rows.values():
        assert row["state"] == "running", row
        assert row["running_version"] and row["container"].startswith(row["service"] + "_")
    assert any(c["name"] == "adhoc-debug" and c["host"] == "host-b" for c in status["unmanaged"])


def test_status_text_is_a_readable_table(stack: Any) -> None:
    result = run(stack, "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["HOST", "STATUS", "DOCKER", "RUNNING", "ERROR"]
    assert any(line.split()[:2] == ["host-b", "up"] for line in lines)
    assert any(line.split()[:2] == ["web", "host-a"] and "running" in line for line in lines)
    assert "not in the inventory:" in result.stdout and "adhoc-debug" in result.stdout


def test_tags_lists_registry_versions_newest_first_with_running_marked(stack: Any) -> None:
    result = run(stack, "tags", "worker")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("VERSION", 1)[1].splitlines()[1:]
    versions = [line.replace("*", " ").split()[0] for line in listing if line.strip()]
    assert versions.index("v4") < versions.index("v3") < versions.index("v2") < versions.index("v1")
    marked = {line.split()[1] for line in listing if line.startswith("*")}
    status = json.loads(run(stack, "status", "--json").stdout)
    running = {
        s["running_version"]
        for s in status["services"]
        if s["service"] == "worker" and s["state"] == "running"
    }
    assert marked == running and running
    assert "worker_" in result.stdout.split("VERSION", 1)[0]


def test_tags_of_unknown_service_is_a_usage_error(stack: Any) -> None:
    result = run(stack, "tags", "nope")
    assert result.returncode == 2
    assert "no service 'nope'" in result.stderr
