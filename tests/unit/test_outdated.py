"""What is out of date: semver ordering, non-version tags, moved moving tags (pure)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import MappingProxyType

from support.fleet_data import REGISTRY, inventory, snapshot

from jobtui.backend.model import (
    LABEL_SERVICE,
    LABEL_VERSION,
    ContainerInfo,
    FleetSnapshot,
    HostState,
    HostStatus,
    TagInfo,
)
from jobtui.backend.observe import RegistryTags, TagCache, fetch_tags, newer_by_key, outdated_rows
from jobtui.backend.observe.outdated import OutdatedRow
from jobtui.backend.registry import is_moving_tag, newest_version, semver_key
from jobtui.config.models import Inventory


def _tag(name: str, day: int = 1, image: str = "") -> TagInfo:
    created = datetime(2024, 5, day, tzinfo=UTC)
    return TagInfo(name, f"sha256:d-{name}", image or f"sha256:i-{name}", created)


def test_semver_compares_numbers_as_numbers() -> None:
    assert semver_key("1.10.0") > semver_key("1.9.3")  # type: ignore[operator]
    assert semver_key("v2") == semver_key("2.0.0")
    assert semver_key("2.0.0-rc.1") < semver_key("2.0.0")  # type: ignore[operator]
    assert semver_key("2.0.0-rc.2") > semver_key("2.0.0-rc.1")  # type: ignore[operator]
    assert semver_key("latest") is None
    assert semver_key("2a4fd3d") is None


def test_newest_ignores_prereleases_and_words_and_dates() -> None:
    # broken and latest were pushed last, 2.0.0-rc.1 is higher: none of them counts.
    tags = [_tag("1.9.0", 1), _tag("1.10.0", 2), _tag("2.0.0-rc.1", 3), _tag("broken", 9),
            _tag("latest", 9)]  # fmt: skip
    found = newest_version(tags)
    assert found is not None and found.tag == "1.10.0"


def test_newest_without_semver_is_the_newest_created_version() -> None:
    tags = [_tag("2a4fd3d", 3), _tag("9f00c1e", 5), _tag("main", 9)]
    found = newest_version(tags)
    assert found is not None and found.tag == "9f00c1e"
    assert newest_version([_tag("latest"), _tag("broken")]) is None
    assert is_moving_tag("latest") and not is_moving_tag("v2")


def _registry(**repos: list[TagInfo]) -> RegistryTags:
    return RegistryTags({name.replace("_", "/"): tags for name, tags in repos.items()})


def test_shop_fleet_names_the_newest_semver_and_the_hosts_behind() -> None:
    registry = _registry(
        shop_web=[_tag("2.4.1", 2), _tag("2.10.0", 1), _tag("broken", 9), _tag("3.0.0-beta", 9)],
        shop_api=[_tag("1.9.0"), _tag("1.8.2")],
    )
    rows = {r.service: r for r in outdated_rows(inventory(), snapshot(), registry)}
    web = rows["shop-web"]
    assert (web.newest, web.running, web.hosts) == (
        "2.10.0",
        ("2.4.0", "2.4.1"),
        ("web-1", "web-2"),
    )
    assert web.is_outdated and web.newer_on("web-1") == "2.10.0"
    api = rows["shop-api"]
    assert (api.newest, api.is_outdated, api.note) == ("1.9.0", False, "")
    # resizer and mailer: their repositories were not answered (e.g. a new fetch pending).
    assert rows["mailer"].newest is None and rows["mailer"].note
    assert newer_by_key(list(rows.values())) == {
        "shop-web@web-1": "2.10.0",
        "shop-web@web-2": "2.10.0",
    }


def test_registry_down_is_a_note_per_service() -> None:
    registry = RegistryTags({}, {"shop/web": "registry x is unreachable (connection refused)"})
    rows = {r.service: r for r in outdated_rows(inventory(), snapshot(), registry)}
    assert (
        rows["shop-web"].note
        == "registry unavailable: registry x is unreachable (connection refused)"
    )
    assert not rows["shop-web"].is_outdated


def _latest_fleet(image_id: str) -> tuple[Inventory, FleetSnapshot]:
    base = inventory()
    web = dataclasses.replace(base.service("shop-web"), image=f"{REGISTRY}/shop/web:latest",
                              run_on_host=("web-1",))  # fmt: skip
    inv = dataclasses.replace(base, services=(web,))
    container = ContainerInfo(
        id="c1", name="shop-web_1", host="web-1", image=f"{REGISTRY}/shop/web:latest",
        state="running", started_at=1.0, image_id=image_id,
        labels=MappingProxyType({LABEL_SERVICE: "shop-web", LABEL_VERSION: "latest"}),
    )  # fmt: skip
    host = HostState("web-1", "ssh://web-1", HostStatus.UP, containers=(container,))
    return inv, FleetSnapshot(MappingProxyType({"web-1": host}))


def test_a_moved_latest_is_reported_and_an_unmoved_one_is_not() -> None:
    registry = _registry(shop_web=[_tag("latest", 9, image="sha256:new"), _tag("1.0.0", 1)])
    inv, fleet = _latest_fleet("sha256:old")
    [row] = outdated_rows(inv, fleet, registry)
    assert row.moved == {"web-1": "latest"} and row.newer_on("web-1") == "latest moved"
    inv, fleet = _latest_fleet("sha256:new")
    [row] = outdated_rows(inv, fleet, registry)
    assert not row.is_outdated


class _CountingTags:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def tags(self, repository: str) -> list[TagInfo]:
        self.asked.append(repository)
        return [_tag("1.0.0")]


def test_cache_asks_once_per_ttl_unless_refreshed() -> None:
    source, now = _CountingTags(), [0.0]
    cache = TagCache(source, ttl=60, clock=lambda: now[0])
    cache.get(["a", "b"])
    cache.get(["a"])
    assert source.asked == ["a", "b"]
    cache.get(["a", "b"], refresh=True)
    now[0] = 61
    cache.get(["a", "b"])
    assert len(source.asked) == 6


def test_fetch_stops_asking_an_unreachable_registry() -> None:
    from jobtui.backend.model import RegistryError

    class Down:
        calls = 0

        def tags(self, repository: str) -> list[TagInfo]:
            Down.calls += 1
            raise RegistryError("registry http://r is unreachable (connection refused)")

    result = fetch_tags(Down(), ["a", "b", "c"])
    assert Down.calls == 1 and set(result.failures) == {"a", "b", "c"}
    assert isinstance(OutdatedRow("s", None, (), None).hosts, tuple)
