"""The registry down, slow, or losing a tag between plan and confirm.

Expected (RELIABILITY.md):
* registry down: ``jobtui tags web`` exits 1 with one line naming the
  registry; a deploy whose image must be pulled fails at its pull, before
  the old container is stopped, and v1 keeps serving;
* registry slow (every connection held 3 s by a proxy): listing tags still
  answers; with a client timeout shorter than the delay it fails with a
  readable RegistryError instead of hanging;
* a tag deleted from the registry after the plan was shown: the deploy
  confirmed with that plan's fingerprint ends ``changed`` saying the version
  is no longer in the registry, with no step run and nothing touched.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests
from fault_support import DelayProxy, SlowProxy, docker_cli, no_traceback, part_down, run_cli
from rollout_support import PortWatch, Rollouts, answer, write_inventory

from jobtui.backend.contract import Outcome
from jobtui.backend.model import RegistryError
from jobtui.backend.registry import ACCEPT_MANIFESTS, RegistryClient
from jobtui.config.models import RegistryConfig

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture
def rollouts(stack: Stack, tmp_path: Path) -> Iterator[Rollouts]:
    found = Rollouts(stack.inventory, tmp_path)
    try:
        yield found
    finally:
        found.close()


def _unique_tag(stack: Stack, prefix: str) -> str:
    """A web image with a manifest of its own (a unique label), pushed; its tag."""
    tag = f"{prefix}-{uuid.uuid4().hex[:8]}"
    ref = stack.image(f"web:{tag}")
    import subprocess

    built = subprocess.run(
        ["docker", "-H", stack.host_a_url, "build", "-q", "-t", ref, "-"],
        input=f"FROM {stack.image('web:v1')}\nLABEL jobtui.fault-test={tag}\n",
        capture_output=True, text=True, timeout=120, check=False,
        env={"DOCKER_CONFIG": str(stack.dir / "docker-cli"), "DOCKER_BUILDKIT": "0",
             "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    docker_cli(stack, "host-a", "push", ref)
    docker_cli(stack, "host-a", "rmi", ref)  # host-a must pull it again
    return tag


def _delete_tag(stack: Stack, tag: str) -> None:
    url = f"{stack.registry_url}/v2/demo/web/manifests/{tag}"
    head = requests.head(url, headers={"Accept": ACCEPT_MANIFESTS}, timeout=5)
    digest = head.headers["Docker-Content-Digest"]
    gone = requests.delete(f"{stack.registry_url}/v2/demo/web/manifests/{digest}", timeout=5)
    assert gone.status_code == 202, gone.text


def test_tag_deleted_between_plan_and_confirm(rollouts: Rollouts, stack: Stack) -> None:
    tag = _unique_tag(stack, "gone")
    run = rollouts.run()
    original = rollouts.guard.serving[("web", "host-a")]
    plan = run.deployer.plan("web", tag)
    assert plan.changes and plan.fingerprint is not None

    _delete_tag(stack, tag)
    result = run.deployer.deploy("web", tag, expect=plan.fingerprint)

    assert result.outcome is Outcome.CHANGED, result
    assert "no longer in the registry" in result.message, result.message
    steps = [s for _, s, _ in run.steps(result.op_id)]
    assert "pull" not in steps and "create" not in steps and "stop-old" not in steps
    running = [c.id for c in rollouts.guard.containers("host-a", "web") if c.running]
    assert running == [original] and answer(rollouts.port("web")) == "web v1"


def test_registry_down_tags_and_deploy(rollouts: Rollouts, stack: Stack, tmp_path: Path) -> None:
    tag = _unique_tag(stack, "fresh")
    run = rollouts.run()
    original = rollouts.guard.serving[("web", "host-a")]
    with part_down(stack, "registry"):
        tags, tags_s = run_cli("-i", str(stack.inventory), "tags", "web",
                               state_dir=tmp_path / "state")  # fmt: skip
        with PortWatch(rollouts.port("web")) as watch:
            result = run.deployer.deploy("web", tag)
    print(f"registry down: tags in {tags_s:.1f} s: {tags.stderr.strip()}; deploy: {result.message}")

    no_traceback(tags)
    assert tags.returncode == 1 and tags.stderr.strip().count("\n") == 0, tags.stderr
    assert stack.registry_host in tags.stderr or "registry" in tags.stderr
    assert result.outcome is Outcome.FAILED, result
    (host,) = result.hosts
    assert not host.ok
    ok_steps = [s for _, s, status in run.steps(result.op_id) if status == "ok"]
    assert "stop-old" not in ok_steps  # it failed at the pull, before the old one stopped
    assert watch.answers == {"web v1"}
    running = [c.id for c in rollouts.guard.containers("host-a", "web") if c.running]
    assert running == [original]


def test_slow_registry_lists_tags_or_says_it_timed_out(stack: Stack) -> None:
    port = urlsplit(stack.registry_url).port
    assert port is not None
    with DelayProxy(port, delay=3) as proxy:
        config = RegistryConfig(url=f"http://127.0.0.1:{proxy.port}")
        patient = RegistryClient(config, timeout=10)
        start = time.monotonic()
        tags = {t.tag for t in patient.tags("demo/web")}
        slow = time.monotonic() - start
        patient.close()
        hasty = RegistryClient(config, timeout=1)
        start = time.monotonic()
        with pytest.raises(RegistryError) as failed:
            hasty.tags("demo/web")
        gave_up = time.monotonic() - start
        hasty.close()
    print(f"slow registry: tags in {slow:.1f} s; timeout 1 s gave up in {gave_up:.1f} s: "
          f"{failed.value}")  # fmt: skip
    assert {"v1", "v2"} <= tags
    assert gave_up < 5 and "Traceback" not in str(failed.value)


# ------------------------------------------------------------------ slow in the middle of a pull

LAYER_BYTES = 2 * 1024 * 1024
"""A layer of its own for the slow-pull images, so host-a must download it."""


def _image_with_a_layer(stack: Stack, tmp_path: Path, prefix: str) -> str:
    """A web image with a 2 MiB layer no other image has, pushed, absent on host-a; its tag."""
    import os
    import subprocess

    tag = f"{prefix}-{uuid.uuid4().hex[:8]}"
    ref = stack.image(f"web:{tag}")
    context = tmp_path / f"build-{tag}"
    context.mkdir()
    (context / "blob").write_bytes(os.urandom(LAYER_BYTES))
    (context / "Dockerfile").write_text(f"FROM {stack.image('web:v1')}\nCOPY blob /blob\n")
    built = subprocess.run(
        ["docker", "-H", stack.host_a_url, "build", "-q", "-t", ref, str(context)],
        capture_output=True, text=True, timeout=120, check=False,
        env={"DOCKER_CONFIG": str(stack.dir / "docker-cli"), "DOCKER_BUILDKIT": "0",
             "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    docker_cli(stack, "host-a", "push", ref)
    docker_cli(stack, "host-a", "rmi", ref)  # its layer goes with it: host-a must pull it
    return tag


class TimedWatch(PortWatch):
    """A PortWatch that also keeps when each answer came."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.timeline: list[tuple[float, str | None]] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            self.timeline.append((time.time(), answer(self.port)))
            self._stop.wait(0.05)


