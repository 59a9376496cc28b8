"""A container's configuration as the inventory decides it, read from either side.

:func:`desired_spec` reads it from an inventory :class:`Service`,
:func:`observed_spec` from Docker's ``GET /containers/{id}/json``. Both give the
same normalized, frozen :class:`ContainerSpec`, so drift is a field-by-field
comparison (:func:`diff_specs`) and a short keyed hash (:func:`spec_hash`) that
the rollout stores in the ``jobtui.spec-hash`` label.

Secret env values (:mod:`jobtui.config.secrets` says which) never leave here
in the clear: diffs name the variable and say ``changed``, and the label is an
HMAC under a key that only the bastion holds, so nobody who can read labels
(``docker ps``, cAdvisor's ``container_label_*`` series in Prometheus) can
test password guesses against it.

Docker merges the image's env, labels, entrypoint and cmd into every
container and fills in the daemon's logging driver, so an inspected container
cannot tell an inherited value from one it was given. Comparisons therefore
read both sides relative to those :class:`Defaults`.

Pure: no Docker client, no I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, TypeVar

from jobtui.config.models import PortSpec, Service, Ulimit, Volume, split_image
from jobtui.config.secrets import MASK, is_secret_name, looks_secret, secret_keys

Pairs = tuple[tuple[str, str], ...]
"""Name/value pairs sorted by name: env vars, labels, log options."""

DEFAULT_NETWORK_MODE = "bridge"
DEFAULT_RESTART = "no"
DEFAULT_LOG_DRIVER = "json-file"
RESERVED_LABEL_PREFIX = "jobtui."
"""Labels jobtui sets itself; never part of a spec."""
SPEC_HASH_LENGTH = 16
# Part of the hashed text: changing how a spec is hashed must be deliberate,
# since every deployed container would then read as changed.
_HASH_FORMAT = 1
_KEYED_HASH_FORMAT = 2

UNSET = "(unset)"

_T = TypeVar("_T")


def _pairs(items: Iterable[tuple[str, str]]) -> Pairs:
    return tuple(sorted(dict(items).items()))


@dataclass(frozen=True)
class LogSpec:
    """A logging driver and its options."""

    type: str
    options: Pairs = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _pairs(self.options))

    def __str__(self) -> str:
        return " ".join([self.type, *(f"{k}={v}" for k, v in self.options)])


@dataclass(frozen=True)
class Defaults:
    """What a container gets without asking: its image's settings, the daemon's log driver."""

    env: Pairs = ()
    labels: Pairs = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    log_driver: str = DEFAULT_LOG_DRIVER

    def __post_init__(self) -> None:
        object.__setattr__(self, "env", _pairs(self.env))
        object.__setattr__(self, "labels", _pairs(self.labels))


NO_DEFAULTS = Defaults()
"""An image that sets nothing, on a daemon logging to json-file."""


@dataclass(frozen=True)
class ContainerSpec:
    """Everything about a container that the inventory decides, normalized.

    Collections are sorted on construction, so equal configurations compare
    (and hash) equal whatever order they were written in.
    """

    image: str
    """Full reference: ``repo:tag`` (``:latest`` when none is written) or with a digest."""
    env: Pairs = ()
    port: PortSpec | None = None
    """The published port; always ``None`` with host networking, where Docker publishes
    nothing and the port is only where the service listens (no container setting)."""
    volumes: tuple[Volume, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    log_config: LogSpec | None = None
    """``None``: the daemon's default driver."""
    entrypoint: tuple[str, ...] | None = None
    """``None``: the image's entrypoint."""
    cmd: tuple[str, ...] | None = None
    """``None``: the image's cmd."""
    network_mode: str = DEFAULT_NETWORK_MODE
    restart: str = DEFAULT_RESTART
    """``no``, ``always``, ``unless-stopped``, ``on-failure`` or ``on-failure:N``."""
    mem_limit: int | None = None
    """Bytes; ``None``: unlimited."""
    cpus: float | None = None
    """``None``: unlimited."""
    labels: Pairs = ()
    """User labels only (``jobtui.*`` are jobtui's own)."""
    defaults: Defaults | None = dataclasses.field(default=None, compare=False, repr=False)
    """On observed specs, what the values were read against; see :func:`diff_specs`.
    Not part of equality or of the hash."""
    secret_env: frozenset[str] = dataclasses.field(default=frozenset(), compare=False, repr=False)
    """Names of env vars whose values are secret (never shown; see ``config.secrets``).
    Not part of equality or of the hash."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "env", _pairs(self.env))
        object.__setattr__(self, "labels", _pairs(self.labels))
        volumes = sorted(self.volumes, key=lambda v: (v.container_path, v.host_path, v.read_only))
        object.__setattr__(self, "volumes", tuple(volumes))
        ulimits = sorted(self.ulimits, key=lambda u: (u.name, u.soft, u.hard))
        object.__setattr__(self, "ulimits", tuple(ulimits))


@dataclass(frozen=True)
class FieldDiff:
    """One difference, named as the inventory names it, values rendered for people."""

    field: str
    desired: str
    actual: str
    secret: bool = False
    """A secret value: ``desired`` and ``actual`` hold the mask (or ``(unset)``), never it."""

    def __str__(self) -> str:
        if self.secret:
            if self.actual == UNSET:
                return f"{self.field}: added"
            if self.desired == UNSET:
                return f"{self.field}: removed"
            return f"{self.field}: changed"
        return f"{self.field}: {self.actual} -> {self.desired}"


# ---------------------------------------------------------------- reading


def desired_spec(service: Service) -> ContainerSpec:
    """The container ``service`` asks for."""
    network_mode = _network_mode(service.network_mode)
    log = service.log_config
    return ContainerSpec(
        image=full_image_ref(service.image),
        env=tuple((e.key, e.value) for e in service.envs),
        port=_port_in(network_mode, service.port),
        volumes=service.volumes,
        ulimits=service.ulimits,
        log_config=LogSpec(log.type, tuple(log.config.items())) if log else None,
        entrypoint=service.entrypoint,
        cmd=service.cmd,
        network_mode=network_mode,
        restart=_restart(service.restart),
        mem_limit=service.mem_limit or None,
        cpus=_cpus(round(service.cpus * 1e9) if service.cpus else 0),
        labels=_user_labels(service.labels),
        secret_env=secret_keys(service),
    )


def image_defaults(
    image_inspect: Mapping[str, Any], *, log_driver: str = DEFAULT_LOG_DRIVER
) -> Defaults:
    """Defaults from Docker's ``GET /images/{id}/json`` and the daemon's ``LoggingDriver``."""
    config = image_inspect.get("Config") or {}
    return Defaults(
        env=_env_pairs(config.get("Env")),
        labels=tuple((config.get("Labels") or {}).items()),
        entrypoint=_words(config.get("Entrypoint")),
        cmd=_words(config.get("Cmd")),
        log_driver=log_driver,
    )


def observed_spec(inspect: Mapping[str, Any], defaults: Defaults | None = None) -> ContainerSpec:
    """The spec of an existing container, from Docker's ``GET /containers/{id}/json``.

    ``defaults`` are those of the image the container runs (its ``Image`` id,
    not its tag, which may have moved since) and of its daemon; values equal
    to them read as "not set". Without them nothing of the image is known and
    e.g. the image's ``PATH`` shows up as a container env var.
    """
    base = defaults or NO_DEFAULTS
    config = inspect.get("Config") or {}
    host = inspect.get("HostConfig") or {}
    network_mode = _network_mode(host.get("NetworkMode"))
    policy = host.get("RestartPolicy") or {}
    retries = policy.get("MaximumRetryCount") or 0
    restart = f"{policy.get('Name') or ''}:{retries}" if retries else policy.get("Name")
    log = host.get("LogConfig") or {}
    env = _env_pairs(config.get("Env"))
    spec = ContainerSpec(
        image=full_image_ref(config.get("Image") or ""),
        env=env,
        port=_port_in(network_mode, _observed_port(host)),
        volumes=_observed_volumes(inspect),
        ulimits=tuple(
            Ulimit(u["Name"], int(u["Soft"]), int(u["Hard"])) for u in host.get("Ulimits") or ()
        ),
        log_config=(
            LogSpec(log["Type"], tuple((log.get("Config") or {}).items()))
            if log.get("Type")
            else None
        ),
        entrypoint=_words(config.get("Entrypoint")),
        cmd=_words(config.get("Cmd")),
        network_mode=network_mode,
        restart=_restart(restart),
        mem_limit=host.get("Memory") or None,
        cpus=_cpus(host.get("NanoCpus") or 0),
        labels=_user_labels(config.get("Labels") or {}),
        secret_env=frozenset(k for k, v in env if is_secret_name(k) or looks_secret(v)),
    )
    return without_defaults(spec, base)


def without_defaults(spec: ContainerSpec, defaults: Defaults | None) -> ContainerSpec:
    """``spec`` with every value that merely restates ``defaults`` read as "not set".

    Applied to both sides before comparing, so an inventory that spells out
    the image's own entrypoint is not drift, nor is the image's ``PATH``.
    """
    if defaults is None:
        return spec
    env, labels = dict(defaults.env), dict(defaults.labels)
    log = spec.log_config
    if log and log.type == defaults.log_driver and not log.options:
        log = None
    return replace(
        spec,
        env=tuple((k, v) for k, v in spec.env if env.get(k) != v),
        labels=tuple((k, v) for k, v in spec.labels if labels.get(k) != v),
        log_config=log,
        entrypoint=None if spec.entrypoint == defaults.entrypoint else spec.entrypoint,
        cmd=None if spec.cmd == defaults.cmd else spec.cmd,
        defaults=defaults,
    )


def full_image_ref(image: str) -> str:
    """``image`` with ``:latest`` added when it names neither tag nor digest."""
    if "@" in image or not image:
        return image
    repository, tag = split_image(image)
    return f"{repository}:{tag}"


def _network_mode(mode: str | None) -> str:
    # Docker records "default" for "not given", which is the bridge network on Linux.
    return DEFAULT_NETWORK_MODE if not mode or mode == "default" else mode


def _restart(policy: str | None) -> str:
    name, _, count = (policy or DEFAULT_RESTART).partition(":")
    if name == "on-failure" and count.isdigit() and int(count) > 0:
        return f"on-failure:{int(count)}"
    return name or DEFAULT_RESTART


def _cpus(nano_cpus: int) -> float | None:
    # Through Docker's NanoCpus on both sides so that 0.1 compares equal to 0.1.
    return nano_cpus / 1e9 if nano_cpus else None


def _user_labels(labels: Mapping[str, str]) -> Pairs:
    return tuple((k, v) for k, v in labels.items() if not k.startswith(RESERVED_LABEL_PREFIX))


def _port_in(network_mode: str, port: PortSpec | None) -> PortSpec | None:
    # Without a network namespace of its own a container publishes nothing
    # (Docker discards or refuses the ports): the port is then only where the
    # service listens, which changes nothing in the container. Recreating it
    # for a new port would be pointless, so it is no part of the spec.
    if network_mode in ("host", "none") or network_mode.startswith("container:"):
        return None
    return port


def _observed_port(host: Mapping[str, Any]) -> PortSpec | None:
    """The published port (jobtui publishes at most one)."""
    bindings: Mapping[str, Any] = host.get("PortBindings") or {}
    for key in sorted(bindings, key=lambda k: (int(k.partition("/")[0]), k)):
        number, _, protocol = key.partition("/")
        binding = (bindings[key] or [{}])[0]
        host_port = int(binding.get("HostPort") or 0) or None
        return PortSpec(int(number), host_port, binding.get("HostIp") or None, protocol or "tcp")
    return None


def _observed_volumes(inspect: Mapping[str, Any]) -> tuple[Volume, ...]:
    """Bind mounts; image VOLUMEs and named volumes are not the inventory's business."""
    found: dict[str, Volume] = {}
    for mount in inspect.get("Mounts") or ():
        if mount.get("Type") == "bind":
            target = mount["Destination"]
            found[target] = Volume(target, mount["Source"], not mount.get("RW", True))
    # Binds is what was asked for; it covers inspect output that lacks Mounts.
    for bind in (inspect.get("HostConfig") or {}).get("Binds") or ():
        parts = bind.split(":")
        if len(parts) >= 2:
            options = parts[2].split(",") if len(parts) > 2 else []
            found.setdefault(parts[1], Volume(parts[1], parts[0], "ro" in options))
    return tuple(found.values())


