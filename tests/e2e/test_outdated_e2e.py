"""`jobtui outdated` on the real stack: an older web names the newest semver tag, never
`broken`; a `latest` pushed again while web runs it reads "latest moved"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

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


MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _docker(stack: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """The stack's Docker CLI on host-a (where web runs and the demo images are built)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(stack.dir / "docker-cli"), DOCKER_BUILDKIT="0")
    return subprocess.run(
        ["docker", "-H", stack.host_a_url, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def _latest_digest(stack: Any) -> str | None:
    """The manifest digest the registry holds under web:latest (``None``: no such tag)."""
    head = requests.head(
        f"{stack.registry_url}/v2/demo/web/manifests/latest",
        headers={"Accept": MANIFEST_V2}, timeout=5,
    )  # fmt: skip
    if head.status_code == 404:
        return None
    assert head.status_code == 200, head.text
    return head.headers["Docker-Content-Digest"]


@pytest.fixture
def push_latest(stack: Any, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Pushes web images of their own content as web:latest; afterwards web goes back to
    its version and every manifest pushed here leaves the registry (other tests read it)."""
    assert _latest_digest(stack) is None, "web:latest is in the registry already: not ours"
    before = _web_version(stack)
    pushed: list[str] = []
    ref = stack.image("web:latest")

    def push(mark: str) -> str:
        # A label of its own gives the image its own id and manifest digest:
        # deleting that manifest later cannot take a demo tag with it.
        context = tmp_path / mark
        context.mkdir()
        (context / "Dockerfile").write_text(
            f"FROM {stack.image('web:v1')}\nLABEL jobtui.test-latest={mark}\n"
        )
        built = _docker(stack, "build", "-q", "-t", ref, str(context))
        assert built.returncode == 0, built.stdout + built.stderr
        sent = _docker(stack, "push", ref)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        digest = _latest_digest(stack)
        assert digest is not None
        pushed.append(digest)
        return built.stdout.strip()

    try:
        yield push
    finally:
        restored = run(stack, "deploy", "web", "--version", before, "-y")
        for digest in pushed:
            gone = requests.delete(f"{stack.registry_url}/v2/demo/web/manifests/{digest}",
                                   timeout=5)  # fmt: skip
            assert gone.status_code in (202, 404), gone.text
        _docker(stack, "rmi", ref)  # host-a's own copy; a retained container may keep it
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert _latest_digest(stack) is None


def test_a_moved_latest_is_reported(stack: Any, push_latest: Callable[[str], str]) -> None:
    first = push_latest("first")
    deployed = run(stack, "deploy", "web", "--version", "latest", "-y")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    # web runs the image the registry holds under latest: nothing moved, nothing newer.
    same = run(stack, "outdated", "--json", "--exit-code")
    web = {r["service"]: r for r in json.loads(same.stdout)}["web"]
    assert web["running"] == ["latest"] and web["moved"] == {}, web
    assert not web["outdated"], web

    second = push_latest("second")
    assert second != first
    moved = run(stack, "outdated", "--json", "--exit-code")
    assert moved.returncode == 1, moved.stdout + moved.stderr
    web = {r["service"]: r for r in json.loads(moved.stdout)}["web"]
    assert web["moved"] == {"host-a": "latest"} and web["outdated"], web
    assert web["hosts"] == ["host-a"] and web["newest"] == "v4"

    text = run(stack, "outdated")
    assert text.returncode == 0, text.stderr
    [line] = [line for line in text.stdout.splitlines() if line.startswith("web ")]
    assert line.split() == ["web", "latest", "v4", "host-a", "latest", "moved"], line

    status = json.loads(run(stack, "status", "--json").stdout)
    [row] = [s for s in status["services"] if (s["service"], s["host"]) == ("web", "host-a")]
    assert row["running_version"] == "latest" and row["newer"] == "latest moved", row
    table = run(stack, "status").stdout
    [line] = [line for line in table.splitlines() if line.split()[:2] == ["web", "host-a"]]
    assert line.endswith("latest moved"), line
