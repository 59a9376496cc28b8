"""The mutating CLI verbs: plan, deploy, rollback, start, stop, restart; history, ops, attach.

Every mutating verb prints what it will do and asks on a terminal; ``--yes``
skips the question and is required when stdin is not a terminal, so a script
can never hang on a prompt nor change anything by accident. What it confirms
runs in a detached runner that the verb follows (:mod:`jobtui.app.cli_follow`):
the plan's fingerprint goes with it, and the runner refuses when the service
changed meanwhile.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from jobtui.backend.contract import OpKind, OpResult, Outcome, StepEvent, StepStatus
from jobtui.backend.times import utc_clock
from jobtui.config.models import Inventory

if TYPE_CHECKING:
    from jobtui.app.engine import Engine
    from jobtui.backend.deploy import DetachedDeployer as Deployer, ServicePlan

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3

_OUTCOME_EXIT = {
    Outcome.DONE: EXIT_OK,
    Outcome.FAILED: EXIT_FAILED,
    Outcome.ABORTED: EXIT_FAILED,
    Outcome.LOCKED: EXIT_LOCKED,
    Outcome.CHANGED: EXIT_FAILED,
}


def add_parsers(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the verbs on the main parser's subparsers."""
    plan = verbs.add_parser(
        "plan",
        help="show what deploy would change, field by field (changes nothing)",
        description="Compare the inventory with what runs and print, per service and host, "
        "the action (create, update, start, noop) and the fields that differ.",
    )
    plan.add_argument("service", nargs="*", help="services (default: all)")
    plan.add_argument("--version", help="plan for this version instead of the inventory's tag")

    deploy = verbs.add_parser(
        "deploy",
        help="roll a service out to a version",
        description="Pull, create <service>_<unix-ts>, start, health-check, then stop the old "
        "container (kept for rollback). On failure the new container is removed and the old "
        "one keeps serving. Several services: one combined plan and one confirmation, then "
        "each runs as its own operation, in parallel (exit 1 if any failed).",
    )
    deploy.add_argument("service", nargs="*", help="one service or several (one combined plan)")
    deploy.add_argument("--version", help="the image tag to deploy (default: the inventory's)")
    _many_options(deploy)
    deploy.add_argument(
        "--outdated",
        action="store_true",
        help="the services (named, or all) the registry has a newer version of, each to "
        "its newest (see jobtui outdated)",
    )
    _mutating_options(deploy)

    rollback = verbs.add_parser(
        "rollback",
        help="go back to a retained or registry version",
        description="Restart a retained previous container (no pull) or recreate the version "
        "from the registry; the same health gate as deploy.",
    )
    rollback.add_argument("service")
    rollback.add_argument("--to", metavar="VERSION", help="the version (default: the previous)")
    _mutating_options(rollback)

    for verb, text in (("start", "start"), ("stop", "stop"), ("restart", "restart")):
        parser = verbs.add_parser(verb, help=f"{text} services' instances")
        parser.add_argument("service", nargs="*", help="one service or several")
        parser.add_argument("--host", help="only the instances on this host")
        _many_options(parser)
        _mutating_options(parser)

    history = verbs.add_parser(
        "history", help="the deploy journal, newest first: one line per operation"
    )
    history.add_argument("service", nargs="?")
    history.add_argument("--limit", type=int, default=30, help="operations shown (default 30)")

    ops = verbs.add_parser(
        "ops",
        help="operations running and recently ended: who, what, progress",
        description="This bastion's operations (their runners' records), newest first, and "
        "with etcd those the journal shows of other bastions.",
    )
    ops.add_argument("--limit", type=int, default=20)
    attach = verbs.add_parser(
        "attach",
        help="follow a running operation again (default: the newest running)",
        description="Print an operation's steps from its start and follow it to its end; "
        "Ctrl-C detaches or aborts it, as for the verb that started it.",
    )
    attach.add_argument("op", nargs="?", help="an operation id, or the start of one")


