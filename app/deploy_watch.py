"""The TUI's side of operations that outlive their operator (detached runners).

With a :class:`~jobtui.backend.deploy.DetachedDeployer` engine, :class:`DeployWatch`:

* at start, finds what a crash left unfinished (the journal's ``started``
  entries without an end, whose lock is free or held by a process gone from
  this bastion) and has it recovered first, one runner per service;
* every few seconds, picks up the operations of this bastion that someone
  else started (the CLI, another TUI) and follows them like its own: the
  service's ``u``/``b``/``s``… key shows their rollout view, ``p``/``r``/``a``
  steer them.

With an in-process engine (tests, fixed backends) it does nothing.
"""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING

from textual.timer import Timer

from jobtui.app.screens.rollout import Operation
from jobtui.backend.contract import JournalEntry, OpKind
from jobtui.backend.deploy import RolloutControl
from jobtui.widgets.steps_view import RolloutProgress

if TYPE_CHECKING:
    from jobtui.app.deploy_flow import DeployFlow
    from jobtui.backend.deploy import DetachedDeployer
    from jobtui.backend.ops import OpSummary

SCAN_INTERVAL = 2.0
"""Seconds between two looks for operations started elsewhere."""


class DeployWatch:
    """Recovery at start and operations started elsewhere (see the module doc)."""

    def __init__(self, flow: DeployFlow) -> None:
        self.flow = flow
        self._timer: Timer | None = None
        self._known: set[str] = set()
        """Operation ids already shown (adopted, or seen ended)."""
        self._first = True

    @property
    def detached(self) -> DetachedDeployer | None:
        from jobtui.backend.deploy import DetachedDeployer

        deployer = self.flow.deployer
        return deployer if isinstance(deployer, DetachedDeployer) else None

    def start(self) -> None:
        if self.detached is None or self.flow.app.read_only:
            return
        app = self.flow.app
        app.run_worker(self._recover_at_start, name="recover-at-start", thread=True,
                       exit_on_error=False)  # fmt: skip
        self._timer = app.set_interval(SCAN_INTERVAL, self._scan)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        detached = self.detached
        if detached is not None:
            detached.stopping.set()

    # -- recovery at start ------------------------------------------------------------

    def _recover_at_start(self) -> None:
        # In a thread: the journal and the lock holders are asked of etcd or files.
        from jobtui.backend.coordination import HolderState, holder_state

        detached = self.detached
        assert detached is not None
        pending = detached.unfinished_everywhere()
        for service, entries in pending.items():
            if service not in {s.name for s in self.flow.app.inventory.services}:
                continue
            holder = detached.local.coordinator.holder(service)
            if holder is not None and holder_state(holder) is not HolderState.GONE:
                continue  # it runs (here or on another bastion): not ours to settle
            self.flow.app.call_from_thread(self._recover, service, entries)

    def _recover(self, service: str, entries: list[JournalEntry]) -> None:
        detached = self.detached
        running = self.flow.operations.get(service)
        if detached is None or (running is not None and running.running):
            return
        hosts = self.flow.app.inventory.service(service).run_on_host
        ids = ", ".join(e.op_id for e in entries)
        title = f"recover {service} ({ids})"
        op = Operation(OpKind.RECOVER, service, title, RolloutProgress(hosts),
                       started=self.flow.app.clock())  # fmt: skip
        self.flow.app.notify(
            f"{service}: operation {ids} was left unfinished (its runner died, or it could "
            "not put a host back): recovering it first.",
            severity="warning",
            timeout=15,
        )
        self.flow._launch(op, partial(detached.recover, service), show=False)

    # -- operations started elsewhere ------------------------------------------------

    def _scan(self) -> None:
        self.flow.app.run_worker(self._list, name="ops-scan", group="ops-scan", thread=True,
                                 exclusive=True, exit_on_error=False)  # fmt: skip

    def _list(self) -> None:
        detached = self.detached
        if detached is None:
            return
        found = [s for s in detached.store.summaries(limit=30) if s.op_id not in self._known]
        if found:
            self.flow.app.call_from_thread(self._adopt, found)

    def _adopt(self, summaries: list[OpSummary]) -> None:
        detached = self.detached
        first, self._first = self._first, False
        for summary in summaries:
            self._known.add(summary.op_id)
            request = summary.request
            mine = request.requested_by == os.getpid()
            if detached is None or mine or not summary.running:
                continue
            current = self.flow.operations.get(request.service)
            if current is not None and current.running:
                continue
            hosts = request.hosts or self.flow.app.inventory.service(request.service).run_on_host
            control = RolloutControl() if request.kind in (OpKind.DEPLOY, OpKind.ROLLBACK) else None
            who = f"{request.user}@{request.bastion}" if request.bastion else request.user
            op = Operation(request.kind, request.service, f"{request.title} (by {who})",
                           RolloutProgress(hosts), control, started=request.created)  # fmt: skip
            follow = partial(detached.follow, request.op_id, control=control)
            self.flow._launch(op, follow, show=False)
            when = "was already running" if first else "started elsewhere"
            self.flow.app.notify(
                f"{op.title} {when}: open {request.service} (u) to watch it.", timeout=10
            )
