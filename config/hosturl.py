"""Docker host URLs, parsed once into :class:`HostURL`, and the ssh words around them.

The one parser of ``unix://``, ``tcp://`` and ``ssh://`` URLs. Its rules are
the intersection of what the Docker CLI and OpenSSH accept, so a URL that
loads never reaches ssh as an option (``-oProxyCommand=…``), a shell word or
a second destination:

* ``unix:///absolute/path.sock``
* ``tcp://host:port`` — the port is required; no user, path, query or fragment
* ``ssh://[user@]host[:port][/remote/docker.sock]`` — no password, and no
  user or host that starts with ``-`` or holds shell metacharacters,
  whitespace or control characters (OpenSSH refuses those since 9.6)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobtui.config.addresses import split_host_port
from jobtui.config.errors import show

HOST_SCHEMES = ("unix", "tcp", "ssh")
REMOTE_DOCKER_SOCKET = "/var/run/docker.sock"
UNIX_PATH_MAX = 107
"""Linux's ``sun_path`` holds 108 bytes with the terminating NUL."""
# POSIX's portable user names (and Samba's machine accounts ending in '$').
_SSH_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}\$?", re.ASCII)
_REMOTE_PATH = re.compile(r"(?:/[A-Za-z0-9_.+-]+)+", re.ASCII)
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")
_OPTION = re.compile(r"([A-Za-z][A-Za-z0-9]*)=(.+)", re.ASCII | re.DOTALL)
SSH_OPTIONS_JOBTUI_SETS = (
    "BatchMode",
    "ConnectTimeout",
    "ControlMaster",
    "ControlPath",
    "ExitOnForwardFailure",
    "ServerAliveCountMax",
    "ServerAliveInterval",
    "StreamLocalBindUnlink",
)
"""OpenSSH options jobtui passes itself; ssh takes the first value given, so an
inventory's value would be silently ignored."""
SSH_OPTIONS_WITH_KEYS = {
    "identityfile": "identity_file",
    "userknownhostsfile": "known_hosts_file",
    "proxyjump": "jump_host",
}


@dataclass(frozen=True)
class HostURL:
    """A parsed Docker host URL; ``str()`` gives it back in canonical form."""

    scheme: str
    """``unix``, ``tcp`` or ``ssh``."""
    host: str = ""
    """DNS name, ssh alias or IP address (IPv6 without brackets); empty for ``unix``."""
    port: int | None = None
    """Always set for ``tcp``; optional for ``ssh`` (ssh's own default applies)."""
    user: str | None = None
    """``ssh`` only: the remote login (else ssh's configured default)."""
    path: str = ""
    """``unix``: the socket; ``ssh``: the remote socket, empty for Docker's default."""

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{user}{host}{port}{self.path}"

    @property
    def address(self) -> str:
        """Where the host's services answer: the host, ``127.0.0.1`` for a local socket."""
        return "127.0.0.1" if self.scheme == "unix" else self.host

    @property
    def ssh_destination(self) -> str:
        """``[user@]host`` as the last word of an ssh command line."""
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def remote_socket(self) -> str:
        """``ssh``: the Docker socket on the far side."""
        return self.path or REMOTE_DOCKER_SOCKET


