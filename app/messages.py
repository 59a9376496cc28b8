"""Results from the engine, delivered to screens as messages.

Thread workers never touch widgets: they post one of these. FleetChanged
comes from the app's flush timer, which turns the fleet's change callbacks
(from any thread) into at most ten messages a second.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message

from jobtui.backend.model import FleetSnapshot, TagInfo


class FleetChanged(Message, bubble=False):
    """The fleet's observed state changed; ``snapshot`` is the newest."""

    def __init__(self, snapshot: FleetSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        # Only the newest snapshot matters: a queued older one is dropped.
        return isinstance(message, FleetChanged)


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
