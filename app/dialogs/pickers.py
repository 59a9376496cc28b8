"""Pick a version: to update to (registry tags), to roll back to (retained or in the
registry), or one version for several marked services (the tags they all have).

Registry tags are listed newest first by version (:func:`~jobtui.backend.registry.by_version`,
the order the ``newer`` column judges by), tags naming no version last. The first
two load their list in a thread worker (the registry and the Docker hosts
are blocking clients) and dismiss with the chosen version, ``None`` on ``esc``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from jobtui.app.messages import CandidatesFailed, CandidatesLoaded, TagsFailed, TagsLoaded
from jobtui.backend.deploy import RollbackCandidate
from jobtui.backend.model import RegistryError, TagInfo, TagSource
from jobtui.backend.registry import by_version, repository_in_registry
from jobtui.config.models import RegistryConfig, Service
from jobtui.widgets.format import NO_VALUE
from jobtui.widgets.keyed_table import Cell, KeyedTable
from jobtui.widgets.tags_table import TagsTable


class PickerDialog(ModalScreen[str | None]):
    """A titled list of versions; ``enter`` picks the one under the cursor."""

    CSS_PATH = "dialogs.tcss"
    AUTO_FOCUS = "#versions"

    BINDINGS = [
        # The table's own enter picks; this one puts the key in the footer.
        Binding("enter", "pick", "Pick", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(id="picker-status", markup=False)
            yield self.make_table()
        yield Footer()

    def make_table(self) -> KeyedTable:
        """The list of versions, with id ``versions``."""
        raise NotImplementedError

    def on_mount(self) -> None:
        dialog = self.query_one("#dialog")
        dialog.border_title = self.title_text
        self.load()

    def load(self) -> None:
        """Start loading the versions."""

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#versions", KeyedTable)

    def set_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#picker-status", Static)
        status.update(text)
        status.display = bool(text)
        status.set_class(error, "-error")

    @on(DataTable.RowSelected, "#versions")
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(str(event.row_key.value))

    def action_pick(self) -> None:
        key = self.table.highlighted_key
        if key is not None:
            self.dismiss(key)

    def action_cancel(self) -> None:
        self.dismiss(None)


class VersionPicker(PickerDialog):
    """The registry's tags of a service, newest first, the running ones marked ``▶``.

    Without a registry (or when it cannot be asked) only the inventory's own
    version is offered, so the service can still be brought to its inventory.
    """

    def __init__(
        self,
        service: Service,
        source: TagSource | None,
        registry: RegistryConfig | None,
        running: Mapping[str, Sequence[str]],
    ) -> None:
        super().__init__(f"update {service.name} to …")
        self.service = service
        self.source = source
        self.registry = registry
        self.running = running
        """Version → hosts running it now."""

    def make_table(self) -> KeyedTable:
        return TagsTable(id="versions")

    def load(self) -> None:
        registry = self.registry
        repository = repository_in_registry(self.service.image, registry) if registry else None
        if self.source is None or self.registry is None:
            self._fallback("No registry is configured in the inventory.")
        elif repository is None:
            self._fallback(f"{self.service.image} is not in the registry {self.registry.host}.")
        else:
            self.set_status(f"Loading tags of {repository} …")
            self._fetch(self.source, repository)

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def _fetch(self, source: TagSource, repository: str) -> None:
        try:
            tags = source.tags(repository)
        except Exception as exc:
            # RegistryError carries a readable message; anything else is shown with its type.
            self.post_message(TagsFailed(self.service.name, _error_text(exc)))
        else:
            self.post_message(TagsLoaded(self.service.name, tags))

    def on_tags_loaded(self, message: TagsLoaded) -> None:
        if not message.tags:
            self._fallback("The registry holds no tags of this image.")
            return
        self.set_status("")
        self._show(message.tags)

    def on_tags_failed(self, message: TagsFailed) -> None:
        self._fallback(f"Registry: {message.error}")

    def _fallback(self, why: str) -> None:
        self.set_status(f"{why} Only the inventory's version can be chosen.", error=True)
        self._show([TagInfo(self.service.tag)])

    def _show(self, tags: Sequence[TagInfo]) -> None:
        table = self.query_one(TagsTable)
        table.show(by_version(tags), self.running, self.service.tag, ordered=True)
        table.move_cursor(row=0)


class CommonVersionPicker(PickerDialog):
    """One version for several services: the registry tags every one of them has.

    The tags are given (the registry cache the main screen holds), so nothing
    is loaded; ``running`` maps a version to the ``service@host`` rows running it.
    """

    def __init__(
        self,
        services: Sequence[str],
        tags: Sequence[TagInfo],
        running: Mapping[str, Sequence[str]],
    ) -> None:
        super().__init__(f"update {len(services)} services to …")
        self.services = tuple(services)
        self.tags = tuple(tags)
        self.running = running

    def make_table(self) -> KeyedTable:
        return TagsTable(id="versions")

    def load(self) -> None:
        self.set_status(f"Tags that {', '.join(self.services)} all have in the registry:")
        table = self.query_one(TagsTable)
        table.show(by_version(self.tags), self.running, "", ordered=True)
        table.move_cursor(row=0)


class CandidatesTable(KeyedTable):
    """Rollback candidates: where each is retained and whether the registry has it."""

    COLUMNS = (
        ("version", "version"),
        ("retained", "retained on"),
        ("registry", "registry"),
        ("how", "rollback by"),
    )

    def show(self, candidates: Sequence[RollbackCandidate]) -> None:
        rows = []
        for candidate in candidates:
            if candidate.retained_on:
                how = Cell("restarting the kept container", "ok")
            else:
                how = Cell("pulling it from the registry")
            present = Cell("✔ present", "ok") if candidate.in_registry else Cell("✖ absent", "warn")
            values = {
                "version": candidate.version,
                "retained": ", ".join(candidate.retained_on) or Cell(NO_VALUE, "muted"),
                "registry": present,
                "how": how,
            }
            rows.append(self.make_row(candidate.version, values))
        self.sync(rows)


class RollbackPicker(PickerDialog):
    """Versions ``service`` can go back to; ``load`` asks the engine (it blocks)."""

    def __init__(self, service: Service, load: Callable[[], Sequence[RollbackCandidate]]) -> None:
        super().__init__(f"roll {service.name} back to …")
        self.service = service
        self._load = load

    def make_table(self) -> KeyedTable:
        return CandidatesTable(id="versions")

    def load(self) -> None:
        self.set_status("Looking for retained containers and registry tags …")
        self._fetch()

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def _fetch(self) -> None:
        try:
            candidates = self._load()
        except Exception as exc:
            self.post_message(CandidatesFailed(self.service.name, _error_text(exc)))
        else:
            self.post_message(CandidatesLoaded(self.service.name, candidates))

    def on_candidates_loaded(self, message: CandidatesLoaded) -> None:
        if not message.candidates:
            self.set_status(
                "No earlier version is kept on the hosts or present in the registry.", error=True
            )
        else:
            self.set_status("")
        table = self.query_one(CandidatesTable)
        table.show(message.candidates)
        table.move_cursor(row=0)

    def on_candidates_failed(self, message: CandidatesFailed) -> None:
        self.set_status(f"Cannot list rollback versions: {message.error}", error=True)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, RegistryError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
