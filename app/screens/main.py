"""The main screen: hosts at the top, every service on every host below, filterable.

``space`` marks services (k9s style); with marks, ``u`` and ``R`` act on every
marked service at once (:meth:`jobtui.app.deploy_flow.DeployFlow.update_many`).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.markup import escape
from textual.widgets import DataTable, Header, Input, Label

from jobtui.app.actions import MUTATING_ACTIONS, Scope, bindings
from jobtui.app.lock_feed import LockFeed
from jobtui.app.messages import (
    DriftChecked,
    InventoryReloaded,
    LocksChecked,
    MetricsFailed,
    UsageLoaded,
)
from jobtui.app.metrics_feed import MetricsFeed, ask_usage, unavailable_note
from jobtui.app.screens.base import JobtuiScreen, registry_prefix
from jobtui.backend.contract import OpKind
from jobtui.backend.model import ContainerInfo, FleetSnapshot
from jobtui.backend.observe import (
    RegistryTags,
    ServiceRow,
    TagCache,
    newer_by_key,
    outdated_rows,
    repositories,
    service_rows,
    unmanaged,
)
from jobtui.config.models import Inventory
from jobtui.widgets.containers_table import ContainersTable
from jobtui.widgets.footer import KeysFooter
from jobtui.widgets.hosts_table import HostsTable
from jobtui.widgets.services_table import ServicesTable

UPTIME_REFRESH = 5.0
"""Seconds between uptime repaints; uptimes show minutes, so more would be waste."""

REGISTRY_REFRESH = 300.0
"""Seconds between asking the registry for newer versions (``r`` asks at once)."""

UNMANAGED_COLUMNS = (
    ("name", "name"),
    ("host", "host"),
    ("image", "image"),
    ("state", "state"),
    ("status", "status"),
    ("created", "created"),
)


class MainScreen(JobtuiScreen):
    """Services table with hosts panel, unmanaged containers and a live filter."""

    CSS_PATH = "main.tcss"
    AUTO_FOCUS = "#services"

    BINDINGS = bindings(Scope.MAIN)

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[ServiceRow] = []
        self._filter_open = False
        self._registry: RegistryTags | None = None
        self._tag_cache: TagCache | None = None
        self._notes: dict[str, str] = {}
        self._shown: tuple[FleetSnapshot, Inventory] | None = None

    def compose(self) -> ComposeResult:
        prefix = registry_prefix(self.jobtui.inventory)
        yield Header()
        yield HostsTable(id="hosts", cursor_on_focus=True)
        with Horizontal(id="filter-bar"):
            yield Label("/", id="filter-prompt")
        services = ServicesTable(id="services", with_metrics=self.jobtui.metrics is not None)
        services.image_prefix = prefix
        yield services
        strays = ContainersTable(id="unmanaged", columns=UNMANAGED_COLUMNS, cursor_on_focus=True)
        strays.image_prefix = prefix
        yield strays
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#hosts").border_title = "hosts"
        self.query_one("#unmanaged").border_title = "unmanaged containers"
        self.query_one("#filter-bar").display = False
        # One sync of the services table for the rows and the registry's first note.
        with self.services.deferred_sync():
            self.show_fleet(self.jobtui.snapshot)
            self._ask_registry()
        self.set_interval(UPTIME_REFRESH, self._repaint_uptimes)
        self.set_interval(REGISTRY_REFRESH, self._ask_registry)
        MetricsFeed(self, ask_usage, self._running_containers).start()
        LockFeed(self, self.services.visible_services).start()

    @property
    def services(self) -> ServicesTable:
        return self.query_one("#services", ServicesTable)

    def show_fleet(self, snapshot: FleetSnapshot) -> None:
        inventory = self.jobtui.inventory
        shown = self._shown
        if shown is not None and shown[0] is snapshot and shown[1] is inventory:
            # The same snapshot again (the first announcement of what mount
            # showed already): nothing to do for a thousand rows.
            return
        self._shown = (snapshot, inventory)
        self._rows = service_rows(inventory, snapshot)
        with self.services.deferred_sync():
            self.services.show(self._rows, self.jobtui.clock())
            self._show_newer()
        self.query_one("#hosts", HostsTable).show(list(snapshot.hosts.values()))
        strays = unmanaged(inventory, snapshot)
        panel = self.query_one("#unmanaged", ContainersTable)
        panel.show(strays, self.jobtui.clock())
        panel.display = bool(strays)
        self._title_services()
        self._count_marks()  # a reload may have taken marked services away

    def on_inventory_reloaded(self, message: InventoryReloaded) -> None:
        # Rows follow with the FleetChanged the app posts next; the registry
        # (and its repositories) may have changed: ask it again.
        prefix = registry_prefix(message.inventory)
        self.services.image_prefix = prefix
        self.query_one("#unmanaged", ContainersTable).image_prefix = prefix
        self._tag_cache = None
        self._registry = None
        self._ask_registry()

    def on_locks_checked(self, message: LocksChecked) -> None:
        self.services.show_locks(message.holders)
        error = message.error
        self._note("locks", f"lock holders unknown: {escape(error)}" if error else "")

    # -- what is out of date -------------------------------------------------

    def action_reload_registry(self) -> None:
        self._ask_registry(refresh=True)

    def _ask_registry(self, refresh: bool = False) -> None:
        source, inventory = self.jobtui.tags, self.jobtui.inventory
        if source is None or inventory.registry is None:
            self._registry = RegistryTags()
            self._note("registry", "newer: no registry configured")
            self._show_newer()
            return
        if self._tag_cache is None:
            self._tag_cache = TagCache(source)
        self._note("registry", "newer: asking the registry …" if self._registry is None else "")
        self._fetch_registry(self._tag_cache, sorted(set(repositories(inventory).values())),
                             refresh)  # fmt: skip

    @work(thread=True, exclusive=True, group="registry", exit_on_error=False)
    def _fetch_registry(self, cache: TagCache, repos: list[str], refresh: bool) -> None:
        result = cache.get(repos, refresh=refresh)
        self.app.call_from_thread(self._registry_answered, result)

    def _registry_answered(self, result: RegistryTags) -> None:
        self._registry = result
        # The registry down is a note; one unknown repository is a "?" in its rows.
        down = result.failures and not result.tags
        reason = sorted(set(result.failures.values()))[0] if down else ""
        self._note("registry", f"registry unavailable: {reason}" if down else "")
        self._show_newer()

    def _show_newer(self) -> None:
        if self._registry is None:
            return
        rows = outdated_rows(self.jobtui.inventory, self.jobtui.snapshot, self._registry)
        self.services.show_newer(newer_by_key(rows), [row.service for row in rows if row.note])

    def _note(self, kind: str, text: str) -> None:
        """The services table's subtitle: the metrics and registry notes, when there are any."""
        self._notes[kind] = text
        self.services.border_subtitle = " · ".join(t for t in self._notes.values() if t)

    def _repaint_uptimes(self) -> None:
        now = self.jobtui.clock()
        self.services.show(self._rows, now)
        # Status texts ("Up 3 minutes") are computed at paint time: repaint them too.
        self.query_one("#unmanaged", ContainersTable).repaint(now)

    def _title_services(self) -> None:
        table = self.services
        needle = table.filter_text.strip()
        total = len(self._rows)
        if needle:
            # The title is markup: the operator's text must not become styling.
            table.border_title = f"services ({table.row_count} of {total}) /{escape(needle)}"
        else:
            table.border_title = f"services ({total})"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear":
            # Offered (and shown in the footer) only while there is a filter or a mark.
            return self._filter_open or bool(self.services.marked)
        if action in MUTATING_ACTIONS:
            # Hidden from the footer in read-only mode (and refused by the flow).
            return self.jobtui.deploys.offered
        return True

    async def action_filter(self) -> None:
        bar = self.query_one("#filter-bar")
        if not bar.query("#filter"):
            # Made on first use: the bar starts hidden, and an Input (its CSS,
            # its cursor timer) was a cost of every start.
            await bar.mount(Input(id="filter", placeholder="service, host, version or state"))
        field = self.query_one("#filter", Input)
        bar.display = self._filter_open = True
        field.focus()
        self.refresh_bindings()

    def action_clear(self) -> None:
        # The filter first (what esc always did), the marks once no filter is open.
        if self._filter_open:
            self._clear_filter()
        else:
            self.services.clear_marks()
            self._count_marks()

    def action_mark(self) -> None:
        row = self.services.highlighted_row
        if row is None:
            self.notify("No service row is selected.", severity="warning")
            return
        self.services.toggle_mark(row.service)
        self._count_marks()

    def _count_marks(self) -> None:
        count = len(self.services.marked)
        self._note("marks", f"{count} marked" if count else "")
        self.refresh_bindings()

    def _clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        self.query_one("#filter-bar").display = self._filter_open = False
        self.services.focus()
        self.refresh_bindings()

    def _selected(self) -> tuple[str, str] | None:
        row = self.services.highlighted_row
        if row is None:
            self.notify("No service row is selected.", severity="warning")
            return None
        return row.service, row.host

    def action_update(self) -> None:
        if marked := self.services.marked:
            self.jobtui.deploys.update_many(marked, self._registry)
        elif selected := self._selected():
            self.jobtui.deploys.update(selected[0])

    def action_rollback(self) -> None:
        if selected := self._selected():
            self.jobtui.deploys.rollback(selected[0])

    def action_start(self) -> None:
        if selected := self._selected():
            self.jobtui.deploys.lifecycle(OpKind.START, *selected)

    def action_stop(self) -> None:
        if selected := self._selected():
            self.jobtui.deploys.lifecycle(OpKind.STOP, *selected)

    def action_restart(self) -> None:
        if marked := self.services.marked:
            self.jobtui.deploys.restart_many(marked)
        elif selected := self._selected():
            self.jobtui.deploys.lifecycle(OpKind.RESTART, *selected)

    def _running_containers(self) -> list[ContainerInfo]:
        return [r.container for r in self._rows if r.container and r.container.running]

    def on_drift_checked(self, message: DriftChecked) -> None:
        self.services.show_drift(message.drift)

    def on_usage_loaded(self, message: UsageLoaded) -> None:
        self.services.show_metrics(message.usage, message.cpu_history)
        self._note("metrics", "")

    def on_metrics_failed(self, message: MetricsFailed) -> None:
        # A state in the table's frame, not a dialog: the next poll may heal it.
        self.services.show_metrics({}, {})
        self._note("metrics", unavailable_note(message.reason))

    def action_logs(self) -> None:
        row = self.services.highlighted_row
        if row is not None:
            self.jobtui.open_logs(row.service)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.services.filter_text = event.value
        self._title_services()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        # Keep the filter applied and go back to the rows, k9s style.
        self.query_one("#filter-bar").display = self._filter_open = bool(event.value)
        self.services.focus()
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#services")
    def _open_service(self, event: DataTable.RowSelected) -> None:
        row = self.services.row(str(event.row_key.value))
        if row is not None:
            self.jobtui.open_service(row.service)

    @on(DataTable.RowSelected, "#hosts")
    def _open_host(self, event: DataTable.RowSelected) -> None:
        self.jobtui.open_hosts(str(event.row_key.value))
