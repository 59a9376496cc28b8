"""The deployment engine: pure first (plan, policy, health), then the effectful
(per-host executor, lifecycle, batches, the operation frame, recovery) and the
:class:`Deployer` that the app drives.

The room's front door: other rooms and the app import only these names.
Each is loaded on first use, so a verb pays only for the clients it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtui.backend.doors import lazy_attribute

if TYPE_CHECKING:
    from jobtui.backend.deploy.deployer import (
        Deployer as Deployer,
    )
    from jobtui.backend.deploy.detached import (
        DetachedDeployer as DetachedDeployer,
        Launched as Launched,
    )
    from jobtui.backend.deploy.fingerprint import (
        Fingerprint as Fingerprint,
    )
    from jobtui.backend.deploy.plan import (
        Action as Action,
        ActionKind as ActionKind,
        PlanLine as PlanLine,
        PlanRole as PlanRole,
        ServicePlan as ServicePlan,
        plain as plain,
        render_plan as render_plan,
    )
    from jobtui.backend.deploy.policy import (
        RollbackCandidate as RollbackCandidate,
        RolloutControl as RolloutControl,
    )
    from jobtui.backend.deploy.runner import (
        ControlWatch as ControlWatch,
        execute as execute,
        install_signals as install_signals,
        run_interruptibly as run_interruptibly,
    )
    from jobtui.backend.deploy.slots import (
        PER_HOST as PER_HOST,
        HostSlots as HostSlots,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "deployer": (
        "Deployer",
    ),
    "detached": (
        "DetachedDeployer",
        "Launched",
    ),
    "fingerprint": (
        "Fingerprint",
    ),
    "plan": (
        "Action",
        "ActionKind",
        "PlanLine",
        "PlanRole",
        "ServicePlan",
        "plain",
        "render_plan",
    ),
    "policy": (
        "RollbackCandidate",
        "RolloutControl",
    ),
    "slots": (
        "HostSlots",
        "PER_HOST",
    ),
    "runner": (
        "ControlWatch",
        "execute",
        "install_signals",
        "run_interruptibly",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
