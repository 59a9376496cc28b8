"""A small, realistic shop fleet as fixed data for Pilot and snapshot tests.

Three hosts (web-1, web-2 up; batch-1 down), four services, one container
that belongs to no service, and registry tags with dates. ``NOW`` is the
frozen clock every test passes to ``make_app``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from jobtui.backend.contract import (
    HostOutcome,
    HostResult,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
    StepListener,
    StepStatus,
)
from jobtui.backend.deploy.plan import ServicePlan, plan_service
from jobtui.backend.deploy.policy import RollbackCandidate, RolloutControl
from jobtui.backend.docker.spec import ContainerSpec, desired_spec
from jobtui.backend.model import (
    LABEL_SERVICE,
    LABEL_VERSION,
    ContainerInfo,
    FleetSnapshot,
    HostState,
    HostStatus,
    TagInfo,
)
from jobtui.config.models import (
    EnvVar,
    Healthcheck,
    Host,
    Inventory,
    LogConfig,
    PortSpec,
    RegistryConfig,
    Service,
    Ulimit,
    Volume,
)

if TYPE_CHECKING:
    from jobtui.app.app import JobtuiApp

SIZE = (120, 36)
"""The terminal size of every Pilot and snapshot test."""

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0
DAY = 24 * HOUR
REGISTRY = "registry.shop.lan:5000"


AppFactory = Callable[..., "JobtuiApp"]
"""The ``build`` fixture: keyword arguments choose tags, inventory, read-only."""


def clock() -> float:
    return NOW


def _hex(seed: str) -> str:
    # Deterministic, id-looking hex so snapshots never change between runs.
    return (seed.encode().hex() * 8)[:64]


def _managed(
    name: str, host: str, service: str, version: str, *, age: float, up: float | None
) -> ContainerInfo:
    return ContainerInfo(
        id=_hex(f"{host}/{name}"),
        name=name,
        host=host,
        image=f"{REGISTRY}/shop/{service.removeprefix('shop-')}:{version}",
        state="running" if up is not None else "exited",
        status=f"Up {int(up // HOUR)} hours" if up is not None else "Exited (137) 2 hours ago",
        created=NOW - age,
        started_at=NOW - up if up is not None else None,
        labels=MappingProxyType({LABEL_SERVICE: service, LABEL_VERSION: version}),
    )


def inventory() -> Inventory:
    web = Service(
        name="shop-web",
        image=f"{REGISTRY}/shop/web:2.4.1",
        run_on_host=("web-1", "web-2"),
        port=PortSpec(8080),
        envs=(
            EnvVar("DB_HOST", "db.shop.lan"),
            EnvVar("DB_PASSWORD", "hunter2"),
            EnvVar("session_secret", "s3cr3t"),
            EnvVar("STRIPE_API_KEY", "sk_live_123"),
            EnvVar("LOG_LEVEL", "info"),
        ),
        volumes=(
            Volume("/app/uploads", "/srv/shop/uploads"),
            Volume("/etc/shop", "/etc/shop", read_only=True),
        ),
        ulimits=(Ulimit("nofile", 65536, 65536),),
        log_config=LogConfig("json-file", MappingProxyType({"max-size": "50m", "max-file": "5"})),
        cmd=("gunicorn", "-w", "4", "shop.wsgi"),
        network_mode="host",
        healthcheck=Healthcheck(test=("CMD", "wget", "-qO-", "http://127.0.0.1:8080/health")),
        restart="unless-stopped",
        mem_limit=1 << 30,
    )
    api = Service(
        name="shop-api",
        image=f"{REGISTRY}/shop/api:1.9.0",
        run_on_host=("web-1", "web-2"),
        port=PortSpec(9000),
        envs=(EnvVar("API_TOKEN", "t0k3n"), EnvVar("WORKERS", "8")),
        network_mode="host",
    )
    resizer = Service(
        name="resizer",
        image=f"{REGISTRY}/shop/resizer:0.7.3",
        run_on_host=("batch-1", "web-2"),
        network_mode="host",
    )
    mailer = Service(
        name="mailer",
        image=f"{REGISTRY}/shop/mailer:3.1.0",
        run_on_host=("web-1",),
        entrypoint=("/bin/mailer",),
        cmd=("--queue", "outbound"),
        network_mode="host",
    )
    hosts = {
        "web-1": Host("web-1", "ssh://deploy@web-1.shop.lan"),
        "web-2": Host("web-2", "ssh://deploy@web-2.shop.lan"),
        "batch-1": Host("batch-1", "tcp://batch-1.shop.lan:2376"),
    }
    return Inventory(
        source=Path("/etc/jobtui/shop.yml"),
        services=(web, api, resizer, mailer),
        hosts=MappingProxyType(hosts),
        registry=RegistryConfig(f"http://{REGISTRY}"),
    )


def snapshot() -> FleetSnapshot:
    web_1 = (
        _managed(
            "shop-web_1717231680", "web-1", "shop-web", "2.4.1", age=3.3 * HOUR, up=3.2 * HOUR
        ),
        _managed("shop-web_1716210000", "web-1", "shop-web", "2.4.0", age=12 * DAY, up=None),
        _managed("shop-api_1716800000", "web-1", "shop-api", "1.9.0", age=5 * DAY, up=5 * DAY),
        # Deployed by the seed's Job-Tool: no labels, adopted by its name.
        ContainerInfo(
            id=_hex("web-1/mailer"),
            name="mailer_1714650000",
            host="web-1",
            image=f"{REGISTRY}/shop/mailer:3.1.0",
            state="running",
            status="Up 4 weeks",
            created=NOW - 30 * DAY,
            started_at=NOW - 30 * DAY + 60,
        ),
        ContainerInfo(
            id=_hex("web-1/node-exporter"),
            name="node-exporter",
            host="web-1",
            image="prom/node-exporter:v1.7.0",
            state="running",
            status="Up 6 weeks",
            created=NOW - 45 * DAY,
            started_at=NOW - 45 * DAY,
        ),
    )
    web_2 = (
        _managed("shop-web_1716900000", "web-2", "shop-web", "2.4.0", age=4 * DAY, up=2 * DAY),
        _managed("shop-api_1716800100", "web-2", "shop-api", "1.9.0", age=5 * DAY, up=None),
    )
    hosts = {
        "web-1": HostState(
            "web-1",
            "ssh://deploy@web-1.shop.lan",
            HostStatus.UP,
            docker_version="24.0.7",
            containers=web_1,
            updated=NOW,
        ),
        "web-2": HostState(
            "web-2",
            "ssh://deploy@web-2.shop.lan",
            HostStatus.UP,
            docker_version="20.10.24",
            containers=web_2,
            updated=NOW,
        ),
        "batch-1": HostState(
            "batch-1",
            "tcp://batch-1.shop.lan:2376",
            HostStatus.DOWN,
            error="connect to batch-1.shop.lan:2376: connection timed out",
            updated=NOW,
        ),
    }
    return FleetSnapshot(MappingProxyType(hosts), generation=1)


def with_host(fleet: FleetSnapshot, name: str, **changes: object) -> FleetSnapshot:
    """``fleet`` with one host's state replaced field by field."""
    hosts = dict(fleet.hosts)
    hosts[name] = dataclasses.replace(hosts[name], **changes)  # type: ignore[arg-type]
    return FleetSnapshot(MappingProxyType(hosts), generation=fleet.generation + 1)