def _env_pairs(env: Iterable[str] | None) -> Pairs:
    return _pairs((key, value) for key, _, value in (item.partition("=") for item in env or ()))


def _words(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    # Docker's StrSlice accepts a bare string as a one-word list.
    return (value,) if isinstance(value, str) else tuple(value)


# ---------------------------------------------------------------- hashing


def spec_hash(spec: ContainerSpec, key: bytes | None = None) -> str:
    """A short, stable digest of a desired spec, for the ``jobtui.spec-hash`` label.

    With ``key`` (the bastion's, see ``backend.deploy.spec_key``) an HMAC-SHA256
    over the whole spec: without the key nobody can tell which spec, or which
    password, gave a label. Without a key the secret values are left out
    (their names stay in), so an unkeyed label never depends on a secret.
    """
    if key:
        payload = {"format": _KEYED_HASH_FORMAT, "spec": _plain(spec)}
        digest = hmac.new(key, _canonical(payload), hashlib.sha256)
        return digest.hexdigest()[:SPEC_HASH_LENGTH]
    hidden = tuple((k, "" if k in spec.secret_env else v) for k, v in spec.env)
    payload = {"format": _HASH_FORMAT, "spec": _plain(replace(spec, env=hidden))}
    return hashlib.sha256(_canonical(payload)).hexdigest()[:SPEC_HASH_LENGTH]


def _canonical(payload: Any) -> bytes:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.compare}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


