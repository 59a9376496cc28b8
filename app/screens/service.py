"""One service: its inventory settings, its containers everywhere, its registry tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Static

from jobtui.app.actions import MUTATING_ACTIONS, Scope, bindings
from jobtui.app.describe import service_fields
from jobtui.app.lock_feed import LockFeed, holder_text
from jobtui.app.messages import (
    GraphsLoaded,
    InventoryReloaded,
    LocksChecked,
    MetricsFailed,
    TagsFailed,
    TagsLoaded,
)
from jobtui.app.metrics_feed import MetricsFeed, ask_graphs
from jobtui.app.screens.base import JobtuiScreen, registry_prefix
from jobtui.backend.contract import OpKind
from jobtui.backend.docker import belongs_to
from jobtui.backend.metrics import MetricsSource
from jobtui.backend.model import ContainerInfo, FleetSnapshot, RegistryError, TagInfo, TagSource
from jobtui.backend.registry import repository_in_registry
from jobtui.config.models import Service
from jobtui.widgets.config_view import ConfigView
from jobtui.widgets.containers_table import ContainersTable
from jobtui.widgets.metrics_graph import ServiceGraphs
from jobtui.widgets.tags_table import TagsTable

CONTAINER_COLUMNS = (
    ("name", "name"),
    ("host", "host"),
    ("version", "version"),
    ("state", "state"),
    ("status", "status"),
    ("created", "created"),
)

GRAPH_RANGES = (300.0, 900.0, 3600.0)
"""What ``m`` cycles through: 5 minutes, 15 minutes, an hour."""


class ServiceScreen(JobtuiScreen):
    """Details of one inventory service; tags load in a thread worker."""

    CSS_PATH = "service.tcss"
    AUTO_FOCUS = "#containers"

    BINDINGS = bindings(Scope.SERVICE)

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self._tags: tuple[TagInfo, ...] | None = None
        self._running_on: dict[str, list[str]] = {}
        self._range = 1
        self._metrics: MetricsFeed | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="lock", markup=False)
        containers = ContainersTable(id="containers", columns=CONTAINER_COLUMNS)
        containers.image_prefix = registry_prefix(self.jobtui.inventory)
        yield containers
        if self.jobtui.metrics is not None:
            yield ServiceGraphs(id="graphs")
        with Horizontal(id="lower"):
            with VerticalScroll(id="config", classes="panel"):
                yield ConfigView(service_fields(self.service))
            with Vertical(id="tags-box", classes="panel"):
                yield Static(id="tags-status", markup=False)
                yield TagsTable(id="tags", cursor_on_focus=True)
        yield Footer()

    def on_mount(self) -> None:
        name = self.service.name
        self.query_one("#config").border_title = f"{name} · inventory"
        self.query_one("#containers").border_title = f"{name} · containers"
        self.query_one("#tags-box").border_title = f"{name} · registry tags"
        self.show_fleet(self.jobtui.snapshot)
        # Status texts ("Up 3 minutes") are computed at paint time: keep them true.
        containers = self.query_one("#containers", ContainersTable)
        self.set_interval(5.0, lambda: containers.repaint(self.jobtui.clock()))
        self.action_reload_tags()
        self._metrics = MetricsFeed(self, self._ask_graphs, self._running_containers)
        self._metrics.start()
        self.query_one("#lock").display = False
        LockFeed(self, lambda: (self.service.name,)).start()

    def on_locks_checked(self, message: LocksChecked) -> None:
        lock = self.query_one("#lock", Static)
        if message.error:
            lock.update(f"Lock holder unknown: {message.error}")
            lock.set_class(False, "-held")
        elif (owner := message.holders.get(self.service.name)) is not None:
            lock.update(f"Locked by {holder_text(owner, self.jobtui.clock())}")
            lock.set_class(True, "-held")
        else:
            lock.update("")
        lock.display = bool(message.error) or message.holders.get(self.service.name) is not None

    def on_inventory_reloaded(self, message: InventoryReloaded) -> None:
        try:
            service = message.inventory.service(self.service.name)
        except KeyError:
            # Removed from the file: keep showing what is known, say why it is stale.
            stale = f"{self.service.name} · not in the inventory any more"
            self.query_one("#config").border_title = stale
            return
        if service == self.service:
            return
        self.service = service
        self.query_one("#config").border_title = f"{service.name} · inventory"
        prefix = registry_prefix(message.inventory)
        self.query_one("#containers", ContainersTable).image_prefix = prefix
        box = self.query_one("#config", VerticalScroll)
        box.remove_children()
        box.mount(ConfigView(service_fields(service)))
        self.action_reload_tags()

    def show_fleet(self, snapshot: FleetSnapshot) -> None:
        mine = [c for c in snapshot.containers() if belongs_to(c, self.service.name)]
        mine.sort(key=self._container_order)
        self.query_one("#containers", ContainersTable).show(
            mine, self.jobtui.clock(), {c.id: self.service.name for c in mine}
        )
        running: dict[str, list[str]] = defaultdict(list)
        for container in mine:
            if container.running:
                running[container.version].append(container.host)
        self._running_on = dict(running)
        self._show_tags()

    def _container_order(self, container: ContainerInfo) -> tuple[int, float]:
        # Hosts in inventory order, then the newest container first.
        hosts = self.service.run_on_host
        rank = hosts.index(container.host) if container.host in hosts else len(hosts)
        return rank, -container.created

    def _running_containers(self) -> list[ContainerInfo]:
        snapshot = self.jobtui.snapshot.containers()
        return [c for c in snapshot if c.running and belongs_to(c, self.service.name)]

    def _ask_graphs(self, source: MetricsSource, containers: Sequence[ContainerInfo]) -> Message:
        span = GRAPH_RANGES[self._range]
        return ask_graphs(self.service.name, span, self.jobtui.clock)(source, containers)

    def action_graph_range(self) -> None:
        self._range = (self._range + 1) % len(GRAPH_RANGES)
        if self._metrics is not None:
            self._metrics.poll(force=True)

    def on_graphs_loaded(self, message: GraphsLoaded) -> None:
        if message.service == self.service.name:
            host_network = self.service.network_mode == "host"
            graphs = self.query_one("#graphs", ServiceGraphs)
            graphs.show(message.series, message.end, message.span, host_network=host_network)

    def on_metrics_failed(self, message: MetricsFailed) -> None:
        self.query_one("#graphs", ServiceGraphs).show_unavailable(message.reason)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "graph_range":
            return self.jobtui.metrics is not None
        if action in MUTATING_ACTIONS:
            # Hidden from the footer in read-only mode (and refused by the flow).
            return self.jobtui.deploys.offered
        return True

    def _selected_host(self) -> str | None:
        # The host of the container under the cursor, if the table has one.
        table = self.query_one("#containers", ContainersTable)
        key = table.highlighted_key
        return table.text_of(key, "host") if key is not None else None

    def action_update(self) -> None:
        self.jobtui.deploys.update(self.service.name)

    def action_rollback(self) -> None:
        self.jobtui.deploys.rollback(self.service.name)

    def action_start(self) -> None:
        self.jobtui.deploys.lifecycle(OpKind.START, self.service.name, self._selected_host())

    def action_stop(self) -> None:
        self.jobtui.deploys.lifecycle(OpKind.STOP, self.service.name, self._selected_host())

    def action_restart(self) -> None:
        self.jobtui.deploys.lifecycle(OpKind.RESTART, self.service.name, self._selected_host())

    def action_logs(self) -> None:
        self.jobtui.open_logs(self.service.name)

    def action_reload_tags(self) -> None:
        inventory = self.jobtui.inventory
        source = self.jobtui.tags
        if source is None or inventory.registry is None:
            self._tags_status("No registry is configured in the inventory.", error=True)
            return
        repository = repository_in_registry(self.service.image, inventory.registry)
        if repository is None:
            self._tags_status(
                f"{self.service.image} is not in the registry {inventory.registry.host}.",
                error=True,
            )
            return
        self._tags_status(f"Loading tags of {repository} from {inventory.registry.host} …")
        self._fetch_tags(source, repository)

    @work(thread=True, exclusive=True, group="tags", exit_on_error=False)
    def _fetch_tags(self, source: TagSource, repository: str) -> None:
        name = self.service.name
        try:
            tags = source.tags(repository)
        except RegistryError as exc:
            self.post_message(TagsFailed(name, str(exc)))
        except Exception as exc:
            # A bug or an unexpected client error must still read as an
            # error on this screen rather than kill the app.
            self.post_message(TagsFailed(name, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(TagsLoaded(name, tags))

    def on_tags_loaded(self, message: TagsLoaded) -> None:
        if message.service != self.service.name:
            return
        self._tags = message.tags
        if message.tags:
            self._tags_status("")
        else:
            self._tags_status("The registry holds no tags of this image.")
        self._show_tags()

    def on_tags_failed(self, message: TagsFailed) -> None:
        if message.service == self.service.name:
            self._tags_status(f"Registry: {message.error}", error=True)

    def _show_tags(self) -> None:
        if self._tags is None:
            return
        self.query_one("#tags", TagsTable).show(self._tags, self._running_on, self.service.tag)

    def _tags_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#tags-status", Static)
        status.update(text)
        status.display = bool(text)
        status.set_class(error, "-error")
        # A failed reload hides stale tags rather than passing them off as current.
        self.query_one("#tags", TagsTable).display = not error and self._tags is not None
