"""One Docker SDK client per host (``unix://``, ``tcp://`` with TLS, ``ssh://`` through a forward).

Building a client never touches the network (the API version is pinned), so
a down host costs nothing until :meth:`HostConnection.connect`, whose
failures are :class:`HostUnavailable` errors carrying a sentence an operator
can act on.

``ssh://`` hosts are reached through an OpenSSH unix-socket forward and a
plain ``unix://`` client on it: measured here as cancellable, fine with a
dozen concurrent streams and ~300x faster than ``use_ssh_client``; it also
honours ``~/.ssh/config``, ProxyJump and the agent. Every use of a client
(:attr:`HostConnection.client`, so every verb, rollout step, log tail and
observer call) first makes sure the forward runs: started on first use,
restarted when it died, one per host per process (:mod:`.forwards`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls

from jobtui.backend.docker.errors import HostUnavailable, describe_error
from jobtui.backend.docker.forwards import FORWARDS, ForwardFiles, Forwards, Spawner
from jobtui.backend.docker.ssh import DEFAULT_CONNECT_TIMEOUT, SshForward
from jobtui.backend.errors import JobtuiError
from jobtui.config.models import Host

DEFAULT_TIMEOUT = 10.0
"""Seconds a single Docker API call may take before the host counts as unreachable."""

PINNED_API_VERSION = "1.41"
"""API version used until the daemon has told us its range (Docker 20.10 speaks 1.41).

