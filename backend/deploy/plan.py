"""What a deploy would do: the inventory against the observed fleet, host by host.

Pure: callers hand in the fleet snapshot and the observed specs of the
current containers (:func:`to_inspect` says which); nothing here talks to
Docker. Executors carry the resulting actions out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from jobtui.backend.deploy.fingerprint import Fingerprint
from jobtui.backend.docker import (
    ContainerSpec,
    FieldDiff,
    belongs_to,
    current_container,
    desired_spec,
    diff_specs,
    full_image_ref,
    spec_hash,
)
from jobtui.backend.model import (
    LABEL_SPEC_HASH,
    ContainerInfo,
    FleetSnapshot,
    HostState,
    HostStatus,
)
from jobtui.config.models import Inventory, Service


class ActionKind(StrEnum):
    """What happens to a service on one host."""

    CREATE = "create"
    """No container yet: create and start one."""
    UPDATE = "update"
    """The current container differs from the inventory: replace it."""
    START = "start"
    """The current container matches but is not running: start it."""
    NOOP = "noop"
    """The current container matches and runs."""
    UNREACHABLE = "unreachable"
    """The host is not up: nothing can be planned there."""
    REUSE = "reuse"
    """Rollback: a retained stopped container of the target version starts again."""


CHANGING = frozenset({ActionKind.CREATE, ActionKind.UPDATE, ActionKind.START, ActionKind.REUSE})


@dataclass(frozen=True)
class Action:
    """One service on one host: what to do, from which container and version to which."""

    service: str
    host: str
    kind: ActionKind
    target_version: str
    container_id: str | None = None
    """The current container (see :func:`~jobtui.backend.observe.rows.current_container`)."""
    container_name: str | None = None
    current_version: str | None = None
    diffs: tuple[FieldDiff, ...] = ()
    """For ``update``: what differs. A container that was not inspected shows only
    its image and a ``spec-hash`` difference (its label against the plan's)."""
    reason: str = ""
    """For ``unreachable``: why, in the operator's words."""
    source_id: str | None = None
    """For ``reuse``: the retained container that starts again."""
    source_name: str | None = None

    @property
    def key(self) -> str:
        """``service@host``, the services table's row key."""
        return f"{self.service}@{self.host}"


@dataclass(frozen=True)
class ServicePlan:
    """Every host's action for one service, and the spec they converge on."""

    service: str
    version: str
    """The target version (the image tag, or ``--version``)."""
    spec: ContainerSpec
    """The desired container, for the executor to create."""
    actions: tuple[Action, ...]
    hash_key: bytes | None = field(default=None, compare=False, repr=False)
    """The bastion's key of the spec-hash label (see ``backend.deploy.spec_key``)."""
    fingerprint: Fingerprint | None = field(default=None, compare=False)
    """What the plan was computed from (the engine's plans have one)."""

    @property
    def spec_hash(self) -> str:
        """The value of the ``jobtui.spec-hash`` label of containers created from this plan."""
        return spec_hash(self.spec, self.hash_key)

    @property
    def unreachable(self) -> tuple[Action, ...]:
        """The hosts that could not be asked: nothing can be planned (or done) there."""
        return tuple(a for a in self.actions if a.kind is ActionKind.UNREACHABLE)

    @property
    def changes(self) -> tuple[Action, ...]:
        """The actions that would touch a container."""
        return tuple(a for a in self.actions if a.kind in CHANGING)


def plan_service(
    service: Service,
    fleet: FleetSnapshot,
    observed: Mapping[str, ContainerSpec],
    *,
    version: str | None = None,
    hash_key: bytes | None = None,
) -> ServicePlan:
    """The plan for ``service`` on each host of its ``run_on_host``.

    ``observed`` maps container id to that container's observed spec; a
    current container without one is judged by its ``jobtui.spec-hash`` label
    (made with ``hash_key``, the bastion's key).
    ``version`` replaces the inventory's tag (``deploy SERVICE --version V``).
    """
    if version is not None:
        service = replace(service, image=f"{service.repository}:{version}")
    spec = desired_spec(service)
    digest = spec_hash(spec, hash_key)
    actions = tuple(
        _plan_host(service, name, fleet.hosts.get(name), spec, digest, observed)
        for name in service.run_on_host
    )
    return ServicePlan(service.name, service.tag, spec, actions, hash_key)


def plan_inventory(
    inventory: Inventory,
    fleet: FleetSnapshot,
    observed: Mapping[str, ContainerSpec],
    *,
    hash_key: bytes | None = None,
) -> tuple[ServicePlan, ...]:
    """One plan per service, in inventory order."""
    return tuple(plan_service(s, fleet, observed, hash_key=hash_key) for s in inventory.services)


def to_inspect(inventory: Inventory, fleet: FleetSnapshot) -> tuple[ContainerInfo, ...]:
    """The containers whose observed spec a plan needs: each service's current one per host."""
    found: list[ContainerInfo] = []
    for service in inventory.services:
        for name in service.run_on_host:
            host = fleet.hosts.get(name)
            if host is not None and host.status is HostStatus.UP:
                current = _current(service, host)
                if current is not None:
                    found.append(current)
    return tuple(found)


def _current(service: Service, host: HostState) -> ContainerInfo | None:
    return current_container([c for c in host.containers if belongs_to(c, service.name)])


def _plan_host(
    service: Service,
    host_name: str,
    host: HostState | None,
    spec: ContainerSpec,
    digest: str,
    observed: Mapping[str, ContainerSpec],
) -> Action:
    target = service.tag
    if host is None or host.status is not HostStatus.UP:
        return Action(service.name, host_name, ActionKind.UNREACHABLE, target, reason=_why(host))
    current = _current(service, host)
    if current is None:
        return Action(service.name, host_name, ActionKind.CREATE, target)
    diffs = _diffs(spec, digest, current, observed.get(current.id))
    if diffs:
        kind = ActionKind.UPDATE
    elif current.running:
        kind = ActionKind.NOOP
    else:
        kind = ActionKind.START
    return Action(
        service.name,
        host_name,
        kind,
        target,
        container_id=current.id,
        container_name=current.name.lstrip("/"),
        current_version=current.version,
        diffs=diffs,
    )


def _diffs(
    spec: ContainerSpec, digest: str, current: ContainerInfo, actual: ContainerSpec | None
) -> tuple[FieldDiff, ...]:
    if actual is not None:
        return diff_specs(spec, actual)
    # Not inspected: the label written at creation is the cheap answer. It
    # cannot see a manual `docker update`, which only an inspect reveals.
    label = current.labels.get(LABEL_SPEC_HASH)
    if label == digest:
        return ()
    diffs: list[FieldDiff] = []
    image = full_image_ref(current.image)
    if image != spec.image:
        diffs.append(FieldDiff("image", spec.image, image))
    diffs.append(FieldDiff("spec-hash", digest, label or "(none)"))
    return tuple(diffs)


def _why(host: HostState | None) -> str:
    if host is None:
        return "host not observed"
    if host.error:
        return host.error
    return "connecting" if host.status is HostStatus.CONNECTING else f"host {host.status.value}"


class PlanRole(StrEnum):
    """What a piece of a rendered plan is, so a screen can colour it without parsing."""

    HOST = "host"
    """``service@host``."""
    TEXT = "text"
    """Separators and joining words."""
    CREATE = "create"
    """The verb of a host that gets its first container."""
    CHANGE = "change"
    """The verb of a host whose container is replaced or started."""
    NOOP = "noop"
    """The verb of a host where nothing happens."""
    UNREACHABLE = "unreachable"
    """The verb of a host that could not be asked."""
    OLD = "old"
    """A running version or value that goes."""
    NEW = "new"
    """The version or value that comes."""
    SAME = "same"
    """A version that stays."""
    FIELD = "field"
    """The inventory name of a differing setting (``envs.PORT``)."""
    SECRET = "secret"
    """What happens to a secret value (``changed``): never the value itself."""
    NOTE = "note"
    """An explanation: why a host is unreachable, which container is reused."""


PlanSegment = tuple[str, PlanRole]
PlanLine = tuple[PlanSegment, ...]


def render_plan(plan: ServicePlan) -> list[PlanLine]:
    """The plan as lines of segments: one headline per host, its field diffs indented below.

    :func:`plain` joins a line into the text ``jobtui plan`` prints.
    """
    lines: list[PlanLine] = []
    for action in plan.actions:
        lines.append(((action.key, PlanRole.HOST), (": ", PlanRole.TEXT), *_headline(action)))
        lines.extend(_diff_line(diff) for diff in action.diffs)
    return lines


def plain(line: PlanLine) -> str:
    """One rendered line as text."""
    return "".join(text for text, _ in line)


def _headline(action: Action) -> PlanLine:
    current, target = action.current_version, action.target_version
    text = PlanRole.TEXT
    if action.kind is ActionKind.UNREACHABLE:
        why = (action.reason, PlanRole.NOTE)
        return ("unreachable", PlanRole.UNREACHABLE), (" (", text), why, (")", text)
    if action.kind is ActionKind.CREATE:
        return ("create", PlanRole.CREATE), (" ", text), (target, PlanRole.NEW)
    if action.kind is ActionKind.REUSE:
        return (
            ("restart retained", PlanRole.CHANGE),
            (" ", text),
            (str(action.source_name), PlanRole.NOTE),
            (" (", text),
            (current or "-", PlanRole.OLD),
            (" -> ", text),
            (target, PlanRole.NEW),
            (")", text),
        )
    role = PlanRole.NOOP if action.kind is ActionKind.NOOP else PlanRole.CHANGE
    verb = (action.kind.value, role)
    if action.kind is ActionKind.UPDATE and current != target:
        old, new = (str(current), PlanRole.OLD), (target, PlanRole.NEW)
        return verb, (" ", text), old, (" -> ", text), new
    return verb, (" ", text), (str(current), PlanRole.SAME)


def _diff_line(diff: FieldDiff) -> PlanLine:
    name = (diff.field, PlanRole.FIELD)
    if diff.secret:
        # The diff words it (added, changed …): its own text, never the value.
        said = str(diff).removeprefix(f"{diff.field}: ")
        return ("    ", PlanRole.TEXT), name, (": ", PlanRole.TEXT), (said, PlanRole.SECRET)
    return (
        ("    ", PlanRole.TEXT),
        name,
        (": ", PlanRole.TEXT),
        (diff.actual, PlanRole.OLD),
        (" -> ", PlanRole.TEXT),
        (diff.desired, PlanRole.NEW),
    )
