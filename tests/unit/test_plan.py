"""Plans: the inventory against the observed fleet, host by host, by equality."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from jobtui.backend.deploy.plan import (
    Action,
    ActionKind,
    PlanRole,
    ServicePlan,
    plain,
    plan_inventory,
    plan_service,
    render_plan,
    to_inspect,
)
from jobtui.backend.docker.spec import ContainerSpec, FieldDiff, desired_spec, spec_hash
from jobtui.backend.model import ContainerInfo, FleetSnapshot, HostState, HostStatus
from jobtui.config.loader import parse_inventory

INVENTORY = parse_inventory(
    """
hosts:
  host-a: "unix:///a.sock"
  host-b: "unix:///b.sock"
  host-c: "unix:///c.sock"
  host-d: "unix:///d.sock"
  host-e: "unix:///e.sock"
services:
  - name: web
    image: "r:5000/demo/web:v1"
    run_on_host: [host-a, host-b, host-c, host-d]
    port: 18080
    envs: [{key: PORT, value: 18080}]
    network_mode: host
  - name: worker
    image: "r:5000/demo/worker:v1"
    run_on_host: [host-a, host-e]
    network_mode: host
""",
    file="inv.yml",
)
WEB, WORKER = INVENTORY.services
WEB_SPEC = desired_spec(WEB)
WORKER_SPEC = desired_spec(WORKER)


def container(
    cid: str,
    name: str,
    state: str,
    created: float,
    image: str = "r:5000/demo/web:v1",
    **labels: str,
) -> ContainerInfo:
    service = name.rpartition("_")[0]
    version = image.rpartition(":")[2]
    return ContainerInfo(
        id=cid,
        name=f"/{name}",
        host="",
        image=image,
        state=state,
        created=created,
        labels=MappingProxyType({"jobtui.service": service, "jobtui.version": version, **labels}),
    )


def host(
    name: str,
    *containers: ContainerInfo,
    status: HostStatus = HostStatus.UP,
    error: str | None = None,
) -> HostState:
    return HostState(name, f"unix:///{name}.sock", status, error, containers=containers)


# host-a: web runs (matching), an older web is kept for rollback; worker stopped.
# host-b: web runs with a changed PORT. host-c: nothing. host-d: down.
FLEET = FleetSnapshot(
    MappingProxyType(
        {
            "host-a": host(
                "host-a",
                container("a1", "web_100", "exited", 100),
                container("a2", "web_200", "running", 200),
                container("a3", "worker_150", "exited", 150, "r:5000/demo/worker:v1"),
                container("a4", "adhoc_1", "running", 10),
            ),
            "host-b": host("host-b", container("b1", "web_300", "running", 300)),
            "host-c": host("host-c"),
            "host-d": host("host-d", status=HostStatus.DOWN, error="connection refused"),
        }
    )
)
OBSERVED = MappingProxyType(
    {
        "a2": WEB_SPEC,
        "a3": WORKER_SPEC,
        "b1": replace(WEB_SPEC, env=(("PORT", "18081"),)),
    }
)


def test_every_kind_of_action() -> None:
    plan = plan_service(WEB, FLEET, OBSERVED)
    assert plan == ServicePlan(
        service="web",
        version="v1",
        spec=WEB_SPEC,
        actions=(
            Action("web", "host-a", ActionKind.NOOP, "v1", "a2", "web_200", "v1"),
            Action(
                "web",
                "host-b",
                ActionKind.UPDATE,
                "v1",
                "b1",
                "web_300",
                "v1",
                diffs=(FieldDiff("envs.PORT", "18080", "18081"),),
            ),
            Action("web", "host-c", ActionKind.CREATE, "v1"),
            Action("web", "host-d", ActionKind.UNREACHABLE, "v1", reason="connection refused"),
        ),
    )
    assert [a.key for a in plan.changes] == ["web@host-b", "web@host-c"]
    assert plan.spec_hash == spec_hash(WEB_SPEC)


def test_stopped_matching_container_is_started_and_unobserved_host_unreachable() -> None:
    plan = plan_service(WORKER, FLEET, OBSERVED)
    assert plan.actions == (
        Action("worker", "host-a", ActionKind.START, "v1", "a3", "worker_150", "v1"),
        Action("worker", "host-e", ActionKind.UNREACHABLE, "v1", reason="host not observed"),
    )


def test_version_override_updates_every_host() -> None:
    plan = plan_service(WEB, FLEET, OBSERVED, version="v2")
    assert plan.version == "v2"
    assert plan.spec == replace(WEB_SPEC, image="r:5000/demo/web:v2")
    image = FieldDiff("image", "r:5000/demo/web:v2", "r:5000/demo/web:v1")
    assert [(a.host, a.kind, a.current_version, a.diffs) for a in plan.actions] == [
        ("host-a", ActionKind.UPDATE, "v1", (image,)),
        ("host-b", ActionKind.UPDATE, "v1", (image, FieldDiff("envs.PORT", "18080", "18081"))),
        ("host-c", ActionKind.CREATE, None, ()),
        ("host-d", ActionKind.UNREACHABLE, None, ()),
    ]
    assert {a.target_version for a in plan.actions} == {"v2"}


def test_version_equal_to_the_running_one_changes_nothing() -> None:
    assert plan_service(WEB, FLEET, OBSERVED, version="v1") == plan_service(WEB, FLEET, OBSERVED)


def test_running_container_wins_over_a_newer_stopped_one() -> None:
    fleet = FleetSnapshot(
        MappingProxyType(
            {
                "host-a": host(
                    "host-a",
                    container("old", "worker_100", "running", 100, "r:5000/demo/worker:v1"),
                    container("new", "worker_200", "exited", 200, "r:5000/demo/worker:v2"),
                )
            }
        )
    )
    changed = replace(WORKER_SPEC, cmd=("--verbose",))
    (action, _) = plan_service(WORKER, fleet, {"old": changed}).actions
    assert (action.kind, action.container_id) == (ActionKind.UPDATE, "old")
    assert action.diffs == (FieldDiff("cmd", "(image default)", "--verbose"),)


def test_uninspected_containers_are_judged_by_their_spec_hash_label() -> None:
    digest = spec_hash(WEB_SPEC)
    labelled = container("x1", "web_1", "running", 1, **{"jobtui.spec-hash": digest})
    stale = container(
        "x2", "web_2", "running", 2, "r:5000/demo/web:v0", **{"jobtui.spec-hash": "0" * 16}
    )
    legacy = ContainerInfo("x3", "web_3", "", "r:5000/demo/web:v1", "running", created=3)
    fleet = FleetSnapshot(
        MappingProxyType(
            {
                "host-a": host("host-a", labelled),
                "host-b": host("host-b", stale),
                "host-c": host("host-c", legacy),
            }
        )
    )
    a, b, c, _ = plan_service(WEB, fleet, {}).actions
    assert (a.kind, a.diffs) == (ActionKind.NOOP, ())
    assert (b.kind, b.diffs) == (
        ActionKind.UPDATE,
        (
            FieldDiff("image", "r:5000/demo/web:v1", "r:5000/demo/web:v0"),
            FieldDiff("spec-hash", digest, "0" * 16),
        ),
    )
    assert (c.kind, c.diffs) == (ActionKind.UPDATE, (FieldDiff("spec-hash", digest, "(none)"),))
    assert c.container_name == "web_3" and c.current_version == "v1"


def test_plan_inventory_and_what_to_inspect() -> None:
    plans = plan_inventory(INVENTORY, FLEET, OBSERVED)
    assert [p.service for p in plans] == ["web", "worker"]
    assert plans == (plan_service(WEB, FLEET, OBSERVED), plan_service(WORKER, FLEET, OBSERVED))
    assert [c.id for c in to_inspect(INVENTORY, FLEET)] == ["a2", "b1", "a3"]


def _text(plan: ServicePlan) -> list[str]:
    return [plain(line) for line in render_plan(plan)]


def test_render_plan() -> None:
    assert _text(plan_service(WEB, FLEET, OBSERVED, version="v2")) == [
        "web@host-a: update v1 -> v2",
        "    image: r:5000/demo/web:v1 -> r:5000/demo/web:v2",
        "web@host-b: update v1 -> v2",
        "    image: r:5000/demo/web:v1 -> r:5000/demo/web:v2",
        "    envs.PORT: 18081 -> 18080",
        "web@host-c: create v2",
        "web@host-d: unreachable (connection refused)",
    ]
    assert _text(plan_service(WEB, FLEET, OBSERVED)) == [
        "web@host-a: noop v1",
        "web@host-b: update v1",
        "    envs.PORT: 18081 -> 18080",
        "web@host-c: create v1",
        "web@host-d: unreachable (connection refused)",
    ]
    assert _text(plan_service(WORKER, FLEET, OBSERVED)) == [
        "worker@host-a: start v1",
        "worker@host-e: unreachable (host not observed)",
    ]


def test_render_plan_says_what_each_piece_is() -> None:
    lines = render_plan(plan_service(WEB, FLEET, OBSERVED, version="v2"))
    T = PlanRole.TEXT
    assert lines[0] == (
        ("web@host-a", PlanRole.HOST), (": ", T),
        ("update", PlanRole.CHANGE), (" ", T), ("v1", PlanRole.OLD), (" -> ", T),
        ("v2", PlanRole.NEW),
    )  # fmt: skip
    assert lines[4] == (
        ("    ", T), ("envs.PORT", PlanRole.FIELD), (": ", T),
        ("18081", PlanRole.OLD), (" -> ", T), ("18080", PlanRole.NEW),
    )  # fmt: skip
    assert lines[6][2:] == (
        ("unreachable", PlanRole.UNREACHABLE), (" (", T),
        ("connection refused", PlanRole.NOTE), (")", T),
    )  # fmt: skip
    noop = render_plan(plan_service(WEB, FLEET, OBSERVED))[0]
    assert noop[2:] == (("noop", PlanRole.NOOP), (" ", T), ("v1", PlanRole.SAME))


def test_a_secret_diff_is_a_secret_segment_never_its_value() -> None:
    diff = FieldDiff("envs.DB_PASSWORD", "••••••", "••••••", secret=True)
    action = Action("web", "host-a", ActionKind.UPDATE, "v1", "c1", "web_1", "v1", (diff,))
    plan = ServicePlan("web", "v1", desired_spec(WEB), (action,))
    (_, line) = render_plan(plan)
    assert line[-1] == ("changed", PlanRole.SECRET)
    assert plain(line) == f"    {diff}"


def test_connecting_host_is_unreachable() -> None:
    fleet = FleetSnapshot(
        MappingProxyType({"host-a": host("host-a", status=HostStatus.CONNECTING)})
    )
    (action, _) = plan_service(WORKER, fleet, {}).actions
    assert (action.kind, action.reason) == (ActionKind.UNREACHABLE, "connecting")


def test_container_spec_is_what_the_plan_creates() -> None:
    plan = plan_service(WEB, FLEET, OBSERVED, version="v3")
    assert plan.spec == ContainerSpec(
        "r:5000/demo/web:v3", env=(("PORT", "18080"),), network_mode="host"
    )
