"""The stack started by scripts/stack is real: daemons with their own data
roots, a registry that holds the demo images, the deployed demo answering on
loopback, etcd and a Prometheus that scrapes. (host-tls, host-ssh and the
auth registry: test_stack_hosts.py; the suite's own stack: test_stack_isolation.py.)"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from typing import TYPE_CHECKING, Any

import docker
import pytest
from docker.errors import DockerException

if TYPE_CHECKING:
    from conftest import Stack

WEB_TAGS = {"v1", "v2", "v3", "v4", "broken"}
WORKER_TAGS = {"v1", "v2", "v3", "v4"}
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"

# Every peer is on loopback: never let an http_proxy from the environment in.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, Message]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=5) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def eventually(check: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> Any:
    """Poll `check` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"{what or 'condition'} not met within {timeout:.0f}s (last: {last!r})")


@pytest.fixture(scope="module")
def clients(stack: Stack) -> Iterator[dict[str, docker.DockerClient]]:
    made = {
        name: docker.DockerClient(base_url=url, timeout=10) for name, url in stack.host_urls.items()
    }
    yield made
    for client in made.values():
        client.close()


def test_both_daemons_answer_with_their_own_data_root(
    stack: Stack, clients: dict[str, docker.DockerClient]
) -> None:
    infos = {}
    for name, client in clients.items():
        url = stack.host_urls[name]
        assert url == f"unix://{stack.dir}/{name}/docker.sock"
        assert client.ping() is True
        infos[name] = client.info()
        assert infos[name]["DockerRootDir"] == str(stack.dir / name / "data")
    assert infos["host-a"]["ID"] != infos["host-b"]["ID"]
    assert infos["host-a"]["DockerRootDir"] != infos["host-b"]["DockerRootDir"]


def test_daemons_have_no_bridge_network(clients: dict[str, docker.DockerClient]) -> None:
    for client in clients.values():
        drivers = {network.attrs["Driver"] for network in client.networks.list()}
        assert "bridge" not in drivers
        assert {"host", "null"} <= drivers


def test_registry_lists_the_demo_tags_with_distinct_digests(stack: Stack) -> None:
    for repo, expected in (("demo/web", WEB_TAGS), ("demo/worker", WORKER_TAGS)):
        status, body, _ = http(f"{stack.registry_url}/v2/{repo}/tags/list")
        assert status == 200, body
        listing = json.loads(body)
        assert listing["name"] == repo
        assert expected <= set(listing["tags"])
        digests = set()
        for tag in expected:
            status, _, headers = http(
                f"{stack.registry_url}/v2/{repo}/manifests/{tag}",
                method="HEAD",
                headers={"Accept": MANIFEST_V2},
            )
            assert status == 200
            digests.add(headers["Docker-Content-Digest"])
        assert len(digests) == len(expected), f"{repo}: tags share a manifest"


def managed(client: docker.DockerClient, service: str) -> list[Any]:
    return list(client.containers.list(filters={"label": f"jobtui.service={service}"}))


@pytest.mark.parametrize(("host", "service"), [("host-a", "web"), ("host-b", "api")])
def test_demo_web_services_answer_on_loopback(
    stack: Stack,
    clients: dict[str, docker.DockerClient],
    host: str,
    service: str,
) -> None:
    port = stack.ports[service]
    running = managed(clients[host], service)
    assert len(running) == 1, f"{service} on {host}: {[c.name for c in running]}"
    container = running[0]
    assert re.fullmatch(rf"{service}_\d+", container.name)
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    version = container.labels["jobtui.version"]
    status, body, _ = http(f"http://127.0.0.1:{port}/index.html")
    assert (status, body.decode().strip()) == (200, f"web {version}")
    status, body, _ = http(f"http://127.0.0.1:{port}/health")
    assert (status, body.decode().strip()) == (200, "ok")

    def healthy() -> str:
        container.reload()
        health: str = container.attrs["State"]["Health"]["Status"]
        return health if health == "healthy" else ""

    eventually(healthy, what=f"{container.name} healthy")