def _many_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", help="every service of the inventory (one confirmation)"
    )


def _mutating_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask (required when stdin is not a terminal)",
    )
    parser.add_argument(
        "--no-lock",
        action="store_true",
        help="etcd is down: run anyway under this bastion's lock only (asks first, naming "
        "the risk; journalled here and copied to etcd when it is back); refused when etcd "
        "answers",
    )


VERBS = ("plan", "deploy", "rollback", "start", "stop", "restart", "history", "ops", "attach")


def run(args: argparse.Namespace, inventory: Inventory, out: TextIO) -> int:
    """Carry out one of VERBS; returns the exit code."""
    if args.verb in ("ops", "attach"):
        from jobtui.app import cli_follow

        if args.verb == "ops":
            return cli_follow.list_ops(args, inventory, out)
        return cli_follow.attach(args, out)
    names = [s.name for s in inventory.services]
    wanted = list(args.service) if isinstance(args.service, list) else [args.service]
    unknown = [n for n in wanted if n and n not in names]
    if unknown:
        print(
            f"jobtui: no service {unknown[0]!r} in the inventory (services: {', '.join(names)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.verb == "history":
        return _history(inventory, args, out)
    with _engine(inventory, args.verb, out) as (engine, deployer):
        # The operator lifted the inventory's read_only: true (the audit records it).
        deployer.read_write = bool(getattr(args, "read_write_lifted", False))
        if getattr(args, "no_lock", False):
            from jobtui.app.cli_no_lock import without_cluster_lock

            stop = without_cluster_lock(deployer, args)
            if stop is not None:
                return stop
        if args.verb == "plan":
            return _plan(deployer, wanted if wanted else names, args.version, out)
        if args.verb == "rollback":
            return _rollback(deployer, args, out)
        if _several(args):
            from jobtui.app import cli_many

            if args.verb == "deploy":
                return cli_many.deploy_many(engine, deployer, args, out)
            return cli_many.lifecycle_many(deployer, args, out)
        args.service = wanted[0]
        if args.verb == "deploy":
            return _deploy(deployer, args, out)
        return _lifecycle(deployer, args, out)


@contextmanager
def _engine(inventory: Inventory, verb: str, out: TextIO) -> Iterator[tuple[Engine, Deployer]]:
    """The verb's one set of clients, and its deployer acting through runners."""
    from jobtui.app.cli_follow import RUNNER_COMMAND
    from jobtui.app.engine import Engine
    from jobtui.backend.coordination import default_state_dir
    from jobtui.backend.deploy import DetachedDeployer
    from jobtui.backend.ops import OpStore

    with Engine(inventory) as engine:
        local = engine.deployer(verb, _step_printer(out))
        yield engine, DetachedDeployer(local, OpStore(default_state_dir()), RUNNER_COMMAND)


def _several(args: argparse.Namespace) -> bool:
    """Whether a verb names more than one service (or --all / --outdated, or none)."""
    if args.verb not in ("deploy", "start", "stop", "restart"):
        return False
    if getattr(args, "all", False) or getattr(args, "outdated", False):
        return True
    return len(args.service) != 1


def _step_printer(out: TextIO, *, with_service: bool = False) -> Callable[[StepEvent], None]:
    def show(event: StepEvent) -> None:
        if event.status is StepStatus.RUNNING and not event.message:
            return
        stamp = utc_clock(event.time or time.time())
        message = f"  {event.message}" if event.message else ""
        who = f"{event.service:<12} " if with_service else ""
        print(
            f"{stamp} {who}{event.host:<10} {event.step:<10} {event.status.value:<7}{message}",
            file=out,
            flush=True,
        )

    return show


def confirm(question: str, assume_yes: bool) -> bool | None:
    """True to go on, False when the operator said no, None when asking is impossible."""
    if assume_yes:
        return True
    if not sys.stdin or not sys.stdin.isatty():
        return None
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _ask(question: str, args: argparse.Namespace) -> int | None:
    """None to proceed, else the exit code to stop with."""
    decision = confirm(question, args.yes)
    if decision is None:
        print("jobtui: stdin is not a terminal: pass --yes to proceed", file=sys.stderr)
        return EXIT_USAGE
    if not decision:
        print("nothing changed", file=sys.stderr)
        return EXIT_FAILED
    return None


def _plan(deployer: Deployer, services: list[str], version: str | None, out: TextIO) -> int:
    from jobtui.backend.deploy import plain, render_plan

    down = False
    for name in services:
        plan = deployer.plan(name, version)
        down = down or bool(plan.unreachable)
        for line in render_plan(plan):
            print(plain(line), file=out)
    # Like `status`: a plan that could not ask every host is no clean answer.
    return EXIT_FAILED if down else EXIT_OK


def _refuse_unreachable(verb: str, service: str, down: dict[str, str]) -> int | None:
    """Exit 1 naming each host that cannot be reached (nothing is touched); None if none."""
    if not down:
        return None
    for host, why in down.items():
        print(f"jobtui: {verb} {service}: host {host} is unreachable: {why}", file=sys.stderr)
    print(f"jobtui: {verb} {service}: nothing changed", file=sys.stderr)
    return EXIT_FAILED


def _refuse_locked(deployer: Deployer, service: str) -> int | None:
    """Exit 3 at once when a live (or remote) holder has the lock: nothing to confirm then.

    The runner takes the lock itself; this only spares the operator a plan they cannot run.
    """
    from jobtui.backend.contract import LockedError
    from jobtui.backend.coordination import HolderState, holder_state

    holder = deployer.local.coordinator.holder(service)
    if holder is None or holder_state(holder) is HolderState.GONE:
        return None  # free, or stale: the runner releases a stale one (journalled)
    print(f"jobtui: {LockedError(service, holder)}", file=sys.stderr)
    return EXIT_LOCKED


def _recover_first(deployer: Deployer, service: str, out: TextIO) -> None:
    """An operation a crash left unfinished is finished or undone before anything is planned."""
    from jobtui.app.cli_follow import run_op
    from jobtui.backend.coordination import HolderState, holder_state

    pending = deployer.unfinished(service)
    if not pending:
        return
    holder = deployer.local.coordinator.holder(service)
    if holder is not None and holder_state(holder) is not HolderState.GONE:
        return  # it is running (here or elsewhere): the operation will be refused as locked
    ids = ", ".join(e.op_id for e in pending)
    why = "its runner died, or it could not put a host back"
    print(f"{service}: unfinished operation {ids} ({why}): recovering it first", file=out)
    run_op(deployer, OpKind.RECOVER, service, out, title=f"recover {service}")


def _deploy(deployer: Deployer, args: argparse.Namespace, out: TextIO) -> int:
    from jobtui.app.cli_follow import run_op
    from jobtui.backend.deploy import plain, render_plan

    locked = _refuse_locked(deployer, args.service)
    if locked is not None:
        return locked
    _recover_first(deployer, args.service, out)
    plan = deployer.plan(args.service, args.version)
    for line in render_plan(plan):
        print(plain(line), file=out)
    down = {a.host: a.reason for a in plan.unreachable}
    refused = _refuse_unreachable("deploy", args.service, down)
    if refused is not None:
        return refused
    if not plan.changes:
        print(f"{args.service}: nothing to do", file=out)
        return EXIT_OK
    stop = _ask(f"deploy {args.service} {plan.version}?", args)
    if stop is not None:
        return stop
    title = _title("deploy", plan)
    return run_op(deployer, OpKind.DEPLOY, args.service, out, version=args.version,
                  expect=plan.fingerprint, title=title)  # fmt: skip


def _rollback(deployer: Deployer, args: argparse.Namespace, out: TextIO) -> int:
    from jobtui.app.cli_follow import run_op
    from jobtui.backend.deploy import plain, render_plan

    if args.to is not None and not args.to.strip():
        print(f"jobtui: rollback {args.service} --to: name a version (nothing changed)",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    refused = _refuse_unreachable("rollback", args.service, deployer.unreachable(args.service))
    if refused is not None:
        return refused
    locked = _refuse_locked(deployer, args.service)
    if locked is not None:
        return locked
    _recover_first(deployer, args.service, out)
    candidates = deployer.rollback_candidates(args.service)
    if args.to is None and not candidates:
        print(f"jobtui: {args.service} has no version to roll back to", file=sys.stderr)
        return EXIT_FAILED
    target = args.to or candidates[0].version
    where = next((c for c in candidates if c.version == target), None)
    source = (
        f"retained on {', '.join(where.retained_on)}"
        if where and where.retained_on
        else "from the registry"
    )
    print(f"rollback {args.service} to {target} ({source})", file=out)
    # What the rollback will do: the retained container restarted, or the version recreated.
    plan = deployer.plan_rollback(args.service, target)
    for line in render_plan(plan):
        print(plain(line), file=out)
    if not plan.changes:
        print(f"{args.service}: nothing to do", file=out)
        return EXIT_OK
    stop = _ask(f"roll {args.service} back to {target}?", args)
    if stop is not None:
        return stop
    return run_op(deployer, OpKind.ROLLBACK, args.service, out, version=target,
                  expect=plan.fingerprint, title=_title("rollback", plan))  # fmt: skip


def _lifecycle(deployer: Deployer, args: argparse.Namespace, out: TextIO) -> int:
    scope = f"on {args.host}" if args.host else "on every host"
    down = deployer.unreachable(args.service, args.host)
    refused = _refuse_unreachable(args.verb, args.service, down)
    if refused is not None:
        return refused
    from jobtui.app.cli_follow import run_op

    locked = _refuse_locked(deployer, args.service)
    if locked is not None:
        return locked
    _recover_first(deployer, args.service, out)
    print(f"{args.verb} {args.service} {scope}", file=out)
    stop = _ask(f"{args.verb} {args.service} {scope}?", args)
    if stop is not None:
        return stop
    hosts = (args.host,) if args.host else ()
    title = f"{args.verb} {args.service} {scope}"
    return run_op(deployer, OpKind(args.verb), args.service, out, hosts=hosts, title=title)


def _title(verb: str, plan: ServicePlan) -> str:
    """``deploy web v1 -> v2``: what an operation does, for ``jobtui ops``."""
    before = sorted({a.current_version for a in plan.changes if a.current_version})
    return f"{verb} {plan.service} {','.join(before) or '(none)'} -> {plan.version}"


def _finish(result: OpResult, out: TextIO) -> int:
    for host in result.hosts:
        change = f"{host.from_version or '-'} -> {host.to_version or '-'}"
        verdict = "ok" if host.ok else f"FAILED: {host.reason}"
        print(f"{result.service}@{host.host}: {change} {verdict}", file=out)
        for line in host.logs:
            print(f"    | {line}", file=out)
    took = max(0.0, result.finished - result.started)
    summary = f"{result.kind.value} {result.service}: {result.outcome.value} in {took:.1f}s"
    print(summary + (f" ({result.message})" if result.message else ""), file=out)
    return _OUTCOME_EXIT[result.outcome]


def _history(inventory: Inventory, args: argparse.Namespace, out: TextIO) -> int:
    from jobtui.backend.coordination import format_journal, make_coordinator

    coordinator = make_coordinator(inventory)
    try:
        # Each operation has two entries or more (started, its end): read enough of them.
        entries = coordinator.journal(args.service, limit=max(args.limit, 1) * 4)
    finally:
        coordinator.close()
    for line in format_journal(entries, limit=args.limit):
        print(line, file=out)
    return EXIT_OK
