"""``jobtui logs SERVICE``: the merged logs of a service's running instances, for scripts.

Each line is printed as ``host/container | text`` (with ``-t``, its UTC time
first), in time order across instances. Without ``-f`` the command prints the
last ``--tail`` lines of every instance and exits; with ``-f`` it goes on
until interrupted or every instance has stopped. No Textual is loaded here.

Exit codes: 0 done; 1 a host could not be asked, a stream failed or nothing
runs; 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from jobtui.app.engine import Engine
from jobtui.backend.times import parse_since
from jobtui.config.models import Inventory

if TYPE_CHECKING:
    # Loaded by the functions that use them: the parser is built for every
    # verb, and `jobtui validate` must not pay for the Docker SDK.
    from jobtui.backend.docker import HostPool
    from jobtui.backend.logs import LogLine, LogTarget
    from jobtui.backend.model import ContainerInfo

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TAIL = "200"
QUEUE_SIZE = 200_000
"""Lines that may wait for a slow stdout before the oldest are dropped (and counted)."""
CONNECT_TIMEOUT = 10.0


def add_logs_parser(subparsers: Any) -> None:
    """Add the ``logs`` verb to the CLI's subparsers."""
    logs = subparsers.add_parser(
        "logs",
        help="print the merged logs of a service's running instances",
        description="The logs of every running instance of SERVICE through the Docker "
        "logs API, merged in time order, each line prefixed with host/container. "
        "Exit 0 when done, 1 when a host or stream failed or nothing runs, 2 on usage errors.",
    )
    logs.add_argument("service")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines until interrupted"
    )
    logs.add_argument(
        "--tail",
        default=DEFAULT_TAIL,
        metavar="N",
        help=f"lines of history per instance, or 'all' (default {DEFAULT_TAIL})",
    )
    logs.add_argument(
        "--since",
        metavar="DURATION",
        help="only lines newer than this: 30s, 10m, 1h30m, 2d, a Unix time or an ISO 8601 time",
    )
    logs.add_argument(
        "--host",
        metavar="H",
        action="append",
        help="only the instances on host H (repeat for several)",
    )
    logs.add_argument(
        "-t", "--timestamps", action="store_true", help="print each line's time (UTC) first"
    )


def run_logs(
    args: argparse.Namespace,
    inventory: Inventory,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Carry out ``jobtui logs`` as parsed by :func:`add_logs_parser`; the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        service = inventory.service(args.service)
    except KeyError:
        known = ", ".join(s.name for s in inventory.services)
        print(f"jobtui: no service {args.service!r} in the inventory (services: {known})", file=err)
        return EXIT_USAGE
    try:
        tail = _tail(args.tail)
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"jobtui: {exc}", file=err)
        return EXIT_USAGE
    hosts = list(service.run_on_host)
    if args.host:
        unknown = [h for h in args.host if h not in hosts]
        if unknown:
            print(
                f"jobtui: {service.name} does not run on {', '.join(unknown)} "
                f"(it runs on {', '.join(hosts)})",
                file=err,
            )
            return EXIT_USAGE
        hosts = [h for h in hosts if h in args.host]
    engine = Engine(inventory, timeout=CONNECT_TIMEOUT, hosts=hosts)
    pool = engine.pool
    try:
        containers, failed = _running_instances(pool, service.name, err)
        if not containers:
            print(f"jobtui: no running instance of {service.name}", file=err)
            return EXIT_FAILED
        from jobtui.backend.logs import LogTarget

        targets = [LogTarget.of(pool[c.host], c) for c in containers]
        printer = _Printer(out, err, targets, timestamps=args.timestamps)
        if args.follow or tail is None:
            errors = _stream(targets, printer, tail, since, follow=args.follow)
        else:
            errors = _collect(targets, printer, tail, since)
    finally:
        engine.close()
    for label, reason in sorted(errors.items()):
        print(f"jobtui: {label}: {reason}", file=err)
    return EXIT_FAILED if failed or errors else EXIT_OK