WEB_1_CONTAINER = "shop-web_1717231680"
WEB_2_CONTAINER = "shop-web_1716900000"


def _tag(tag: str, day: int, hour: int, image: str) -> TagInfo:
    created = datetime(2024, 5, day, hour, 17, tzinfo=UTC)
    return TagInfo(
        tag, digest=f"sha256:{_hex('d' + tag)}", image_id=f"sha256:{image * 16}", created=created
    )


def tags() -> dict[str, list[TagInfo]]:
    """Repository (as named inside the registry) → tags, newest first."""
    return {
        "shop/web": [
            _tag("2.4.1", 31, 9, "a3f1"),
            _tag("2.4.0", 20, 15, "9c2e"),
            _tag("2.3.7", 2, 11, "51bd"),
            _tag("2.3.6", 1, 8, "07aa"),
        ],
        "shop/api": [_tag("1.9.0", 27, 10, "e4c0"), _tag("1.8.2", 9, 16, "3b19")],
    }


# -- deploying: the dialogs and the rollout view ---------------------------------

NEW_WEB = "2.5.0"
"""The shop/web version the deploy tests update to (newer than any running)."""


def deploy_tags() -> dict[str, list[TagInfo]]:
    """:func:`tags` with a newer shop/web, so an update changes both web hosts."""
    found = tags()
    found["shop/web"] = [_tag(NEW_WEB, 31, 16, "5e77"), *found["shop/web"]]
    return found


