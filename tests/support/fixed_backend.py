"""Fixed data behind the engine's interfaces, for screen snapshots and demos without a stack."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from jobtui.backend.model import FleetSnapshot, RegistryError, TagInfo


class FixedFleet:
    """A :class:`~jobtui.backend.model.FleetSource` that always shows one snapshot."""

    def __init__(self, snapshot: FleetSnapshot) -> None:
        self._snapshot = snapshot
        self._on_change: Callable[[], None] | None = None

    def start(self, on_change: Callable[[], None]) -> None:
        # Announce the data once, as a real source does after its first list.
        self._on_change = on_change
        on_change()

    def snapshot(self) -> FleetSnapshot:
        return self._snapshot

    def stop(self) -> None:
        self._on_change = None

    def replace(self, snapshot: FleetSnapshot) -> None:
        """Swap in another snapshot (e.g. a test's next step) and announce it."""
        self._snapshot = snapshot
        if self._on_change is not None:
            self._on_change()


class FixedTags:
    """A :class:`~jobtui.backend.model.TagSource` answering from a mapping repository → tags.

    Tags are returned in the order given; an unknown repository raises
    ``RegistryError`` like the real registry does.
    """

    def __init__(self, tags: Mapping[str, Sequence[TagInfo]]) -> None:
        self._tags = {repo: tuple(items) for repo, items in tags.items()}

    def tags(self, repository: str) -> Sequence[TagInfo]:
        try:
            return self._tags[repository]
        except KeyError:
            raise RegistryError(f"unknown repository {repository!r}") from None
