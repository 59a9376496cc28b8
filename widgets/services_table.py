"""The services table: one row per service and host, filterable live."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from textual.binding import Binding
from textual.reactive import reactive

from jobtui.backend.contract import LockOwner
from jobtui.backend.metrics import Usage
from jobtui.backend.observe import (
    STATE_HOST_DOWN,
    STATE_MISSING,
    STATE_RUNNING,
    STATE_STOPPED,
    ServiceRow,
)
from jobtui.widgets.format import NO_VALUE, uptime
from jobtui.widgets.keyed_table import Cell, KeyedTable, Row
from jobtui.widgets.metrics_cells import METRIC_COLUMNS, container_cells

STATE_ROLES = {
    STATE_RUNNING: "ok",
    STATE_STOPPED: "warn",
    STATE_MISSING: "bad",
    STATE_HOST_DOWN: "bad",
}
"""How each state word is coloured; anything else (``unknown``) is muted."""

DRIFTED = "drifted"
"""The state word of a running instance whose settings differ from the inventory."""

MISMATCH_MARK = "≠"
"""Put before a running version that differs from the desired one."""

NEWER_MARK = "↑"
"""Put before the registry's newer version of a running instance."""

CURRENT_MARK = "✓"
"""The ``newer`` cell of an instance on the registry's newest version."""

UNKNOWN_MARK = "?"
"""The ``newer`` cell when the registry could not say (the table's subtitle says why)."""

LOADING_MARK = "…"
"""The ``newer`` cell before the registry has answered."""

MARK = "●"
"""Put before the service name of every row of a marked service."""

LOCKED = "locked by"
"""Follows the state of a service whose deploy lock someone holds: ``running · locked by bob``."""


def row_matches(row: ServiceRow, needle: str) -> bool:
    """Whether the filter text occurs in the row's service, host, versions or state."""
    if not needle:
        return True
    haystack = " ".join(
        (row.service, row.host, row.desired, row.running_version or "", row.state)
    ).lower()
    return needle.lower() in haystack


