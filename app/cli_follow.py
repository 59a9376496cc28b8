"""Mutating verbs that outlive the terminal: launch a runner, follow it, detach, attach.

``deploy``, ``rollback``, ``start``, ``stop`` and ``restart`` hand their
operation to a detached runner (:mod:`jobtui.backend.deploy.detached`) and
follow its events, printing each step as it comes. What the terminal does
then does not matter to the operation:

* SIGHUP (the SSH session dropped) or SIGTERM: the follower says it detaches
  and exits (128 + the signal); the runner goes on;
* Ctrl-C on a terminal asks: detach (it goes on), or abort at the next safe
  point and restore the old version (then follows to the end); without a
  terminal Ctrl-C detaches (exit 130);
* ``jobtui attach [OP]`` follows it again from anywhere on this bastion;
  ``jobtui ops`` lists what runs and what ended lately.

``--force-unlock SERVICE`` releases a deploy lock whatever holds it, after a
confirmation, and journals it.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from jobtui.backend.contract import OpKind, OpResult, Outcome, StepEvent
from jobtui.backend.times import utc_time
from jobtui.config.models import Inventory

if TYPE_CHECKING:
    from jobtui.backend.deploy import DetachedDeployer, Fingerprint
    from jobtui.backend.ops import OpStore, OpSummary

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DETACHED_INT = 130

RUNNER_COMMAND = (sys.executable, "-m", "jobtui.app.runner")
"""How a runner is started: this Python, so the same installation runs it."""


class _Detached(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _hangup_detaches() -> Iterator[None]:
    """While following: SIGHUP and SIGTERM end the follower (the runner goes on)."""

    def detach(signum: int, _frame: FrameType | None) -> None:
        raise _Detached(signum)

    previous = {sig: signal.signal(sig, detach) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(text: str) -> None:
    # The terminal may be gone (SIGHUP): saying so must not fail the exit.
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def run_op(
    detached: DetachedDeployer,
    kind: OpKind,
    service: str,
    out: TextIO,
    *,
    version: str | None = None,
    hosts: tuple[str, ...] = (),
    expect: Fingerprint | None = None,
    title: str = "",
    no_lock: bool | None = None,
) -> int:
    """Launch the operation in a runner and follow it (see the module doc); the exit code.

    ``no_lock`` (default ``detached.no_lock``): run it without the cluster lock.
    """
    with _hangup_detaches():  # from here on a hang-up only ends this follower
        try:
            launched = detached.launch(
                kind, service, version=version, hosts=hosts, expect=expect, title=title,
                no_lock=no_lock,
            )  # fmt: skip
        except _Detached as gone:
            _say(f"jobtui: {signal.Signals(gone.signum).name} while starting the operation")
            return 128 + gone.signum
        banner = (
            f"jobtui: operation {launched.op_id} runs in runner pid {launched.process.pid}; "
            "Ctrl-C detaches or aborts, `jobtui attach` follows it again"
        )
        return follow_op(
            detached.store, launched.op_id, out, process=launched.process, banner=banner
        )


def follow_op(
    store: OpStore,
    op_id: str,
    out: TextIO,
    *,
    process: subprocess.Popen[bytes] | None = None,
    banner: str = "",
) -> int:
    """Print ``op_id``'s steps until its result; detach on SIGHUP, SIGTERM and Ctrl-C.

    ``banner`` is said first, once hang-ups detach (a test waits for it).
    """
    from jobtui.app.cli_ops import _step_printer
    from jobtui.backend.ops import Follower, Record, RunnerDied

    follower = Follower(store, op_id, process)
    printer = _step_printer(out)

    def show(record: Record) -> None:
        if isinstance(record, StepEvent):
            printer(record)

    result: OpResult | None = None
    with _hangup_detaches():
        try:
            if banner:
                _say(banner)
            while result is None:
                try:
                    result = follower.run(show)
                except KeyboardInterrupt:
                    if not _abort_asked(store, op_id):
                        _say(f"jobtui: detached; operation {op_id} goes on (jobtui attach {op_id})")
                        return EXIT_DETACHED_INT
        except _Detached as gone:
            name = signal.Signals(gone.signum).name
            _say(f"jobtui: {name}: detached; operation {op_id} goes on (jobtui attach {op_id})")
            return 128 + gone.signum
        except RunnerDied as exc:
            _say(f"jobtui: {exc}")
            return EXIT_FAILED
        except OSError:  # the terminal went away under a print
            return EXIT_FAILED
    return report(result, out)


def _abort_asked(store: OpStore, op_ids: str | Sequence[str]) -> bool:
    """Ctrl-C: on a terminal, ask whether to abort (every one of ``op_ids``) and restore;
    ``True`` when asked to."""
    from jobtui.backend.ops import Control

    ids = [op_ids] if isinstance(op_ids, str) else list(op_ids)
    if not sys.stdin or not sys.stdin.isatty():
        return False
    they = "it goes on" if len(ids) == 1 else "they go on"
    try:
        answer = input(
            f"\n{', '.join(ids)}: [d]etach ({they}) or [a]bort at the next safe point"
            " and restore? [d/a] "
        )
    except (EOFError, KeyboardInterrupt):
        return False
    if answer.strip().lower() not in ("a", "abort"):
        return False
    for op_id in ids:
        store.set_control(op_id, Control(abort=True, restore=True))
    _say(f"jobtui: aborting {', '.join(ids)} at the next safe point; the old version is put back")
    return True


def report(result: OpResult, out: TextIO) -> int:
    """Print the end of an operation; its exit code."""
    from jobtui.app.cli_ops import _finish

    if result.outcome is Outcome.CHANGED:
        print(f"jobtui: {result.kind.value} {result.service} refused: {result.message}",
              file=sys.stderr)  # fmt: skip
        print("the new plan:", file=out)
        for line in result.plan:
            print(line, file=out)
        return EXIT_FAILED
    return _finish(result, out)


# -- jobtui attach, jobtui ops -------------------------------------------------------------


def _store() -> OpStore:
    from jobtui.backend.coordination import default_state_dir
    from jobtui.backend.ops import OpStore

    return OpStore(default_state_dir())


def attach(args: argparse.Namespace, out: TextIO) -> int:
    """``jobtui attach [OP]``: follow one operation (default: the newest running)."""
    from jobtui.backend.ops import RecordError

    store = _store()
    try:
        if args.op:
            op_id = store.resolve(args.op)
        else:
            newest = store.newest_running()
            if newest is None:
                print("jobtui: no operation runs on this bastion (jobtui ops lists them)",
                      file=sys.stderr)  # fmt: skip
                return EXIT_FAILED
            op_id = newest.op_id
        summary = store.summary(op_id)
    except RecordError as exc:
        print(f"jobtui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    runner = f"runner pid {summary.runner.pid}" if summary.runner else "no runner yet"
    what = f"{summary.request.title} by {_who(summary)}"
    banner = f"jobtui: {op_id}: {what} ({summary.state}, {runner})"
    return follow_op(store, op_id, out, banner=banner)


def _who(summary: OpSummary) -> str:
    request = summary.request
    return f"{request.user}@{request.bastion}" if request.bastion else request.user


OPS_HEADER = ("op", "state", "who", "what", "started", "progress")


def list_ops(args: argparse.Namespace, inventory: Inventory, out: TextIO) -> int:
    """``jobtui ops``: this bastion's operations, running and recent, newest first; with etcd
    also what the journal shows of other bastions'."""
    rows: list[tuple[str, ...]] = []
    summaries = list(_store().summaries(limit=args.limit))
    seen = {s.op_id for s in summaries}
    others, journalled = _journal_rows(inventory, seen, args.limit)
    for summary in summaries:
        state = summary.state
        if summary.result is not None:
            state = summary.result.outcome.value
        elif state == "died" and journalled.get(summary.op_id) == "recovered":
            state = "died, recovered"
        started = utc_time(summary.request.created)
        rows.append(
            (summary.op_id, state, _who(summary), summary.request.title, started,
             summary.progress())
        )  # fmt: skip
    rows += others
    if not rows:
        print("no operations", file=out)
        return EXIT_OK
    table = [OPS_HEADER, *rows[: args.limit]]
    widths = [max(len(row[col]) for row in table) for col in range(len(OPS_HEADER) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        print(("  ".join(cells) + "  " + row[-1]).rstrip(), file=out)
    return EXIT_OK


def _journal_rows(
    inventory: Inventory, seen: set[str], limit: int
) -> tuple[list[tuple[str, ...]], dict[str, str]]:
    """Rows of the operations the journal knows and this bastion's records do not (other
    bastions', with etcd), and every journalled operation's latest state."""
    from jobtui.backend.coordination import make_coordinator, per_operation
    from jobtui.config.errors import JobtuiError

    try:
        coordinator = make_coordinator(inventory)
        try:
            entries = coordinator.journal(None, limit=max(200, limit * 10))
        finally:
            coordinator.close()
    except JobtuiError as exc:
        _say(f"jobtui: the journal cannot be read: {exc}")
        return [], {}
    rows: list[tuple[str, ...]] = []
    states: dict[str, str] = {}
    for first, last in per_operation(entries):
        states[first.op_id] = last.state
        if first.op_id in seen or last.kind in (OpKind.UNLOCK, OpKind.READ_WRITE):
            continue
        if inventory.etcd is None:
            continue  # the local journal holds this bastion's only: all in its records
        who = f"{first.user}@{first.bastion}" if first.bastion else first.user
        versions = f"{first.from_version or '-'} -> {last.to_version or first.to_version or '-'}"
        what = f"{last.kind.value} {last.service} {versions}"
        state = "running" if last.state == "started" else last.state
        rows.append((first.op_id, state, who, what, utc_time(first.time), last.message))
    return rows, states


# -- --force-unlock ------------------------------------------------------------------------


def force_unlock(service: str, inventory: Inventory, assume_yes: bool, out: TextIO) -> int:
    """Release ``service``'s deploy lock without its holder (confirmed, journalled)."""
    from jobtui.app.cli_ops import confirm
    from jobtui.backend.coordination import (
        HolderState,
        current_owner,
        holder_state,
        make_coordinator,
        record_unlock,
    )

    if service not in {s.name for s in inventory.services}:
        print(f"jobtui: no service {service!r} in the inventory", file=sys.stderr)
        return EXIT_USAGE
    coordinator = make_coordinator(inventory)
    try:
        holder = coordinator.holder(service)
        if holder is None:
            print(f"{service}: not locked", file=out)
            return EXIT_OK
        state = holder_state(holder)
        print(f"{service} is locked by {holder.describe()}", file=out)
        if state is HolderState.ALIVE:
            print(f"  that process still runs on this bastion and goes on changing {service};"
                  f" stop it first (kill {holder.pid} aborts it at its next safe point)",
                  file=out)  # fmt: skip
        elif state is HolderState.GONE:
            print("  that process is gone from this bastion: the lock is stale", file=out)
        else:
            print("  that holder is on another bastion (or this one before a reboot): "
                  "its lease would expire by itself", file=out)  # fmt: skip
        decision = confirm(f"force the lock of {service} open?", assume_yes)
        if decision is None:
            print("jobtui: stdin is not a terminal: pass -y to proceed", file=sys.stderr)
            return EXIT_USAGE
        if not decision:
            print("nothing changed", file=sys.stderr)
            return EXIT_FAILED
        if not coordinator.break_lock(service, holder):
            print(f"jobtui: the lock of {service} changed hands meanwhile: nothing done",
                  file=sys.stderr)  # fmt: skip
            return EXIT_FAILED
        record_unlock(coordinator, service, holder, current_owner("force-unlock"), time.time(),
                      forced=True)  # fmt: skip
        print(f"{service}: lock released (journalled)", file=out)
        return EXIT_OK
    finally:
        coordinator.close()
