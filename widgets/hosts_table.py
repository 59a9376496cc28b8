"""Hosts and whether jobtui can reach their Docker daemons."""

from __future__ import annotations

from collections.abc import Sequence

from jobtui.backend.model import HostState, HostStatus
from jobtui.widgets.format import NO_VALUE
from jobtui.widgets.keyed_table import Cell, KeyedTable

STATUS_CELLS = {
    HostStatus.UP: Cell("● up", "ok"),
    HostStatus.CONNECTING: Cell("◌ connecting", "warn"),
    HostStatus.DOWN: Cell("✖ down", "bad"),
}

WIDE_COLUMNS = (
    ("host", "host"),
    ("status", "status"),
    ("url", "url"),
    ("docker", "docker"),
    ("containers", "run/total"),
    ("error", "error"),
)
"""The hosts screen's columns: the panel's plus the daemon URL."""


def containers_text(host: HostState) -> str:
    """``running/total``, or ``—`` while nothing is known about the host."""
    if host.status is not HostStatus.UP and not host.containers:
        return NO_VALUE
    return f"{host.running_count}/{len(host.containers)}"


class HostsTable(KeyedTable):
    """One row per host, keyed by host name: status, Docker version, containers, error."""

    COLUMNS = (
        ("host", "host"),
        ("status", "status"),
        ("docker", "docker"),
        ("containers", "run/total"),
        ("error", "error"),
    )

    error_width = 70
    """Longer errors are cut with an ellipsis; screens show the whole text elsewhere."""

    def show(self, hosts: Sequence[HostState]) -> None:
        """Display ``hosts`` in the given order."""
        self.sync([self.make_row(host.name, self._values(host)) for host in hosts])

    def _values(self, host: HostState) -> dict[str, str | Cell]:
        error = host.error or ""
        if len(error) > self.error_width:
            error = error[: self.error_width - 1] + "…"
        return {
            "host": host.name,
            "status": STATUS_CELLS[host.status],
            "url": host.url,
            "docker": host.docker_version or NO_VALUE,
            "containers": containers_text(host),
            "error": Cell(error, "bad"),
        }
