"""The TUI over the ssh-only host: the update flow with its keys, and no ssh left
after the real ``jobtui`` process is interrupted, terminated or killed.

The update drives the app with Pilot on the real daemons (shop on host-ssh,
v1 → v2), as test_tui_deploy does for web. The signals go to the console
script running in a pseudo-terminal of its own; its ssh forward is found as
its child process by pid/ppid, and must be gone once it has exited.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bastion_support import JOBTUI, answer, ssh_children, ssh_processes, state_of, wait_for
from rollout_support import Rollouts, write_inventory
from support.waiting import until
from textual.pilot import Pilot

from jobtui.app.app import JobtuiApp, make_app
from jobtui.app.deploy_flow import StepRelay
from jobtui.app.dialogs.pickers import VersionPicker
from jobtui.app.dialogs.plan import PlanDialog
from jobtui.app.screens.rollout import RolloutScreen
from jobtui.backend.contract import Outcome
from jobtui.backend.model import LABEL_VERSION
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.backend.registry import RegistryClient
from jobtui.widgets.services_table import ServicesTable
from jobtui.widgets.tags_table import TagsTable

if TYPE_CHECKING:
    from conftest import Stack

SIZE = (120, 36)
DEADLINE = 60.0
TEST_LABEL = "jobtui-test"


async def _until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    await until(pilot, condition, what, timeout=DEADLINE)
    await pilot.pause()  # let what the condition saw finish mounting


def _rollout(app: JobtuiApp) -> RolloutScreen | None:
    return app.screen if isinstance(app.screen, RolloutScreen) else None


async def _update_shop_to_v2(app: JobtuiApp) -> RolloutScreen:
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#services", ServicesTable)
        await _until(pilot, lambda: "shop@host-ssh" in table.keys, "shop on host-ssh in the table")
        await _until(
            pilot,
            lambda: table.text_of("shop@host-ssh", "state") == "running",
            "shop running on host-ssh (observed through the forward)",
        )
        for _ in table.keys:
            if table.highlighted_key == "shop@host-ssh":
                break
            await pilot.press("down")
        assert table.highlighted_key == "shop@host-ssh"
        await pilot.press("u")
        await _until(pilot, lambda: isinstance(app.screen, VersionPicker), "the version picker")
        tags = app.screen.query_one(TagsTable)
        await _until(pilot, lambda: "v2" in tags.keys, "the registry's tags")
        for _ in tags.keys:
            if tags.highlighted_key == "v2":
                break
            await pilot.press("down")
        await pilot.press("enter")
        await _until(
            pilot,
            lambda: isinstance(app.screen, PlanDialog) and app.screen.plan is not None,
            "the plan",
        )
        plan = app.screen.plan  # type: ignore[attr-defined]
        assert [(a.host, a.kind.value) for a in plan.changes] == [("host-ssh", "update")]
        await pilot.press("enter")
        await _until(pilot, lambda: _rollout(app) is not None, "the rollout view")
        view = _rollout(app)
        assert view is not None
        await _until(pilot, lambda: not view.op.running, "the end of the rollout")
        return view


def test_update_shop_on_the_ssh_host_with_the_tui_keys(stack: Stack, tmp_path: Path) -> None:
    rollouts = Rollouts(stack.inventory, tmp_path)
    try:
        inventory = write_inventory(
            stack.inventory, tmp_path, {"shop": {"labels": {TEST_LABEL: "tui-ssh"}}}
        )
        relay = StepRelay()
        run = rollouts.run(inventory, on_step=relay)
        assert inventory.registry is not None
        registry = RegistryClient(inventory.registry)
        app = make_app(
            inventory, FleetObserver(inventory.hosts, pool=rollouts.pool), registry,
            deployer=run.deployer, steps=relay,
        )  # fmt: skip
        try:
            view = asyncio.run(_update_shop_to_v2(app))
        finally:
            registry.close()
        result = view.op.result
        assert result is not None and result.outcome is Outcome.DONE, result
        running = [c for c in rollouts.guard.containers("host-ssh", "shop") if c.running]
        assert [c.labels.get(LABEL_VERSION) for c in running] == ["v2"]
        assert answer(stack.ports["shop"]) == "web v2"
    finally:
        rollouts.close()
    assert answer(stack.ports["shop"]) == "web v1"


# ---------------------------------------------------------------- signals


class Terminal:
    """``jobtui`` in a pseudo-terminal of 120x36, its output drained in a thread."""

    def __init__(self, inventory: Path, tmp: Path) -> None:
        self.runtime = tmp / "run"
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        env = dict(
            os.environ, TERM="xterm-256color", JOBTUI_RUNTIME_DIR=str(self.runtime),
            JOBTUI_STATE_DIR=str(tmp / "state"),
        )  # fmt: skip
        self.process = subprocess.Popen(
            [JOBTUI, "-i", str(inventory)], stdin=slave, stdout=slave, stderr=slave,
            env=env, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self._master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output.extend(data)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._master)
        self._reader.join(timeout=5)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_ssh_outlives_the_tui(stack: Stack, tmp_path: Path, signum: signal.Signals) -> None:
    tui = Terminal(stack.inventory, tmp_path)
    try:
        forwards = wait_for(lambda: ssh_children(tui.process.pid), 60, "the TUI's ssh forward")
        # The observer sees host-ssh through it.
        wait_for(lambda: b"host-ssh" in tui.output, 30, "host-ssh on the screen")
        tui.process.send_signal(signum)
        code = tui.process.wait(timeout=30)
    finally:
        tui.close()
    wait_for(
        lambda: all(state_of(pid) in ("Z", "gone") for pid in forwards),
        10,
        f"the forward {forwards} ended after {signum.name}",
    )
    assert ssh_processes(tui.runtime) == []
    if signum is signal.SIGKILL:
        assert code == -signal.SIGKILL
        # The kernel ended ssh; the next jobtui tidies the dead one's files.
        assert (tui.runtime / str(tui.process.pid)).exists()
        later = subprocess.run(
            [JOBTUI, "-i", str(stack.inventory), "status"], capture_output=True, text=True,
            timeout=120, env=dict(os.environ, JOBTUI_RUNTIME_DIR=str(tui.runtime)),
        )  # fmt: skip
        assert later.returncode == 0, later.stdout + later.stderr
        assert not (tui.runtime / str(tui.process.pid)).exists()
    else:
        assert code == 0, bytes(tui.output[-2000:])
        assert b"\x1b[?1049l" in tui.output  # the terminal was given back
        assert [p for p in tui.runtime.rglob("*") if p.is_file()] == []
