"""Grammars of network addresses: host names, IP addresses, ports, HTTP URLs, etcd endpoints.

Host names follow DNS labels, with ``_`` allowed as in ``~/.ssh/config``
aliases and ``/etc/hosts``; every label starts and ends with a letter, digit
or ``_``, so nothing here can start with ``-`` and be read as an option.
IP addresses are checked by :mod:`ipaddress`; IPv6 goes in brackets.
"""

from __future__ import annotations

import ipaddress
import re

from jobtui.config.errors import show

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)
_DOTTED_NUMBERS = re.compile(r"[0-9.]+", re.ASCII)
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+", re.ASCII)
HOSTNAME_MAX = 253
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
_PATH = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*", re.ASCII)
ETCD_DEFAULT_PORT = 2379


def parse_port_number(text: str) -> int:
    """A TCP/UDP port, 1-65535, in ASCII digits."""
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise ValueError(f"{show(text)} is not a port number (1-65535)")
    return int(text)


def parse_ip(text: str) -> str:
    """An IPv4 or IPv6 address (no zone index), as written."""
    try:
        if _DOTTED_NUMBERS.fullmatch(text):
            ipaddress.IPv4Address(text)
        elif _IPV6_CHARS.fullmatch(text):
            ipaddress.IPv6Address(text)
        else:
            raise ValueError(text)
    except ValueError:
        raise ValueError(f"{show(text)} is not an IP address") from None
    return text


def parse_host(text: str) -> str:
    """A host: a DNS name (or ssh alias), an IPv4 address, or ``[IPv6]``; returned unbracketed."""
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1]
        if not _IPV6_CHARS.fullmatch(inner) or ":" not in inner:
            raise ValueError(f"{show(text)} is not an IPv6 address in brackets")
        return parse_ip(inner)
    if _DOTTED_NUMBERS.fullmatch(text):
        return parse_ip(text)
    if not _HOSTNAME.fullmatch(text) or len(text) > HOSTNAME_MAX:
        raise ValueError(
            f"{show(text)} is not a host name (letters, digits, '-', '_' in dot-separated "
            "labels; an IPv4 address; or an IPv6 address in brackets)"
        )
    return text


def split_host_port(text: str, *, default_port: int | None = None) -> tuple[str, int | None]:
    """``host[:port]`` (``[v6]:port`` for IPv6) into the host and the port."""
    if text.startswith("["):
        close = text.find("]")
        host_text, rest = (text[: close + 1], text[close + 1 :]) if close > 0 else (text, "")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{show(text)}: expected [IPv6]:port")
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:
        raise ValueError(f"{show(text)}: write an IPv6 address in brackets, [::1]:port")
    else:
        host_text, colon, after = text.partition(":")
        port_text = after if colon else None
    host = parse_host(host_text)
    port = parse_port_number(port_text) if port_text is not None else default_port
    return host, port


def _authority_and_path(text: str, what: str) -> tuple[str, str, str]:
    """Scheme, ``host[:port]`` and path of an http(s) URL; refuses what browsers would guess at."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f"{show(text)}: expected an http:// or https:// URL")
    bad = re.search(r"[\s\x00-\x1f\x7f]", text)
    if bad:
        raise ValueError(f"{show(text)}: a URL cannot contain {show(bad.group())}")
    if "?" in rest or "#" in rest:
        raise ValueError(f"{show(text)}: {what} URL takes no query or fragment")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in authority:
        raise ValueError(
            f"{show(text)}: credentials do not belong in the URL: set username and name the "
            "variable that holds the password with password_env"
        )
    if not authority:
        raise ValueError(f"{show(text)}: the URL names no host")
    split_host_port(authority)
    if not _PATH.fullmatch(path):
        raise ValueError(f"{show(text)}: {show(path)} is not a URL path")
    return scheme, authority, path


def parse_http_url(text: str) -> str:
    """An ``http(s)://`` URL to a server (Prometheus), path allowed, without trailing ``/``."""
    _authority_and_path(text, "a server")
    return text.rstrip("/")


def parse_registry_url(text: str) -> str:
    """A registry's ``http(s)://host[:port]``: the API lives at ``/v2/`` on the host itself."""
    _, _, path = _authority_and_path(text, "a registry")
    if path.strip("/"):
        raise ValueError(
            f"{show(text)}: a registry URL is scheme://host[:port] with no path "
            "(the API is always at /v2/)"
        )
    return text.rstrip("/")


def parse_etcd_endpoint(text: str) -> tuple[str, int]:
    """An etcd endpoint ``[http(s)://]host[:port]`` (port 2379 when none) as host and port."""
    rest = text
    for scheme in ("http://", "https://"):
        rest = rest.removeprefix(scheme)
    rest = rest.removesuffix("/")
    if not rest:
        raise ValueError(f"{show(text)} is not an etcd endpoint (host:port)")
    try:
        host, port = split_host_port(rest, default_port=ETCD_DEFAULT_PORT)
    except ValueError as exc:
        raise ValueError(f"{show(text)} is not an etcd endpoint (host:port): {exc}") from None
    return host, port or ETCD_DEFAULT_PORT
