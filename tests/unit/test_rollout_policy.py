"""Rollout policy by equality: batches, naming, create arguments, retention, candidates."""

from __future__ import annotations

import threading
import time
from types import MappingProxyType

import pytest

from jobtui.backend.deploy.create import (
    CreateArgs,
    PullFailed,
    PullProgress,
    container_name,
    create_args,
    docker_healthcheck,
    restart_policy,
    rollout_labels,
)
from jobtui.backend.deploy.policy import (
    RollbackCandidate,
    RolloutControl,
    batches,
    is_stop_first,
    op_description,
    order_candidates,
    retained_version,
    to_prune,
)
from jobtui.backend.docker.spec import desired_spec, spec_hash
from jobtui.backend.model import ContainerInfo
from jobtui.config.loader import parse_inventory
from jobtui.config.models import Healthcheck

INVENTORY = parse_inventory(
    """
hosts:
  host-a: "unix:///a.sock"
services:
  - name: web
    image: "r:5000/demo/web:v1"
    run_on_host: host-a
    port: 18080
    envs: [{key: PORT, value: 18080}]
    network_mode: host
    stop_grace_period: 5s
  - name: full
    image: "r:5000/demo/full:v3"
    run_on_host: host-a
    port: "127.0.0.1:9000:80"
    envs: [{key: A, value: 1}]
    volumes: [{container_path: /data, host_path: /srv/data, read_only: true}]
    ulimits: [{name: nofile, soft: 1024, hard: 2048}]
    log_config: {type: json-file, config: {max-size: 10m}}
    entrypoint: "/bin/sh -c"
    cmd: ["run", "--fast"]
    network_mode: bridge
    restart: on-failure:3
    mem_limit: 64m
    cpus: 0.5
    labels: {team: core}
    healthcheck: {test: ["CMD", "true"], interval: 2s, timeout: 1s, retries: 2}
    update_config: {order: stop-first}
  - name: worker
    image: "r:5000/demo/worker:v1"
    run_on_host: host-a
    network_mode: host
""",
    file="inv.yml",
)
WEB, FULL, WORKER = INVENTORY.services


def info(cid: str, created: float, *, running: bool = False, version: str = "v1") -> ContainerInfo:
    return ContainerInfo(
        id=cid,
        name=f"web_{int(created)}",
        host="host-a",
        image=f"r:5000/demo/web:{version}",
        state="running" if running else "exited",
        created=created,
        labels=MappingProxyType({"jobtui.service": "web", "jobtui.version": version}),
    )


# -- batches and order -------------------------------------------------------------


def test_batches_follow_parallelism_with_the_first_as_canary() -> None:
    hosts = ["a", "b", "c", "d", "e"]
    assert batches(hosts, 1) == [("a",), ("b",), ("c",), ("d",), ("e",)]
    assert batches(hosts, 2) == [("a", "b"), ("c", "d"), ("e",)]
    assert batches(hosts, 10) == [("a", "b", "c", "d", "e")]
    assert batches(hosts, 0) == batches(hosts, 1)
    assert batches([], 3) == []


def test_stop_first_when_asked_or_when_a_host_port_is_held() -> None:
    assert is_stop_first(FULL, old_running=False)  # update_config.order: stop-first
    assert is_stop_first(WEB, old_running=True)  # host network, fixed port, old one runs
    assert not is_stop_first(WEB, old_running=False)  # nothing holds the port
    assert not is_stop_first(WORKER, old_running=True)  # no port: both can run


# -- naming, labels, create arguments -------------------------------------------------


def test_container_names_follow_the_seed_and_stay_unique_within_a_second() -> None:
    assert container_name("web", 1700000000.7, set()) == "web_1700000000"
    taken = {"web_1700000000", "web_1700000001"}
    assert container_name("web", 1700000000.2, taken) == "web_1700000002"


def test_labels_say_service_version_spec_and_rollout() -> None:
    spec = desired_spec(FULL)
    labels = rollout_labels(spec, "full", "v3", spec_hash(spec), "abc123")
    assert labels == {
        "team": "core",
        "jobtui.service": "full",
        "jobtui.version": "v3",
        "jobtui.spec-hash": spec_hash(spec),
        "jobtui.rollout": "abc123",
    }


def test_create_args_carry_every_inventory_field() -> None:
    spec = desired_spec(FULL)
    args = create_args(spec, FULL, name="full_1", labels={"x": "y"})
    assert args == CreateArgs(
        container={
            "image": "r:5000/demo/full:v3",
            "name": "full_1",
            "environment": ["A=1"],
            "labels": {"x": "y"},
            "stop_timeout": 10,
            "use_config_proxy": False,
            "detach": True,
            "entrypoint": ["/bin/sh", "-c"],
            "command": ["run", "--fast"],
            "healthcheck": {
                "test": ["CMD", "true"],
                "interval": 2_000_000_000,
                "timeout": 1_000_000_000,
                "retries": 2,
                "start_period": 0,
            },
            "ports": [(80, "tcp")],
        },
        host_config={
            "network_mode": "bridge",
            "binds": ["/srv/data:/data:ro"],
            "port_bindings": {"80/tcp": ("127.0.0.1", 9000)},
            "ulimits": [{"name": "nofile", "soft": 1024, "hard": 2048}],
            "log_config": {"type": "json-file", "config": {"max-size": "10m"}},
            "restart_policy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "mem_limit": 64 * 1024 * 1024,
            "nano_cpus": 500_000_000,
        },
    )


