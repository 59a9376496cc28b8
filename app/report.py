"""Plain-text and JSON renderings of the fleet for the CLI verbs (no Textual)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jobtui.backend.docker import belongs_to
from jobtui.backend.model import FleetSnapshot, TagInfo
from jobtui.backend.observe import service_rows, unmanaged
from jobtui.config.models import Inventory, Service
from jobtui.widgets.format import compact_duration, container_status

if TYPE_CHECKING:
    # The outdated module pulls in the registry client (requests): loaded
    # only by the verbs that ask the registry.
    from jobtui.backend.observe import OutdatedRow


def uptime(started_at: float | None, now: float) -> str:
    """A compact age such as ``45s`` or ``3h12m``; ``-`` when unknown (plain ASCII for scripts)."""
    return "-" if started_at is None else compact_duration(now - started_at)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = [header, *rows]
    return "".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip() + "\n"
        for line in lines
    )


def _drift_words(drift: Mapping[str, Sequence[object]], key: str) -> str:
    return ", ".join(str(d).split(":", 1)[0] for d in drift.get(key, ()))


def status_text(
    inventory: Inventory,
    fleet: FleetSnapshot,
    drift: Mapping[str, Sequence[object]] | None = None,
    now: float | None = None,
    newer: Sequence[OutdatedRow] | None = None,
) -> str:
    """Hosts, then services per host, then containers no service claims.

    ``drift`` maps ``service@host`` to field differences (see backend.drift);
    ``newer`` (see backend.observe.outdated) fills the ``NEWER`` column.
    """
    drift = drift or {}
    now = time.time() if now is None else now
    newer_at, notes = _newer(newer)
    hosts = [
        (
            h.name,
            h.status.value,
            h.docker_version or "-",
            f"{h.running_count}/{len(h.containers)}",
            h.error or "",
        )
        for h in fleet.hosts.values()
    ]
    services = [
        (
            r.service,
            r.host,
            r.desired,
            r.running_version or "-",
            r.state,
            uptime(r.started_at, now),
            "" if r.running_version is None or r.on_desired_version else "differs",
            _drift_words(drift, r.key),
            newer_at.get(r.key, "?" if r.service in notes else ""),
        )
        for r in service_rows(inventory, fleet)
    ]
    text = _table(("HOST", "STATUS", "DOCKER", "RUNNING", "ERROR"), hosts) + "\n"
    text += _table(
        ("SERVICE", "HOST", "DESIRED", "RUNNING", "STATE", "UPTIME", "VERSION", "DRIFT", "NEWER"),
        services,
    )
    for note in sorted(set(notes.values())):
        text += f"newer: {note}\n"
    strays = [
        (c.host, c.name, c.image, c.state, container_status(c, now))
        for c in unmanaged(inventory, fleet)
    ]
    if strays:
        text += "\nnot in the inventory:\n" + _table(
            ("HOST", "CONTAINER", "IMAGE", "STATE", "STATUS"), strays
        )
    return text


def _newer(rows: Sequence[OutdatedRow] | None) -> tuple[dict[str, str], dict[str, str]]:
    """``service@host`` → what is newer there, and service → why it is unknown."""
    from jobtui.backend.observe import newer_by_key

    return newer_by_key(rows or ()), {row.service: row.note for row in rows or () if row.note}


def status_json(
    inventory: Inventory,
    fleet: FleetSnapshot,
    drift: Mapping[str, Sequence[object]] | None = None,
    newer: Sequence[OutdatedRow] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The same facts as ``status_text`` for scripts."""
    drift = drift or {}
    now = time.time() if now is None else now
    newer_at, notes = _newer(newer)
    return {
        "hosts": [
            {
                "name": h.name,
                "status": h.status.value,
                "docker_version": h.docker_version,
                "running": h.running_count,
                "containers": len(h.containers),
                "error": h.error,
            }
            for h in fleet.hosts.values()
        ],
        "services": [
            {
                "service": r.service,
                "host": r.host,
                "desired": r.desired,
                "running_version": r.running_version,
                "state": r.state,
                "started_at": r.started_at,
                "container": r.container.name if r.container else None,
                "drift": [str(d) for d in drift.get(r.key, ())],
                "status": container_status(r.container, now) if r.container else None,
                "newer": newer_at.get(r.key),
                "newer_note": notes.get(r.service),
            }
            for r in service_rows(inventory, fleet)
        ],
        "unmanaged": [
            {
                "host": c.host,
                "name": c.name,
                "image": c.image,
                "state": c.state,
                "status": container_status(c, now),
            }
            for c in unmanaged(inventory, fleet)
        ],
    }


def tags_text(service: Service, fleet: FleetSnapshot, tags: Sequence[TagInfo]) -> str:
    """The seed's update listing: what runs where, then the registry's tags newest first."""
    mine = [c for c in fleet.containers() if belongs_to(c, service.name)]
    running = {c.version for c in mine if c.running}
    lines = [f"{service.name}: {service.repository}"]
    for c in sorted(mine, key=lambda c: (c.host, -c.created)):
        lines.append(f"  {c.host:<10} {c.name:<28} {c.version:<12} {c.state}")
    rows = [
        (
            ("* " if t.tag in running else "  ") + t.tag,
            t.image_id.removeprefix("sha256:")[:12] or "-",
            t.created.strftime("%Y-%m-%d %H:%M:%S") if t.created else "-",
            t.digest[:19] or "-",
        )
        for t in tags
    ]
    lines.append("")
    return "\n".join(lines) + "\n" + _table(("  VERSION", "IMAGE ID", "CREATED", "DIGEST"), rows)
