"""Results from the engine, delivered to screens as messages.

Thread workers never touch widgets: they post one of these. FleetChanged
comes from the app's flush timer, which turns the fleet's change callbacks
(from any thread) into at most ten messages a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.message import Message

from jobtui.backend.contract import LockOwner, OpResult, StepEvent
from jobtui.backend.deploy import RollbackCandidate, ServicePlan
from jobtui.backend.docker import FieldDiff
from jobtui.backend.metrics import Series, Usage
from jobtui.backend.model import FleetSnapshot, TagInfo
from jobtui.config.models import Inventory


class FleetChanged(Message, bubble=False):
    """The fleet's observed state changed; ``snapshot`` is the newest."""

    def __init__(self, snapshot: FleetSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        # Only the newest snapshot matters: a queued older one is dropped.
        return isinstance(message, FleetChanged)


class DriftChecked(Message, bubble=False):
    """Running instances were compared with the inventory: field diffs by row key."""

    def __init__(self, drift: Mapping[str, Sequence[FieldDiff]]) -> None:
        super().__init__()
        self.drift = drift

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DriftChecked)


class TagsLoaded(Message):
    """The registry answered with the tags of ``service``'s repository."""

    def __init__(self, service: str, tags: Sequence[TagInfo]) -> None:
        super().__init__()
        self.service = service
        self.tags = tuple(tags)


class TagsFailed(Message):
    """The tags of ``service`` could not be listed; ``error`` says why, for the operator."""

    def __init__(self, service: str, error: str) -> None:
        super().__init__()
        self.service = service
        self.error = error


class PlanReady(Message):
    """The engine planned a change of ``service``: ``plan`` says what each host would do."""

    def __init__(self, service: str, plan: ServicePlan) -> None:
        super().__init__()
        self.service = service
        self.plan = plan


class PlanFailed(Message):
    """No plan could be made for ``service``; ``error`` says why, for the operator."""

    def __init__(self, service: str, error: str) -> None:
        super().__init__()
        self.service = service
        self.error = error


class CandidatesLoaded(Message):
    """The versions ``service`` can be rolled back to, newest first."""

    def __init__(self, service: str, candidates: Sequence[RollbackCandidate]) -> None:
        super().__init__()
        self.service = service
        self.candidates = tuple(candidates)


class CandidatesFailed(Message):
    """The rollback candidates of ``service`` could not be listed; ``error`` says why."""

    def __init__(self, service: str, error: str) -> None:
        super().__init__()
        self.service = service
        self.error = error


class StepsReported(Message, bubble=False):
    """Steps of the running operation on ``service`` since the last batch."""

    def __init__(self, service: str, events: Sequence[StepEvent]) -> None:
        super().__init__()
        self.service = service
        self.events = tuple(events)


class OperationFinished(Message, bubble=False):
    """An operation ended; ``result`` says how, host by host."""

    def __init__(self, result: OpResult) -> None:
        super().__init__()
        self.result = result


class LogLinesArrived(Message, bubble=False):
    """Log lines are waiting in a logs screen's inbox (posted from the source's thread)."""

    def can_replace(self, message: Message) -> bool:
        # The lines wait in the inbox, not in the message: one wake-up drains them all.
        return isinstance(message, LogLinesArrived)


class UsageLoaded(Message, bubble=False):
    """Latest usage of containers by id, and each one's recent CPU % (oldest first)."""

    def __init__(
        self, usage: Mapping[str, Usage], cpu_history: Mapping[str, Sequence[float]]
    ) -> None:
        super().__init__()
        self.usage = dict(usage)
        self.cpu_history = {ident: tuple(values) for ident, values in cpu_history.items()}


class GraphsLoaded(Message, bubble=False):
    """``service``'s metrics over ``span`` seconds up to ``end``: ``series[metric][id]``."""

    def __init__(
        self,
        service: str,
        series: Mapping[str, Mapping[str, Series]],
        end: float,
        span: float,
    ) -> None:
        super().__init__()
        self.service = service
        self.series = {metric: dict(by_id) for metric, by_id in series.items()}
        self.end = end
        self.span = span


class HostUsageLoaded(Message, bubble=False):
    """Latest usage of whole hosts, by inventory name."""

    def __init__(self, usage: Mapping[str, Usage]) -> None:
        super().__init__()
        self.usage = dict(usage)


class MetricsFailed(Message, bubble=False):
    """The metrics source could not answer; ``reason`` is a sentence for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class InventoryReloaded(Message, bubble=False):
    """The inventory file was edited and is valid; the app already holds ``inventory``."""

    def __init__(self, inventory: Inventory) -> None:
        super().__init__()
        self.inventory = inventory


class LocksChecked(Message, bubble=False):
    """Who holds the deploy lock of the services asked about (``None``: nobody).

    ``error`` is set, and ``holders`` empty, when the coordinator could not say.
    """

    def __init__(self, holders: Mapping[str, LockOwner | None], error: str = "") -> None:
        super().__init__()
        self.holders = holders
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LocksChecked)
