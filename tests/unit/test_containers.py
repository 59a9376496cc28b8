"""Docker API answers → ContainerInfo, event parsing and uptime bounds (no daemon)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobtui.backend.docker.answers import (
    container_from_api,
    container_name,
    event_changes_listing,
    event_fields,
    parse_docker_time,
    uptime_upper_bound,
)

# One entry of GET /containers/json?all=1 as Docker 20.10 returns it (trimmed).
LISTED = {
    "Id": "4f6c" + "0" * 60,
    "Names": ["/web_1795614208"],
    "Image": "127.0.0.1:45000/demo/web:v1",
    "ImageID": "sha256:6913312",
    "Command": "/bin/sh -c 'httpd -f'",
    "Created": 1795614208,
    "State": "running",
    "Status": "Up 16 minutes (healthy)",
    "Labels": {"jobtui.service": "web", "jobtui.version": "v1"},
    "HostConfig": {"NetworkMode": "host"},
}


def test_listed_container_becomes_container_info() -> None:
    info = container_from_api(LISTED, "host-a", started_at=1795614209.5)
    assert info.id == LISTED["Id"]
    assert info.name == "web_1795614208"
    assert info.host == "host-a"
    assert info.image == "127.0.0.1:45000/demo/web:v1"
    assert info.image_id == "sha256:6913312"
    assert (info.state, info.status) == ("running", "Up 16 minutes (healthy)")
    assert info.created == 1795614208.0
    assert info.started_at == 1795614209.5
    assert info.service == "web" and info.version == "v1"
    assert info.running


def test_labels_are_copied_and_read_only() -> None:
    row = dict(LISTED, Labels={"a": "b"})
    info = container_from_api(row, "h")
    row["Labels"]["a"] = "changed"
    assert info.labels == {"a": "b"}
    with pytest.raises(TypeError):
        info.labels["x"] = "y"  # type: ignore[index]


def test_stopped_container_has_no_start_time_and_tag_as_version() -> None:
    row = dict(LISTED, State="exited", Status="Exited (0) 2 minutes ago", Labels=None)
    info = container_from_api(row, "h", started_at=123.0)
    assert info.started_at is None
    assert info.service is None
    assert info.version == "v1"
    assert not info.running


def test_paused_container_keeps_its_start_time() -> None:
    row = dict(LISTED, State="paused", Status="Up 3 seconds (Paused)")
    assert container_from_api(row, "h", started_at=5.0).started_at == 5.0


def test_missing_fields_do_not_crash() -> None:
    info = container_from_api({"Id": "abcdef0123456789"}, "h")
    assert info.name == "abcdef012345"
    assert (info.image, info.state, info.created, info.labels) == ("", "", 0.0, {})


def test_own_name_is_chosen_over_legacy_link_aliases() -> None:
    assert container_name(["/db/web_alias", "/web"], "x") == "web"
    assert container_name([], "0123456789abcdef") == "0123456789ab"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T13:43:24.678410094Z", datetime(2026, 11, 25, 13, 43, 24, 678410, UTC)),
        ("2026-11-25T13:43:24Z", datetime(2026, 11, 25, 13, 43, 24, tzinfo=UTC)),
        ("2026-11-25T14:43:24.5+01:00", datetime(2026, 11, 25, 13, 43, 24, 500000, UTC)),
    ],
)
def test_docker_times_parse_to_unix_time(text: str, expected: datetime) -> None:
    assert parse_docker_time(text) == pytest.approx(expected.timestamp())


@pytest.mark.parametrize("text", [None, "", "0001-01-01T00:00:00Z", "yesterday"])
def test_unset_docker_times_are_none(text: str | None) -> None:
    assert parse_docker_time(text) is None


def test_event_fields_prefer_nanosecond_time() -> None:
    event = {
        "Type": "container",
        "Action": "start",
        "Actor": {"ID": "abc", "Attributes": {"name": "web"}},
        "time": 1795614209,
        "timeNano": 1795614209123456789,
    }
    container_id, action, when = event_fields(event)
    assert (container_id, action) == ("abc", "start")
    assert when == pytest.approx(1795614209.123456789)


def test_event_fields_of_old_style_events() -> None:
    assert event_fields({"id": "abc", "status": "die", "time": 7}) == ("abc", "die", 7.0)


@pytest.mark.parametrize(
    ("action", "changes"),
    [
        ("start", True),
        ("die", True),
        ("destroy", True),
        ("rename", True),
        ("health_status: healthy", True),
        ("exec_create: sh -c ls", False),
        ("exec_start: sh -c ls", False),
        ("exec_die", False),
        ("attach", False),
        ("resize", False),
        ("archive-path", False),
    ],
)
def test_which_events_can_change_the_listing(action: str, changes: bool) -> None:
    assert event_changes_listing(action) is changes


@pytest.mark.parametrize(
    ("status", "bound"),
    [
        ("Up Less than a second", 1.0),
        ("Up 1 second", 2.0),
        ("Up 42 seconds", 43.0),
        ("Up About a minute", 120.0),
        ("Up 16 minutes (healthy)", 17 * 60.0),
        ("Up About an hour", 5400.0),
        ("Up 5 hours (Paused)", 6 * 3600.0),
        ("Up 3 days", 4 * 86400.0),
        ("Up 2 weeks", 3 * 7 * 86400.0),
        ("Exited (0) 2 minutes ago", None),
        ("Created", None),
        ("Restarting (1) 3 seconds ago", None),
    ],
)
def test_uptime_upper_bound(status: str, bound: float | None) -> None:
    assert uptime_upper_bound(status) == bound
