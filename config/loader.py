"""Load and validate an inventory file: one function, all problems at once.

Two forms load:

* the seed's bare YAML list of services, whose ``run_on_host`` names hosts
  reached through a URL pattern (``ssh://{host}`` unless told otherwise);
* the full mapping with ``hosts``, ``ssh``, ``registry``, ``etcd``,
  ``prometheus`` and ``services``, where every host must be declared.

The file is read bounded (:mod:`~jobtui.config.reader`), composed bounded
(:mod:`~jobtui.config.composer`), and every value checked by its grammar
(:mod:`~jobtui.config.grammar`). Nothing of an invalid file is returned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jobtui.config import grammar
from jobtui.config.composer import collector_paused, compose
from jobtui.config.errors import InventoryError, Problem, show
from jobtui.config.models import DEFAULT_HOST_URL_PATTERN, Host, Inventory, Service
from jobtui.config.nodes import NULL, Checker
from jobtui.config.reader import check_characters, read_text
from jobtui.config.sections import Sections
from jobtui.config.service_reader import read_service

HOST_URL_PATTERN_ENV = "JOBTUI_HOST_URL_PATTERN"
TOP_KEYS = ("hosts", "ssh", "registry", "etcd", "prometheus", "read_only", "services")
_EMPTY = "the file is empty: expected a list of services or a mapping with services:"

T = TypeVar("T")


def load_inventory(
    path: str | Path,
    *,
    host_url_pattern: str | None = None,
    environ: Mapping[str, str] | None = None,
    check_files: bool = True,
) -> Inventory:
    """Read ``path`` and return the validated inventory.

    ``environ`` (default: this process's environment) supplies ``value_env``
    values and the host URL pattern; ``check_files`` checks that the files the
    inventory names (TLS certificates, ssh keys) exist. Raises
    ``InventoryError`` listing every problem with file, line and key.
    """
    text = read_text(path)
    return parse_inventory(
        text,
        file=str(path),
        host_url_pattern=host_url_pattern,
        environ=environ,
        check_files=check_files,
    )


def parse_inventory(
    text: str,
    *,
    file: str,
    host_url_pattern: str | None = None,
    environ: Mapping[str, str] | None = None,
    check_files: bool = False,
) -> Inventory:
    """Validate inventory ``text`` (named ``file`` in problems).

    The files the inventory names are only checked with ``check_files``, as
    :func:`load_inventory` does.
    """
    with collector_paused():
        return _parse(text, file, host_url_pattern, environ, check_files)


def _parse(
    text: str,
    file: str,
    host_url_pattern: str | None,
    environ: Mapping[str, str] | None,
    check_files: bool,
) -> Inventory:
    env = os.environ if environ is None else environ
    root = compose(check_characters(text.removeprefix("\ufeff"), file), file)
    if root is None or (
        isinstance(root, ScalarNode) and root.tag == NULL and root.value in ("", "~")
    ):
        raise InventoryError([Problem(file, 1, "", _EMPTY)])
    check = Checker(file)
    if isinstance(root, SequenceNode):
        pattern = host_url_pattern or env.get(HOST_URL_PATTERN_ENV) or DEFAULT_HOST_URL_PATTERN
        inventory = _bare_list(check, root, file, pattern, env)
    elif isinstance(root, MappingNode):
        inventory = _full_form(check, root, file, env, check_files)
    else:
        check.report(root, "", "expected a list of services or a mapping with services:")
        inventory = None
    if check.problems or inventory is None:
        raise InventoryError(check.problems)
    return inventory


def _services(
    check: Checker, node: Node, prefix: str, environ: Mapping[str, str]
) -> list[tuple[int, Service]]:
    services: list[tuple[int, Service]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(check.sequence(node, prefix or "services") or []):
        service = read_service(check, item, f"{prefix}[{index}]", environ)
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
        services.append((index, service))
    return services


def _bare_list(
    check: Checker, root: SequenceNode, file: str, pattern: str, environ: Mapping[str, str]
) -> Inventory | None:
    if "{host}" not in pattern:
        check.report(None, "host URL pattern", f"{show(pattern)} must contain {{host}}", line=1)
        return None
    try:
        grammar.parse_host_url(pattern.replace("{host}", "example"))
    except ValueError as exc:
        check.report(None, "host URL pattern", str(exc), line=1)
        return None
    services = _services(check, root, "", environ)
    hosts: dict[str, Host] = {}
    for index, service in services:
        for name in service.run_on_host:
            if name in hosts:
                continue
            url = pattern.replace("{host}", name)
            try:
                parsed = grammar.parse_host_url(url)
            except ValueError as exc:
                check.report(None, f"[{index}].run_on_host", str(exc), line=service.line)
                continue
            hosts[name] = Host(name, url, line=service.line, parsed=parsed)
    return Inventory(
        Path(file), tuple(s for _, s in services), MappingProxyType(hosts), bare_list=True
    )


def _full_form(
    check: Checker, root: MappingNode, file: str, environ: Mapping[str, str], check_files: bool
) -> Inventory | None:
    top = check.mapping(root, "", TOP_KEYS, required=("services",))
    if top is None:
        return None
    sections = Sections(check, check_files=check_files)
    ssh = _optional(top, "ssh", lambda n: sections.ssh(n, "ssh"))
    hosts = _optional(top, "hosts", lambda n: sections.hosts(n, ssh)) or {}
    registry = _optional(top, "registry", sections.registry)
    etcd = _optional(top, "etcd", sections.etcd)
    prometheus = _optional(top, "prometheus", sections.prometheus)
    read_only = _optional(top, "read_only", lambda n: check.boolean(n, "read_only")) or False
    services = _services(check, top["services"], "services", environ) if "services" in top else []
    for index, service in services:
        for name in service.run_on_host:
            if name not in hosts:
                names = sorted(hosts)
                known = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
                check.report(
                    None,
                    f"services[{index}].run_on_host",
                    f"unknown host {show(name)} (hosts: {known or 'none declared'})",
                    line=service.line,
                )
    return Inventory(
        Path(file),
        tuple(s for _, s in services),
        MappingProxyType(hosts),
        registry,
        etcd,
        prometheus,
        ssh=ssh,
        read_only=read_only,
    )


def _optional(top: dict[str, Node], key: str, read: Callable[[Node], T | None]) -> T | None:
    node = top.get(key)
    if node is None or (isinstance(node, ScalarNode) and node.tag == NULL):
        return None
    return read(node)
