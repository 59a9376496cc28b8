"""Deploying from the TUI: pick → plan → confirm → the rollout view, and the operations behind it.

The screens' keys (``u`` update, ``b`` rollback, ``s``/``x``/``R`` start,
stop, restart) and the command palette call :class:`DeployFlow`. It asks
through dialogs, then runs the engine's blocking call in an app-level thread
worker, so leaving the rollout view never stops a rollout. Step events reach
the view in batches: the engine calls a :class:`StepRelay` from its threads,
and a timer on the event loop drains it about ten times a second.

With the CLI's engine (:class:`~jobtui.backend.deploy.DetachedDeployer`) each
operation runs in a detached runner that the worker only follows: quitting,
a dropped SSH session or a killed jobtui leave it running to its end. The
plan confirmed goes with it (its fingerprint); when the service changed
meanwhile nothing runs and the new plan is shown for confirmation again.
Operations of this bastion started elsewhere (the CLI, another TUI) are
picked up and can be watched like one's own (:mod:`jobtui.app.deploy_watch`),
and at start what a crash left unfinished is recovered first.

Marked services go together (:mod:`jobtui.app.deploy_many`): one combined
plan, one confirmation, then one operation per service, all in one rollout
view and summed up in one notification at the end. While a host's new
container starts, its last log lines are followed (:mod:`jobtui.app.log_tails`).
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.timer import Timer

from jobtui.app.deploy_many import ManyFlow
from jobtui.app.deploy_watch import DeployWatch
from jobtui.app.dialogs.confirm import ALL, ONE, YES, Choice, ConfirmDialog
from jobtui.app.dialogs.pickers import RollbackPicker, VersionPicker
from jobtui.app.dialogs.plan import PlanDialog
from jobtui.app.log_tails import LogTails
from jobtui.app.messages import OperationFinished, StepsReported
from jobtui.app.notices import group_notice, outcome_notice
from jobtui.app.screens.rollout import Operation, RolloutScreen
from jobtui.backend.contract import (
    DeployEngine,
    LockedError,
    OpKind,
    OpResult,
    Outcome,
    StepEvent,
)
from jobtui.backend.deploy import RolloutControl, ServicePlan
from jobtui.backend.docker import belongs_to
from jobtui.config.models import Service
from jobtui.widgets.steps_view import RolloutProgress

if TYPE_CHECKING:
    from jobtui.app.app import JobtuiApp
    from jobtui.app.log_source import LogHandle
    from jobtui.backend.observe import RegistryTags

STEP_FLUSH_INTERVAL = 0.1
"""Seconds between deliveries of step events to the rollout views."""

NOT_AVAILABLE = "Deploying is not available: jobtui was started without a deployer."
READ_ONLY = "Read-only: jobtui was started with --read-only, nothing can be changed."
READ_ONLY_PINNED = (
    "Read-only: {inventory} says read_only: true, nothing can be changed "
    "(start jobtui with --read-write to lift it)."
)


class StepRelay:
    """The engine's ``on_step``: buffers events from any thread until the UI drains them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[StepEvent] = []

    def __call__(self, event: StepEvent) -> None:
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[StepEvent]:
        """Every event since the last drain, in the order reported."""
        with self._lock:
            events, self._events = self._events, []
        return events


LIFECYCLE_VERBS = {OpKind.START: "start", OpKind.STOP: "stop", OpKind.RESTART: "restart"}


