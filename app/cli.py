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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from jobtui.app import cli_logs, cli_ops, cli_outdated, report
from jobtui.app.arguments import argument_problem
from jobtui.backend.model import FleetSnapshot

if TYPE_CHECKING:
    from jobtui.app.deploy_flow import StepRelay
    from jobtui.app.engine import Engine
    from jobtui.backend.deploy import Deployer, DetachedDeployer
    from jobtui.backend.observe import Drift
from jobtui.config.errors import InventoryError, JobtuiError
from jobtui.config.loader import HOST_URL_PATTERN_ENV, load_inventory
from jobtui.config.models import Inventory

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
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
        help="no mutating action: the TUI hides them and the CLI refuses them (exit 2)",
    )
    parser.add_argument(
        "--read-write",
        action="store_true",
        help="lift the inventory's read_only: true for this run (explicit, and recorded)",
    )
    parser.add_argument(
        "--force-unlock",
        metavar="SERVICE",
        help="release SERVICE's deploy lock whatever holds it (asks first; journalled)",
    )
    parser.add_argument(
        "-y",
        "--yes",
        dest="assume_yes",
        action="store_true",
        help="with --force-unlock: do not ask",
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
    cli_outdated.add_parser(verbs)
    cli_logs.add_logs_parser(verbs)
    verbs.add_parser("tui", help="open the terminal UI (the default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    No traceback reaches the operator: engine errors print their sentence
    (exit 1), Ctrl-C exits 130, and a bug prints one line naming the file
    that holds its traceback.
    """
    try:
        return _main(argv)
    except JobtuiError as exc:
        print(f"jobtui: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("jobtui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        where = _save_crash(exc)
        print(f"jobtui: internal error ({exc.__class__.__name__}); details in {where}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED


def _save_crash(exc: BaseException) -> str:
    """Write the traceback under the state dir (never to the terminal); the file's path."""
    import tempfile
    import time
    import traceback

    from jobtui.backend.coordination import default_state_dir

    text = "".join(traceback.format_exception(exc))
    for folder in (default_state_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
            path.write_text(text)
            return str(path)
        except OSError:
            continue
    return "(nowhere: the state dir is not writable)"


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    problem = argument_problem(args)
    if problem is not None:
        print(f"jobtui: {problem}", file=sys.stderr)
        return EXIT_USAGE
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
    if args.verb == "outdated":
        return cli_outdated.run(args, inventory, out)
    if args.verb == "tags":
        return _tags(inventory, args.service, out)
    if args.verb == "logs":
        return cli_logs.run_logs(args, inventory, out)
    read_only, why = _read_only(args, inventory)
    if why and not read_only:
        print(f"jobtui: {why}", file=sys.stderr)
        return EXIT_USAGE
    if args.force_unlock:
        from jobtui.app.cli_follow import force_unlock

        if read_only:
            print(f"jobtui: --force-unlock refused: {why}", file=sys.stderr)
            return EXIT_USAGE
        return force_unlock(args.force_unlock, inventory, args.assume_yes, out)
    if args.verb in cli_ops.VERBS:
        if read_only and args.verb not in ("plan", "history", "ops", "attach"):
            print(f"jobtui: {args.verb} refused: {why}", file=sys.stderr)
            return EXIT_USAGE
        return cli_ops.run(args, inventory, out)
    reload = partial(load_inventory, _inventory_path(args), host_url_pattern=args.host_url_pattern)
    return _tui(inventory, read_only=read_only, lifted=bool(args.read_write_lifted), reload=reload)


def _read_only(args: argparse.Namespace, inventory: Inventory) -> tuple[bool, str]:
    """Whether this run may change nothing, and why (a reason with False: a usage error).

    The inventory's ``read_only: true`` is lifted only by an explicit
    ``--read-write``, which is remembered (``args.read_write_lifted``) for the journal.
    """
    pinned = inventory.read_only
    args.read_write_lifted = pinned and args.read_write and not args.read_only
    if args.read_only and args.read_write:
        return False, "--read-only and --read-write contradict each other"
    if args.read_only:
        return True, "read-only (--read-only)"
    if pinned and not args.read_write:
        return True, (
            f"read-only: {inventory.source.name} says read_only: true "
            "(pass --read-write to lift it for this run)"
        )
    return False, ""


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


def _observe_once(
    inventory: Inventory, *, drift: bool = False, engine: Engine | None = None
) -> tuple[FleetSnapshot, Drift]:
    """Ask every host once; with ``drift`` also inspect each running instance.

    On ``engine`` when given (the caller goes on using its clients), else on one of its own.
    """
    from jobtui.app.engine import Engine
    from jobtui.backend.observe import DriftChecker

    if engine is None:
        with Engine(inventory, timeout=SETTLE_TIMEOUT) as own:
            return _observe_once(inventory, drift=drift, engine=own)
    fleet = engine.observe_once(SETTLE_TIMEOUT)
    return fleet, DriftChecker(inventory, engine.pool).check(fleet) if drift else {}


def _status(inventory: Inventory, *, as_json: bool, out: TextIO) -> int:
    from jobtui.app.engine import Engine

    # One engine, one set of clients, for the fleet, its drift and the registry's tags.
    with Engine(inventory, timeout=SETTLE_TIMEOUT) as engine:
        fleet, drift = _observe_once(inventory, drift=True, engine=engine)
        newer = cli_outdated.registry_view(engine, fleet)
    if as_json:
        json.dump(report.status_json(inventory, fleet, drift, newer), out, indent=2)
        out.write("\n")
    else:
        out.write(report.status_text(inventory, fleet, drift, newer=newer))
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


def _tui(
    inventory: Inventory,
    *,
    read_only: bool,
    lifted: bool = False,
    reload: Callable[[], Inventory] | None = None,
) -> int:
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
            deployer=None if read_only else _detached(engine.deployer("tui"), relay, lifted),
            steps=relay,
            logs=engine.log_source(),
            metrics=engine.metrics,
            # The file the CLI loaded, with the same host URL pattern: watched.
            reload=reload,
            # Built on first use in the lock poller's thread (etcd may be down).
            locks=lambda: engine.coordinator,
        )
        with _exit_on_sigterm(app.exit):
            app.run()
    return EXIT_OK


@contextmanager
def _exit_on_sigterm(exit_app: Callable[[], object]) -> Iterator[None]:
    """SIGTERM quits the TUI as ``q`` does: the terminal restored, ssh forwards ended."""
    import asyncio
    import signal

    def terminate(signum: int, _frame: object) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in the app's loop yet (or any more)
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(exit_app)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _lifted(deployer: Deployer, lifted: bool) -> Deployer:
    deployer.read_write = lifted  # --read-write over read_only: true, for the audit
    return deployer


def _detached(deployer: Deployer, relay: StepRelay, lifted: bool) -> DetachedDeployer:
    """The TUI's engine: each operation in a detached runner that outlives the TUI."""
    from jobtui.app.cli_follow import RUNNER_COMMAND
    from jobtui.backend.coordination import default_state_dir
    from jobtui.backend.deploy import DetachedDeployer
    from jobtui.backend.ops import OpStore

    store = OpStore(default_state_dir())
    return DetachedDeployer(_lifted(deployer, lifted), store, RUNNER_COMMAND, on_step=relay)


if __name__ == "__main__":
    sys.exit(main())