Pinning it spares the ``/version`` round-trip docker-py makes at construction."""

NEWEST_API_VERSION = "1.45"
"""The newest API version docker-py 7.2 knows."""


@dataclass(frozen=True)
class DaemonInfo:
    """What ``/version`` told us about a daemon."""

    version: str
    api_version: str


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def negotiate_api_version(server_max: str, server_min: str | None) -> str:
    """The API version to speak: the pinned one if the daemon accepts it, else the best fit."""
    pinned = _version_tuple(PINNED_API_VERSION)
    if _version_tuple(server_max) < pinned:
        return server_max
    if server_min and _version_tuple(server_min) > pinned:
        newest = _version_tuple(NEWEST_API_VERSION)
        return NEWEST_API_VERSION if _version_tuple(server_max) >= newest else server_max
    return PINNED_API_VERSION


class HostConnection:
    """The Docker client of one host, plus its SSH forward for ``ssh://`` URLs.

    Thread-safe: the observer, rollouts and log tails may share one. The
    client keeps its connection pool across daemon restarts; only the SSH
    forward is restarted when it has died.
    """

    def __init__(
        self,
        host: Host,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ssh_options: Sequence[str] = (),
        ssh: str = "ssh",
        forwards: Forwards = FORWARDS,
    ) -> None:
        self.host = host
        self.timeout = timeout
        self._lock = threading.Lock()
        self._client: docker.DockerClient | None = None
        self._api_version = PINNED_API_VERSION
        self._is_ssh = host.endpoint.scheme == "ssh"
        self._ssh_options = tuple(ssh_options)
        self._ssh = ssh
        self._forwards = forwards
        self._forward: SshForward | None = None
        self._forward_key = (host.name, str(host.endpoint), host.ssh, self._ssh_options, ssh)

    @property
    def client(self) -> docker.DockerClient:
        """The client, its ssh forward running; ``HostUnavailable`` (with why) if it cannot be.

        Building the client never touches the network; for an ``ssh://`` host
        the forward is started (or restarted) here, before any API call.
        """
        if self._is_ssh:
            self._ensure_forward()
        with self._lock:
            return self._client_locked()

    @property
    def forward(self) -> SshForward | None:
        """The ssh forward (``ssh://`` hosts, once used)."""
        return self._forward

    def forward_state(self) -> str | None:
        """For the hosts panel: the ssh forward's state (``None`` for other hosts)."""
        forward = self._forward
        if forward is None:
            return None if not self._is_ssh else "ssh forward not started"
        return forward.state()

    def _ensure_forward(self) -> SshForward:
        with self._lock:
            forward = self._forward
            if forward is None:
                forward = self._forwards.acquire(self._forward_key, self.host.name, self._make)
                self._forward = forward
        forward.ensure(min(self.timeout, DEFAULT_CONNECT_TIMEOUT))
        return forward

    def _make(self, files: ForwardFiles, spawner: Spawner) -> SshForward:
        return SshForward(
            self.host.name, self.host.endpoint, files, settings=self.host.ssh,
            options=self._ssh_options, ssh=self._ssh, spawner=spawner,
        )  # fmt: skip

    def _client_locked(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = self._build()
            except docker.errors.DockerException as exc:
                raise HostUnavailable(f"{self.host.url}: {exc}") from exc
        return self._client

    def _build(self) -> docker.DockerClient:
        url, tls = self.host.url, None
        if self._is_ssh:
            assert self._forward is not None  # client() started it
            url = f"unix://{self._forward.local_socket}"
        elif self.host.endpoint.scheme == "tcp" and self.host.tls is not None:
            cfg = self.host.tls
            cert = (cfg.client_cert, cfg.client_key) if cfg.client_cert and cfg.client_key else None
            tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=cfg.ca_cert, verify=cfg.verify)
        client = docker.DockerClient(
            base_url=url, version=self._api_version, timeout=self.timeout, tls=tls or False
        )
        # Otherwise requests swaps our CA for REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
        # (TLS hosts) and sends tcp:// traffic through any http_proxy.
        client.api.trust_env = False
        return client

    def connect(self) -> DaemonInfo:
        """Make sure the host answers; its version. ``HostUnavailable`` with a reason if not."""
        api = self.client.api  # starts the ssh forward; HostUnavailable says why it could not
        with self._lock:
            try:
                info = api.version(api_version=False)
                wanted = negotiate_api_version(
                    str(info.get("ApiVersion", PINNED_API_VERSION)), info.get("MinAPIVersion")
                )
                if wanted != self._api_version:
                    # Rare (daemon older than 1.41 or newer than 1.41's end of life):
                    # rebuild with the version it speaks.
                    self._api_version = wanted
                    self._client = None
                    self._client_locked()
            except Exception as exc:
                message = describe_error(exc, self.host.url)
                forward = self._forward
                said = forward.last_message() if forward is not None else ""
                if said and not isinstance(exc, JobtuiError):
                    # ssh got through but the remote end did not: ssh says why.
                    message = f"{message}; ssh: {said}"
                raise HostUnavailable(message) from exc
            return DaemonInfo(str(info.get("Version", "?")), self._api_version)

    def ping(self, timeout: float) -> None:
        """One ``/_ping`` with its own short timeout; raises ``HostUnavailable``."""
        try:
            api = self.client.api
            # APIClient.ping() has no timeout argument; it is a requests.Session.
            response = api.get(f"{api.base_url}/_ping", timeout=timeout)
            response.raise_for_status()
        except HostUnavailable:
            raise
        except Exception as exc:
            raise HostUnavailable(describe_error(exc, self.host.url)) from exc

    def close(self) -> None:
        """Close the client's connections and let go of the SSH forward (the last user stops it)."""
        with self._lock:
            client, self._client = self._client, None
            forward, self._forward = self._forward, None
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        if forward is not None:
            self._forwards.release(self._forward_key)


class HostPool:
    """One :class:`HostConnection` per inventory host; their SSH forwards are the process's."""

    def __init__(
        self,
        hosts: Mapping[str, Host],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ssh_options: Sequence[str] = (),
        forwards: Forwards = FORWARDS,
    ) -> None:
        self._forwards = forwards
        ssh = any(h.endpoint.scheme == "ssh" for h in hosts.values())
        self._runtime_dir: Path | None = forwards.process_path() if ssh else None
        """Where the forwards' sockets, logs and pid files are kept (ssh hosts only)."""
        self._connections = {
            name: HostConnection(host, timeout=timeout, ssh_options=ssh_options, forwards=forwards)
            for name, host in hosts.items()
        }

    def __getitem__(self, name: str) -> HostConnection:
        return self._connections[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._connections)

    def __len__(self) -> int:
        return len(self._connections)

    def close(self) -> None:
        """Close every client and let go of the SSH forwards (ended when no pool uses them)."""
        for connection in self._connections.values():
            connection.close()
