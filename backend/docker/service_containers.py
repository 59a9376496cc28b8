"""The containers of a service on a host, and which of them represents it.

The one home of two rules every screen and verb must agree on: which
containers are instances of a service (labelled, or adopted by the seed's
``<service>_<unix-ts>`` name), and which one *is* the service on a host — the
table shows it, ``start`` brings it back, a rollout replaces it.
"""

from __future__ import annotations

from jobtui.backend.model import ContainerInfo


def service_of(container: ContainerInfo, services: set[str]) -> str | None:
    """Which of ``services`` a container is an instance of, if any.

    jobtui's own containers carry the ``jobtui.service`` label. Containers
    deployed before jobtui (the seed's Job-Tool named them
    ``<service>_<unix-ts>``) are adopted by name so an existing fleet shows up
    without redeploying anything.
    """
    if container.service is not None:
        return container.service if container.service in services else None
    name = container.name.lstrip("/")
    if name in services:
        return name
    prefix, _, suffix = name.rpartition("_")
    return prefix if prefix in services and suffix.isascii() and suffix.isdigit() else None


def belongs_to(container: ContainerInfo, service: str) -> bool:
    """Whether a container is an instance of ``service``."""
    return service_of(container, {service}) == service


def current_container(containers: list[ContainerInfo]) -> ContainerInfo | None:
    """The container that represents a service on a host.

    The running one (the newest if several run); otherwise the one that
    stopped last, not the newest created: after a rollback the retained newer
    version is stopped while the older one served, and ``stop`` then
    ``start`` must bring back what served. Containers whose stop time is
    unknown rank by creation.
    """
    if not containers:
        return None
    running = [c for c in containers if c.running]
    if running:
        return max(running, key=lambda c: c.created)
    return max(containers, key=lambda c: (c.finished_at or 0.0, c.created))
