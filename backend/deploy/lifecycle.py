"""start, stop and restart of a service's container on one host.

``start`` and ``restart`` pass the same health gate as a rollout and then
register the instance for the load balancers; ``stop`` deregisters it first,
then stops every running container of the service there (kept, not removed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from jobtui.backend.contract import HostResult
from jobtui.backend.deploy.create import grace_seconds
from jobtui.backend.deploy.host import HostRollout, StepFailed
from jobtui.backend.docker import current_container
from jobtui.backend.model import ContainerInfo

NO_CONTAINER = "no container of this service here: deploy it first"


def last_serving(rollout: HostRollout) -> ContainerInfo | None:
    """The container to bring back: the running one, else the one that stopped last."""
    return current_container(rollout.containers())


def start_service(rollout: HostRollout) -> HostResult:
    """Start the container that served last unless it runs; gated, then registered."""
    current = last_serving(rollout)
    if current is None:
        return HostResult(rollout.host.name, False, None, None, None, NO_CONTAINER)
    if current.running:
        register = partial(rollout.register, current.id, current.version)
        rollout.step("register", register, "already running")
        return _ok(rollout, current, "already running")
    return _bring_up(rollout, current, "start", partial(rollout.api.start, current.id))


def restart_service(rollout: HostRollout) -> HostResult:
    """Restart the serving container (stop_grace_period as timeout); gated, registered."""
    current = last_serving(rollout)
    if current is None:
        return HostResult(rollout.host.name, False, None, None, None, NO_CONTAINER)
    grace = grace_seconds(rollout.service)
    return _bring_up(rollout, current, "restart", partial(rollout.api.restart, current.id, grace))


def stop_service(rollout: HostRollout) -> HostResult:
    """Deregister, then stop every running container of the service on this host."""
    running = [c for c in rollout.containers() if c.running]
    version = running[0].version if running else None
    host = rollout.host.name
    try:
        rollout.step("deregister", rollout.deregister)
        for container in running:
            stop = partial(rollout.stop_container, container.id)
            rollout.step("stop", stop, container.name)
    except StepFailed as exc:
        return HostResult(host, False, version, version, None, str(exc))
    return HostResult(host, True, version, version, None, "" if running else "already stopped")


def _bring_up(
    rollout: HostRollout, current: ContainerInfo, step: str, action: Callable[[], object]
) -> HostResult:
    version = current.version
    try:
        rollout.bring_up(step, current, action)
    except StepFailed as exc:
        logs = rollout.last_logs(current.id)
        return HostResult(rollout.host.name, False, version, version, None, str(exc), logs)
    return _ok(rollout, current)


def _ok(rollout: HostRollout, current: ContainerInfo, reason: str = "") -> HostResult:
    version = current.version
    return HostResult(rollout.host.name, True, version, version, current.name, reason)
