"""One service: its inventory settings, its containers everywhere, its registry tags."""

from __future__ import annotations

from collections import defaultdict

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Static

from jobtui.app.describe import service_fields
from jobtui.app.messages import TagsFailed, TagsLoaded
from jobtui.app.screens.base import JobtuiScreen, registry_prefix
from jobtui.backend.model import ContainerInfo, FleetSnapshot, RegistryError, TagInfo, TagSource
from jobtui.backend.registry import repository_in_registry
from jobtui.backend.status import belongs_to
from jobtui.config.models import Service
from jobtui.widgets.config_view import ConfigView
from jobtui.widgets.containers_table import ContainersTable
from jobtui.widgets.tags_table import TagsTable

CONTAINER_COLUMNS = (
    ("name", "name"),
    ("host", "host"),
    ("version", "version"),
    ("state", "state"),
    ("status", "status"),
    ("created", "created"),
)


class ServiceScreen(JobtuiScreen):
    """Details of one inventory service; tags load in a thread worker."""

    CSS_PATH = "service.tcss"
    AUTO_FOCUS = "#containers"

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "reload_tags", "Reload tags"),
    ]

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self._tags: tuple[TagInfo, ...] | None = None
        self._running_on: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        containers = ContainersTable(id="containers", columns=CONTAINER_COLUMNS)
        containers.image_prefix = registry_prefix(self.jobtui.inventory)
        yield containers
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
