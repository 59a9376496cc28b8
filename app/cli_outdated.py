"""``jobtui outdated``: which services run an older version than the registry's newest.

Also the ``NEWER`` facts of ``jobtui status`` (:func:`registry_view`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from jobtui.backend.model import FleetSnapshot

if TYPE_CHECKING:
    from jobtui.app.engine import Engine
    from jobtui.backend.observe import OutdatedRow, RegistryTags
from jobtui.config.models import Inventory

EXIT_OK = 0
EXIT_FAILED = 1
SETTLE_TIMEOUT = 10.0
"""How long to wait for every host to answer or be declared down."""


def add_parser(verbs: Any) -> None:
    """Add the ``outdated`` verb to the CLI's subparsers."""
    parser = verbs.add_parser(
        "outdated",
        help="list services running an older version than the registry's newest",
        description="Compare every running instance with the registry: the newest semver "
        "release (pre-releases and tags like 'latest' or 'broken' never count as newer; "
        "without semver tags the newest-created version), and for moving tags such as "
        "'latest' whether the registry's image moved. Exit 0; with --exit-code 1 when "
        "something is out of date. 1 as well when the registry could not be asked.",
    )
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when any service is out of date"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace, inventory: Inventory, out: TextIO) -> int:
    """Carry out ``jobtui outdated``; returns the exit code."""
    if inventory.registry is None:
        print("jobtui: the inventory configures no registry", file=sys.stderr)
        return EXIT_FAILED
    from jobtui.app.engine import Engine
    from jobtui.backend.observe import outdated_rows

    with Engine(inventory, timeout=SETTLE_TIMEOUT) as engine:
        fleet = engine.observe_once(SETTLE_TIMEOUT)
        rows = outdated_rows(inventory, fleet, _ask_registry(engine))
    if args.json:
        json.dump([row_json(r) for r in rows], out, indent=2)
        out.write("\n")
    else:
        out.write(outdated_text(rows))
    for row in rows:
        if row.note:
            print(f"jobtui: {row.service}: {row.note}", file=sys.stderr)
    down = [h.name for h in fleet.hosts.values() if h.status.value != "up"]
    if down:
        print(f"jobtui: not answering, versions unknown: {', '.join(down)}", file=sys.stderr)
    failed = any(r.repository is not None and r.newest is None and r.note for r in rows)
    if failed:
        return EXIT_FAILED
    if args.exit_code and any(r.is_outdated for r in rows):
        return EXIT_FAILED
    return EXIT_OK


def outdated_text(rows: Sequence[OutdatedRow]) -> str:
    """The out-of-date services as a table: service, running, newest, hosts."""
    lagging = [r for r in rows if r.is_outdated]
    if not lagging:
        return "every running service is on the registry's newest version\n"
    table = [
        (
            r.service,
            ", ".join(sorted({*r.behind.values(), *r.moved.values()})),
            r.newest or "-",
            ", ".join(r.hosts),
            ", ".join(sorted({f"{tag} moved" for tag in r.moved.values()})),
        )
        for r in lagging
    ]
    header = ("SERVICE", "RUNNING", "NEWEST", "HOSTS", "NOTE")
    widths = [max(len(c) for c in col) for col in zip(header, *table, strict=True)]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in (header, *table)
    )


def row_json(row: OutdatedRow) -> dict[str, Any]:
    """One service's facts for scripts."""
    return {
        "service": row.service,
        "repository": row.repository,
        "running": list(row.running),
        "newest": row.newest,
        "outdated": row.is_outdated,
        "hosts": list(row.hosts),
        "behind": dict(row.behind),
        "moved": dict(row.moved),
        "note": row.note or None,
    }


def registry_view(engine: Engine, fleet: FleetSnapshot) -> list[OutdatedRow]:
    """The rows ``jobtui status`` shows in its ``NEWER`` column (empty without a registry).

    On the caller's ``engine``: its registry client, no second set of clients.
    """
    if engine.inventory.registry is None:
        return []
    from jobtui.backend.observe import outdated_rows

    return outdated_rows(engine.inventory, fleet, _ask_registry(engine))


def _ask_registry(engine: Engine) -> RegistryTags:
    from jobtui.backend.observe import RegistryTags, fetch_tags, repositories

    client = engine.registry
    if client is None:
        return RegistryTags()
    return fetch_tags(client, sorted(set(repositories(engine.inventory).values())))
