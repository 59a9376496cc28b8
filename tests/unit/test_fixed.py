"""The fixed backends answer like the real ones."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from support.fixed_backend import FixedFleet, FixedTags

from jobtui.backend.model import FleetSnapshot, HostState, HostStatus, RegistryError, TagInfo


def _snapshot(generation: int) -> FleetSnapshot:
    hosts = {"a": HostState("a", "unix:///a.sock", HostStatus.UP, docker_version="20.10")}
    return FleetSnapshot(MappingProxyType(hosts), generation)


def test_fixed_fleet_announces_its_snapshot_and_replacements() -> None:
    calls: list[int] = []
    fleet = FixedFleet(_snapshot(1))
    fleet.start(lambda: calls.append(fleet.snapshot().generation))
    assert calls == [1]
    fleet.replace(_snapshot(2))
    assert calls == [1, 2]
    fleet.stop()
    fleet.replace(_snapshot(3))
    assert calls == [1, 2] and fleet.snapshot().generation == 3


def test_fixed_tags_in_given_order_and_unknown_repository_fails() -> None:
    tags = FixedTags({"demo/web": [TagInfo("v2"), TagInfo("v1")]})
    assert [t.tag for t in tags.tags("demo/web")] == ["v2", "v1"]
    with pytest.raises(RegistryError, match="unknown repository"):
        tags.tags("demo/nope")
