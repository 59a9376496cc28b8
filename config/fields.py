"""Parsers for the inventory's small languages: ports, durations, sizes, names, URLs.

Each returns the parsed value or raises ``ValueError`` whose text is shown
to the operator next to the file, line and key.
"""

from __future__ import annotations

import re

from jobtui.config.models import PortSpec

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"  # optional registry host[:port]/
    r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"  # path
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DURATION_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$", re.IGNORECASE)
_SIZE_UNIT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
HOST_SCHEMES = ("unix", "tcp", "ssh")


def parse_name(text: str) -> str:
    """A service or host name, usable in a Docker container name."""
    if not _NAME.match(text):
        raise ValueError(
            f"{text!r} is not a valid name (letters, digits, '_', '.', '-'; "
            "starting with a letter or digit)"
        )
    return text


def parse_image(text: str) -> str:
    """An image reference ``[registry/]path[:tag][@digest]``."""
    if not _IMAGE.match(text):
        raise ValueError(f"{text!r} is not a valid image reference")
    return text


def _port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def parse_port(text: str) -> PortSpec:
    """Docker's short port syntax: ``[ip:][host_port:]container_port[/tcp|udp]``."""
    spec, _, protocol = text.strip().partition("/")
    protocol = protocol or "tcp"
    if protocol not in ("tcp", "udp", "sctp"):
        raise ValueError(f"{text!r}: protocol must be tcp, udp or sctp")
    parts = spec.split(":")
    if len(parts) > 3 or not spec:
        raise ValueError(f"{text!r} is not a port spec ([ip:][host_port:]container_port[/proto])")
    container = _port_number(parts[-1])
    host_port = _port_number(parts[-2]) if len(parts) >= 2 and parts[-2] else None
    host_ip = parts[0] if len(parts) == 3 else None
    return PortSpec(container, host_port, host_ip, protocol)


def parse_duration(text: str) -> float:
    """Compose's durations: ``1m30s``, ``500ms``, ``10s``; a bare number is seconds."""
    stripped = text.strip()
    try:
        return float(stripped)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(stripped):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNIT[match.group(2)]
        pos = match.end()
    if pos != len(stripped) or not stripped:
        raise ValueError(f"{text!r} is not a duration (e.g. 10s, 1m30s, 500ms)")
    return total


def parse_size(text: str) -> int:
    """Compose's byte sizes: ``512m``, ``1g``, ``1024k``, ``2048``."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 512m, 1g)")
    return int(float(match.group(1)) * _SIZE_UNIT[match.group(2).lower()])


def parse_restart(text: str) -> str:
    """A restart policy: no, always, unless-stopped, on-failure[:N]."""
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        raise ValueError(f"{text!r} is not a restart policy ({', '.join(RESTART_POLICIES)}[:N])")
    return text


def parse_host_url(text: str) -> str:
    """A Docker host URL: ``unix:///path``, ``tcp://host:port``, ``ssh://[user@]host[:port]``."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in HOST_SCHEMES:
        raise ValueError(f"{text!r}: a host URL starts with unix://, tcp:// or ssh://")
    if scheme == "unix":
        if not rest.startswith("/"):
            raise ValueError(f"{text!r}: a unix:// URL needs an absolute socket path")
        return text
    host = rest.rsplit("@", 1)[-1].rstrip("/")
    name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    if not name or (port and not port.isdigit()):
        raise ValueError(f"{text!r}: expected {scheme}://[user@]host[:port]")
    return text


def parse_http_url(text: str) -> str:
    if not re.match(r"^https?://[^/\s]+", text):
        raise ValueError(f"{text!r}: expected an http:// or https:// URL")
    return text.rstrip("/")
