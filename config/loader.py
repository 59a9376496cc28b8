"""Load and validate an inventory file: one function, all problems at once.

Two forms load:

* the seed's bare YAML list of services, whose ``run_on_host`` names hosts
  reached through a URL pattern (``ssh://{host}`` unless told otherwise);
* the full mapping with ``hosts``, ``registry``, ``etcd``, ``prometheus``
  and ``services``, where every host must be declared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jobtui.config import fields
from jobtui.config.errors import InventoryError, Problem
from jobtui.config.models import (
    DEFAULT_ETCD_PREFIX,
    DEFAULT_HOST_URL_PATTERN,
    EtcdConfig,
    Host,
    Inventory,
    PrometheusConfig,
    RegistryConfig,
    Service,
    TlsConfig,
)
from jobtui.config.nodes import Checker, line_of
from jobtui.config.service_reader import read_service

HOST_URL_PATTERN_ENV = "JOBTUI_HOST_URL_PATTERN"
TOP_KEYS = ("hosts", "registry", "etcd", "prometheus", "services")
_SECRET_HINT = (
    "secrets are never read from the inventory: put the secret in an environment "
    "variable and name it with password_env"
)
_SECRET_KEYS = {"password": _SECRET_HINT, "token": _SECRET_HINT, "secret": _SECRET_HINT}

T = TypeVar("T")

# libyaml's parser is ~10x faster and keeps the same line marks; PyYAML ships
# without it on some platforms, so fall back to the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_inventory(path: str | Path, *, host_url_pattern: str | None = None) -> Inventory:
    """Read ``path`` and return the validated inventory.

    Raises ``InventoryError`` listing every problem with file, line and key;
    nothing of an invalid file is returned.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError([Problem(file, 0, "", f"cannot read the file: {exc}")]) from exc
    return parse_inventory(text, file=file, host_url_pattern=host_url_pattern)


