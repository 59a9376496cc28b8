"""What a rollback will do, host by host: the plan confirmed before a rollback runs.

Unlike a deploy's plan (the inventory at that version against what runs), a
rollback restarts what a host retains when it can: the plan says so, with the
retained container's own settings diffed against the running one's. Pure, like
:mod:`jobtui.backend.deploy.plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from jobtui.backend.deploy.plan import Action, ActionKind, ServicePlan
from jobtui.backend.docker import ContainerSpec, FieldDiff, diff_specs
from jobtui.backend.model import ContainerInfo

ALREADY = "already on this version"


def plan_rollback(
    deploy_plan: ServicePlan,
    retained: Mapping[str, ContainerInfo],
    running: Mapping[str, ContainerInfo],
    observed: Mapping[str, ContainerSpec],
    secret: frozenset[str] = frozenset(),
) -> ServicePlan:
    """The rollback to ``deploy_plan.version``, from the deploy plan of that version.

    ``retained`` maps a host to its newest stopped container of the version
    (restarted without a pull); ``running`` maps a host to its running
    container of the service; ``observed`` maps container ids to observed specs;
    ``secret`` names the env vars the inventory holds secret (``secret: true``,
    ``value_env``), which two observed containers cannot tell by themselves.
    Per host: unreachable stays so; already running the version does nothing;
    a retained container is restarted (``reuse``); otherwise the version is
    recreated from the registry as the deploy plan says.
    """
    actions: list[Action] = []
    for action in deploy_plan.actions:
        current = running.get(action.host)
        keep = retained.get(action.host)
        if action.kind is ActionKind.UNREACHABLE:
            actions.append(action)
        elif current is not None and current.version == deploy_plan.version:
            actions.append(replace(action, kind=ActionKind.NOOP, diffs=(), reason=ALREADY))
        elif keep is not None:
            before = observed.get(action.container_id or "")
            after = observed.get(keep.id)
            diffs: tuple[FieldDiff, ...] = ()
            if before is not None and after is not None:
                known = replace(before, secret_env=before.secret_env | secret)
                diffs = diff_specs(replace(after, secret_env=after.secret_env | secret), known)
            actions.append(
                replace(
                    action,
                    kind=ActionKind.REUSE,
                    diffs=diffs,
                    source_id=keep.id,
                    source_name=keep.name.lstrip("/"),
                )
            )
        else:
            actions.append(action)
    return replace(deploy_plan, actions=tuple(actions))
