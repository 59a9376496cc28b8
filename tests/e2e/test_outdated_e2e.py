"""`jobtui outdated` on the real stack: an older web names the newest semver tag, never `broken`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

JOBTUI = str(Path(sys.executable).with_name("jobtui"))


def run(stack: Any, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _web_version(stack: Any) -> str:
    status = json.loads(run(stack, "status", "--json").stdout)
    [version] = {
        s["running_version"]
        for s in status["services"]
        if s["service"] == "web" and s["state"] == "running"
    }
    return str(version)


@pytest.fixture
def web_on_v2(stack: Any) -> Iterator[str]:
    """web deployed on v2 (older than the registry's v4); put back on its version afterwards."""
    before = _web_version(stack)
    deployed = run(stack, "deploy", "web", "--version", "v2", "-y")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    try:
        yield before
    finally:
        restored = run(stack, "deploy", "web", "--version", before, "-y")
        assert restored.returncode == 0, restored.stdout + restored.stderr


def test_outdated_names_the_newest_semver_tag_and_ignores_broken(
    stack: Any, web_on_v2: str
) -> None:
    result = run(stack, "outdated", "--json", "--exit-code")
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {r["service"]: r for r in json.loads(result.stdout)}
    web = rows["web"]
    assert web["newest"] == "v4" and web["outdated"], web
    assert "v2" in web["running"] and web["hosts"]
    assert all(r["newest"] != "broken" for r in rows.values())

    text = run(stack, "outdated")
    assert text.returncode == 0, text.stderr
    [line] = [line for line in text.stdout.splitlines() if line.startswith("web ")]
    assert line.split()[:3] == ["web", "v2", "v4"]

    status = run(stack, "status")
    assert "NEWER" in status.stdout
    assert any(row.split()[:2] == ["web", web["hosts"][0]] and "v4" in row
               for row in status.stdout.splitlines())  # fmt: skip
