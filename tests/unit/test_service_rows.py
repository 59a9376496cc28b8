"""Joining the inventory with the observed fleet."""

from __future__ import annotations

from types import MappingProxyType

from jobtui.backend.docker.service_containers import belongs_to
from jobtui.backend.model import ContainerInfo, FleetSnapshot, HostState, HostStatus
from jobtui.backend.observe.rows import service_rows, unmanaged
from jobtui.config.loader import parse_inventory

INVENTORY = parse_inventory(
    """
hosts: {a: "unix:///a.sock", b: "unix:///b.sock"}
services:
  - {name: web, image: "r:5000/web:v2", run_on_host: [a, b]}
  - {name: repo-manager-worker4, image: "worker:9206804", run_on_host: a}
  - {name: cron, image: "cron:1", run_on_host: b}
""",
    file="inv.yml",
)


def container(
    cid: str, name: str, host: str, state: str, created: float, **labels: str
) -> ContainerInfo:
    return ContainerInfo(
        id=cid,
        name=name,
        host=host,
        image="r:5000/web:v1",
        state=state,
        created=created,
        started_at=created if state == "running" else None,
        labels=MappingProxyType(labels),
    )


def fleet(b_status: HostStatus = HostStatus.UP) -> FleetSnapshot:
    a = HostState(
        "a",
        "unix:///a.sock",
        HostStatus.UP,
        containers=(
            container(
                "1",
                "web_100",
                "a",
                "exited",
                100,
                **{"jobtui.service": "web", "jobtui.version": "v1"},
            ),
            container(
                "2",
                "web_200",
                "a",
                "running",
                200,
                **{"jobtui.service": "web", "jobtui.version": "v2"},
            ),
            container("3", "repo-manager-worker4_1446547185", "a", "running", 50),
            container("4", "adhoc", "a", "running", 10),
        ),
    )
    b = HostState(
        "b",
        "unix:///b.sock",
        b_status,
        containers=(
            container(
                "5",
                "web_300",
                "b",
                "exited",
                300,
                **{"jobtui.service": "web", "jobtui.version": "v1"},
            ),
        ),
    )
    return FleetSnapshot(MappingProxyType({"a": a, "b": b}))


def test_rows_pick_the_running_newest_container_and_mark_missing() -> None:
    rows = {r.key: r for r in service_rows(INVENTORY, fleet())}
    assert list(rows) == ["web@a", "web@b", "repo-manager-worker4@a", "cron@b"]
    assert (rows["web@a"].running_version, rows["web@a"].state) == ("v2", "running")
    assert rows["web@a"].on_desired_version and rows["web@a"].started_at == 200
    assert (rows["web@b"].running_version, rows["web@b"].state) == ("v1", "stopped")
    assert not rows["web@b"].on_desired_version
    assert rows["cron@b"].state == "missing" and rows["cron@b"].container is None


def test_seed_named_containers_are_adopted_without_labels() -> None:
    rows = {r.key: r for r in service_rows(INVENTORY, fleet())}
    worker = rows["repo-manager-worker4@a"]
    assert worker.state == "running" and worker.container is not None
    assert worker.container.name == "repo-manager-worker4_1446547185"
    assert belongs_to(worker.container, "repo-manager-worker4")
    assert not belongs_to(worker.container, "repo-manager")


def test_down_host_rows_and_unmanaged_containers() -> None:
    rows = {r.key: r for r in service_rows(INVENTORY, fleet(HostStatus.DOWN))}
    assert rows["web@b"].state == "host down" and rows["web@b"].running_version is None
    assert [c.name for c in unmanaged(INVENTORY, fleet())] == ["adhoc"]
