"""Typed, frozen models of a jobtui inventory.

The field names follow the seed's service list (``name``, ``image``,
``run_on_host``, ``port``, ``envs``, ``volumes``, ``ulimits``, ``log_config``,
``entrypoint``, ``cmd``, ``network_mode``); everything beyond the seed reuses
Docker Compose's names so operators meet nothing new.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from jobtui.config.hosturl import HostURL, parse_host_url

DEFAULT_HOST_URL_PATTERN = "ssh://{host}"
"""How a bare-list inventory reaches ``run_on_host``: the host's name fills ``{host}``."""

DEFAULT_ETCD_PREFIX = "/jobtui"


def _frozen_map() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class EnvVar:
    """One environment variable of a service (the seed's ``{key, value}`` pair)."""

    key: str
    value: str
    """The value; with ``value_env``, what that variable of the bastion held at load time."""
    secret: bool = False
    """Written ``secret: true``: masked wherever jobtui shows it, whatever its name."""
    value_env: str | None = None
    """The bastion's environment variable the value was read from (never the file)."""


@dataclass(frozen=True)
class Volume:
    """A bind mount: ``host_path`` on the host appears at ``container_path``."""

    container_path: str
    host_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Ulimit:
    """A resource limit such as ``nofile``, with soft and hard values."""

    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class LogConfig:
    """Docker logging driver and its options (``json-file``, ``max-size`` …)."""

    type: str
    config: Mapping[str, str] = field(default_factory=_frozen_map)


@dataclass(frozen=True)
class PortSpec:
    """A port in Docker's short syntax: ``[ip:][host_port:]container_port[/proto]``.

    With host networking only ``container_port`` matters: it is where the
    service listens and where the TCP health check connects.
    """

    container_port: int
    host_port: int | None = None
    host_ip: str | None = None
    protocol: str = "tcp"

    def __str__(self) -> str:
        text = str(self.container_port)
        if self.host_port is not None:
            text = f"{self.host_port}:{text}"
        if self.host_ip:
            text = f"{self.host_ip}:{text}"
        if self.protocol != "tcp":
            text = f"{text}/{self.protocol}"
        return text


@dataclass(frozen=True)
class Healthcheck:
    """Compose's healthcheck: ``test`` and durations in seconds."""

    test: tuple[str, ...] = ()
    interval: float = 5.0
    timeout: float = 3.0
    retries: int = 3
    start_period: float = 0.0
    disable: bool = False


@dataclass(frozen=True)
class UpdateConfig:
    """Compose's ``update_config``: how a rollout proceeds across instances."""

    parallelism: int = 1
    """Hosts per batch; the first batch is the canary."""
    parallelism_percent: float | None = None
    """Batch size as a share of the service's hosts (``parallelism: 25%``); wins when set."""
    delay: float = 0.0
    order: str = "start-first"
    failure_action: str = "rollback"
    monitor: float = 5.0

    def batch_size(self, hosts: int) -> int:
        """How many of ``hosts`` roll at once (at least one)."""
        if self.parallelism_percent is not None:
            return max(1, math.ceil(hosts * self.parallelism_percent / 100))
        return max(1, self.parallelism)