def test_registry_slow_mid_pull_the_old_version_serves_until_it_is_done(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    tag = _image_with_a_layer(stack, tmp_path, "slowpull")
    port = urlsplit(stack.registry_url).port
    assert port is not None
    rate = 512 * 1024
    with SlowProxy(port, rate=rate) as proxy:
        slow = f"127.0.0.1:{proxy.port}/demo/web"
        inventory = write_inventory(stack.inventory, tmp_path, {"web": {"image": f"{slow}:v1"}})
        run = rollouts.run(inventory)
        with TimedWatch(rollouts.port("web")) as watch:
            result = run.deployer.deploy("web", tag)
    pull = [e for e in run.events if e.op_id == result.op_id and e.step == "pull"]
    began, ended = pull[0].time, pull[-1].time
    during = [said for at, said in watch.timeline if began <= at <= ended]
    print(f"slow pull ({rate // 1024} KiB/s): {ended - began:.1f} s, {len(during)} probes "
          f"during it; {result.outcome.value}: {result.message}")  # fmt: skip

    assert result.outcome is Outcome.DONE, result
    assert pull[-1].status.value == "ok"
    assert ended - began >= LAYER_BYTES / rate * 0.8, "the pull was not slowed"
    # While the layer trickled in, the old container served every probe.
    assert during and set(during) == {"web v1"}, during
    (host,) = result.hosts
    assert host.ok and host.to_version == tag


def test_registry_stalling_mid_pull_fails_the_pull_and_the_old_keeps_serving(
    rollouts: Rollouts, stack: Stack, tmp_path: Path
) -> None:
    tag = _image_with_a_layer(stack, tmp_path, "stall")
    port = urlsplit(stack.registry_url).port
    assert port is not None
    with SlowProxy(port, rate=4 * 1024 * 1024, stall_after=256 * 1024) as proxy:
        slow = f"127.0.0.1:{proxy.port}/demo/web"
        write_inventory(stack.inventory, tmp_path, {"web": {"image": f"{slow}:v1"}})
        with PortWatch(rollouts.port("web")) as watch:
            deploy, took = run_cli("-i", str(tmp_path / "jobtui.yml"), "deploy", "web",
                                   "--version", tag, "--yes", state_dir=tmp_path / "state",
                                   timeout=STALL_BOUND)  # fmt: skip
        stalled = proxy.stalled.is_set()
    print(f"stalled pull: {took:.1f} s, exit {deploy.returncode}\n{deploy.stdout}{deploy.stderr}")

    no_traceback(deploy)
    assert stalled, "the proxy never stalled a transfer"
    assert deploy.returncode == 1, deploy.stdout + deploy.stderr
    (summary,) = [ln for ln in deploy.stdout.splitlines() if ln.startswith("deploy web:")]
    assert "failed" in summary and "pull" in summary, deploy.stdout
    assert " stop-old " not in deploy.stdout  # it failed before the old one was touched
    assert watch.answers == {"web v1"}
    assert took < STALL_BOUND


STALL_BOUND = 90.0
"""Seconds a deploy whose pull stalls may take (the engine's Docker call timeout is 30 s)."""
