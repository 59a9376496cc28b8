"""Several services in one go: ``jobtui deploy a b c`` (``--all``, ``--outdated``) and
``jobtui start|stop|restart a b c`` (``--all``).

What the operator sees and confirms is one combined plan. What runs is one
operation per service, each in a runner of its own, all started together:
each service keeps its own deploy lock, journal entry, health gates and
result, ``jobtui ops`` and ``jobtui attach`` see each one, and one failing
service never stops the others. The host slots (``backend/deploy/slots.py``)
bound how many of them work on one host at once; independent services on
different hosts never wait for each other.

Before anything is asked, every service is checked the way a single verb
checks one: a held lock (exit 3), an unreachable host (exit 1) or an
unfinished operation (recovered first) of any of them stops or precedes the
whole set, so what was confirmed is what runs. Services with nothing to do
are said and left out.

Exit code: 0 when every operation is done, 1 when any failed, was aborted or
refused as changed, else 3 when any was refused as locked.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from jobtui.backend.contract import OpKind, OpResult, Outcome, StepEvent
from jobtui.config.errors import JobtuiError

if TYPE_CHECKING:
    from jobtui.app.engine import Engine
    from jobtui.backend.deploy import DetachedDeployer, Fingerprint, Launched
    from jobtui.backend.ops import Follower, OpStore, Record
    from jobtui.config.models import Inventory

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_DETACHED_INT = 130
POLL = 0.1
"""Seconds between two rounds over the operations' events files."""


@dataclass(frozen=True)
class Planned:
    """One service's part of a combined operation, as confirmed."""

    service: str
    version: str | None = None
    title: str = ""
    expect: Fingerprint | None = None
    hosts: tuple[str, ...] = ()


def targets(args: argparse.Namespace, inventory: Inventory) -> list[str] | str:
    """The services a verb names (``--all``: every one); a usage problem as a sentence."""
    names = list(args.service or ())
    every = [s.name for s in inventory.services]
    if getattr(args, "all", False):
        if names:
            return "name services or pass --all, not both"
        return every
    if getattr(args, "outdated", False):
        return names or every  # narrowed to the outdated ones once the registry answered
    if not names:
        flags = "--all or --outdated" if args.verb == "deploy" else "--all"
        return f"name at least one service, or pass {flags}"
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def newest_versions(engine: Engine, services: Sequence[str]) -> dict[str, str]:
    """Service → the version to deploy for ``--outdated``: the registry's newest one where
    it is newer than what runs, or the moving tag (``latest``) whose image moved.

    On the verb's own ``engine`` (its hosts and registry client), with the rows
    ``jobtui outdated`` prints."""
    from jobtui.app.cli_outdated import SETTLE_TIMEOUT, registry_view

    rows = registry_view(engine, engine.observe_once(SETTLE_TIMEOUT))
    wanted: dict[str, str] = {}
    for row in rows:
        if row.service not in services:
            continue
        if row.note and row.newest is None:
            print(f"jobtui: {row.service}: {row.note}", file=sys.stderr)
        if row.behind and row.newest:
            wanted[row.service] = row.newest
        elif row.moved:
            wanted[row.service] = sorted(set(row.moved.values()))[0]
    return wanted