# ---------------------------------------------------------------- diffing


def diff_specs(desired: ContainerSpec, actual: ContainerSpec) -> tuple[FieldDiff, ...]:
    """What would change turning ``actual`` into ``desired``, in inventory order.

    Both are read against the defaults ``actual`` was observed with, so a
    value the image already provides is no difference. Secret env values (by
    the rule of ``config.secrets``, or known secret on either side) are never
    shown: their diff says only that the value changed.
    """
    want = without_defaults(desired, actual.defaults)
    have = without_defaults(actual, actual.defaults)
    diffs: list[FieldDiff] = []
    if want.image != have.image:
        diffs.append(FieldDiff("image", want.image, have.image))
    secret = want.secret_env | have.secret_env
    diffs += [_masked(d, secret) for d in _keyed("envs", dict(want.env), dict(have.env), str)]
    diffs += _scalar("port", want.port, have.port, str, "(none)")
    diffs += _keyed(
        "volumes",
        {v.container_path: v for v in want.volumes},
        {v.container_path: v for v in have.volumes},
        lambda v: v.host_path + (" (read-only)" if v.read_only else ""),
    )
    diffs += _keyed(
        "ulimits",
        {u.name: u for u in want.ulimits},
        {u.name: u for u in have.ulimits},
        lambda u: f"{u.soft}:{u.hard}",
    )
    diffs += _scalar("log_config", want.log_config, have.log_config, str, "(daemon default)")
    diffs += _scalar("entrypoint", want.entrypoint, have.entrypoint, shlex.join, "(image default)")
    diffs += _scalar("cmd", want.cmd, have.cmd, shlex.join, "(image default)")
    diffs += _scalar("network_mode", want.network_mode, have.network_mode, str, "")
    diffs += _scalar("restart", want.restart, have.restart, str, "")
    diffs += _scalar("mem_limit", want.mem_limit, have.mem_limit, _show_size, "(unlimited)")
    diffs += _scalar("cpus", want.cpus, have.cpus, lambda c: f"{c:g}", "(unlimited)")
    diffs += _keyed("labels", dict(want.labels), dict(have.labels), str)
    return tuple(diffs)


def _scalar(
    name: str, want: _T | None, have: _T | None, show: Callable[[_T], str], missing: str
) -> list[FieldDiff]:
    if want == have:
        return []
    return [FieldDiff(name, _text(want, show, missing), _text(have, show, missing))]


def _keyed(
    name: str, want: Mapping[str, _T], have: Mapping[str, _T], show: Callable[[_T], str]
) -> list[FieldDiff]:
    return [
        FieldDiff(f"{name}.{key}", _text(w, show, UNSET), _text(h, show, UNSET))
        for key in sorted(want.keys() | have.keys())
        if (w := want.get(key)) != (h := have.get(key))
    ]


def _text(value: _T | None, show: Callable[[_T], str], missing: str) -> str:
    return missing if value is None else show(value)


def _masked(diff: FieldDiff, secret: frozenset[str]) -> FieldDiff:
    name = diff.field.partition(".")[2]
    values = (diff.desired, diff.actual)
    if name not in secret and not is_secret_name(name) and not any(map(looks_secret, values)):
        return diff
    desired, actual = (MASK if v != UNSET else v for v in values)
    return FieldDiff(diff.field, desired, actual, secret=True)


def _show_size(size: int) -> str:
    for unit, scale in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)
