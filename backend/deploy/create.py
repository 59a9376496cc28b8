"""What a rollout asks Docker for: container names, create arguments, pull progress.

Pure (no client): :func:`create_args` turns a desired :class:`ContainerSpec`
into the arguments of docker-py's ``APIClient.create_container`` and
``create_host_config``, tested by equality; the executor only passes them on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobtui.backend.docker import ContainerSpec
from jobtui.backend.errors import JobtuiError
from jobtui.backend.model import LABEL_ROLLOUT, LABEL_SERVICE, LABEL_SPEC_HASH, LABEL_VERSION
from jobtui.config.models import Healthcheck, RegistryConfig, Service, split_image

NANOS = 1_000_000_000


def container_name(service: str, now: float, taken: Collection[str]) -> str:
    """``<service>_<unix-ts>`` (the seed's naming), unique among ``taken``.

    When the second is taken (two creations within one second) the number
    moves on to the next free one, so every name keeps the seed's pattern
    that pre-jobtui containers are recognised by.
    """
    stamp = int(now)
    while f"{service}_{stamp}" in taken:
        stamp += 1
    return f"{service}_{stamp}"


def grace_seconds(service: Service) -> int:
    """Whole seconds Docker waits after SIGTERM before SIGKILL (``stop_grace_period``)."""
    return max(round(service.stop_grace_period), 0)


def rollout_labels(
    spec: ContainerSpec, service: str, version: str, digest: str, op_id: str
) -> dict[str, str]:
    """The user's labels plus jobtui's own, which say what the container is."""
    labels = dict(spec.labels)
    labels.update(
        {
            LABEL_SERVICE: service,
            LABEL_VERSION: version,
            LABEL_SPEC_HASH: digest,
            LABEL_ROLLOUT: op_id,
        }
    )
    return labels


def docker_healthcheck(check: Healthcheck | None) -> dict[str, Any] | None:
    """The inventory's healthcheck as Docker's create parameter; ``None``: keep the image's.

    ``disable`` turns the image's check off (``NONE``), so the TCP or running
    gate applies instead. A check without ``test`` changes only the timing of
    the image's own test (Docker inherits an empty test from the image).
    """
    if check is None:
        return None
    if check.disable:
        return {"test": ["NONE"]}
    found: dict[str, Any] = {
        "interval": int(check.interval * NANOS),
        "timeout": int(check.timeout * NANOS),
        "retries": check.retries,
        "start_period": int(check.start_period * NANOS),
    }
    if check.test:
        found["test"] = list(check.test)
    return found


@dataclass(frozen=True)
class CreateArgs:
    """Keyword arguments for ``create_container`` and for ``create_host_config``."""

    container: dict[str, Any] = field(default_factory=dict)
    host_config: dict[str, Any] = field(default_factory=dict)


def create_args(
    spec: ContainerSpec,
    service: Service,
    *,
    name: str,
    labels: Mapping[str, str],
) -> CreateArgs:
    """Everything Docker needs to create ``name`` from ``spec``.

    ``ulimits`` and ``log_config`` are plain dicts here; the executor turns
    them into docker-py's types (kept out so this stays comparable by equality).
    """
    container: dict[str, Any] = {
        "image": spec.image,
        "name": name,
        "environment": [f"{k}={v}" for k, v in spec.env],
        "labels": dict(labels),
        "stop_timeout": grace_seconds(service),
        # docker-py would otherwise copy proxy settings from ~/.docker/config.json
        # into the environment: drift nobody asked for.
        "use_config_proxy": False,
        "detach": True,
    }
    if spec.entrypoint is not None:
        container["entrypoint"] = list(spec.entrypoint)
    if spec.cmd is not None:
        container["command"] = list(spec.cmd)
    check = docker_healthcheck(service.healthcheck)
    if check is not None:
        container["healthcheck"] = check
    host: dict[str, Any] = {"network_mode": spec.network_mode}
    if spec.volumes:
        host["binds"] = [
            f"{v.host_path}:{v.container_path}:{'ro' if v.read_only else 'rw'}"
            for v in spec.volumes
        ]
    if spec.port is not None:
        key = f"{spec.port.container_port}/{spec.port.protocol}"
        container["ports"] = [(spec.port.container_port, spec.port.protocol)]
        if spec.port.host_ip:
            host["port_bindings"] = {key: (spec.port.host_ip, spec.port.host_port)}
        else:
            host["port_bindings"] = {key: spec.port.host_port}
    if spec.ulimits:
        host["ulimits"] = [{"name": u.name, "soft": u.soft, "hard": u.hard} for u in spec.ulimits]
    if spec.log_config is not None:
        host["log_config"] = {
            "type": spec.log_config.type,
            "config": dict(spec.log_config.options),
        }
    policy = restart_policy(spec.restart)
    if policy is not None:
        host["restart_policy"] = policy
    if spec.mem_limit:
        host["mem_limit"] = spec.mem_limit
    if spec.cpus:
        host["nano_cpus"] = round(spec.cpus * NANOS)
    return CreateArgs(container, host)


def restart_policy(restart: str) -> dict[str, Any] | None:
    """Docker's RestartPolicy for ``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``."""
    name, _, count = restart.partition(":")
    if not name or name == "no":
        return None
    policy: dict[str, Any] = {"Name": name}
    if name == "on-failure" and count.isdigit():
        policy["MaximumRetryCount"] = int(count)
    return policy


def pull_auth(
    registry: RegistryConfig | None, password: str | None, image: str | None = None
) -> dict[str, str] | None:
    """Credentials for a pull from the configured registry, when it has a login.

    Docker's ``auth_config``: the daemon logs in with them for this one pull
    (nothing is stored on the host). Given ``image``, only when it lives in
    that registry: the login is never sent to another one.
    """
    if registry is None or not registry.username or not password:
        return None
    if image is not None:
        first, slash, _ = split_image(image)[0].partition("/")
        names_a_registry = slash and ("." in first or ":" in first or first == "localhost")
        if names_a_registry and first.lower() != registry.host.lower():
            return None
    return {"username": registry.username, "password": password, "serveraddress": registry.host}


def explain_pull_error(text: str) -> str:
    """A daemon's pull error, with what to check when it is the registry's login."""
    if "unauthorized" in text or "authentication required" in text or "denied" in text:
        return (
            f"{text} (the registry refused the pull: check registry.username and the "
            "password in the variable password_env names)"
        )
    return text


class PullProgress:
    """Counts layers in Docker's pull stream and says how far it got."""

    _DONE = ("Pull complete", "Already exists")

    def __init__(self) -> None:
        self.layers: set[str] = set()
        self.done: set[str] = set()
        self.final = ""

    def feed(self, event: Mapping[str, Any]) -> str | None:
        """Take one stream event; a progress message when the count changed, else ``None``.

        Raises ``PullFailed`` for an ``error`` event."""
        if event.get("error"):
            raise PullFailed(explain_pull_error(str(event.get("error"))))
        status = str(event.get("status") or "")
        layer = str(event.get("id") or "")
        if status.startswith(("Status:", "Digest:")) or not layer:
            if status.startswith("Status:"):
                self.final = status.removeprefix("Status:").strip()
            return None
        before = (len(self.layers), len(self.done))
        if status in ("Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum",
                      "Download complete", "Extracting", *self._DONE):  # fmt: skip
            self.layers.add(layer)
        if status in self._DONE:
            self.done.add(layer)
        if (len(self.layers), len(self.done)) == before:
            return None
        return self.message()

    def message(self) -> str:
        if self.final:
            return self.final
        return f"{len(self.done)}/{len(self.layers)} layers"


class PullFailed(JobtuiError):
    """Docker reported an error in the pull stream."""