def deploy_many(
    engine: Engine, deployer: DetachedDeployer, args: argparse.Namespace, out: TextIO
) -> int:
    """``jobtui deploy`` of several services (see the module doc)."""
    from jobtui.app.cli_ops import _refuse_locked, _refuse_unreachable, _title
    from jobtui.backend.deploy import plain, render_plan

    names = targets(args, deployer.local.inventory)
    if isinstance(names, str):
        print(f"jobtui: deploy: {names}", file=sys.stderr)
        return EXIT_USAGE
    versions: dict[str, str | None] = {name: args.version for name in names}
    if args.outdated:
        found = newest_versions(engine, names)
        if not found:
            print("every service is on the registry's newest version: nothing to do", file=out)
            return EXIT_OK
        versions = {name: found[name] for name in names if name in found}
    for name in versions:
        locked = _refuse_locked(deployer, name)
        if locked is not None:
            return locked
    _recover_all(deployer, list(versions), out)
    planned: list[Planned] = []
    for name, version in versions.items():
        plan = deployer.plan(name, version)
        for line in render_plan(plan):
            print(plain(line), file=out)
        refused = _refuse_unreachable("deploy", name, {a.host: a.reason for a in plan.unreachable})
        if refused is not None:
            return refused
        if not plan.changes:
            print(f"{name}: nothing to do", file=out)
            continue
        planned.append(Planned(name, version, _title("deploy", plan), plan.fingerprint))
    if not planned:
        print("nothing to do", file=out)
        return EXIT_OK
    what = ", ".join(f"{p.service} {p.title.rsplit(' ', 1)[-1]}" for p in planned)
    return _confirm_and_run(deployer, OpKind.DEPLOY, planned, f"deploy {what}?", args, out)


