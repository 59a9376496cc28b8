"""What a plan was computed from, so the engine can refuse a plan that no longer holds.

The operator confirms a plan; the operation re-plans under the service's lock
and compares fingerprints. Per host the fingerprint names the current
container (id, running or not, the hash of its observed spec) and what the
host converges on (for a deploy the registry's digest of the target image, for
a rollback that restarts a retained container that container's id); for the
whole plan, the hash of the desired spec (an edited inventory changes it).
A digest the registry could not tell at either time is not compared; a tag
the registry says it no longer has (:data:`NOT_IN_REGISTRY`) is a difference. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

NOT_IN_REGISTRY = "not-in-registry"
"""A :attr:`HostPrint.target` when the registry answered that it has no such tag."""


@dataclass(frozen=True)
class HostPrint:
    """One host's part of a :class:`Fingerprint`."""

    host: str
    action: str
    """The planned action (``update``, ``reuse``, ``unreachable`` …)."""
    container: str | None = None
    """The current container's id."""
    running: bool = False
    spec: str | None = None
    """The hash of the current container's observed spec (its label when not inspected)."""
    target: str = ""
    """The target image's digest in the registry, or the retained container to restart;
    ``""`` when unknown."""


@dataclass(frozen=True)
class Fingerprint:
    """What a plan was computed from (see the module doc)."""

    spec: str
    """The desired spec's hash."""
    hosts: tuple[HostPrint, ...] = ()

    def host(self, name: str) -> HostPrint | None:
        return next((h for h in self.hosts if h.host == name), None)


def differences(
    shown: Fingerprint, now: Fingerprint, hosts: Collection[str] | None = None
) -> list[str]:
    """How ``now`` differs from ``shown`` (only ``hosts``' parts, if given), in words;
    empty when the plan shown still holds."""
    found: list[str] = []
    if shown.spec != now.spec:
        found.append("the inventory's spec changed")
    names = [h.host for h in now.hosts] + [h.host for h in shown.hosts if not now.host(h.host)]
    for name in dict.fromkeys(names):
        if hosts is not None and name not in hosts:
            continue
        before, after = shown.host(name), now.host(name)
        if before is None or after is None:
            found.append(f"{name}: {'new in' if before is None else 'gone from'} the plan")
            continue
        found.extend(f"{name}: {what}" for what in _host_differences(before, after))
    return found


def _host_differences(before: HostPrint, after: HostPrint) -> Iterable[str]:
    if before.action != after.action:
        yield f"{before.action} is now {after.action}"
    if before.container != after.container:
        yield f"current container {_short(before.container)} is now {_short(after.container)}"
    elif before.running != after.running:
        yield "the current container " + ("started" if after.running else "stopped")
    elif before.spec != after.spec:
        yield "the current container's settings changed"
    if before.target and before.target != NOT_IN_REGISTRY and after.target == NOT_IN_REGISTRY:
        yield "the version is no longer in the registry (deleted since the plan?)"
    elif before.target and after.target and before.target != after.target:
        yield f"the target changed ({_short(before.target)} -> {_short(after.target)})"


def _short(value: str | None) -> str:
    if not value:
        return "(none)"
    return value.removeprefix("sha256:")[:12]


def to_data(fingerprint: Fingerprint) -> dict[str, Any]:
    """A JSON-able form (for a runner's request file)."""
    return asdict(fingerprint)


def from_data(data: Mapping[str, Any]) -> Fingerprint:
    """The fingerprint :func:`to_data` wrote; ``ValueError`` when it is not one."""
    try:
        hosts = tuple(
            HostPrint(
                host=str(h["host"]),
                action=str(h["action"]),
                container=None if h.get("container") is None else str(h["container"]),
                running=bool(h.get("running")),
                spec=None if h.get("spec") is None else str(h["spec"]),
                target=str(h.get("target") or ""),
            )
            for h in data.get("hosts") or ()
        )
        return Fingerprint(str(data["spec"]), hosts)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a plan fingerprint: {exc}") from exc
