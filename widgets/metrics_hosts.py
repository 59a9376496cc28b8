"""The hosts table with each host's CPU and memory use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobtui.backend.metrics import Usage
from jobtui.backend.model import HostState
from jobtui.widgets.format import NO_VALUE
from jobtui.widgets.hosts_table import WIDE_COLUMNS, HostsTable
from jobtui.widgets.keyed_table import Cell
from jobtui.widgets.metrics_cells import mem_cell
from jobtui.widgets.metrics_spark import percent

USAGE_COLUMNS = (
    *(column for column in WIDE_COLUMNS if column[0] != "error"),
    ("cpu", "cpu"),
    ("mem", "memory"),
    ("error", "error"),
)
"""The hosts screen's columns with usage: CPU and memory before the error."""

BUSY = 90.0
"""CPU % of all cores from which a host's figure is marked."""


class HostsUsageTable(HostsTable):
    """:class:`HostsTable` plus CPU (percent of all cores) and memory of each host."""

    error_width = 16
    """Short, so that the usage columns fit: the screen shows the whole error below."""

    def __init__(
        self,
        *,
        columns: Sequence[tuple[str, str]] = USAGE_COLUMNS,
        cursor_on_focus: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(columns=columns, cursor_on_focus=cursor_on_focus, id=id, classes=classes)
        self._hosts: list[HostState] = []
        self._usage: dict[str, Usage] = {}

    def show(self, hosts: Sequence[HostState]) -> None:
        self._hosts = list(hosts)
        super().show(hosts)

    def show_usage(self, usage: Mapping[str, Usage]) -> None:
        """Show ``usage`` by host name (hosts missing from it show ``—``)."""
        self._usage = dict(usage)
        super().show(self._hosts)

    def _values(self, host: HostState) -> dict[str, str | Cell]:
        values = super()._values(host)
        usage = self._usage.get(host.name)
        cpu = usage.cpu_percent if usage is not None else None
        if cpu is None:
            values["cpu"] = Cell(NO_VALUE, "muted")
        else:
            values["cpu"] = Cell(percent(cpu), "warn" if cpu >= BUSY else "")
        values["mem"] = mem_cell(usage)
        return values