class DeployFlow:
    """Runs the dialogs and operations of one app; ``app.deploys`` is its instance."""

    def __init__(
        self, app: JobtuiApp, deployer: DeployEngine | None, steps: StepRelay | None
    ) -> None:
        self.app = app
        self.deployer = deployer
        self.steps = steps
        self.operations: dict[str, Operation] = {}
        """Service → its latest operation of this session (running or ended)."""
        self._timer: Timer | None = None
        self._quit_warned = False
        self._again: dict[int, Callable[[], None]] = {}
        """id(operation) → how to show its new plan when it ends ``CHANGED``."""
        self.watch = DeployWatch(self)
        self.many = ManyFlow(self)
        self._groups: dict[int, tuple[Operation, ...]] = {}
        """id(operation) → the operations launched with it (marked services), itself included."""
        self._tails: LogTails | None = None

    # -- entry points (keys, palette) ------------------------------------

    @property
    def offered(self) -> bool:
        """Whether mutating keys are shown at all (not in read-only mode)."""
        return not self.app.read_only

    def update(self, service: str) -> None:
        """``u``: pick a registry version, see the plan, confirm, watch the rollout."""
        if self._ready(service):
            self._flow(self._update(self.app.inventory.service(service)), "update")

    def rollback(self, service: str) -> None:
        """``b``: pick a retained or registry version, see the plan, confirm, watch."""
        if self._ready(service):
            self._flow(self._rollback(self.app.inventory.service(service)), "rollback")

    def update_many(self, services: Sequence[str], registry: RegistryTags | None) -> None:
        """``u`` on marks: each to its newest version or one for all, one plan, one confirm."""
        self.many.update(services, registry)

    def restart_many(self, services: Sequence[str]) -> None:
        """``R`` on marks: every instance of each service, after one confirmation."""
        self.many.restart(services)

    def lifecycle(self, kind: OpKind, service: str, host: str | None = None) -> None:
        """``s``/``x``/``R``: every instance, or only ``host``'s, after a confirmation."""
        if self._ready(service):
            self._flow(self._lifecycle(kind, self.app.inventory.service(service), host), kind)

    def may_change(self) -> bool:
        """Whether anything may be changed at all; says why not."""
        if self.app.read_only:
            # The inventory's own read_only: true, unless it is --read-only that says so.
            inventory = self.app.inventory
            pinned = READ_ONLY_PINNED.format(inventory=inventory.source.name)
            self.app.notify(pinned if inventory.read_only else READ_ONLY, severity="warning")
            return False
        if self.deployer is None:
            self.app.notify(NOT_AVAILABLE, severity="warning")
            return False
        return True

    def _ready(self, service: str) -> bool:
        if not self.may_change():
            return False
        try:
            self.app.inventory.service(service)
        except KeyError:
            self.app.notify(f"No service {service!r} in the inventory.", severity="warning")
            return False
        running = self.operations.get(service)
        if running is not None and running.running:
            # One operation per service at a time (the deploy lock says the
            # same): show the one under way instead.
            self.app.notify(f"{running.title} is still running.", severity="warning")
            self.show(service)
            return False
        return True

    def may_quit(self) -> bool:
        """``False`` (with a warning) on the first quit while an operation runs."""
        running = [op.title for op in self.operations.values() if op.running]
        if not running or self._quit_warned:
            return True
        self._quit_warned = True
        after = (
            "it goes on in its runner after jobtui quits (jobtui attach follows it)"
            if self.watch.detached is not None
            else "jobtui exits once the engine has finished it"
        )
        self.app.notify(
            f"{'; '.join(running)}: still running. Press q again to quit; {after}.",
            severity="warning",
            timeout=10,
        )
        return False

    def show(self, service: str) -> None:
        """Open the rollout view of ``service``'s latest operation, if any."""
        op = self.operations.get(service)
        if op is not None and not self._showing(op):
            group = self._groups.get(id(op), (op,))
            self.app.push_screen(RolloutScreen(group, self._group_title(group)))

    def _flow(self, flow: Coroutine[Any, Any, None], name: str) -> None:
        # Dialogs are awaited in an async worker (push_screen_wait needs one).
        self.app.run_worker(
            self._guarded(flow, name), name=f"deploy-flow:{name}", group="deploy-flow"
        )

    async def _guarded(self, flow: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await flow
        except Exception as exc:
            # A bug or an engine error in a dialog must read as an error, not end the app.
            self.app.notify(f"{name}: {type(exc).__name__}: {exc}", severity="error", timeout=20)

    # -- the dialogs -----------------------------------------------------

    async def _update(self, service: Service) -> None:
        self._deployer()  # refuse before the picker when deploying is not available
        picker = VersionPicker(
            service, self.app.tags, self.app.inventory.registry, self._running(service.name)
        )
        version = await self.app.push_screen_wait(picker)
        if version is not None:
            await self._confirm_and_roll(
                OpKind.DEPLOY, service, version, f"update {service.name} to {version}", "update"
            )

    def start(self) -> None:
        """Once the app runs: recover what a crash left, follow operations started elsewhere."""
        self.watch.start()

    def close(self) -> None:
        """The app is going: stop following (detached operations go on by themselves)."""
        self.watch.close()
        if self._tails is not None:
            self._stop_handles(self._tails.stop_all())

    async def _rollback(self, service: Service) -> None:
        deployer = self._deployer()
        picker = RollbackPicker(service, partial(deployer.rollback_candidates, service.name))
        version = await self.app.push_screen_wait(picker)
        if version is not None:
            await self._confirm_and_roll(
                OpKind.ROLLBACK,
                service,
                version,
                f"roll {service.name} back to {version}",
                "roll back",
            )

    async def _confirm_and_roll(
        self, kind: OpKind, service: Service, version: str, title: str, verb: str
    ) -> None:
        """Show the plan for ``version``; on yes, run the deploy or rollback in a worker.

        A rollback's plan is what the rollback does (the retained container
        restarted, or the version recreated); the plan's fingerprint goes with
        the operation, which refuses when the service changed meanwhile.
        """
        deployer = self._deployer()
        planner = deployer.plan
        if kind is OpKind.ROLLBACK:
            planner = getattr(deployer, "plan_rollback", deployer.plan)
        dialog = PlanDialog(title, service.name, verb, partial(planner, service.name, version))
        if not await self.app.push_screen_wait(dialog) or dialog.plan is None:
            return
        op, call = self.rollout(kind, service, dialog.plan, title, verb)
        self._launch(op, call)

    def rollout(
        self, kind: OpKind, service: Service, plan: ServicePlan, title: str, verb: str
    ) -> tuple[Operation, Callable[[], OpResult]]:
        """The operation and engine call of a confirmed ``plan`` (deploy or rollback).

        Should the service have changed since (the run ends ``CHANGED``), its
        new plan is shown for confirmation again.
        """
        deployer = self._deployer()
        control = RolloutControl()
        op = self._operation(kind, service.name, verb, plan, control)
        run = deployer.deploy if kind is OpKind.DEPLOY else deployer.rollback
        expect = plan.fingerprint
        if expect is None:
            call = partial(run, service.name, plan.version, control=control)
        else:
            call = partial(run, service.name, plan.version, control=control, expect=expect)
        version = plan.version

        def again() -> None:
            self._flow(self._confirm_and_roll(kind, service, version, title, verb), verb)

        self._again[id(op)] = again
        return op, call

    async def _lifecycle(self, kind: OpKind, service: Service, host: str | None) -> None:
        self._deployer()  # refuse before asking when deploying is not available
        verb = LIFECYCLE_VERBS[kind]
        everywhere = service.run_on_host
        if host is not None and len(everywhere) > 1:
            choices = [
                Choice(ONE, f"{verb} only the instance on {host}"),
                Choice(ALL, f"{verb} all {len(everywhere)} instances ({', '.join(everywhere)})"),
            ]
        else:
            where = host or ", ".join(everywhere)
            choices = [Choice(YES, f"{verb} {service.name} on {where}")]
        question = self._describe_instances(service)
        answer = await self.app.push_screen_wait(
            ConfirmDialog(f"{verb} {service.name}", question, choices)
        )
        if answer is None:
            return
        self._launch(*self.lifecycle_op(kind, service, None if answer == ALL else host))

    def lifecycle_op(
        self, kind: OpKind, service: Service, host: str | None
    ) -> tuple[Operation, Callable[[], OpResult]]:
        """The operation and engine call that start, stop or restart ``host``'s instance
        of ``service`` (every instance when ``host`` is ``None``)."""
        deployer = self._deployer()
        hosts = (host,) if host else service.run_on_host
        title = f"{LIFECYCLE_VERBS[kind]} {service.name} on {', '.join(hosts)}"
        op = Operation(kind, service.name, title, RolloutProgress(hosts), started=self.app.clock())
        call = {OpKind.START: deployer.start, OpKind.STOP: deployer.stop}.get(
            kind, deployer.restart
        )
        return op, partial(call, service.name, host)

    def _deployer(self) -> DeployEngine:
        if self.deployer is None:
            raise RuntimeError(NOT_AVAILABLE)
        return self.deployer

    def _running(self, service: str) -> dict[str, list[str]]:
        """Version → hosts running it now, from the newest fleet snapshot."""
        running: dict[str, list[str]] = defaultdict(list)
        for container in self.app.snapshot.containers():
            if container.running and belongs_to(container, service):
                running[container.version].append(container.host)
        return dict(running)

    def _describe_instances(self, service: Service) -> str:
        running = self._running(service.name)
        if not running:
            return f"{service.name} runs nowhere now."
        where = "; ".join(f"{v} on {', '.join(hosts)}" for v, hosts in sorted(running.items()))
        return f"{service.name} runs {where}."

    def _operation(
        self, kind: OpKind, service: str, verb: str, plan: ServicePlan, control: RolloutControl
    ) -> Operation:
        before = sorted({a.current_version for a in plan.changes if a.current_version})
        versions = f"{', '.join(before)} → {plan.version}" if before else f"→ {plan.version}"
        hosts = [a.host for a in plan.changes]
        return Operation(
            kind,
            service,
            f"{verb} {service} {versions}",
            RolloutProgress(hosts),
            control,
            started=self.app.clock(),
        )

    # -- running an operation ---------------------------------------------

    def launch_group(
        self, runs: Sequence[tuple[Operation, Callable[[], OpResult]]], title: str
    ) -> None:
        """Launch one operation per service (each its own worker) and show them in one view."""
        group = tuple(op for op, _ in runs)
        if not group:
            return
        for op in group:
            self._groups[id(op)] = group
        for op, call in runs:
            self._launch(op, call, show=False)
        self.app.push_screen(RolloutScreen(group, title))

    def _group_title(self, group: Sequence[Operation]) -> str:
        if len(group) == 1:
            return group[0].title
        verbs = {op.title.split(" ", 1)[0] for op in group}
        verb = verbs.pop() if len(verbs) == 1 else "change"
        return f"{verb} {len(group)} services: {', '.join(op.service for op in group)}"

    def _launch(self, op: Operation, call: Callable[[], OpResult], *, show: bool = True) -> None:
        self.operations[op.service] = op
        if self._timer is None:
            self._timer = self.app.set_interval(STEP_FLUSH_INTERVAL, self._flush)
        if self._tails is None:
            self._tails = LogTails(self.app.logs)
        if show:
            self.app.push_screen(RolloutScreen(op))
        self.app.run_worker(
            partial(self._execute, op, call),
            name=f"operation:{op.service}",
            group=f"operation:{op.service}",
            thread=True,
            exit_on_error=False,
        )

    def _execute(self, op: Operation, call: Callable[[], OpResult]) -> None:
        # In a worker thread: the engine blocks for as long as the rollout takes.
        try:
            result = call()
        except LockedError as exc:
            result = self._ended_early(op, Outcome.LOCKED, str(exc))
        except Exception as exc:
            result = self._ended_early(op, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        if not self.app.is_running:
            return  # the operator quit while it ran: nobody is left to tell
        # RuntimeError: the app closed between the check and the call.
        with contextlib.suppress(RuntimeError):
            self.app.call_from_thread(self._finished, op, result)

    def _ended_early(self, op: Operation, outcome: Outcome, message: str) -> OpResult:
        return OpResult("", op.kind, op.service, outcome, message=message)

    def _flush(self) -> None:
        if self.steps is None:
            return
        batches: dict[str, list[StepEvent]] = defaultdict(list)
        for event in self.steps.drain():
            batches[event.service].append(event)
        tails = self._tails
        changed: dict[str, list[StepEvent]] = {}
        for service, events in batches.items():
            op = self.operations.get(service)
            if op is None or not op.running:
                continue
            op.progress.extend(events)
            if tails is not None:
                tails.feed(str(id(op)), events)
            changed[service] = events
        for (key, host), lines in (tails.take() if tails is not None else {}).items():
            op = next((o for o in self.operations.values() if str(id(o)) == key), None)
            if op is not None and op.running:
                op.progress.tails[host] = lines
                changed.setdefault(op.service, [])
        for service, events in changed.items():
            for view in self._views(self.operations[service]):
                view.post_message(StepsReported(service, events))

    def _finished(self, op: Operation, result: OpResult) -> None:
        self._flush()  # steps reported before the end are shown before it
        op.finish(result)
        self._stop_tails(op)
        for view in self._views(op):
            view.post_message(OperationFinished(result))
        text, severity = outcome_notice(op, result)
        group = self._groups.get(id(op), (op,))
        if len(group) == 1 or result.outcome is Outcome.CHANGED:
            self.app.notify(text, severity=severity, timeout=8 if severity == "information" else 30)
        if len(group) > 1 and not any(o.running for o in group):
            title, lines, severity = group_notice(group)
            self.app.notify(lines, title=title, severity=severity, markup=False,
                            timeout=10 if severity == "information" else 30)  # fmt: skip
        again = self._again.pop(id(op), None)
        if result.outcome is Outcome.CHANGED and again is not None:
            again()  # the plan it was confirmed on no longer holds: show the new one
        if not any(o.running for o in self.operations.values()):
            self._quit_warned = False
            if self._timer is not None:
                self._timer.stop()
                self._timer = None

    def _stop_tails(self, op: Operation) -> None:
        op.progress.tails.clear()
        if self._tails is not None:
            self._stop_handles(self._tails.stop(str(id(op))))

    def _stop_handles(self, handles: list[LogHandle]) -> None:
        if not handles:
            return
        # Closing a log stream can block for a moment: never on the event loop.
        thread = threading.Thread(target=lambda: [h.stop() for h in handles], daemon=True,
                                  name="log-tails-stop")  # fmt: skip
        thread.start()

    def _views(self, op: Operation) -> list[RolloutScreen]:
        return [s for s in self.app.screen_stack
                if isinstance(s, RolloutScreen) and any(o is op for o in s.ops)]  # fmt: skip

    def _showing(self, op: Operation) -> bool:
        return bool(self._views(op))
