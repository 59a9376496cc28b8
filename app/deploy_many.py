"""``u`` and ``R`` on marked services: many services, one plan, one confirmation, one view.

``u`` asks whether each service goes to its newest registry version (what the
main screen's ``newer`` column shows, from the same registry cache) or all to
one version — offered only when the services' repositories have tags in
common, picked from those. Then one :class:`~jobtui.app.dialogs.plan.PlansDialog`
shows every service's plan; services already up to date, or whose newest
version is unknown, are listed as left out. On yes, every service with
changes is launched as its own operation (with the CLI's detached deployer,
each in its own runner with its own lock, health gates and result; the engine
bounds how many run on one host at once) and one rollout view shows them all.

``R`` restarts every instance of each marked service after one confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from jobtui.app.dialogs.confirm import ONE, YES, Choice, ConfirmDialog
from jobtui.app.dialogs.pickers import CommonVersionPicker
from jobtui.app.dialogs.plan import PlansDialog, PlanTarget
from jobtui.backend.contract import OpKind
from jobtui.backend.docker import belongs_to
from jobtui.backend.model import TagInfo

if TYPE_CHECKING:
    from jobtui.app.deploy_flow import DeployFlow
    from jobtui.backend.observe import RegistryTags
    from jobtui.config.models import Inventory

NOT_ASKED = "The registry has not answered yet (the newer column shows …): try again in a moment."


def shared_tags(
    inventory: Inventory, services: Sequence[str], registry: RegistryTags
) -> list[TagInfo]:
    """The registry tags every one of ``services`` has (by name), as the first one's repository
    lists them; none when a service's image is not in the registry or its tags are unknown."""
    from jobtui.backend.observe import repositories

    repos = repositories(inventory)
    lists: list[Sequence[TagInfo]] = []
    for service in services:
        found = registry.tags.get(repos.get(service, ""))
        if found is None:
            return []
        lists.append(found)
    if not lists:
        return []
    common = set.intersection(*({t.tag for t in tags} for tags in lists))
    return [t for t in lists[0] if t.tag in common]


class ManyFlow:
    """The marked services' side of a :class:`~jobtui.app.deploy_flow.DeployFlow`."""

    def __init__(self, flow: DeployFlow) -> None:
        self.flow = flow

    def _ready(self, services: Sequence[str]) -> list[str]:
        """The services that can go ahead now; says which are left out and why."""
        flow = self.flow
        if not flow.may_change():
            return []
        known = {s.name for s in flow.app.inventory.services}
        busy = [s for s in services if (op := flow.operations.get(s)) is not None and op.running]
        if busy:
            flow.app.notify(f"{', '.join(busy)}: an operation is still running; left out.",
                            severity="warning")  # fmt: skip
        return [s for s in services if s in known and s not in busy]

    def update(self, services: Sequence[str], registry: RegistryTags | None) -> None:
        ready = self._ready(services)
        if not ready:
            return
        if registry is None:
            self.flow.app.notify(NOT_ASKED, severity="warning")
            return
        self.flow._flow(self._update(ready, registry), "update")

    def restart(self, services: Sequence[str]) -> None:
        ready = self._ready(services)
        if ready:
            self.flow._flow(self._restart(ready), "restart")

    async def _update(self, services: list[str], registry: RegistryTags) -> None:
        from jobtui.backend.observe import outdated_rows

        flow, app = self.flow, self.flow.app
        deployer = flow._deployer()
        rows = {r.service: r for r in outdated_rows(app.inventory, app.snapshot, registry)}
        newest = {s: rows[s].newest if s in rows else None for s in services}
        common = shared_tags(app.inventory, services, registry)
        count = len(services)
        each = ", ".join(f"{s} {newest[s] or '?'}" for s in services)
        choices = [Choice(YES, f"each to its newest registry version ({each})")]
        question = f"Update {count} marked services: {', '.join(services)}."
        if common:
            choices.append(Choice(ONE, f"one version for all (from the {len(common)} tags "
                                       "they all have)"))  # fmt: skip
        else:
            question += " They have no registry tag in common: one version for all is not offered."
        answer = await app.push_screen_wait(
            ConfirmDialog(f"update {count} services", question, choices)
        )
        if answer is None:
            return
        if answer == ONE:
            picker = CommonVersionPicker(services, common, self._running(services))
            version = await app.push_screen_wait(picker)
            if version is None:
                return
            targets = [PlanTarget(s, version) for s in services]
        else:
            targets = [
                PlanTarget(s, newest[s], "" if newest[s] else self._unknown(rows.get(s)))
                for s in services
            ]
        dialog = PlansDialog(f"update {count} services", targets, "update", deployer.plan)
        if not await app.push_screen_wait(dialog):
            return
        runs = [
            flow.rollout(OpKind.DEPLOY, app.inventory.service(service), plan,
                         f"update {service} to {plan.version}", "update")
            for service, plan in dialog.to_run()
        ]  # fmt: skip
        flow.launch_group(
            runs, f"update {len(runs)} services: {', '.join(op.service for op, _ in runs)}"
        )

    async def _restart(self, services: list[str]) -> None:
        flow, app = self.flow, self.flow.app
        found = [app.inventory.service(s) for s in services]
        where = "; ".join(f"{s.name} on {', '.join(s.run_on_host)}" for s in found)
        question = (
            f"Restart every instance of {len(found)} services: {where}. "
            "Each service goes one host at a time; the services go side by side."
        )
        choices = [Choice(YES, f"restart {', '.join(services)}")]
        answer = await app.push_screen_wait(
            ConfirmDialog(f"restart {len(found)} services", question, choices)
        )
        if answer is None:
            return
        runs = [flow.lifecycle_op(OpKind.RESTART, service, None) for service in found]
        flow.launch_group(runs, f"restart {len(runs)} services: {', '.join(services)}")

    def _unknown(self, row: object) -> str:
        note = getattr(row, "note", "") or "the registry names no version"
        return f"newest version unknown ({note})"

    def _running(self, services: Sequence[str]) -> Mapping[str, list[str]]:
        """Version → the ``service@host`` instances running it now."""
        running: dict[str, list[str]] = {}
        for container in self.flow.app.snapshot.containers():
            if not container.running:
                continue
            for service in services:
                if belongs_to(container, service):
                    running.setdefault(container.version, []).append(f"{service}@{container.host}")
        return running