def test_create_args_of_a_host_network_service_publish_nothing() -> None:
    args = create_args(desired_spec(WEB), WEB, name="web_1", labels={})
    assert args.host_config == {"network_mode": "host"}
    assert "ports" not in args.container and "healthcheck" not in args.container
    assert args.container["stop_timeout"] == 5


def test_inventory_healthcheck_replaces_or_disables_the_images() -> None:
    assert docker_healthcheck(None) is None
    assert docker_healthcheck(Healthcheck(disable=True)) == {"test": ["NONE"]}
    timing_only = docker_healthcheck(Healthcheck(interval=1.0, retries=5))
    assert timing_only is not None and "test" not in timing_only
    assert timing_only["interval"] == 1_000_000_000 and timing_only["retries"] == 5


def test_restart_policies() -> None:
    assert restart_policy("no") is None
    assert restart_policy("always") == {"Name": "always"}
    assert restart_policy("on-failure:5") == {"Name": "on-failure", "MaximumRetryCount": 5}


def test_pull_progress_counts_layers_and_reports_errors() -> None:
    progress = PullProgress()
    said = [
        progress.feed(event)
        for event in (
            {"status": "Pulling from demo/web", "id": "v2"},
            {"status": "Pulling fs layer", "id": "l1"},
            {"status": "Pulling fs layer", "id": "l2"},
            {"status": "Downloading", "id": "l1", "progressDetail": {"current": 5}},
            {"status": "Pull complete", "id": "l1"},
            {"status": "Already exists", "id": "l2"},
            {"status": "Digest: sha256:abc"},
            {"status": "Status: Downloaded newer image for r:5000/demo/web:v2"},
        )
    ]
    assert [s for s in said if s] == ["0/1 layers", "0/2 layers", "1/2 layers", "2/2 layers"]
    assert progress.message() == "Downloaded newer image for r:5000/demo/web:v2"
    with pytest.raises(PullFailed, match="manifest unknown"):
        PullProgress().feed({"error": "manifest unknown"})


# -- retention and rollback ------------------------------------------------------------


def test_prune_keeps_the_newest_stopped_and_never_the_only_rollback_target() -> None:
    serving = info("new", 500, running=True, version="v5")
    old = [info(f"c{n}", 100 + n, version=f"v{n}") for n in range(1, 5)]
    assert [c.id for c in to_prune([serving, *old], keep=2)] == ["c1", "c2"]
    assert [c.id for c in to_prune([serving, *old], keep=0)] == ["c1", "c2", "c3"]
    assert to_prune([serving, old[0]], keep=0) == []
    # A protected container takes one of the keep places but is never chosen,
    # however old: the container a rollout just replaced is its rollback target.
    assert [c.id for c in to_prune(old, keep=1, protect=["c4"])] == ["c1", "c2", "c3"]
    assert [c.id for c in to_prune(old, keep=2, protect=["c1"])] == ["c2"]


def test_retained_version_picks_the_newest_stopped_container_of_it() -> None:
    found = [
        info("a", 100),
        info("b", 200),
        info("c", 300, running=True),
        info("d", 400, version="v2"),
    ]
    chosen = retained_version(found, "v1")
    assert chosen is not None and chosen.id == "b"
    assert retained_version(found, "v9") is None


def test_candidates_retained_first_most_recently_stopped_then_registry_newest_first() -> None:
    retained = {
        "host-a": [("v1", 100.0), ("v2", 300.0)],
        "host-b": [("v1", 200.0), ("v3", 250.0)],
    }
    registry = ["v4", "v3", "v2", "v1", "v0"]
    assert order_candidates(retained, registry, current={"v4"}) == [
        RollbackCandidate("v2", ("host-a",), True),
        RollbackCandidate("v3", ("host-b",), True),
        RollbackCandidate("v1", ("host-a", "host-b"), True),
        RollbackCandidate("v0", (), True),
    ]
    assert order_candidates({"host-a": [("v9", 1.0)]}, [], current=()) == [
        RollbackCandidate("v9", ("host-a",), False)
    ]


def test_op_description_names_the_change() -> None:
    assert op_description("deploy", "web", ["v1", None, "v1"], "v2") == "deploy web v1 -> v2"
    assert op_description("deploy", "web", [], "v2") == "deploy web (none) -> v2"


# -- control ------------------------------------------------------------------------


def test_control_pause_resume_abort() -> None:
    control = RolloutControl()
    assert not control.paused and not control.aborted
    control.pause()
    assert control.paused
    released: list[bool] = []
    waiter = threading.Thread(target=lambda: released.append(control.wait_while_paused()))
    waiter.start()
    waiter.join(0.05)
    assert waiter.is_alive()  # held while paused
    control.resume()
    waiter.join(2)
    assert released == [True]
    control.pause()
    control.abort()  # an abort wakes a paused rollout, which then stops
    assert control.wait_while_paused() is False
    start = time.monotonic()
    assert control.sleep(10) is False and time.monotonic() - start < 1