@dataclass(frozen=True)
class Service:
    """One service of the inventory, deployed to each host in ``run_on_host``."""

    name: str
    image: str
    run_on_host: tuple[str, ...]
    # Where it is written, for messages; not what it is (a reformatted file is the same
    # service, and the reload notice must not call it changed).
    line: int = field(default=0, compare=False)
    port: PortSpec | None = None
    envs: tuple[EnvVar, ...] = ()
    volumes: tuple[Volume, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    log_config: LogConfig | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    network_mode: str | None = None
    healthcheck: Healthcheck | None = None
    restart: str | None = None
    stop_grace_period: float = 10.0
    mem_limit: int | None = None
    cpus: float | None = None
    labels: Mapping[str, str] = field(default_factory=_frozen_map)
    update_config: UpdateConfig = field(default_factory=UpdateConfig)

    @property
    def repository(self) -> str:
        """The image without its tag or digest."""
        return split_image(self.image)[0]

    @property
    def tag(self) -> str:
        """The image's tag (``latest`` when none is written)."""
        return split_image(self.image)[1]


@dataclass(frozen=True)
class TlsConfig:
    """Client certificate files for a ``tcp://`` Docker host."""

    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class SshSettings:
    """How ssh reaches ``ssh://`` hosts, beyond ``~/.ssh/config`` (inventory-wide or per host)."""

    identity_file: str | None = None
    """``ssh -i``: the private key to offer."""
    known_hosts_file: str | None = None
    """``UserKnownHostsFile``: where the hosts' keys are checked."""
    jump_host: str | None = None
    """``ssh -J``: ``[user@]host[:port]`` hops, separated by commas."""
    options: tuple[str, ...] = ()
    """More ``ssh -o Name=value`` options, in the order given."""

    def merged_over(self, base: SshSettings | None) -> SshSettings:
        """These settings with ``base``'s filling what they leave unset.

        Options of both apply, these first: ssh keeps the first value it is given.
        """
        if base is None:
            return self
        return SshSettings(
            self.identity_file or base.identity_file,
            self.known_hosts_file or base.known_hosts_file,
            self.jump_host or base.jump_host,
            self.options + tuple(o for o in base.options if o not in self.options),
        )


@dataclass(frozen=True)
class Host:
    """A Docker daemon: ``unix://``, ``tcp://`` (optionally TLS) or ``ssh://``."""

    name: str
    url: str
    tls: TlsConfig | None = None
    line: int = field(default=0, compare=False)  # for messages, as Service.line
    ssh: SshSettings | None = None
    """For ``ssh://`` hosts: the effective ssh settings (the host's over the inventory's)."""
    parsed: HostURL | None = field(default=None, compare=False, repr=False)
    """The parsed ``url`` (the loader passes it; otherwise parsed on construction)."""

    def __post_init__(self) -> None:
        if self.parsed is None:
            # A Host never exists with a URL that the one parser refuses.
            object.__setattr__(self, "parsed", parse_host_url(self.url))

    @property
    def endpoint(self) -> HostURL:
        """The URL's parts: scheme, user, host, port and path."""
        return self.parsed or parse_host_url(self.url)

    @property
    def address(self) -> str:
        """Where this host's services answer: its DNS name or IP, 127.0.0.1 for unix://."""
        return self.endpoint.address


@dataclass(frozen=True)
class RegistryConfig:
    """A Docker registry speaking the HTTP API v2."""

    url: str
    username: str | None = None
    password_env: str | None = None
    ca_cert: str | None = None
    verify: bool = True

    @property
    def host(self) -> str:
        """``host[:port]`` as it appears in image references."""
        return self.url.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True)
class EtcdConfig:
    """etcd v3 endpoints for discovery, locks and the deploy journal."""

    endpoints: tuple[str, ...]
    prefix: str = DEFAULT_ETCD_PREFIX
    username: str | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class PrometheusConfig:
    """A Prometheus server that scrapes cAdvisor."""

    url: str


@dataclass(frozen=True)
class Inventory:
    """A whole validated inventory file."""

    source: Path
    services: tuple[Service, ...]
    hosts: Mapping[str, Host]
    registry: RegistryConfig | None = None
    etcd: EtcdConfig | None = None
    prometheus: PrometheusConfig | None = None
    bare_list: bool = False
    """True when the file is the seed's bare list of services."""
    ssh: SshSettings | None = None
    """The inventory-wide ``ssh:`` settings (each ssh host's ``ssh`` already includes them)."""
    read_only: bool = False
    """No mutating action unless the operator passes ``--read-write`` explicitly."""

    def service(self, name: str) -> Service:
        """The service called ``name``; ``KeyError`` when there is none."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


def split_image(image: str) -> tuple[str, str]:
    """Split ``repo[:tag][@digest]`` into repository and tag (``latest`` by default)."""
    ref = image.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "latest"
