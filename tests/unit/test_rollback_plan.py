"""A rollback's plan says what the rollback does: restart what a host retains, else recreate."""

from __future__ import annotations

from dataclasses import replace

from support.fleet_data import inventory, observed_specs, snapshot

from jobtui.backend.deploy.plan import ActionKind, plain, plan_service, render_plan
from jobtui.backend.deploy.rollback_plan import ALREADY, plan_rollback
from jobtui.backend.docker.service_containers import belongs_to, current_container
from jobtui.backend.model import LABEL_VERSION


def test_retained_containers_are_restarted_others_recreated() -> None:
    service = inventory().service("shop-web")
    fleet = snapshot()
    specs = observed_specs()
    mine = {
        host: [c for c in fleet.hosts[host].containers if belongs_to(c, service.name)]
        for host in service.run_on_host
    }
    running = {h: c for h, cs in mine.items() if (c := current_container(cs)) is not None}
    target = "2.3.7"
    deploy = plan_service(service, fleet, specs, version=target)
    first, second = service.run_on_host
    # The first host keeps a stopped container of the target version; the second does not.
    labels = {**running[first].labels, LABEL_VERSION: target}
    kept = replace(running[first], id="kept0001", name="shop-web_1700000000", state="exited",
                   labels=labels)  # fmt: skip
    specs = {**specs, kept.id: specs[running[first].id]}
    plan = plan_rollback(deploy, {first: kept}, running, specs)

    by_host = {a.host: a for a in plan.actions}
    assert by_host[first].kind is ActionKind.REUSE and by_host[first].source_id == "kept0001"
    assert by_host[first].diffs == ()  # the same settings: only the container changes
    assert by_host[second] == next(a for a in deploy.actions if a.host == second)
    assert plain(render_plan(plan)[0]) == (
        f"shop-web@{first}: restart retained shop-web_1700000000 "
        f"({running[first].version} -> {target})"
    )
    assert plan.changes == plan.actions

    # Rolling back to what already runs does nothing there.
    same = plan_rollback(
        plan_service(service, fleet, specs, version=running[first].version),
        {}, running, specs,
    )  # fmt: skip
    noop = next(a for a in same.actions if a.host == first)
    assert (noop.kind, noop.reason, noop.diffs) == (ActionKind.NOOP, ALREADY, ())


def test_a_reuse_diff_masks_what_the_inventory_holds_secret() -> None:
    # Two observed containers cannot tell that MODE is `secret: true` in the
    # inventory: the plan is handed the inventory's secret names.
    service = inventory().service("shop-web")
    fleet = snapshot()
    specs = observed_specs()
    mine = [c for c in fleet.hosts[service.run_on_host[0]].containers
            if belongs_to(c, service.name)]  # fmt: skip
    now = current_container(mine)
    assert now is not None
    kept = replace(now, id="kept0002", name="shop-web_1700000001", state="exited",
                   labels={**now.labels, LABEL_VERSION: "2.3.7"})  # fmt: skip
    spec = specs[now.id]
    specs = {**specs, kept.id: replace(spec, env=(*spec.env, ("MODE", "m-4711")))}
    deploy = plan_service(service, fleet, specs, version="2.3.7")
    host = service.run_on_host[0]

    shown = plan_rollback(deploy, {host: kept}, {host: now}, specs)
    hidden = plan_rollback(deploy, {host: kept}, {host: now}, specs, frozenset({"MODE"}))

    assert "m-4711" in "\n".join(plain(line) for line in render_plan(shown))
    text = "\n".join(plain(line) for line in render_plan(hidden))
    assert "m-4711" not in text and "envs.MODE: added" in text, text
