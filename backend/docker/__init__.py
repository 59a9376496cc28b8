"""Docker access: one supervised client per host (unix, tcp+TLS, ssh through an
OpenSSH forward), API answer parsing, container specs, and the one rule for
"the containers of a service on a host" and which of them is current.

The room's front door: other rooms and the app import only these names.
Each is loaded on first use, so a verb pays only for the clients it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobtui.backend.doors import lazy_attribute

if TYPE_CHECKING:
    from jobtui.backend.docker.answers import (
        STARTED_ACTIONS as STARTED_ACTIONS,
        STOPPED_ACTIONS as STOPPED_ACTIONS,
        container_from_api as container_from_api,
        event_changes_listing as event_changes_listing,
        event_fields as event_fields,
        exit_code_of as exit_code_of,
        parse_docker_time as parse_docker_time,
        uptime_upper_bound as uptime_upper_bound,
    )
    from jobtui.backend.docker.errors import (
        DOCKER_ERRORS as DOCKER_ERRORS,
        HostUnavailable as HostUnavailable,
        describe_error as describe_error,
    )
    from jobtui.backend.docker.hosts import (
        HostConnection as HostConnection,
        HostPool as HostPool,
    )
    from jobtui.backend.docker.listing import (
        list_service_containers as list_service_containers,
        with_finished_at as with_finished_at,
    )
    from jobtui.backend.docker.service_containers import (
        belongs_to as belongs_to,
        current_container as current_container,
        service_of as service_of,
    )
    from jobtui.backend.docker.spec import (
        DEFAULT_LOG_DRIVER as DEFAULT_LOG_DRIVER,
        ContainerSpec as ContainerSpec,
        FieldDiff as FieldDiff,
        desired_spec as desired_spec,
        diff_specs as diff_specs,
        full_image_ref as full_image_ref,
        image_defaults as image_defaults,
        observed_spec as observed_spec,
        spec_hash as spec_hash,
    )

EXPORTS: dict[str, tuple[str, ...]] = {
    "answers": (
        "STARTED_ACTIONS",
        "STOPPED_ACTIONS",
        "container_from_api",
        "event_changes_listing",
        "event_fields",
        "exit_code_of",
        "parse_docker_time",
        "uptime_upper_bound",
    ),
    "errors": (
        "DOCKER_ERRORS",
        "HostUnavailable",
        "describe_error",
    ),
    "hosts": (
        "HostConnection",
        "HostPool",
    ),
    "listing": (
        "list_service_containers",
        "with_finished_at",
    ),
    "service_containers": (
        "belongs_to",
        "current_container",
        "service_of",
    ),
    "spec": (
        "ContainerSpec",
        "DEFAULT_LOG_DRIVER",
        "FieldDiff",
        "desired_spec",
        "diff_specs",
        "full_image_ref",
        "image_defaults",
        "observed_spec",
        "spec_hash",
    ),
}
"""Module of this room -> the names it offers."""

__all__ = sorted(name for names in EXPORTS.values() for name in names)


def __getattr__(name: str) -> object:
    return lazy_attribute(__name__, EXPORTS, name)
