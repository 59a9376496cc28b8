"""A service's inventory settings as labelled text, with secrets masked.

Kept free of Textual; the masking rule itself is ``config.secrets``'s.
"""

from __future__ import annotations

from jobtui.config.models import Healthcheck, Service, UpdateConfig
from jobtui.config.secrets import MASK, is_secret, masked_value

__all__ = ["MASK", "is_secret", "service_fields"]


def _words(parts: tuple[str, ...]) -> str:
    # Show argv as a JSON-ish list so spaces inside an argument stay visible.
    return "[" + ", ".join(f'"{part}"' for part in parts) + "]"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _bytes(value: int) -> str:
    for unit, size in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def _healthcheck(check: Healthcheck) -> str:
    if check.disable:
        return "disabled"
    timing = (
        f"every {_seconds(check.interval)}, timeout {_seconds(check.timeout)},"
        f" {check.retries} retries"
    )
    if check.start_period:
        timing += f", start period {_seconds(check.start_period)}"
    return "\n".join([_words(check.test), timing] if check.test else [timing])


def _update_config(update: UpdateConfig) -> str:
    return (
        f"parallelism {update.parallelism} · delay {_seconds(update.delay)}"
        f" · order {update.order}\non failure {update.failure_action}"
        f" · monitor {_seconds(update.monitor)}"
    )


def service_fields(service: Service) -> list[tuple[str, str]]:
    """The service's set fields in inventory order, as ``(field, text)`` pairs.

    Unset optional fields are left out; fields that equal their defaults are
    left out too, except the always-relevant ``stop_grace_period``.
    """
    pairs: list[tuple[str, str]] = [
        ("image", service.image),
        ("hosts", ", ".join(service.run_on_host)),
    ]
    if service.port is not None:
        pairs.append(("port", str(service.port)))
    if service.network_mode:
        pairs.append(("network_mode", service.network_mode))
    if service.envs:
        lines = [f"{env.key}={masked_value(env.key, env.value, env)}" for env in service.envs]
        pairs.append(("envs", "\n".join(lines)))
    if service.volumes:
        lines = [
            f"{vol.host_path} → {vol.container_path}" + (" (ro)" if vol.read_only else "")
            for vol in service.volumes
        ]
        pairs.append(("volumes", "\n".join(lines)))
    if service.ulimits:
        lines = [f"{limit.name} {limit.soft}:{limit.hard}" for limit in service.ulimits]
        pairs.append(("ulimits", "\n".join(lines)))
    if service.log_config is not None:
        options = " ".join(f"{k}={v}" for k, v in service.log_config.config.items())
        pairs.append(("log_config", f"{service.log_config.type} {options}".strip()))
    if service.entrypoint is not None:
        pairs.append(("entrypoint", _words(service.entrypoint)))
    if service.cmd is not None:
        pairs.append(("cmd", _words(service.cmd)))
    if service.healthcheck is not None:
        pairs.append(("healthcheck", _healthcheck(service.healthcheck)))
    if service.restart:
        pairs.append(("restart", service.restart))
    pairs.append(("stop_grace_period", _seconds(service.stop_grace_period)))
    if service.mem_limit is not None:
        pairs.append(("mem_limit", _bytes(service.mem_limit)))
    if service.cpus is not None:
        pairs.append(("cpus", f"{service.cpus:g}"))
    if service.labels:
        pairs.append(("labels", "\n".join(f"{k}={v}" for k, v in service.labels.items())))
    if service.update_config != UpdateConfig():
        pairs.append(("update_config", _update_config(service.update_config)))
    return pairs