def lifecycle_many(deployer: DetachedDeployer, args: argparse.Namespace, out: TextIO) -> int:
    """``jobtui start|stop|restart`` of several services (see the module doc)."""
    from jobtui.app.cli_ops import _refuse_locked, _refuse_unreachable

    inventory = deployer.local.inventory
    names = targets(args, inventory)
    if isinstance(names, str):
        print(f"jobtui: {args.verb}: {names}", file=sys.stderr)
        return EXIT_USAGE
    if args.host:
        elsewhere = [n for n in names if args.host not in inventory.service(n).run_on_host]
        if elsewhere:
            print(f"jobtui: {args.verb}: {', '.join(elsewhere)} not on host {args.host}",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
    for name in names:
        refused = _refuse_unreachable(args.verb, name, deployer.unreachable(name, args.host))
        if refused is not None:
            return refused
        locked = _refuse_locked(deployer, name)
        if locked is not None:
            return locked
    _recover_all(deployer, names, out)
    scope = f"on {args.host}" if args.host else "on every host"
    hosts = (args.host,) if args.host else ()
    planned = [Planned(n, title=f"{args.verb} {n} {scope}", hosts=hosts) for n in names]
    for part in planned:
        print(part.title, file=out)
    question = f"{args.verb} {len(names)} services ({', '.join(names)}) {scope}?"
    return _confirm_and_run(deployer, OpKind(args.verb), planned, question, args, out)


def _recover_all(deployer: DetachedDeployer, names: Sequence[str], out: TextIO) -> None:
    from jobtui.app.cli_ops import _recover_first

    for name in names:
        _recover_first(deployer, name, out)


def _confirm_and_run(
    deployer: DetachedDeployer,
    kind: OpKind,
    planned: Sequence[Planned],
    question: str,
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    from jobtui.app.cli_follow import _Detached, _hangup_detaches, _say
    from jobtui.app.cli_ops import _ask

    stop = _ask(question, args)
    if stop is not None:
        return stop
    launched: list[Launched] = []
    not_started = ""
    with _hangup_detaches():  # from here on a hang-up only ends this follower
        try:
            for part in planned:
                one = deployer.launch(kind, part.service, version=part.version, hosts=part.hosts,
                                      expect=part.expect, title=part.title)  # fmt: skip
                launched.append(one)
        except _Detached as gone:
            started = ", ".join(op.op_id for op in launched) or "none"
            _say(f"jobtui: {signal.Signals(gone.signum).name} while starting the operations "
                 f"(started: {started}; jobtui ops lists them)")  # fmt: skip
            return 128 + gone.signum
        except (JobtuiError, OSError) as exc:
            # The state dir is full or unwritable: what started goes on and is followed,
            # the rest is not begun (and the exit says it failed).
            rest = [p.service for p in planned[len(launched) :]]
            not_started = ", ".join(rest)
            _say(f"jobtui: cannot start a runner for {rest[0]}: {exc}; not started: "
                 f"{not_started}")  # fmt: skip
        if launched:
            pairs = zip(planned, launched, strict=False)  # launched may be the shorter
            ids = ", ".join(f"{p.service} {op.op_id}" for p, op in pairs)
            _say(f"jobtui: {len(launched)} operations run in runners of their own ({ids}); "
                 "Ctrl-C detaches or aborts, `jobtui ops` lists them")  # fmt: skip
            code = follow_many(deployer.store, launched, out)
        else:
            code = EXIT_FAILED
    if not_started:
        print(f"not started: {not_started}", file=out)
        return EXIT_FAILED
    return code


def follow_many(store: OpStore, launched: Sequence[Launched], out: TextIO) -> int:
    """Print every operation's steps as they come, then one line per service; the exit code.

    SIGHUP/SIGTERM detach (every operation goes on); Ctrl-C asks to detach or to abort
    them all at their next safe point and restore.
    """
    from jobtui.app.cli_follow import _abort_asked, _Detached, _hangup_detaches, _say
    from jobtui.app.cli_ops import _step_printer
    from jobtui.backend.ops import Follower

    printer = _step_printer(out, with_service=True)

    def show(record: Record) -> None:
        if isinstance(record, StepEvent):
            printer(record)

    followers = {op.op_id: Follower(store, op.op_id, op.process) for op in launched}
    results: dict[str, OpResult] = {}
    with _hangup_detaches():
        try:
            while len(results) < len(followers):
                try:
                    _round(followers, results, show)
                    if len(results) < len(followers):
                        time.sleep(POLL)  # polling files other processes append to
                except KeyboardInterrupt:
                    running = [i for i in followers if i not in results]
                    if not _abort_asked(store, running):
                        _say(f"jobtui: detached; {', '.join(running)} go on (jobtui ops)")
                        return EXIT_DETACHED_INT
        except _Detached as gone:
            going = ", ".join(i for i in followers if i not in results)
            _say(f"jobtui: {signal.Signals(gone.signum).name}: detached; {going} go on "
                 "(jobtui ops)")  # fmt: skip
            return 128 + gone.signum
        except OSError:  # the terminal went away under a print
            return EXIT_FAILED
    return summary([results[op.op_id] for op in launched], out)


def _round(
    followers: dict[str, Follower], results: dict[str, OpResult], show: Callable[[Record], None]
) -> None:
    """One look at every operation still running; a dead runner ends as ``FAILED``."""
    from jobtui.backend.ops import RunnerDied

    for op_id, follower in followers.items():
        if op_id in results:
            continue
        try:
            if follower.poll(show) and follower.result is not None:
                results[op_id] = follower.result
        except RunnerDied as exc:
            request = follower.store.read_request(op_id)
            now = time.time()
            results[op_id] = OpResult(op_id, request.kind, request.service, Outcome.FAILED,
                                      message=str(exc), started=now, finished=now)  # fmt: skip


def summary(results: Sequence[OpResult], out: TextIO) -> int:
    """What went wrong where something did (as ``report`` prints it), then one line per
    service; the exit code."""
    from jobtui.app.cli_follow import report

    codes = []
    for result in results:
        if result.outcome is Outcome.DONE:
            codes.append(EXIT_OK)
        else:  # what went wrong, with the failed containers' last lines
            codes.append(report(result, out))
    print("", file=out)
    width = max(len(r.service) for r in results)
    for result in results:
        took = max(0.0, result.finished - result.started)
        hosts = ", ".join(
            f"{h.host} {h.to_version or '-'}" if h.ok else f"{h.host} FAILED" for h in result.hosts
        )
        print(f"{result.service:<{width}}  {result.outcome.value:<8} {took:5.1f}s  {hosts}"
              + (f"  ({result.message})" if result.message else ""), file=out)  # fmt: skip
    done = sum(r.outcome is Outcome.DONE for r in results)
    print(f"{done} of {len(results)} done", file=out)
    if any(c not in (EXIT_OK, EXIT_LOCKED) for c in codes):
        return EXIT_FAILED
    return EXIT_LOCKED if EXIT_LOCKED in codes else EXIT_OK
