"""The Textual application and :func:`make_app`, its one factory.

The app owns the fleet source: it starts it in a thread worker, turns its
change callbacks (from any thread, at any rate) into at most ten
:class:`FleetChanged` messages a second, and stops it on exit.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from textual import work
from textual.app import App
from textual.worker import Worker, WorkerState

from jobtui.app.actions import Scope, bindings
from jobtui.app.commands import JobtuiCommands
from jobtui.app.deploy_flow import DeployFlow, StepRelay
from jobtui.app.inventory_watch import POLL_INTERVAL, InventoryWatch, Refused, Reloaded
from jobtui.app.log_source import LogSource
from jobtui.app.messages import DriftChecked, FleetChanged, InventoryReloaded
from jobtui.app.screens.base import JobtuiScreen
from jobtui.app.screens.help import HelpScreen
from jobtui.app.screens.hosts import HostsScreen
from jobtui.app.screens.logs import LogsScreen
from jobtui.app.screens.main import MainScreen
from jobtui.app.screens.service import ServiceScreen
from jobtui.backend.contract import Coordinator, DeployEngine
from jobtui.backend.docker import FieldDiff
from jobtui.backend.metrics import MetricsSource
from jobtui.backend.model import FleetSnapshot, FleetSource, TagSource
from jobtui.config.models import Inventory
from jobtui.widgets.log_view import DEFAULT_CAPACITY as DEFAULT_LOG_LINES

DriftCheck = Callable[[FleetSnapshot], Mapping[str, Sequence[FieldDiff]]]
"""Compares running instances with the inventory (blocking): diffs by row key."""

FLEET_FLUSH_INTERVAL = 0.1
"""Seconds between checks for fleet changes: caps screen updates at ~10/s."""

SHOWN_PROBLEMS = 8
"""Problems of a refused inventory edit listed in its notification (then "and N more")."""


@runtime_checkable
class HoldsInventory(Protocol):
    """A part built for an inventory that follows a reload (the deployer, the drift checker)."""

    inventory: Inventory


class JobtuiApp(App[None]):
    """jobtui's TUI. Build it with :func:`make_app`."""

    TITLE = "jobtui"
    CSS_PATH = "jobtui.tcss"
    COMMANDS = {JobtuiCommands}
    # A mode rather than get_default_screen(): Textual loads a screen's
    # CSS_PATH only for screens it installs through modes or pushes.
    MODES = {"main": MainScreen}
    DEFAULT_MODE = "main"

    BINDINGS = bindings(Scope.APP)

    def __init__(
        self,
        inventory: Inventory,
        fleet: FleetSource,
        tags: TagSource | None,
        *,
        clock: Callable[[], float],
        read_only: bool,
        deployer: DeployEngine | None = None,
        steps: StepRelay | None = None,
        logs: LogSource | None = None,
        metrics: MetricsSource | None = None,
        log_lines: int = DEFAULT_LOG_LINES,
        drift: DriftCheck | None = None,
        reload: Callable[[], Inventory] | None = None,
        inventory_poll: float = POLL_INTERVAL,
        locks: Callable[[], Coordinator] | None = None,
    ) -> None:
        super().__init__()
        self.inventory = inventory
        self.fleet = fleet
        self.tags = tags
        self.clock = clock
        """Unix time now; injected so snapshots can freeze it."""
        self.read_only = read_only
        """No mutating action is offered (shown in the header)."""
        self.snapshot: FleetSnapshot = fleet.snapshot()
        """The newest fleet state the screens were given."""
        self._fleet_dirty = threading.Event()
        self._stop_lock = threading.Lock()
        self._fleet_stopped = False
        self.deployer = deployer
        """The engine for mutating actions; ``None`` when deploying is not available."""
        self.deploys = DeployFlow(self, deployer, steps)
        """Update, rollback, start, stop and restart: dialogs and running operations."""
        self.logs = logs
        """Follows container logs; ``None`` when the TUI has no Docker access for them."""
        self.metrics = metrics
        """CPU, memory and network usage; ``None`` hides the metrics columns and graphs."""
        self.log_lines = log_lines
        """Lines a logs screen keeps (older ones scroll out of its buffer)."""
        self.drift_check = drift
        """Inspects running instances against the inventory; ``None``: drift is not shown."""
        self.locks = locks
        """Builds (on first use, in a thread) the coordinator asked who holds a service's lock."""
        self._reload = reload
        self._inventory_poll = inventory_poll
        self._watch_stop = threading.Event()
        self._collector_paused = False
        self.sub_title = self._describe()

    def _describe(self) -> str:
        hosts = len(self.inventory.hosts)
        services = len(self.inventory.services)
        parts = [self.inventory.source.name, f"{services} services on {hosts} hosts"]
        if self.read_only:
            parts.append("READ-ONLY")
        return " · ".join(parts)

    def on_load(self) -> None:
        # The first paint builds tens of thousands of objects that live as
        # long as the app (widgets, styles, a thousand rows and their cells).
        # The cyclic collector would rescan them, all of them again each time
        # a few hundred more are made: about a fifth of the first paint of a
        # thousand rows. Textual pauses it for smooth scrolling the same way;
        # here from start to the first complete frame.
        self._collector_paused = gc.isenabled()
        gc.disable()

    def _resume_collector(self) -> None:
        if self._collector_paused:
            self._collector_paused = False
            gc.enable()

    def on_mount(self) -> None:
        # The main screen mounted (and filled its tables) before the app did:
        # the next refresh is the first complete frame.
        self.call_after_refresh(self._resume_collector)
        self.set_interval(FLEET_FLUSH_INTERVAL, self._flush_fleet)
        self._start_fleet()
        self.deploys.start()  # recovery of a crash's leftovers, operations started elsewhere
        if self._reload is not None:
            self._watch_inventory(self.inventory, self._reload)

    # -- the inventory file, watched ----------------------------------------------

    @work(thread=True, exit_on_error=False, exclusive=True, group="inventory-watch")
    def _watch_inventory(self, loaded: Inventory, load: Callable[[], Inventory]) -> None:
        # stat() once a second, hash and parse only when the file moved: file
        # I/O and YAML parsing stay off the event loop.
        watch = InventoryWatch(loaded, load)
        while not self._watch_stop.wait(self._inventory_poll):
            try:
                result = watch.poll()
            except Exception as exc:  # a bad poll (a bug, odd file) must not end the watch
                self.call_from_thread(
                    self.notify, f"Cannot check the inventory file: {exc}", severity="warning"
                )
                continue
            if result is not None and not self._watch_stop.is_set():
                self.call_from_thread(self._inventory_polled, result)

    def _inventory_polled(self, result: Reloaded | Refused) -> None:
        name = self.inventory.source.name
        if isinstance(result, Refused):
            shown = [str(problem) for problem in result.problems[:SHOWN_PROBLEMS]]
            if len(result.problems) > SHOWN_PROBLEMS:
                shown.append(f"… and {len(result.problems) - SHOWN_PROBLEMS} more")
            self.notify(
                "\n".join(shown),
                title=f"{name} not reloaded: the loaded inventory stays",
                severity="error",
                timeout=30,
                markup=False,
            )
            return
        self.apply_inventory(result.inventory)
        text = result.change.summary()
        if result.change.hosts_added:
            text += "\nrestart jobtui to reach new hosts"
        self.notify(text, title=f"{name} reloaded", timeout=10, markup=False)

    def apply_inventory(self, inventory: Inventory) -> None:
        """Use ``inventory`` from now on: every screen, the deployer, the drift check.

        The fleet observer keeps watching the hosts it was started with.
        """
        self.inventory = inventory
        for part in (self.deployer, getattr(self.drift_check, "__self__", None)):
            if isinstance(part, HoldsInventory):
                part.inventory = inventory
        self.sub_title = self._describe()
        for screen in self.screen_stack:
            if isinstance(screen, JobtuiScreen):
                screen.post_message(InventoryReloaded(inventory))
                screen.post_message(FleetChanged(self.snapshot))
        if self.drift_check is not None:
            self._check_drift(self.snapshot)

    @work(thread=True, exit_on_error=False, name="fleet")
    def _start_fleet(self) -> None:
        # start() may connect before returning; never on the event loop.
        self.fleet.start(self._fleet_changed)

    def _fleet_changed(self) -> None:
        # Called from observer threads (or the loop, for fixed fleets): only
        # raise a flag, the interval timer below turns it into one message.
        self._fleet_dirty.set()

    def _flush_fleet(self) -> None:
        if not self._fleet_dirty.is_set():
            return
        # Clear before reading, so a change during snapshot() is not lost.
        self._fleet_dirty.clear()
        self.snapshot = self.fleet.snapshot()
        for screen in self.screen_stack:
            if isinstance(screen, JobtuiScreen):
                screen.post_message(FleetChanged(self.snapshot))
        if self.drift_check is not None:
            self._check_drift(self.snapshot)

    @work(thread=True, exit_on_error=False, exclusive=True, group="drift")
    def _check_drift(self, snapshot: FleetSnapshot) -> None:
        # Inspecting costs Docker calls (cached per container start): a thread.
        assert self.drift_check is not None
        drift = self.drift_check(snapshot)
        for screen in self.screen_stack:
            if isinstance(screen, JobtuiScreen):
                screen.post_message(DriftChecked(drift))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "fleet" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"Cannot observe the fleet: {error}", severity="error", timeout=30)

    async def action_quit(self) -> None:
        if self.deploys.may_quit():
            self._stop_fleet_and_exit()

    @work(thread=True, exit_on_error=False, exclusive=True, group="quit")
    def _stop_fleet_and_exit(self) -> None:
        # Stopping joins observer threads and closes SSH forwards, which can
        # take seconds: off the event loop, so the screen stays live meanwhile.
        try:
            self._stop_fleet()
        finally:
            self.call_from_thread(self.exit)

    def on_unmount(self) -> None:
        self._resume_collector()  # an app that ends before its first frame
        # Any other way out (an error, a test ending) still releases the hosts.
        self._watch_stop.set()
        self.deploys.close()  # stops following; detached operations go on
        self._stop_fleet()

    def _stop_fleet(self) -> None:
        with self._stop_lock:
            if self._fleet_stopped:
                return
            self._fleet_stopped = True
        self.fleet.stop()

    def open_service(self, name: str) -> None:
        """Show the detail screen of the inventory service ``name``."""
        try:
            service = self.inventory.service(name)
        except KeyError:
            self.notify(f"No service {name!r} in the inventory.", severity="warning")
            return
        self.push_screen(ServiceScreen(service))

    def open_logs(self, service: str) -> None:
        """Follow the logs of every running instance of ``service``, merged."""
        if self.logs is None:
            self.notify("Logs are not available here (no log source).", severity="warning")
            return
        if isinstance(self.screen, LogsScreen) and self.screen.service == service:
            return
        self.push_screen(LogsScreen(service, self.logs, capacity=self.log_lines))

    def open_hosts(self, host: str | None = None) -> None:
        """Show the hosts screen, with the cursor on ``host`` if given."""
        if isinstance(self.screen, HostsScreen):
            return
        self.push_screen(HostsScreen(host))

    def action_hosts(self) -> None:
        self.open_hosts()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def make_app(
    inventory: Inventory,
    fleet: FleetSource,
    tags: TagSource | None,
    *,
    clock: Callable[[], float] = time.time,
    read_only: bool = False,
    deployer: DeployEngine | None = None,
    steps: StepRelay | None = None,
    logs: LogSource | None = None,
    metrics: MetricsSource | None = None,
    log_lines: int = DEFAULT_LOG_LINES,
    drift: DriftCheck | None = None,
    reload: Callable[[], Inventory] | None = None,
    inventory_poll: float = POLL_INTERVAL,
    locks: Callable[[], Coordinator] | None = None,
) -> JobtuiApp:
    """Build the TUI for ``inventory``, observing ``fleet`` and listing tags from ``tags``.

    The CLI passes the real observer and registry client; tests pass fixed
    sources and a frozen ``clock``. ``tags`` is ``None`` when no registry is
    configured. ``deployer`` carries out updates, rollbacks, starts and stops
    (``None``: the keys say deploying is not available); it must have been
    built with ``on_step=steps`` for the rollout view to show steps live.
    ``logs`` follows container logs (``l``) into a buffer of ``log_lines``
    lines; ``metrics`` feeds the CPU/memory columns, graphs and host usage;
    ``drift`` (e.g. ``DriftChecker.check``) marks instances whose settings
    differ from the inventory. ``reload`` loads the inventory file again
    (the CLI's loader, with its host URL pattern): given, the file is watched
    every ``inventory_poll`` seconds and a valid edit replaces ``inventory``.
    ``locks`` builds the coordinator asked who holds each service's lock.
    """
    return JobtuiApp(
        inventory,
        fleet,
        tags,
        clock=clock,
        read_only=read_only,
        deployer=deployer,
        steps=steps,
        logs=logs,
        metrics=metrics,
        log_lines=log_lines,
        drift=drift,
        reload=reload,
        inventory_poll=inventory_poll,
        locks=locks,
    )
