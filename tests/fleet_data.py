"""A small, realistic shop fleet as fixed data for Pilot and snapshot tests.

Three hosts (web-1, web-2 up; batch-1 down), four services, one container
that belongs to no service, and registry tags with dates. ``NOW`` is the
frozen clock every test passes to ``make_app``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

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