class ServicesTable(KeyedTable):
    """One row per service and host, with desired and running version, state and uptime.

    Rows are keyed by :attr:`ServiceRow.key`; :meth:`show` updates them in
    place. Setting :attr:`filter_text` hides rows that do not match. Services
    can be marked (:meth:`toggle_mark`): every row of a marked service shows
    :data:`MARK`; marks last until cleared or until their service leaves the rows.
    """

    COLUMNS = (
        ("service", "service"),
        ("host", "host"),
        ("desired", "desired image:tag"),
        ("running", "running"),
        ("newer", "newer"),
        ("state", "state"),
        ("uptime", "uptime"),
    )

    BINDINGS = [Binding("enter", "select_cursor", "Open")]

    filter_text: reactive[str] = reactive("", init=False)
    """Case-insensitive substring a row must contain to be shown."""

    image_prefix = ""
    """Left out of desired images (the inventory's registry) so the distinctive part fits."""

    def __init__(
        self, *, id: str | None = None, classes: str | None = None, with_metrics: bool = False
    ) -> None:
        # Usage columns only when there is a metrics source: no empty columns otherwise.
        columns = (*self.COLUMNS, *METRIC_COLUMNS) if with_metrics else None
        super().__init__(columns=columns, id=id, classes=classes)
        self._usage: dict[str, Usage] = {}
        self._cpu: dict[str, Sequence[float]] = {}
        self._rows: dict[str, ServiceRow] = {}
        self._all: list[ServiceRow] = []
        self._now = 0.0
        self._drift: dict[str, Sequence[object]] = {}
        self._newer: Mapping[str, str] | None = None
        self._newer_unknown: frozenset[str] = frozenset()
        self._locks: dict[str, LockOwner] = {}
        self._marks: set[str] = set()
        self._held = 0
        self._pending = False

    @contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Group several ``show*`` calls: the rows are brought up to date once, at the end."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held and self._pending:
                self._pending = False
                self._refilter()

    def show(self, rows: Sequence[ServiceRow], now: float) -> None:
        """Display ``rows`` (in their order) as of time ``now``."""
        self._all = list(rows)
        self._rows = {row.key: row for row in rows}
        # A service gone from the inventory (a reload) takes its mark with it.
        self._marks &= {row.service for row in rows}
        self._now = now
        self._refilter()

    @property
    def marked(self) -> list[str]:
        """The marked services, in the order of their first row."""
        return [s for s in dict.fromkeys(row.service for row in self._all) if s in self._marks]

    def toggle_mark(self, service: str) -> bool:
        """Mark ``service`` (every row of it), or unmark it; whether it is marked now."""
        if service in self._marks:
            self._marks.discard(service)
        else:
            self._marks.add(service)
        self._refilter()
        return service in self._marks

    def clear_marks(self) -> None:
        """Unmark every service."""
        if self._marks:
            self._marks.clear()
            self._refilter()

    def show_metrics(
        self, usage: Mapping[str, Usage], cpu_history: Mapping[str, Sequence[float]]
    ) -> None:
        """Usage and recent CPU % of the rows' containers, by container id."""
        self._usage, self._cpu = dict(usage), dict(cpu_history)
        self._refilter()

    def show_drift(self, drift: Mapping[str, Sequence[object]]) -> None:
        """Field differences from the inventory by row key; those rows read ``drifted``."""
        self._drift = dict(drift)
        self._refilter()

    def show_newer(self, newer: Mapping[str, str], unknown: Sequence[str] = ()) -> None:
        """What is newer by row key (``2.5.0``, ``latest moved``); ``unknown`` services read ``?``.

        Until the first call the running rows read ``…`` (the registry is being asked).
        """
        self._newer, self._newer_unknown = dict(newer), frozenset(unknown)
        self._refilter()

    def show_locks(self, holders: Mapping[str, LockOwner | None]) -> None:
        """Who holds the deploy lock of each service asked about; its rows say so."""
        locks = dict(self._locks)
        for service, owner in holders.items():
            if owner is None:
                locks.pop(service, None)
            else:
                locks[service] = owner
        if locks != self._locks:
            self._locks = locks
            self._refilter()

    def lock_holder(self, service: str) -> LockOwner | None:
        """The holder of ``service``'s deploy lock, as last asked."""
        return self._locks.get(service)

    def visible_services(self) -> list[str]:
        """The services of the rows in view (the ones worth asking about), in order."""
        first = int(self.scroll_y)
        # Before the first layout there is no height yet: a screenful's worth.
        keys = self._order[first : first + (self.size.height or 60)]
        return list(dict.fromkeys(self._rows[key].service for key in keys if key in self._rows))

    def newer(self, key: str) -> str | None:
        """What the registry holds newer than the row's running version, if anything."""
        return None if self._newer is None else self._newer.get(key)

    def drift(self, key: str) -> Sequence[object]:
        """How the row's running instance differs from its inventory entry."""
        return self._drift.get(key, ())

    def row(self, key: str) -> ServiceRow | None:
        """The row shown under ``key``."""
        return self._rows.get(key)

    @property
    def highlighted_row(self) -> ServiceRow | None:
        key = self.highlighted_key
        return None if key is None else self._rows.get(key)

    def watch_filter_text(self) -> None:
        self._refilter()

    def _refilter(self) -> None:
        if self._held:
            self._pending = True
            return
        needle = self.filter_text.strip()
        self.sync([self._line(row) for row in self._all if row_matches(row, needle)])

    def _state(self, row: ServiceRow) -> Cell:
        owner = self._locks.get(row.service)
        if owner is not None:
            # Someone is changing it right now: say who before anyone acts on the row.
            return Cell(f"{row.state} · {LOCKED} {owner.user}@{owner.host}", "accent")
        if row.state == STATE_RUNNING and row.key in self._drift:
            # Running, but not as the inventory says (a manual docker change).
            return Cell(DRIFTED, "warn")
        return Cell(row.state, STATE_ROLES.get(row.state, "muted"))

    def _newer_cell(self, row: ServiceRow) -> Cell | str:
        if row.container is None or not row.container.running:
            return ""
        if self._newer is None:
            return Cell(LOADING_MARK, "muted")
        if row.key in self._newer:
            return Cell(f"{NEWER_MARK} {self._newer[row.key]}", "accent")
        if row.service in self._newer_unknown:
            return Cell(UNKNOWN_MARK, "muted")
        return Cell(CURRENT_MARK, "muted")

    def _line(self, row: ServiceRow) -> Row:
        running: str | Cell = row.running_version or NO_VALUE
        if row.running_version and not row.on_desired_version:
            running = Cell(f"{MISMATCH_MARK} {row.running_version}", "warn")
        service: str | Cell = row.service
        if row.service in self._marks:
            service = Cell(f"{MARK} {row.service}", "accent")
        values = {
            "service": service,
            "host": row.host,
            "desired": row.desired.removeprefix(self.image_prefix),
            "running": running,
            "newer": self._newer_cell(row),
            "state": self._state(row),
            "uptime": uptime(row.started_at, self._now),
        }
        if row.container is not None and row.container.running:
            ident = row.container.id
            values.update(container_cells(self._usage.get(ident), self._cpu.get(ident, ())))
        return self.make_row(row.key, values)
