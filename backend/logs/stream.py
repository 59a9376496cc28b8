"""One container's logs request through the Docker logs API (never attach).

The request is made here rather than through ``APIClient.logs()`` because
docker-py's stream drops the stdout/stderr marker of each frame, reads a TTY
container's output one byte per step, and was measured ~25% slower on a flood.
"""


from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import docker.errors
import docker.types
import requests

from jobtui.backend.docker import HostConnection, HostPool
from jobtui.backend.model import ContainerInfo

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024





@dataclass(frozen=True)
class LogTarget:
    """One container to follow and the Docker host that runs it."""

    connection: HostConnection | Any
    """The host's :class:`HostConnection`, or a ``docker.DockerClient``."""
    container_id: str
    host: str
    container: str
    """The name shown in the ``host/container`` prefix."""

    @classmethod
    def of(cls, connection: HostConnection | Any, info: ContainerInfo) -> LogTarget:
        return cls(connection, info.id, info.host, info.name)

    @property
    def label(self) -> str:
        return f"{self.host}/{self.container}"

    def client(self) -> Any:
        """The ``docker.DockerClient`` (built without network I/O for a HostConnection)."""
        connection = self.connection
        return connection.client if isinstance(connection, HostConnection) else connection

    def url(self) -> str:
        if isinstance(self.connection, HostConnection):
            return self.connection.host.url
        return str(getattr(getattr(self.connection, "api", None), "base_url", self.host))


def service_targets(
    containers: Iterable[ContainerInfo],
    service: str,
    connections: HostPool | Mapping[str, HostConnection],
) -> list[LogTarget]:
    """The running containers of ``service`` on hosts in ``connections``, by host and name."""
    hosts = set(connections)
    chosen = [c for c in containers if c.service == service and c.running and c.host in hosts]
    chosen.sort(key=lambda c: (c.host, c.name))
    return [LogTarget.of(connections[c.host], c) for c in chosen]


class LogStream(Protocol):
    """An open logs response."""

    tty: bool

    def read(self) -> bytes:
        """The next bytes, as soon as some arrive; ``b""`` at the end."""
        ...

    def close(self) -> None:
        """Cancel the stream; callable from any thread, wakes a blocked ``read``."""


Opener = Callable[[LogTarget, int | None, float | None, bool], LogStream]
"""Opens ``target``'s logs with tail, since and follow: :func:`open_docker_logs` or a fake."""


class DockerLogStream:
    """``GET /containers/{id}/logs`` as a byte stream."""

    def __init__(self, response: requests.Response, tty: bool) -> None:
        self.tty = tty
        self._response = response
        # docker-py's wrapper knows where urllib3 keeps the socket (unix, TCP, TLS);
        # shutting that down is what wakes a blocked read.
        self._cancel = docker.types.CancellableStream(iter(()), response)

    def read(self) -> bytes:
        # read1 returns whatever HTTP chunk has arrived instead of waiting for READ_SIZE.
        return self._response.raw.read1(READ_SIZE) or b""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cancel.close()
        with contextlib.suppress(Exception):
            self._response.close()  # hands the dead connection back to the pool


def open_docker_logs(
    target: LogTarget, tail: int | None, since: float | None, follow: bool
) -> DockerLogStream:
    """Open ``target``'s logs with timestamps; raises ``docker.errors.APIError`` on refusal."""
    api = target.client().api
    config = api.inspect_container(target.container_id).get("Config") or {}
    params: dict[str, str | int] = {
        "stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow),
        "tail": "all" if tail is None else max(0, tail),
    }  # fmt: skip
    if since is not None and since > 0:
        params["since"] = f"{since:.6f}"
    url = f"{api.base_url}/v{api.api_version}/containers/{quote(target.container_id, safe='')}/logs"
    # No read timeout: a followed container may stay quiet for hours; stop() cancels instead.
    response = api.get(url, params=params, stream=True, timeout=(api.timeout, None))
    try:
        response.raise_for_status()
    except requests.HTTPError as exc:
        response.close()
        docker.errors.create_api_error_from_http_exception(exc)
    return DockerLogStream(response, bool(config.get("Tty")))
