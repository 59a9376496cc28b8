"""Container status text computed at paint time from the start and stop times."""

from __future__ import annotations

import pytest

from jobtui.backend.docker import container_from_api, exit_code_of
from jobtui.backend.model import ContainerInfo
from jobtui.widgets.format import container_status, human_duration

NOW = 1_717_243_200.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (61, "About a minute"),
        (180, "3 minutes"),
        (3 * 3600 + 100, "3 hours"),
        (3 * 86400, "3 days"),
        (30 * 86400, "4 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_durations_read_like_docker_ps(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def _container(**fields: object) -> ContainerInfo:
    return ContainerInfo(id="c", name="n", host="h", image="i", **fields)  # type: ignore[arg-type]


def test_running_status_moves_on_with_the_clock() -> None:
    # Listed a moment after it started: Docker said "Less than a second" then.
    up = _container(state="running", status="Up Less than a second", started_at=NOW)
    assert container_status(up, NOW + 0.2) == "Up Less than a second"
    assert container_status(up, NOW + 75) == "Up About a minute"
    assert container_status(up, NOW + 300) == "Up 5 minutes"


def test_health_suffix_and_paused_are_kept() -> None:
    up = _container(state="running", status="Up 2 seconds (healthy)", started_at=NOW)
    assert container_status(up, NOW + 600) == "Up 10 minutes (healthy)"
    paused = _container(state="paused", status="Up 1 second (Paused)", started_at=NOW)
    assert container_status(paused, NOW + 120) == "Up 2 minutes (Paused)"


def test_exited_status_counts_from_the_stop() -> None:
    row = {"Id": "c", "State": "exited", "Status": "Exited (137) Less than a second ago"}
    stopped = container_from_api(row, "h")
    assert stopped.exit_code == 137
    from dataclasses import replace

    stopped = replace(stopped, finished_at=NOW)
    assert container_status(stopped, NOW + 300) == "Exited (137) 5 minutes ago"


def test_without_times_dockers_words_stay() -> None:
    created = _container(state="created", status="Created")
    assert container_status(created, NOW) == "Created"
    old = _container(state="exited", status="Exited (0) 2 hours ago")
    assert container_status(old, NOW) == "Exited (0) 2 hours ago"


def test_exit_codes_from_list_statuses() -> None:
    assert exit_code_of("Exited (0) 5 minutes ago") == 0
    assert exit_code_of("Restarting (1) 3 seconds ago") == 1
    assert exit_code_of("Up 3 minutes") is None
