"""Drift: a container changed by hand with `docker` shows its differing fields."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker

from jobtui.backend.docker.answers import container_from_api
from jobtui.backend.docker.service_containers import belongs_to, current_container

JOBTUI = str(Path(sys.executable).with_name("jobtui"))


def status(stack: Any) -> dict[str, Any]:
    result = subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def row(report: dict[str, Any], service: str, host: str) -> dict[str, Any]:
    return next(r for r in report["services"] if (r["service"], r["host"]) == (service, host))


def test_manual_docker_change_is_drift(stack: Any) -> None:
    assert row(status(stack), "worker", "host-a")["drift"] == []
    client = docker.DockerClient(base_url=stack.host_a_url, timeout=30)
    found = [container_from_api(c, "host-a") for c in client.api.containers(all=True)]
    original = current_container([c for c in found if belongs_to(c, "worker")])
    assert original is not None and original.running
    manual = None
    try:
        client.api.stop(original.id, timeout=5)
        # What an operator might do by hand: the same image, one more variable.
        manual = client.containers.run(
            original.image,
            name=f"worker_{int(time.time())}",
            detach=True,
            network_mode="host",
            environment={"DEBUG": "1"},
            labels={
                "jobtui.service": "worker",
                "jobtui.version": original.version,
                "jobtui.test": "drift",
            },
        )
        drifted = row(status(stack), "worker", "host-a")
        assert drifted["container"] == manual.name
        assert any(d.startswith("envs.DEBUG") for d in drifted["drift"]), drifted
        assert "labels" not in " ".join(drifted["drift"])  # jobtui's own labels are not drift
        text = subprocess.run(
            [JOBTUI, "-i", str(stack.inventory), "status"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        header = next(x for x in text.splitlines() if x.startswith("SERVICE"))
        line = next(x for x in text.splitlines() if x.split()[:2] == ["worker", "host-a"])
        # The DRIFT column (fixed-width table): read it where the header puts it.
        start, end = header.index("DRIFT"), header.index("NEWER")
        assert line[start:end].strip() == "envs.DEBUG", text
    finally:
        if manual is not None:
            manual.remove(force=True)
        client.api.start(original.id)
        client.close()
    assert row(status(stack), "worker", "host-a")["drift"] == []
