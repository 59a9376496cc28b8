"""The ``jobtui`` command: the TUI by default, plain verbs for scripts.

Exit codes: 0 done; 1 failed (a host or the registry could not be asked, a
rollout failed and the old version kept serving, or the operator said no);
2 usage error or invalid inventory; 3 locked by someone else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from jobtui.app import cli_logs, cli_ops, report
from jobtui.backend.model import FleetSnapshot

if TYPE_CHECKING:
    from jobtui.backend.observe import Drift
from jobtui.config.errors import InventoryError
from jobtui.config.loader import HOST_URL_PATTERN_ENV, load_inventory
from jobtui.config.models import Inventory

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
INVENTORY_ENV = "JOBTUI_INVENTORY"
DEFAULT_INVENTORY = "jobtui.yml"
SETTLE_TIMEOUT = 10.0
"""How long one-shot verbs wait for every host to answer or be declared down."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobtui",
        description="Operate a Docker-based private cloud: the TUI, or one verb for scripts.",
        epilog="Exit codes: 0 done, 1 failed (the old version kept serving), "
        "2 usage error or invalid inventory, 3 locked by someone else.",
    )
    parser.add_argument(
        "-i",
        "--inventory",
        metavar="FILE",
        help=f"inventory file (default: ${INVENTORY_ENV} or ./{DEFAULT_INVENTORY})",
    )
    parser.add_argument(
        "--host-url-pattern",
        metavar="PATTERN",
        help="how a bare-list inventory reaches run_on_host, e.g. 'tcp://{host}:2376' "
        f"(default: ${HOST_URL_PATTERN_ENV} or ssh://{{host}})",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="no mutating action: the TUI hides them and the CLI refuses them",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    validate = verbs.add_parser(
        "validate",
        help="check an inventory file and list every problem",
        description="Check an inventory; print every problem as file:line: key: message. "
        "Exit 0 when valid, 2 when not.",
    )
    validate.add_argument("file", nargs="?", help="inventory file (default: the -i one)")
    status = verbs.add_parser(
        "status",
        help="print hosts and services with the versions they run",
        description="Ask every host once and print the fleet: hosts, then one line per "
        "service and host with desired and running version.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    tags = verbs.add_parser(
        "tags",
        help="list a service's versions in the registry, newest first",
        description="The registry's tags of a service's image with image id and creation "
        "time, newest first; the versions running now are marked with '*'.",
    )
    tags.add_argument("service")
    cli_ops.add_parsers(verbs)
    cli_logs.add_logs_parser(verbs)
    verbs.add_parser("tui", help="open the terminal UI (the default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    if args.verb == "validate":
        return _validate(args.file or _inventory_path(args), args.host_url_pattern, out)
    try:
        inventory = load_inventory(_inventory_path(args), host_url_pattern=args.host_url_pattern)
    except InventoryError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.verb == "status":
        return _status(inventory, as_json=args.json, out=out)
    if args.verb == "tags":
        return _tags(inventory, args.service, out)
    if args.verb == "logs":
        return cli_logs.run_logs(args, inventory, out)
    if args.verb in cli_ops.VERBS:
        if args.read_only and args.verb not in ("plan", "history"):
            print(f"jobtui: --read-only refuses {args.verb}", file=sys.stderr)
            return EXIT_USAGE
        return cli_ops.run(args, inventory, out)
    return _tui(inventory, read_only=args.read_only)


def _inventory_path(args: argparse.Namespace) -> str:
    return str(args.inventory or os.environ.get(INVENTORY_ENV) or DEFAULT_INVENTORY)


def _validate(path: str, pattern: str | None, out: TextIO) -> int:
    try:
        inventory = load_inventory(path, host_url_pattern=pattern)
    except InventoryError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        print(f"{path}: invalid ({_plural(len(exc.problems), 'problem')})", file=out)
        return EXIT_USAGE
    services, hosts = len(inventory.services), len(inventory.hosts)
    print(f"{path}: valid ({_plural(services, 'service')} on {_plural(hosts, 'host')})", file=out)
    return EXIT_OK


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _observe_once(inventory: Inventory, *, drift: bool = False) -> tuple[FleetSnapshot, Drift]:
    """Ask every host once; with ``drift`` also inspect each running instance."""
    from jobtui.app.engine import Engine
    from jobtui.backend.observe import DriftChecker

    with Engine(inventory, timeout=SETTLE_TIMEOUT) as engine:
        observer = engine.observer()
        observer.start(lambda: None)
        try:
            observer.wait_settled(SETTLE_TIMEOUT)
            fleet = observer.snapshot()
            return fleet, DriftChecker(inventory, engine.pool).check(fleet) if drift else {}
        finally:
            observer.stop()


def _status(inventory: Inventory, *, as_json: bool, out: TextIO) -> int:
    fleet, drift = _observe_once(inventory, drift=True)
    if as_json:
        json.dump(report.status_json(inventory, fleet, drift), out, indent=2)
        out.write("\n")
    else:
        out.write(report.status_text(inventory, fleet, drift))
    down = [h for h in fleet.hosts.values() if h.status.value != "up"]
    return EXIT_FAILED if down else EXIT_OK


def _tags(inventory: Inventory, name: str, out: TextIO) -> int:
    from jobtui.backend.model import RegistryError
    from jobtui.backend.registry import RegistryClient, repository_in_registry

    try:
        service = inventory.service(name)
    except KeyError:
        known = ", ".join(s.name for s in inventory.services)
        print(f"jobtui: no service {name!r} in the inventory (services: {known})", file=sys.stderr)
        return EXIT_USAGE
    if inventory.registry is None:
        print("jobtui: the inventory configures no registry", file=sys.stderr)
        return EXIT_USAGE
    repository = repository_in_registry(service.image, inventory.registry)
    if repository is None:
        print(
            f"jobtui: {service.image} is not in the registry {inventory.registry.host}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    fleet, _ = _observe_once(inventory)
    try:
        tags = RegistryClient(inventory.registry).tags(repository)
    except RegistryError as exc:
        print(f"jobtui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out.write(report.tags_text(service, fleet, tags))
    return EXIT_OK


def _tui(inventory: Inventory, *, read_only: bool) -> int:
    # Textual loads only for the TUI: the script verbs stay quick to start.
    from jobtui.app.app import make_app
    from jobtui.app.deploy_flow import StepRelay
    from jobtui.app.engine import Engine

    # One client per host, shared by the observer, the deployer, logs and stats.
    with Engine(inventory) as engine:
        relay = StepRelay()
        app = make_app(
            inventory,
            engine.observer(),
            engine.registry,
            read_only=read_only,
            deployer=None if read_only else engine.deployer("tui", relay),
            steps=relay,
            logs=engine.log_source(),
            metrics=engine.metrics,
        )
        app.run()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