def test_demo_images_came_through_the_registry(
    stack: Stack, clients: dict[str, docker.DockerClient]
) -> None:
    registry = urllib.parse.urlsplit(stack.registry_url).netloc
    for client in clients.values():
        for container in client.containers.list(filters={"label": "jobtui.service"}):
            image = client.images.get(container.attrs["Image"])
            repo, _, tag = container.attrs["Config"]["Image"].rpartition(":")
            assert repo.startswith(f"{registry}/demo/")
            _, _, headers = http(
                f"{stack.registry_url}/v2/{repo.split('/', 1)[1]}/manifests/{tag}",
                method="HEAD",
                headers={"Accept": MANIFEST_V2},
            )
            assert f"{repo}@{headers['Docker-Content-Digest']}" in image.attrs["RepoDigests"]


def test_workers_tick_and_adhoc_container_is_unmanaged(
    clients: dict[str, docker.DockerClient],
) -> None:
    for client in clients.values():
        (worker,) = managed(client, "worker")

        def ticking(worker: Any = worker) -> bool:
            return b" tick " in worker.logs(tail=5)

        eventually(ticking, what=f"{worker.name} logging ticks")
    adhoc = clients["host-b"].containers.get("adhoc-debug")
    assert adhoc.status == "running"
    assert not any(key.startswith("jobtui.") for key in adhoc.labels)


def test_etcd_is_healthy_and_stores_keys(stack: Stack) -> None:
    base = f"http://{stack.etcd_endpoint}"
    status, body, _ = http(f"{base}/health")
    assert status == 200 and json.loads(body)["health"] == "true"

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    key = f"/jobtui-e2e/stack-check/{time.time_ns()}"
    post = {"method": "POST", "headers": {"Content-Type": "application/json"}}
    status, body, _ = http(
        f"{base}/v3/kv/put", data=json.dumps({"key": b64(key), "value": b64("ok")}).encode(), **post
    )
    assert status == 200, body
    try:
        status, body, _ = http(
            f"{base}/v3/kv/range", data=json.dumps({"key": b64(key)}).encode(), **post
        )
        assert status == 200, body
        (kv,) = json.loads(body)["kvs"]
        assert base64.b64decode(kv["value"]) == b"ok"
    finally:
        http(f"{base}/v3/kv/deleterange", data=json.dumps({"key": b64(key)}).encode(), **post)


def test_prometheus_is_ready_and_scrapes(stack: Stack) -> None:
    status, _, _ = http(f"{stack.prometheus_url}/-/ready")
    assert status == 200

    def self_scraped() -> bool:
        query = urllib.parse.urlencode({"query": 'up{job="prometheus"}'})
        _, body, _ = http(f"{stack.prometheus_url}/api/v1/query?{query}")
        result = json.loads(body)["data"]["result"]
        return bool(result) and result[0]["value"][1] == "1"

    eventually(self_scraped, what="Prometheus scraping itself")
    _, body, _ = http(f"{stack.prometheus_url}/api/v1/targets")
    targets = {t["labels"]["job"]: t for t in json.loads(body)["data"]["activeTargets"]}
    assert targets["cadvisor"]["scrapeUrl"] == f"{stack.cadvisor_url}/metrics"


def test_stop_and_start_host(stack: Stack, clients: dict[str, docker.DockerClient]) -> None:
    client = clients["host-b"]
    was_running = [c.id for c in client.containers.list()]
    stack.stop_host("host-b")
    try:
        probe = docker.DockerClient(base_url=stack.host_b_url, timeout=3)
        probe.close()
        pytest.fail("host-b still answers after stop-host")
    except DockerException:
        pass
    finally:
        stack.start_host("host-b")
        # Leave the demo as it was for the tests that follow.
        for container_id in was_running:
            client.containers.get(container_id).start()
    assert client.ping() is True
    assert clients["host-a"].ping() is True
    running = {c.id for c in client.containers.list()}
    assert set(was_running) <= running
