"""Status texts stay true on the real daemons: a minute after they started, they read minutes.

Two containers of this test on host-b, outside the inventory (so the
"unmanaged" views list them): one running ``sleep``, one that exited 0 at
once. The TUI is started while both are seconds old; once Docker's
StartedAt/FinishedAt of both are more than 60 s in the past (polled with a
deadline), the TUI, with no new event about either, repaints them as
``Up About a minute`` / ``Exited (0) About a minute ago`` (Docker's words:
``N minutes`` from two minutes on), and ``jobtui status`` says the same.
Before, the text froze at observation time ("Up Less than a second").
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.waiting import until

from jobtui.app.app import make_app
from jobtui.app.screens.main import UPTIME_REFRESH
from jobtui.backend.docker.hosts import HostPool
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.config.loader import load_inventory
from jobtui.widgets.containers_table import ContainersTable

if TYPE_CHECKING:
    from conftest import Stack

JOBTUI = str(Path(sys.executable).with_name("jobtui"))
SIZE = (160, 45)
UP = re.compile(r"Up (About a minute|\d+ minutes)")
EXITED = re.compile(r"Exited \(0\) (About a minute|\d+ minutes) ago")
SECONDS = re.compile(r"(Less than a second|\d+ seconds?)")


def docker(stack: Stack, *args: str) -> str:
    """The stack's Docker CLI on host-b; its output (fails the test otherwise)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(stack.dir / "docker-cli")
    done = subprocess.run(
        ["docker", "-H", stack.host_b_url, *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def aged_pair(stack: Stack) -> Iterator[tuple[str, str]]:
    """(running, exited) container names on host-b, made now; removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    up, down = f"minutes-up-{tag}", f"minutes-exited-{tag}"
    image = stack.image("worker:v1")  # on host-b since the demo's deploy
    try:
        docker(stack, "run", "-d", "--name", up, "--network", "none", "--init", image,
               "sleep", "100000")  # fmt: skip
        docker(stack, "run", "--name", down, "--network", "none", image, "true")
        yield up, down
    finally:
        for name in (up, down):
            subprocess.run(
                ["docker", "-H", stack.host_b_url, "rm", "-f", name],
                capture_output=True, timeout=60, check=False,
                env={**os.environ, "DOCKER_CONFIG": str(stack.dir / "docker-cli")},
            )  # fmt: skip


def docker_time(stack: Stack, name: str, field: str) -> float:
    """StartedAt or FinishedAt of a container as Docker reports it (Unix time)."""
    text = docker(stack, "inspect", "-f", f"{{{{.State.{field}}}}}", name)
    # RFC 3339 with nanoseconds: keep microseconds for fromisoformat.
    head, _, rest = text.partition(".")
    fraction = rest.rstrip("Z")[:6]
    return datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00").timestamp()


def status_of(table: ContainersTable, name: str) -> str:
    for key in table.keys:
        if table.text_of(key, "name") == name:
            return table.text_of(key, "status")
    return ""


def test_status_texts_read_minutes_after_a_minute(stack: Stack, aged_pair: tuple[str, str]) -> None:
    up, down = aged_pair
    started = docker_time(stack, up, "StartedAt")
    finished = docker_time(stack, down, "FinishedAt")
    asyncio.run(_tui_reads_minutes(stack, up, down, max(started, finished)))
    _status_reads_minutes(stack, up, down)


async def _tui_reads_minutes(stack: Stack, up: str, down: str, oldest: float) -> None:
    inventory = load_inventory(stack.inventory)
    pool = HostPool(inventory.hosts)
    app = make_app(inventory, FleetObserver(inventory.hosts, pool=pool), None)
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#unmanaged", ContainersTable)
            young = await until(pilot, lambda: status_of(table, up), f"{up} listed", timeout=30)
            assert young.startswith("Up ") and SECONDS.search(young), young
            gone = await until(pilot, lambda: status_of(table, down), f"{down} listed")
            assert gone.startswith("Exited (0) ") and SECONDS.search(gone), gone

            # Both more than a minute old, by Docker's own times.
            await until(pilot, lambda: time.time() - oldest > 61, "a minute to pass", timeout=120,
                        interval=1.0)  # fmt: skip
            # No event arrives about either: only the repaint can change the text.
            aged = await until(pilot, lambda: UP.fullmatch(status_of(table, up)),
                               f"{up} reading minutes", timeout=UPTIME_REFRESH * 3)  # fmt: skip
            assert aged
            assert EXITED.fullmatch(status_of(table, down)), status_of(table, down)
    finally:
        pool.close()


def _status_reads_minutes(stack: Stack, up: str, down: str) -> None:
    done = subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), "status", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    strays = {c["name"]: c for c in json.loads(done.stdout)["unmanaged"]}
    assert UP.fullmatch(strays[up]["status"]), strays[up]
    assert EXITED.fullmatch(strays[down]["status"]), strays[down]
    text = subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), "status"],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout  # fmt: skip
    [line_up] = [line for line in text.splitlines() if f" {up} " in line]
    [line_down] = [line for line in text.splitlines() if f" {down} " in line]
    assert UP.search(line_up) and EXITED.search(line_down), text