def parse_inventory(text: str, *, file: str, host_url_pattern: str | None = None) -> Inventory:
    """Validate inventory ``text`` (named ``file`` in problems)."""
    check = Checker(file)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise InventoryError(
            [Problem(file, line, "", f"YAML syntax error: {exc.problem or exc}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise InventoryError([Problem(file, 0, "", f"YAML error: {exc}")]) from exc
    if root is None:
        raise InventoryError(
            [Problem(file, 1, "", "the file is empty: expected a list of services")]
        )

    if isinstance(root, SequenceNode):
        pattern = (
            host_url_pattern or os.environ.get(HOST_URL_PATTERN_ENV) or DEFAULT_HOST_URL_PATTERN
        )
        inventory = _bare_list(check, root, file, pattern)
    elif isinstance(root, MappingNode):
        inventory = _full_form(check, root, file)
    else:
        check.report(root, "", "expected a list of services or a mapping with services:")
        inventory = None
    if check.problems or inventory is None:
        raise InventoryError(check.problems)
    return inventory


def _services(check: Checker, node: Node, prefix: str) -> list[Service]:
    services: list[Service] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(check.sequence(node, prefix or "services") or []):
        service = read_service(check, item, f"{prefix}[{index}]")
        if service is None:
            continue
        if service.name in seen:
            check.report(
                item,
                f"{prefix}[{index}].name",
                f"duplicate service name {service.name!r} (first at line {seen[service.name]})",
                line=service.line,
            )
            continue
        seen[service.name] = service.line
        services.append(service)
    return services


def _bare_list(check: Checker, root: SequenceNode, file: str, pattern: str) -> Inventory | None:
    if "{host}" not in pattern:
        check.report(None, "host URL pattern", f"{pattern!r} must contain {{host}}", line=1)
        return None
    services = _services(check, root, "")
    hosts: dict[str, Host] = {}
    for service in services:
        for name in service.run_on_host:
            if name not in hosts:
                url = pattern.replace("{host}", name)
                try:
                    fields.parse_host_url(url)
                except ValueError as exc:
                    check.report(None, "run_on_host", str(exc), line=service.line)
                hosts[name] = Host(name, url, line=service.line)
    return Inventory(Path(file), tuple(services), MappingProxyType(hosts), bare_list=True)


def _full_form(check: Checker, root: MappingNode, file: str) -> Inventory | None:
    top = check.mapping(root, "", TOP_KEYS, required=("services",))
    if top is None:
        return None
    hosts = _hosts(check, top["hosts"]) if "hosts" in top else {}
    registry = _optional(top, "registry", lambda n: _registry(check, n))
    etcd = _optional(top, "etcd", lambda n: _etcd(check, n))
    prometheus = _optional(top, "prometheus", lambda n: _prometheus(check, n))
    services = _services(check, top["services"], "services") if "services" in top else []
    for index, service in enumerate(services):
        for name in service.run_on_host:
            if name not in hosts:
                known = ", ".join(sorted(hosts)) or "none declared"
                check.report(
                    None,
                    f"services[{index}].run_on_host",
                    f"unknown host {name!r} (hosts: {known})",
                    line=service.line,
                )
    return Inventory(
        Path(file), tuple(services), MappingProxyType(hosts), registry, etcd, prometheus
    )


def _optional(top: dict[str, Node], key: str, read: Callable[[Node], T | None]) -> T | None:
    node = top.get(key)
    if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
        return None
    return read(node)


def _hosts(check: Checker, node: Node) -> dict[str, Host]:
    hosts: dict[str, Host] = {}
    if not isinstance(node, MappingNode):
        check.report(node, "hosts", "expected a mapping of host name to Docker URL")
        return hosts
    for key_node, value_node in node.value:
        name = str(key_node.value)
        key = f"hosts.{name}"
        try:
            fields.parse_name(name)
        except ValueError as exc:
            check.report(key_node, key, str(exc))
            continue
        if name in hosts:
            check.report(key_node, key, f"duplicate host (first at line {hosts[name].line})")
            continue
        host = _host(check, name, value_node, key)
        if host is not None:
            hosts[name] = host
    return hosts


def _host(check: Checker, name: str, node: Node, key: str) -> Host | None:
    tls: TlsConfig | None = None
    url_node = node
    if isinstance(node, MappingNode):
        values = check.mapping(node, key, ("url", "tls"), required=("url",))
        if values is None or "url" not in values:
            return None
        url_node = values["url"]
        if "tls" in values:
            tls = _tls(check, values["tls"], f"{key}.tls")
    url = check.text(url_node, key if url_node is node else f"{key}.url")
    if url is None:
        return None
    try:
        fields.parse_host_url(url)
    except ValueError as exc:
        check.report(url_node, key, str(exc))
        return None
    return Host(name, url, tls, line=line_of(node))


def _tls(check: Checker, node: Node, key: str) -> TlsConfig | None:
    values = check.mapping(node, key, ("ca_cert", "client_cert", "client_key", "verify"))
    if values is None:
        return None
    files = {k: check.text(values[k], f"{key}.{k}") for k in values if k != "verify"}
    verify = check.boolean(values["verify"], f"{key}.verify") if "verify" in values else True
    return TlsConfig(
        files.get("ca_cert"), files.get("client_cert"), files.get("client_key"), verify is not False
    )


def _url(check: Checker, node: Node, key: str) -> str | None:
    text = check.text(node, key)
    if text is None:
        return None
    try:
        return fields.parse_http_url(text)
    except ValueError as exc:
        check.report(node, key, str(exc))
        return None


def _registry(check: Checker, node: Node) -> RegistryConfig | None:
    if isinstance(node, ScalarNode):
        url = _url(check, node, "registry")
        return RegistryConfig(url) if url else None
    allowed = ("url", "username", "password_env", "ca_cert", "verify")
    values = check.mapping(node, "registry", allowed, ("url",), hints=_SECRET_KEYS)
    if values is None or "url" not in values:
        return None
    url = _url(check, values["url"], "registry.url")
    extra = {
        k: check.text(values[k], f"registry.{k}") for k in values if k not in ("url", "verify")
    }
    verify = check.boolean(values["verify"], "registry.verify") if "verify" in values else True
    if url is None:
        return None
    return RegistryConfig(
        url,
        extra.get("username"),
        extra.get("password_env"),
        extra.get("ca_cert"),
        verify is not False,
    )


def _etcd(check: Checker, node: Node) -> EtcdConfig | None:
    allowed = ("endpoints", "prefix", "username", "password_env")
    values = check.mapping(node, "etcd", allowed, ("endpoints",), hints=_SECRET_KEYS)
    if values is None or "endpoints" not in values:
        return None
    ends = values["endpoints"]
    endpoints = (
        [check.text(ends, "etcd.endpoints")]
        if isinstance(ends, ScalarNode)
        else (check.strings(ends, "etcd.endpoints"))
    )
    prefix = check.text(values["prefix"], "etcd.prefix") if "prefix" in values else None
    if prefix is not None and not prefix.startswith("/"):
        check.report(values["prefix"], "etcd.prefix", f"{prefix!r} must start with '/'")
    extra = {
        k: check.text(values[k], f"etcd.{k}") for k in ("username", "password_env") if k in values
    }
    if not endpoints or any(e is None for e in endpoints):
        if endpoints == []:
            check.report(ends, "etcd.endpoints", "needs at least one host:port")
        return None
    return EtcdConfig(
        tuple(e for e in endpoints if e),
        (prefix or DEFAULT_ETCD_PREFIX).rstrip("/") or "/",
        extra.get("username"),
        extra.get("password_env"),
    )


def _prometheus(check: Checker, node: Node) -> PrometheusConfig | None:
    if isinstance(node, ScalarNode):
        url = _url(check, node, "prometheus")
    else:
        values = check.mapping(node, "prometheus", ("url",), ("url",))
        url = _url(check, values["url"], "prometheus.url") if values and "url" in values else None
    return PrometheusConfig(url) if url else None
