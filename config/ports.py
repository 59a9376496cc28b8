"""Docker's short port syntax: ``[ip:][host_port:]container_port[/protocol]``."""

from __future__ import annotations

from jobtui.config.addresses import parse_ip, parse_port_number
from jobtui.config.errors import show
from jobtui.config.models import PortSpec

PROTOCOLS = ("tcp", "udp", "sctp")
_SYNTAX = "[ip:][host_port:]container_port[/tcp|udp|sctp]; IPv6 in brackets"


def parse_port(text: str) -> PortSpec:
    """``8080``, ``8080:80``, ``127.0.0.1:8080:80``, ``[::1]:8080:80/udp``, ``127.0.0.1::80``.

    An empty host port (``ip::80``, ``:80``) lets Docker choose one. Ranges are not
    supported: a service has one port.
    """
    stripped = text.strip()
    spec, slash, protocol = stripped.rpartition("/") if "/" in stripped else (stripped, "", "")
    if slash and protocol not in PROTOCOLS:
        raise ValueError(f"{show(text)}: protocol must be tcp, udp or sctp")
    host_ip: str | None = None
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0 or not spec[close + 1 :].startswith(":"):
            raise ValueError(f"{show(text)} is not a port spec ({_SYNTAX})")
        host_ip = _ip(spec[1:close], text)
        parts = spec[close + 2 :].split(":")
        if len(parts) != 2:
            raise ValueError(f"{show(text)} is not a port spec ({_SYNTAX})")
    else:
        parts = spec.split(":")
        if len(parts) > 3 or not spec:
            raise ValueError(f"{show(text)} is not a port spec ({_SYNTAX})")
        if len(parts) == 3:
            host_ip = _ip(parts.pop(0), text)
    container = parse_port_number(parts[-1])
    host_port = parse_port_number(parts[0]) if len(parts) == 2 and parts[0] else None
    return PortSpec(container, host_port, host_ip, protocol or "tcp")


def _ip(text: str, whole: str) -> str:
    try:
        return parse_ip(text)
    except ValueError as exc:
        raise ValueError(f"{show(whole)}: {exc} ({_SYNTAX})") from None