def parse_host_url(text: str) -> HostURL:
    """Parse a Docker host URL (see the module doc); ``ValueError`` says what is wrong."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in HOST_SCHEMES:
        raise ValueError(f"{show(text)}: a host URL starts with unix://, tcp:// or ssh://")
    bad = _FORBIDDEN.search(text)
    if bad:
        raise ValueError(f"{show(text)}: a host URL cannot contain {show(bad.group())}")
    if "?" in rest or "#" in rest:
        raise ValueError(f"{show(text)}: a host URL takes no query or fragment")
    if scheme == "unix":
        return _unix(text, rest)
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    if scheme == "tcp":
        return _tcp(text, authority, path)
    return _ssh(text, authority, path)


def _unix(text: str, path: str) -> HostURL:
    if not path.startswith("/"):
        raise ValueError(f"{show(text)}: a unix:// URL needs an absolute socket path")
    if "/../" in f"{path}/" or "/./" in f"{path}/":
        raise ValueError(f"{show(text)}: write the socket path without '.' or '..'")
    return HostURL("unix", path=path)


def _tcp(text: str, authority: str, path: str) -> HostURL:
    if "@" in authority:
        raise ValueError(f"{show(text)}: a tcp:// URL has no user (tcp://host:port)")
    if path not in ("", "/"):
        raise ValueError(f"{show(text)}: a tcp:// URL has no path (tcp://host:port)")
    try:
        host, port = split_host_port(authority)
    except ValueError as exc:
        raise ValueError(f"{show(text)}: {exc}") from None
    if port is None:
        raise ValueError(f"{show(text)}: a tcp:// URL needs a port (tcp://host:2376)")
    return HostURL("tcp", host, port)


def _ssh(text: str, authority: str, path: str) -> HostURL:
    if "@" in path:
        raise ValueError(f"{show(text)}: an '@' after the path (ssh://[user@]host[:port][/path])")
    user, at, hostport = authority.rpartition("@")
    if at:
        if ":" in user:
            raise ValueError(
                f"{show(text)}: a password does not belong in the URL (use ssh keys or the agent)"
            )
        parse_ssh_user(user, text)
    try:
        host, port = split_host_port(hostport)
    except ValueError as exc:
        raise ValueError(f"{show(text)}: {exc}") from None
    if path in ("", "/"):
        path = ""
    elif not _REMOTE_PATH.fullmatch(path) or "/../" in f"{path}/":
        raise ValueError(f"{show(text)}: {show(path)} is not a remote socket path")
    return HostURL("ssh", host, port, user if at else None, path)


def parse_ssh_user(user: str, text: str | None = None) -> str:
    """A remote login name that ssh takes as a name, never as an option or shell words."""
    if not _SSH_USER.fullmatch(user):
        where = f"{show(text)}: " if text is not None else ""
        raise ValueError(
            f"{where}{show(user)} is not a user name (letters, digits, '_', '.', '-'; "
            "not starting with '-')"
        )
    return user


def parse_ssh_destination(text: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` as ssh's ``-J`` hops are written: user, host and port."""
    user, at, hostport = text.rpartition("@")
    if at:
        parse_ssh_user(user, text)
    try:
        host, port = split_host_port(hostport)
    except ValueError as exc:
        raise ValueError(f"{show(text)}: {exc}") from None
    return (user if at else None), host, port


def parse_jump_hosts(text: str) -> str:
    """ssh's ProxyJump: one or more ``[user@]host[:port]`` separated by commas."""
    hops = text.split(",")
    for hop in hops:
        if not hop:
            raise ValueError(f"{show(text)}: an empty hop in the jump host list")
        parse_ssh_destination(hop)
    return text


def parse_ssh_option(text: str) -> str:
    """One ``ssh -o`` option, ``Name=value``; not those jobtui sets or that have their own key."""
    match = _OPTION.fullmatch(text)
    if not match or _FORBIDDEN.search(match.group(2).replace(" ", "")):
        raise ValueError(f"{show(text)} is not an ssh option (Name=value, e.g. Compression=yes)")
    name = match.group(1)
    if name.lower() in SSH_OPTIONS_WITH_KEYS:
        raise ValueError(f"{show(text)}: write it as {SSH_OPTIONS_WITH_KEYS[name.lower()]}:")
    if name.lower() in ("host", "match", "include"):
        raise ValueError(f"{show(text)}: ssh takes {name} only in a config file, not as -o")
    if name.lower() in (o.lower() for o in SSH_OPTIONS_JOBTUI_SETS):
        raise ValueError(f"{show(text)}: jobtui sets {name} itself")
    return text
