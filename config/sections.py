"""The full form's sections besides services: hosts, ssh, registry, etcd, prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode

from jobtui.config import grammar
from jobtui.config.hosturl import UNIX_PATH_MAX, HostURL
from jobtui.config.models import (
    DEFAULT_ETCD_PREFIX,
    EtcdConfig,
    Host,
    PrometheusConfig,
    RegistryConfig,
    SshSettings,
    TlsConfig,
)
from jobtui.config.nodes import Checker, key_node, key_path, line_of

T = TypeVar("T")
_SECRET_HINT = (
    "secrets are never read from the inventory: put the secret in an environment "
    "variable and name it with password_env"
)
SECRET_KEYS = {"password": _SECRET_HINT, "token": _SECRET_HINT, "secret": _SECRET_HINT}
SSH_KEYS = ("identity_file", "known_hosts_file", "jump_host", "options")
TLS_KEYS = ("ca_cert", "client_cert", "client_key", "verify")


class Sections:
    """Readers of the full form's sections; each reports its own problems."""

    def __init__(self, check: Checker, *, check_files: bool) -> None:
        self.check = check
        self.check_files = check_files

    def file(self, node: Node, key: str) -> str | None:
        """An absolute path to a file on the bastion, which must exist when files are checked."""
        path = self.check.parsed(node, key, grammar.parse_file_path)
        if path is not None and self.check_files:
            try:
                grammar.check_file(path)
            except ValueError as exc:
                self.check.report(node, key, str(exc))
                return None
        return path

    # -- hosts ------------------------------------------------------------

    def hosts(self, node: Node, ssh: SshSettings | None) -> dict[str, Host]:
        hosts: dict[str, Host] = {}
        for name, name_node, value_node in (
            self.check.pairs(node, "hosts", "a mapping of host name to Docker URL") or []
        ):
            key = key_path("hosts", name)
            try:
                grammar.parse_name(name)
            except ValueError as exc:
                self.check.report(name_node, key, str(exc))
                continue
            host = self.host(name, value_node, key, ssh)
            if host is not None:
                hosts[name] = host
        return hosts

    def host(self, name: str, node: Node, key: str, ssh: SshSettings | None) -> Host | None:
        values: dict[str, Node] = {"url": node}
        if isinstance(node, MappingNode):
            found = self.check.mapping(node, key, ("url", "tls", "ssh"), required=("url",))
            if found is None or "url" not in found:
                return None
            values = found
        url_key = key if values["url"] is node else f"{key}.url"
        parsed = self.check.parsed(values["url"], url_key, grammar.parse_host_url)
        tls = self.tls(values["tls"], f"{key}.tls") if "tls" in values else None
        own_ssh = self.ssh(values["ssh"], f"{key}.ssh") if "ssh" in values else None
        if parsed is None:
            return None
        if not self._fits_scheme(parsed, node, values, key, url_key):
            return None
        effective = (
            (own_ssh.merged_over(ssh) if own_ssh else ssh) if parsed.scheme == "ssh" else None
        )
        url = self.check.string(values["url"], url_key) or ""
        return Host(name, url, tls, line_of(node), effective, parsed)

    def _fits_scheme(
        self, url: HostURL, node: Node, values: dict[str, Node], key: str, url_key: str
    ) -> bool:
        fits = True
        if "tls" in values and url.scheme != "tcp":
            self.check.report(
                key_node(node, "tls"),
                f"{key}.tls",
                f"tls: applies to tcp:// hosts only, not {url.scheme}://",
            )
            fits = False
        if "ssh" in values and url.scheme != "ssh":
            self.check.report(
                key_node(node, "ssh"),
                f"{key}.ssh",
                f"ssh: applies to ssh:// hosts only, not {url.scheme}://",
            )
            fits = False
        if url.scheme == "unix" and len(url.path.encode()) > UNIX_PATH_MAX:
            self.check.report(
                values["url"],
                url_key,
                f"the socket path is longer than {UNIX_PATH_MAX} bytes, "
                "which a Unix socket cannot be",
            )
            fits = False
        return fits

    def tls(self, node: Node, key: str) -> TlsConfig | None:
        values = self.check.mapping(node, key, TLS_KEYS)
        if values is None:
            return None
        files = {k: self.file(values[k], f"{key}.{k}") for k in values if k != "verify"}
        verify = (
            self.check.boolean(values["verify"], f"{key}.verify") if "verify" in values else True
        )
        for have, need in (("client_cert", "client_key"), ("client_key", "client_cert")):
            if have in values and need not in values:
                self.check.report(values[have], f"{key}.{have}", f"needs {need} as well")
        return TlsConfig(
            files.get("ca_cert"),
            files.get("client_cert"),
            files.get("client_key"),
            verify is not False,
        )

    def ssh(self, node: Node, key: str) -> SshSettings | None:
        values = self.check.mapping(node, key, SSH_KEYS)
        if values is None:
            return None
        identity = _get(values, "identity_file", lambda n: self.file(n, f"{key}.identity_file"))
        known = _get(values, "known_hosts_file", lambda n: self.file(n, f"{key}.known_hosts_file"))
        jump = _get(
            values,
            "jump_host",
            lambda n: self.check.parsed(n, f"{key}.jump_host", grammar.parse_jump_hosts),
        )
        items = _get(values, "options", lambda n: self.check.sequence(n, f"{key}.options"))
        options: list[str] = []
        for index, item in enumerate(items or []):
            option = self.check.parsed(item, f"{key}.options[{index}]", grammar.parse_ssh_option)
            if option is not None:
                options.append(option)
        return SshSettings(identity, known, jump, tuple(options))

    # -- registry, etcd, prometheus --------------------------------------

    def registry(self, node: Node) -> RegistryConfig | None:
        if isinstance(node, ScalarNode):
            url = self.check.parsed(node, "registry", grammar.parse_registry_url)
            return RegistryConfig(url) if url else None
        allowed = ("url", "username", "password_env", "ca_cert", "verify")
        values = self.check.mapping(node, "registry", allowed, ("url",), hints=SECRET_KEYS)
        if values is None or "url" not in values:
            return None
        url = self.check.parsed(values["url"], "registry.url", grammar.parse_registry_url)
        username = _get(values, "username", lambda n: self.check.text(n, "registry.username"))
        password_env = _get(
            values, "password_env", lambda n: self.env_name(n, "registry.password_env")
        )
        ca_cert = _get(values, "ca_cert", lambda n: self.file(n, "registry.ca_cert"))
        verify = _get(values, "verify", lambda n: self.check.boolean(n, "registry.verify"))
        if "password_env" in values and "username" not in values:
            self.check.report(
                values["password_env"], "registry.password_env", "needs username as well"
            )
        if url is None:
            return None
        return RegistryConfig(url, username, password_env, ca_cert, verify is not False)

    def env_name(self, node: Node, key: str) -> str | None:
        return self.check.parsed(node, key, grammar.parse_env_name)

    def etcd(self, node: Node) -> EtcdConfig | None:
        allowed = ("endpoints", "prefix", "username", "password_env")
        values = self.check.mapping(node, "etcd", allowed, ("endpoints",), hints=SECRET_KEYS)
        if values is None or "endpoints" not in values:
            return None
        ends = values["endpoints"]
        items = (
            [ends] if isinstance(ends, ScalarNode) else self.check.sequence(ends, "etcd.endpoints")
        )
        endpoints: list[str] = []
        for index, item in enumerate(items or []):
            key = "etcd.endpoints" if item is ends else f"etcd.endpoints[{index}]"
            if self.check.parsed(item, key, grammar.parse_etcd_endpoint) is not None:
                endpoints.append(str(item.value))
        if items == []:
            self.check.report(ends, "etcd.endpoints", "needs at least one host:port")
        prefix = _get(
            values,
            "prefix",
            lambda n: self.check.parsed(n, "etcd.prefix", grammar.parse_key_prefix),
        )
        username = _get(values, "username", lambda n: self.check.text(n, "etcd.username"))
        password_env = _get(values, "password_env", lambda n: self.env_name(n, "etcd.password_env"))
        for have, need in (("username", "password_env"), ("password_env", "username")):
            if have in values and need not in values:
                self.check.report(values[have], f"etcd.{have}", f"needs {need} as well")
        if not endpoints or len(endpoints) != len(items or []):
            return None
        return EtcdConfig(
            tuple(endpoints),
            (prefix or DEFAULT_ETCD_PREFIX).rstrip("/") or "/",
            username,
            password_env,
        )

    def prometheus(self, node: Node) -> PrometheusConfig | None:
        if isinstance(node, ScalarNode):
            url = self.check.parsed(node, "prometheus", grammar.parse_http_url)
        else:
            values = self.check.mapping(node, "prometheus", ("url",), ("url",))
            url = (
                self.check.parsed(values["url"], "prometheus.url", grammar.parse_http_url)
                if values and "url" in values
                else None
            )
        return PrometheusConfig(url) if url else None


def _get(values: dict[str, Node], key: str, read: Callable[[Node], T | None]) -> T | None:
    return read(values[key]) if key in values else None