def observed_specs() -> dict[str, ContainerSpec]:
    """What inspecting shop-web's current containers shows: web-2 runs 2.4.0 with debug logs."""
    web = inventory().service("shop-web")
    envs = tuple(
        dataclasses.replace(e, value="debug") if e.key == "LOG_LEVEL" else e for e in web.envs
    )
    older = dataclasses.replace(web, image=f"{REGISTRY}/shop/web:2.4.0", envs=envs)
    return {
        _hex("web-1/shop-web_1717231680"): desired_spec(web),
        _hex("web-2/shop-web_1716900000"): desired_spec(older),
    }


def _step(host: str, at: float, step: str, status: StepStatus, message: str = "") -> StepEvent:
    return StepEvent("op-7f3a", "shop-web", host, step, status, message, NOW + at)


RUNNING, OK, FAILED = StepStatus.RUNNING, StepStatus.OK, StepStatus.FAILED
WEB_IMAGE = f"{REGISTRY}/shop/web:{NEW_WEB}"
GATE = "Docker healthcheck healthy within 60 s"
UNHEALTHY = "unhealthy after 3 checks: wget: can't connect to 127.0.0.1:8080: Connection refused"


def _replace_steps(host: str, at: float, old: str, new: str) -> list[StepEvent]:
    # The engine's stop-first replacement (shop-web binds port 8080 on the host).
    return [
        _step(host, at, "pull", RUNNING, WEB_IMAGE),
        _step(host, at + 1.8, "pull", OK, WEB_IMAGE),
        _step(host, at + 1.8, "create", RUNNING),
        _step(host, at + 2.0, "create", OK, new),
        _step(host, at + 2.0, "stop-old", RUNNING, old),
        _step(host, at + 3.1, "stop-old", OK, old),
        _step(host, at + 3.1, "start", RUNNING),
        _step(host, at + 3.3, "start", OK),
        _step(host, at + 3.3, "health", RUNNING, GATE),
    ]


def rollout_steps() -> list[StepEvent]:
    """An update of shop-web to 2.5.0 that succeeds: web-1 (the canary), then web-2."""
    return [
        *_replace_steps("web-1", 0.0, WEB_1_CONTAINER, "shop-web_1717243200"),
        _step("web-1", 7.5, "health", OK, "healthy after 4.2 s"),
        _step("web-1", 7.5, "register", RUNNING),
        _step("web-1", 7.6, "register", OK),
        *_replace_steps("web-2", 8.0, WEB_2_CONTAINER, "shop-web_1717243208"),
        _step("web-2", 12.1, "health", OK, "healthy after 3.8 s"),
        _step("web-2", 12.1, "register", RUNNING),
        _step("web-2", 12.2, "register", OK),
    ]


MIDWAY = len(rollout_steps()) - 3
"""Events of :func:`rollout_steps` before web-2's health check passes."""


def rollout_result() -> OpResult:
    hosts = (
        HostResult("web-1", True, "2.4.1", NEW_WEB, "shop-web_1717243200"),
        HostResult("web-2", True, "2.4.0", NEW_WEB, "shop-web_1717243208"),
    )
    return OpResult("op-7f3a", OpKind.DEPLOY, "shop-web", Outcome.DONE, hosts, "", NOW, NOW + 12.2)


FAILED_LOGS = (
    "[2024-06-01 12:00:03] INFO booting shop-web 2.5.0 (gunicorn 22.0, 4 workers)",
    "[2024-06-01 12:00:03] INFO loading settings from /etc/shop/settings.toml",
    "[2024-06-01 12:00:04] ERROR settings: unknown key 'payments.provider_v2'",
    "[2024-06-01 12:00:04] ERROR worker failed to boot; exiting with status 3",
)


def failed_steps() -> list[StepEvent]:
    """The canary web-1 fails its health check: the new container goes, the old one returns."""
    old, new = WEB_1_CONTAINER, "shop-web_1717243200"
    return [
        *_replace_steps("web-1", 0.0, old, new),
        _step("web-1", 33.3, "health", FAILED, UNHEALTHY),
        _step("web-1", 33.3, "remove-new", RUNNING),
        _step("web-1", 33.6, "remove-new", OK),
        _step("web-1", 33.6, "restore", RUNNING, old),
        _step("web-1", 34.0, "restore", OK, old),
        _step("web-1", 34.0, "health", RUNNING, "restored container"),
        _step("web-1", 36.1, "health", OK, "restored container"),
        _step("web-1", 36.1, "register", RUNNING),
        _step("web-1", 36.2, "register", OK),
    ]


