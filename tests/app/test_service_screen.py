"""The service screen: masked config, containers everywhere, tags from a worker."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import (
    NOW,
    SIZE,
    AppFactory,
    inventory,
    snapshot,
    tags,
    with_host,
)
from support.waiting import until
from textual.pilot import Pilot
from textual.widgets import Static

from jobtui.app.screens.service import ServiceScreen
from jobtui.backend.model import RegistryError, TagInfo
from jobtui.config.models import RegistryConfig
from jobtui.widgets.config_view import ConfigView
from jobtui.widgets.containers_table import ContainersTable
from jobtui.widgets.tags_table import TagsTable


async def _open(pilot: Pilot[None], service: str) -> ServiceScreen:
    """Open ``service``'s screen and wait until its tags worker has answered."""
    pilot.app.open_service(service)  # type: ignore[attr-defined]
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ServiceScreen)
    return screen


class _DownRegistry:
    """A registry that fails with ``error`` until the test clears it."""

    def __init__(self, error: str) -> None:
        self.error: str | None = error
        self.answers = FixedTags(tags())

    def tags(self, repository: str) -> Sequence[TagInfo]:
        if self.error is not None:
            raise RegistryError(self.error)
        return self.answers.tags(repository)


def _status(screen: ServiceScreen) -> Static:
    return screen.query_one("#tags-status", Static)


async def test_config_is_shown_with_secrets_masked(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        pairs = dict(screen.query_one(ConfigView).pairs)
        assert pairs["image"] == "registry.shop.lan:5000/shop/web:2.4.1"
        assert pairs["hosts"] == "web-1, web-2"
        assert pairs["port"] == "8080"
        assert "DB_HOST=db.shop.lan" in pairs["envs"]
        for secret in ("hunter2", "s3cr3t", "sk_live_123"):
            assert secret not in pairs["envs"]
        assert "DB_PASSWORD=••••••" in pairs["envs"]
        assert "session_secret=••••••" in pairs["envs"]
        assert "/srv/shop/uploads → /app/uploads" in pairs["volumes"]
        assert pairs["ulimits"] == "nofile 65536:65536"
        assert pairs["log_config"] == "json-file max-size=50m max-file=5"
        assert pairs["network_mode"] == "host"
        assert pairs["mem_limit"] == "1g"


async def test_containers_of_the_service_on_every_host(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        table = screen.query_one("#containers", ContainersTable)
        names = [table.text_of(key, "name") for key in table.keys]
        # Inventory host order, newest first within a host.
        assert names == ["shop-web_1717231680", "shop-web_1716210000", "shop-web_1716900000"]
        assert [table.text_of(key, "state") for key in table.keys] == [
            "running",
            "exited",
            "running",
        ]


async def test_tags_newest_first_with_running_versions_marked(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        table = screen.query_one("#tags", TagsTable)
        assert table.display
        assert not _status(screen).display
        assert table.keys == ["2.4.1", "2.4.0", "2.3.7", "2.3.6"]
        assert table.text_of("2.4.1", "tag") == "▶ 2.4.1"
        assert table.text_of("2.4.1", "deployed") == "desired · on web-1"
        assert table.text_of("2.4.0", "deployed") == "on web-2"
        assert table.text_of("2.3.7", "deployed") == ""
        assert table.text_of("2.4.1", "image") == "a3f1a3f1a3f1"
        assert table.text_of("2.4.1", "created") == "2024-05-31 09:17"


async def test_containers_and_tags_follow_fleet_changes(
    build: AppFactory, fleet: FixedFleet
) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-api")
        table = screen.query_one("#tags", TagsTable)
        assert table.text_of("1.9.0", "deployed") == "desired · on web-1"
        base = snapshot()
        restarted = tuple(
            dataclasses.replace(c, state="running", status="Up 1 second", started_at=NOW)
            if c.name == "shop-api_1716800100"
            else c
            for c in base.hosts["web-2"].containers
        )
        fleet.replace(with_host(base, "web-2", containers=restarted))
        both = "desired · on web-1, web-2"
        await until(pilot, lambda: table.text_of("1.9.0", "deployed") == both, "both hosts")
        containers = screen.query_one("#containers", ContainersTable)
        assert [containers.text_of(k, "state") for k in containers.keys] == ["running", "running"]


async def test_unsorted_tags_are_shown_newest_first(build: AppFactory) -> None:
    shuffled = {repo: list(reversed(items)) for repo, items in tags().items()}
    app = build(tag_source=FixedTags(shuffled))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        assert screen.query_one("#tags", TagsTable).keys == ["2.4.1", "2.4.0", "2.3.7", "2.3.6"]


async def test_registry_down_reads_as_an_error(build: AppFactory) -> None:
    message = "cannot reach registry.shop.lan:5000: connection refused"
    app = build(tag_source=_DownRegistry(message))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        status = _status(screen)
        assert status.display
        assert status.has_class("-error")
        assert str(status.render()) == f"Registry: {message}"
        assert not screen.query_one("#tags", TagsTable).display


async def test_unknown_repository_reads_as_an_error(build: AppFactory) -> None:
    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "resizer")  # the fixed registry has no shop/resizer
        assert "unknown repository 'shop/resizer'" in str(_status(screen).render())


async def test_no_registry_configured(build: AppFactory) -> None:
    app = build(no_registry=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        assert "No registry is configured" in str(_status(screen).render())


async def test_image_outside_the_registry(build: AppFactory) -> None:
    inv = dataclasses.replace(inventory(), registry=RegistryConfig("http://other.lan:5000"))
    app = build(inv=inv)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        assert "is not in the registry other.lan:5000" in str(_status(screen).render())


class _SlowTags:
    """Answers only once the test lets it, to observe the loading state."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def tags(self, repository: str) -> Sequence[TagInfo]:
        self.release.wait(5)
        return tags()[repository]


async def test_loading_state_then_tags(build: AppFactory) -> None:
    slow = _SlowTags()
    app = build(tag_source=slow)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ServiceScreen)
        assert str(_status(screen).render()).startswith("Loading tags of shop/web from")
        assert not screen.query_one("#tags", TagsTable).display
        slow.release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.query_one("#tags", TagsTable).keys[0] == "2.4.1"
        assert not _status(screen).display


async def test_r_reloads_tags(build: AppFactory) -> None:
    source = _DownRegistry("registry down")
    app = build(tag_source=source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await _open(pilot, "shop-web")
        assert _status(screen).has_class("-error")
        source.error = None
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.query_one("#tags", TagsTable).display
        assert not _status(screen).display
