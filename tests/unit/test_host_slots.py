"""Host slots: bounded work per host across threads and processes, released by death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.waiting import wait_until

from jobtui.backend.deploy.slots import HostSlots

HOLDER = """
import sys, time
from pathlib import Path
from jobtui.backend.deploy.slots import HostSlots
with HostSlots(Path(sys.argv[1]), per_host=1).hold("host-a"):
    print("held", flush=True)
    time.sleep(600)  # until the test kills it
"""


@pytest.mark.parametrize("on_disk", [True, False])
def test_a_second_holder_waits_says_so_and_gets_the_slot_when_freed(
    tmp_path: Path, on_disk: bool
) -> None:
    slots = HostSlots(tmp_path / "slots" if on_disk else None, per_host=1)
    told: list[int] = []
    got = threading.Event()
    release = threading.Event()

    def second() -> None:
        with slots.hold("host-a", told.append):
            got.set()

    with slots.hold("host-a"):
        thread = threading.Thread(target=second)
        thread.start()
        wait_until(lambda: told == [1], "the second holder says it waits")
        assert not got.is_set()
        # Another host has slots of its own.
        with slots.hold("host-b", lambda n: release.set()):
            pass
        assert not release.is_set()
    thread.join(timeout=5)
    assert got.is_set()


def test_per_host_holders_run_at_once(tmp_path: Path) -> None:
    slots = HostSlots(tmp_path, per_host=3)
    barrier = threading.Barrier(3, timeout=5)
    waited: list[int] = []

    def work() -> None:
        with slots.hold("host-a", waited.append):
            barrier.wait()  # all three inside together, or this times out

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not barrier.broken and waited == []


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        slots = HostSlots(tmp_path, per_host=1)
        told: list[int] = []
        got = threading.Event()

        def take() -> None:
            with slots.hold("host-a", told.append):
                got.set()

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        wait_until(lambda: told == [1], "the slot is taken by the other process")
        holder.send_signal(signal.SIGKILL)
        wait_until(got.is_set, "the slot is free once its holder died")
    finally:
        holder.kill()
        holder.wait(timeout=5)