def _tail(text: str) -> int | None:
    if text.strip().lower() == "all":
        return None
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise ValueError(f"--tail {text!r}: expected a number of lines or 'all'")
    return count


def _running_instances(
    pool: HostPool, service: str, err: TextIO
) -> tuple[list[ContainerInfo], bool]:
    """The running containers of ``service`` on the pool's hosts, and whether a host failed."""
    from jobtui.backend.docker import HostUnavailable, describe_error, list_service_containers

    found: list[ContainerInfo] = []
    failed = False
    for name in pool:
        connection = pool[name]
        try:
            connection.connect()
            mine = list_service_containers(
                connection.client.api, name, service, running_only=True
            )
        except HostUnavailable as exc:
            print(f"jobtui: {name}: {exc}", file=err)
            failed = True
            continue
        except Exception as exc:
            print(f"jobtui: {name}: {describe_error(exc, connection.host.url)}", file=err)
            failed = True
            continue
        found += mine
    return found, failed


class _Printer:
    """Writes lines as ``[time ]host/container | text``; notes and drops go to ``err``."""

    def __init__(
        self, out: TextIO, err: TextIO, targets: Sequence[LogTarget], *, timestamps: bool
    ) -> None:
        self._out, self._err = out, err
        self._width = max(len(t.label) for t in targets)
        self._timestamps = timestamps
        self.closed = threading.Event()
        """Set when the reader of ``out`` went away (``jobtui logs … | head``)."""

    def __call__(self, batch: list[LogLine], dropped: int) -> None:
        if self.closed.is_set():
            return
        if dropped:
            print(f"jobtui: {dropped:,} lines dropped (output could not keep up)", file=self._err)
        text = "".join(self._format(line) for line in batch if line.stream != "jobtui")
        for note in (line for line in batch if line.stream == "jobtui"):
            print(f"jobtui: {note.prefix}: {note.text}", file=self._err)
        try:
            self._out.write(text)
            self._out.flush()
        except BrokenPipeError:
            self.closed.set()

    def _format(self, line: LogLine) -> str:
        stamp = ""
        if self._timestamps:
            moment = datetime.fromtimestamp(line.timestamp, tz=UTC)
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ ")
        return f"{stamp}{line.prefix:<{self._width}} | {line.text}\n"


def _collect(
    targets: Sequence[LogTarget], printer: _Printer, tail: int, since: float | None
) -> dict[str, str]:
    # A bounded tail fits in memory: gather every instance's, then print in time order.
    lines: list[LogLine] = []
    lock = threading.Lock()

    def keep(batch: list[LogLine], dropped: int) -> None:
        with lock:
            lines.extend(batch)

    size = max(1, tail * len(targets) + len(targets))
    from jobtui.backend.logs import LogFollower

    follower = LogFollower(
        targets, keep, tail=tail, since=since, follow=False, capacity=1, queue_size=size
    )
    with follower:
        follower.wait()
    lines.sort(key=lambda line: line.timestamp)
    printer(lines, 0)
    _close_stdout_if_gone(printer)
    return follower.errors


def _stream(
    targets: Sequence[LogTarget],
    printer: _Printer,
    tail: int | None,
    since: float | None,
    *,
    follow: bool,
) -> dict[str, str]:
    from jobtui.backend.logs import LogFollower

    follower = LogFollower(
        targets, printer, tail=tail, since=since, follow=follow, capacity=1, queue_size=QUEUE_SIZE
    )
    # Ctrl-C is the usual way to end -f. A handler that only sets a flag
    # (rather than KeyboardInterrupt landing at any point of the main thread)
    # lets the streams be closed in order every time.
    interrupted = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda _sig, _frame: interrupted.set())
    follower.start()
    try:
        while not (follower.wait(0.2) or printer.closed.is_set() or interrupted.is_set()):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
        follower.stop()
    _close_stdout_if_gone(printer)
    return follower.errors


def _close_stdout_if_gone(printer: _Printer) -> None:
    if printer.closed.is_set():
        # Python flushes stdout again at exit; a closed pipe would print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