def failed_result() -> OpResult:
    reason = f"health: {UNHEALTHY}; old container restored"
    hosts = (
        HostResult("web-1", False, "2.4.1", "2.4.1", WEB_1_CONTAINER, reason, FAILED_LOGS),
        HostResult(
            "web-2", False, None, None, None, "not attempted after the failure",
            outcome=HostOutcome.SKIPPED,
        ),
    )
    message = f"canary web-1 failed: {reason}; untouched: web-2"
    return OpResult(
        "op-7f3a", OpKind.DEPLOY, "shop-web", Outcome.FAILED, hosts, message, NOW, NOW + 36.2
    )


def rollback_candidates() -> list[RollbackCandidate]:
    return [
        RollbackCandidate("2.4.0", ("web-1",), True),
        RollbackCandidate("2.3.7", (), True),
        RollbackCandidate("2.3.6", (), True),
    ]


class FakeDeployer:
    """A ``DeployEngine`` on the shop fleet, for Pilot tests and snapshots.

    Plans come from the real :func:`plan_service` on the fixed fleet. Every
    call is recorded in :attr:`calls`. An operation reports :attr:`steps`
    through ``on_step`` from the worker thread it is called in, stops after
    :attr:`hold_at` events until :meth:`release` (or until the app is gone),
    and returns :attr:`result`.
    """

    def __init__(self, on_step: StepListener) -> None:
        self.on_step = on_step
        self.calls: list[tuple[object, ...]] = []
        self.steps: list[StepEvent] = rollout_steps()
        self.result: OpResult | None = rollout_result()
        self.error: Exception | None = None
        """Raised by an operation instead of returning :attr:`result`."""
        self.hold_at: int | None = None
        self.control: RolloutControl | None = None
        self.app: JobtuiApp | None = None
        """Set it so a held operation gives up once the app has exited."""
        self._released = threading.Event()
        self.holding = threading.Event()
        """Set while an operation waits at :attr:`hold_at`."""

    def release(self) -> None:
        self._released.set()

    def plan(self, service: str, version: str | None = None) -> ServicePlan:
        self.calls.append(("plan", service, version))
        found = inventory().service(service)
        return plan_service(found, snapshot(), observed_specs(), version=version)

    def rollback_candidates(self, service: str) -> list[RollbackCandidate]:
        self.calls.append(("rollback_candidates", service))
        return rollback_candidates()

    def deploy(
        self,
        service: str,
        version: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
    ) -> OpResult:
        self.calls.append(("deploy", service, version))
        self.control = control
        return self._run()

    def rollback(
        self,
        service: str,
        to: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
    ) -> OpResult:
        self.calls.append(("rollback", service, to))
        self.control = control
        return self._run()

    def start(self, service: str, host: str | None = None) -> OpResult:
        self.calls.append(("start", service, host))
        return self._run()

    def stop(self, service: str, host: str | None = None) -> OpResult:
        self.calls.append(("stop", service, host))
        return self._run()

    def restart(self, service: str, host: str | None = None) -> OpResult:
        self.calls.append(("restart", service, host))
        return self._run()

    def _run(self) -> OpResult:
        for index, event in enumerate(self.steps):
            if index == self.hold_at:
                self._hold()
            self.on_step(event)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def _hold(self) -> None:
        self.holding.set()
        while not self._released.wait(0.05):
            if self.app is not None and not self.app.is_running:
                break
        self.holding.clear()


def deploy_app(fake: FakeDeployer, *, read_only: bool = False) -> JobtuiApp:
    """The shop fleet with :func:`deploy_tags`, ``fake`` as the engine, its relay as ``steps``."""
    from jobtui.app.app import make_app
    from jobtui.app.deploy_flow import StepRelay
    from support.fixed_backend import FixedFleet, FixedTags

    relay = fake.on_step
    assert isinstance(relay, StepRelay), "build the fake with on_step=StepRelay()"
    app = make_app(
        inventory(),
        FixedFleet(snapshot()),
        FixedTags(deploy_tags()),
        clock=clock,
        read_only=read_only,
        deployer=fake,
        steps=relay,
    )
    fake.app = app
    return app
