"""One Docker SDK client per host (``unix://``, ``tcp://`` with TLS, ``ssh://`` through a forward).

Building a client never touches the network (the API version is pinned), so
a down host costs nothing until :meth:`HostConnection.connect`, whose
failures are :class:`HostUnavailable` errors carrying a sentence an operator
can act on.

``ssh://`` hosts are reached through an OpenSSH unix-socket forward and a
plain ``unix://`` client on it: measured here as cancellable, fine with a
dozen concurrent streams and ~300x faster than ``use_ssh_client``; it also
honours ``~/.ssh/config``, ProxyJump and the agent.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls

from jobtui.backend.docker.errors import HostUnavailable, describe_error
from jobtui.backend.docker.ssh import SshForward
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
        runtime_dir: Path | None = None,
        ssh_options: Sequence[str] = (),
    ) -> None:
        self.host = host
        self.timeout = timeout
        self._lock = threading.Lock()
        self._client: docker.DockerClient | None = None
        self._api_version = PINNED_API_VERSION
        self._forward: SshForward | None = None
        if host.url.startswith("ssh://"):
            where = runtime_dir or Path(tempfile.gettempdir())
            self._forward = SshForward(host.url, where / f"{host.name}.sock", options=ssh_options)

    @property
    def client(self) -> docker.DockerClient:
        """The client; built on first use (no network), ``HostUnavailable`` if it cannot be."""
        with self._lock:
            return self._client_locked()

    def _client_locked(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = self._build()
            except docker.errors.DockerException as exc:
                raise HostUnavailable(f"{self.host.url}: {exc}") from exc
        return self._client

    def _build(self) -> docker.DockerClient:
        url, tls = self.host.url, None
        if self._forward is not None:
            url = f"unix://{self._forward.local_socket}"
        elif url.startswith("tcp://") and self.host.tls is not None:
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
        with self._lock:
            try:
                if self._forward is not None and not self._forward.alive:
                    self._forward.start(self.timeout)
                info = self._client_locked().api.version(api_version=False)
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
                said = self._forward.last_message() if self._forward is not None else ""
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
        """Close the client's connections and stop the SSH forward."""
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            if self._forward is not None:
                self._forward.stop()


class HostPool:
    """One :class:`HostConnection` per inventory host, owning their SSH forwards."""

    def __init__(
        self,
        hosts: Mapping[str, Host],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ssh_options: Sequence[str] = (),
    ) -> None:
        self._runtime_dir: Path | None = None
        if any(h.url.startswith("ssh://") for h in hosts.values()):
            # Private (0700) and short: unix socket paths are limited to ~100 bytes.
            self._runtime_dir = Path(tempfile.mkdtemp(prefix="jobtui-ssh-"))
        self._connections = {
            name: HostConnection(
                host, timeout=timeout, runtime_dir=self._runtime_dir, ssh_options=ssh_options
            )
            for name, host in hosts.items()
        }

    def __getitem__(self, name: str) -> HostConnection:
        return self._connections[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._connections)

    def __len__(self) -> int:
        return len(self._connections)

    def close(self) -> None:
        """Close every client and stop every SSH forward this pool started."""
        for connection in self._connections.values():
            connection.close()
        if self._runtime_dir is not None:
            with contextlib.suppress(OSError):
                for leftover in self._runtime_dir.iterdir():
                    leftover.unlink()
                os.rmdir(self._runtime_dir)
