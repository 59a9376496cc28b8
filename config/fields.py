"""Old home of the value parsers; everything now lives in :mod:`jobtui.config.grammar`."""

from __future__ import annotations

from jobtui.config.grammar import (
    HOST_SCHEMES,
    RESTART_POLICIES,
    parse_duration,
    parse_host_url,
    parse_http_url,
    parse_image,
    parse_name,
    parse_port,
    parse_restart,
    parse_size,
)

__all__ = [
    "HOST_SCHEMES",
    "RESTART_POLICIES",
    "parse_duration",
    "parse_host_url",
    "parse_http_url",
    "parse_image",
    "parse_name",
    "parse_port",
    "parse_restart",
    "parse_size",
]
