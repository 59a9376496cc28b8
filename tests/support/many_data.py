"""The shop fleet for marked services: several services updated or restarted together.

The registry here has shop/web 2.5.0 (newer than both web hosts), shop/api
1.10.0 (newer than the 1.9.0 running, by semver though not by name) and
shop/mailer 3.1.0 (what runs: up to date); resizer's image is not in it.
:class:`ManyDeployer` plays the shop-web rollout's steps for whichever
service it is asked to change, each from its own worker thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.deploy_flow import StepRelay
from jobtui.backend.contract import OpResult
from jobtui.backend.deploy.plan import ServicePlan, plan_service
from jobtui.backend.deploy.policy import RolloutControl
from jobtui.backend.docker.spec import desired_spec
from jobtui.backend.logs import LogLine
from jobtui.backend.model import TagInfo
from support.fixed_backend import FixedFleet, FixedTags
from support.fixed_logs import FixedLogSource
from support.fleet_data import (
    FakeDeployer,
    _hex,
    clock,
    deploy_tags,
    inventory,
    observed_specs,
    snapshot,
)

NEW_API = "1.10.0"
NEW_WEB_2 = "shop-web_1717243208"
"""The container the shop-web rollout creates on web-2 (its log tail is followed)."""

STARTING_LOGS = (
    "booting shop-web 2.5.0 (gunicorn 22.0, 4 workers)",
    "loading settings from /etc/shop/settings.toml",
    "listening on 127.0.0.1:8080",
)


def _tag(tag: str, day: int) -> TagInfo:
    created = datetime(2024, 5, day, 10, 0, tzinfo=UTC)
    return TagInfo(tag, digest=f"sha256:{_hex('m' + tag)}", image_id=f"sha256:{'ab' * 32}",
                   created=created)  # fmt: skip


def many_tags() -> dict[str, list[TagInfo]]:
    found = deploy_tags()
    # Created before 1.9.0: only semver ordering makes 1.10.0 the newest.
    found["shop/api"] = [*found["shop/api"], _tag(NEW_API, 20), _tag("latest", 28)]
    found["shop/mailer"] = [_tag("3.1.0", 2)]
    return found


def starting_logs() -> list[LogLine]:
    base = datetime(2024, 6, 1, 12, 0, 11, tzinfo=UTC).timestamp()
    return [LogLine("web-2", NEW_WEB_2, base + i, text) for i, text in enumerate(STARTING_LOGS)]


class ManyDeployer(FakeDeployer):
    """:class:`FakeDeployer` for any shop service: its steps and result renamed per service."""

    def plan(self, service: str, version: str | None = None) -> ServicePlan:
        self.calls.append(("plan", service, version))
        found = inventory().service(service)
        specs = observed_specs()
        specs[_hex("web-1/mailer")] = desired_spec(inventory().service("mailer"))
        return plan_service(found, snapshot(), specs, version=version)

    def deploy(
        self,
        service: str,
        version: str | None = None,
        *,
        hosts: Sequence[str] | None = None,
        control: RolloutControl | None = None,
        expect: object = None,
    ) -> OpResult:
        self.calls.append(("deploy", service, version))
        self.controls.append(control)
        return self._as(service, version)

    def restart(self, service: str, host: str | None = None) -> OpResult:
        self.calls.append(("restart", service, host))
        return self._as(service)

    def _as(self, service: str, version: str | None = None) -> OpResult:
        # shop-web's script, told in the service's own names.
        image = f"shop/{service.removeprefix('shop-')}:{version or '2.5.0'}"
        events = [
            dataclasses.replace(e, service=service, message=e.message.replace(
                "shop-web", service).replace("shop/web:2.5.0", image))
            for e in self.steps
        ]  # fmt: skip
        for index, event in enumerate(events):
            if index == self.hold_at and service in self.hold_services:
                self._hold()
            self.on_step(event)
        assert self.result is not None
        return dataclasses.replace(self.result, service=service)

    controls: list[RolloutControl | None]
    hold_services: frozenset[str] = frozenset()
    """The services whose operation waits at :attr:`hold_at` until :meth:`release`."""


def many_deployer() -> ManyDeployer:
    fake = ManyDeployer(StepRelay())
    fake.controls = []
    return fake


def many_app(fake: ManyDeployer, *, logs: FixedLogSource | None = None) -> JobtuiApp:
    """The shop fleet with :func:`many_tags`, ``fake`` as the engine and ``logs`` as log source."""
    relay = fake.on_step
    assert isinstance(relay, StepRelay)
    app = make_app(inventory(), FixedFleet(snapshot()), FixedTags(many_tags()), clock=clock,
                   deployer=fake, steps=relay, logs=logs)  # fmt: skip
    fake.app = app
    return app
