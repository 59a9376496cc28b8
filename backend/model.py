"""What the engine knows about the fleet, as plain frozen values.

These types are the contract between the engine and everything above it:
the TUI, the CLI and the tests' fixed backends all speak them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from jobtui.backend.errors import JobtuiError
from jobtui.config.models import split_image

LABEL_SERVICE = "jobtui.service"
LABEL_VERSION = "jobtui.version"
LABEL_SPEC_HASH = "jobtui.spec-hash"
LABEL_ROLLOUT = "jobtui.rollout"


def version_of(image: str) -> str:
    """The version an image reference names: its tag (``latest`` when it has none)."""
    return split_image(image)[1]


class HostStatus(StrEnum):
    """Whether jobtui can talk to a host's Docker daemon."""

    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class ContainerInfo:
    """One container on one host, managed by jobtui or not."""

    id: str
    name: str
    host: str
    image: str
    state: str
    """Docker's state word: ``running``, ``exited``, ``created``, ``restarting`` …"""
    status: str = ""
    """Docker's human status, e.g. ``Up 3 minutes``."""
    created: float = 0.0
    """Unix time the container was created."""
    started_at: float | None = None
    """Unix time it last started, when known (needed for uptime)."""
    finished_at: float | None = None
    """Unix time it last stopped, when known: which stopped container served last."""
    exit_code: int | None = None
    """The last exit code of a stopped or restarting container, when Docker said it."""
    image_id: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def service(self) -> str | None:
        """The inventory service this container belongs to (``None`` if unmanaged)."""
        return self.labels.get(LABEL_SERVICE)

    @property
    def version(self) -> str:
        """The version it runs: its ``jobtui.version`` label, else the image tag."""
        return self.labels.get(LABEL_VERSION) or version_of(self.image)

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class HostState:
    """The observed state of one host."""

    name: str
    url: str
    status: HostStatus = HostStatus.CONNECTING
    error: str | None = None
    """Why the host is down, in words an operator can act on."""
    docker_version: str | None = None
    containers: tuple[ContainerInfo, ...] = ()
    updated: float = 0.0
    """Unix time of the last change seen from this host."""

    @property
    def running_count(self) -> int:
        return sum(1 for c in self.containers if c.running)


@dataclass(frozen=True)
class FleetSnapshot:
    """Every host's state at one moment."""

    hosts: Mapping[str, HostState]
    generation: int = 0
    """Grows by one with every change, so a viewer can skip unchanged snapshots."""

    def containers(self) -> list[ContainerInfo]:
        return [c for h in self.hosts.values() for c in h.containers]


@dataclass(frozen=True)
class TagInfo:
    """A tag of a repository in the registry (the seed's update listing)."""

    tag: str
    digest: str = ""
    image_id: str = ""
    created: datetime | None = None


class FleetSource(Protocol):
    """Something that keeps a current FleetSnapshot: the real host pool or fixed data."""

    def start(self, on_change: Callable[[], None]) -> None:
        """Begin observing; call ``on_change`` (from any thread) after each change."""

    def snapshot(self) -> FleetSnapshot:
        """The latest state; cheap, never blocks on the network."""
        ...

    def stop(self) -> None:
        """Stop observing and release connections."""


class TagSource(Protocol):
    """Lists a repository's tags, newest first."""

    def tags(self, repository: str) -> Sequence[TagInfo]:
        """Tags of ``repository``; raises ``RegistryError`` with a readable message."""
        ...


class RegistryError(JobtuiError):
    """The registry could not be asked (down, auth refused, unknown repository)."""
