"""Every host with its daemon's status, and the containers of the highlighted one."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from jobtui.app.actions import Scope, bindings
from jobtui.app.messages import HostUsageLoaded, MetricsFailed
from jobtui.app.metrics_feed import MetricsFeed, ask_hosts, unavailable_note
from jobtui.app.screens.base import JobtuiScreen, registry_prefix, service_of
from jobtui.backend.model import FleetSnapshot, HostStatus
from jobtui.widgets.containers_table import ContainersTable
from jobtui.widgets.hosts_table import WIDE_COLUMNS, HostsTable
from jobtui.widgets.metrics_hosts import HostsUsageTable

STATUS_REFRESH = 5.0
"""Seconds between repaints of the containers' status texts."""

CONTAINER_COLUMNS = (
    ("name", "name"),
    ("service", "service"),
    ("image", "image"),
    ("state", "state"),
    ("status", "status"),
    ("created", "created"),
)


class HostsScreen(JobtuiScreen):
    """Hosts table; moving the cursor shows that host's containers, managed or not."""

    CSS_PATH = "hosts.tcss"
    AUTO_FOCUS = "#hosts"

    BINDINGS = bindings(Scope.HOSTS)

    def __init__(self, host: str | None = None) -> None:
        super().__init__()
        self._wanted_host = host
        self._snapshot: FleetSnapshot | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        if self.jobtui.metrics is not None:
            hosts: HostsTable = HostsUsageTable(id="hosts")
        else:
            hosts = HostsTable(id="hosts", columns=WIDE_COLUMNS)
            hosts.error_width = 40  # the note below the table shows it whole
        yield hosts
        yield Static(id="host-note", markup=False)
        containers = ContainersTable(
            id="host-containers", columns=CONTAINER_COLUMNS, cursor_on_focus=True
        )
        containers.image_prefix = registry_prefix(self.jobtui.inventory)
        yield containers
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#hosts").border_title = "hosts"
        self.show_fleet(self.jobtui.snapshot)
        table = self.query_one("#hosts", HostsTable)
        if self._wanted_host in table.keys:
            table.move_cursor(row=table.get_row_index(self._wanted_host), animate=False)
        self._show_containers()
        # Status texts ("Up 3 minutes") are computed at paint time: keep them true.
        self.set_interval(STATUS_REFRESH, self._show_containers)
        MetricsFeed(self, ask_hosts(list(self.jobtui.inventory.hosts))).start()

    def on_host_usage_loaded(self, message: HostUsageLoaded) -> None:
        table = self.query_one("#hosts", HostsTable)
        if isinstance(table, HostsUsageTable):
            table.show_usage(message.usage)
            table.border_subtitle = ""

    def on_metrics_failed(self, message: MetricsFailed) -> None:
        table = self.query_one("#hosts", HostsTable)
        if isinstance(table, HostsUsageTable):
            table.show_usage({})
            table.border_subtitle = unavailable_note(message.reason)

    def show_fleet(self, snapshot: FleetSnapshot) -> None:
        self._snapshot = snapshot
        self.query_one("#hosts", HostsTable).show(list(snapshot.hosts.values()))
        self._show_containers()

    @on(DataTable.RowHighlighted, "#hosts")
    def _host_highlighted(self) -> None:
        self._show_containers()

    def _show_containers(self) -> None:
        name = self.query_one("#hosts", HostsTable).highlighted_key
        if self._snapshot is None or name is None or name not in self._snapshot.hosts:
            return
        host = self._snapshot.hosts[name]
        table = self.query_one("#host-containers", ContainersTable)
        table.border_title = f"containers on {name}"
        services = service_of(self.jobtui.inventory, host.containers)
        table.show(host.containers, self.jobtui.clock(), services)
        if host.status is HostStatus.DOWN:
            known = "last known containers below" if host.containers else "containers unknown"
            text = f"{name} is down: {host.error or 'no answer'} ({known})"
        elif host.status is HostStatus.CONNECTING:
            text = f"Connecting to {host.url} …"
        elif not host.containers:
            text = f"No containers on {name}."
        else:
            text = ""
        note = self.query_one("#host-note", Static)
        note.update(text)
        note.display = bool(text)
