"""The bounded reader, and valid inputs that the loader once refused or misread."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from jobtui.config import composer
from jobtui.config.errors import InventoryError
from jobtui.config.grammar import HostURL
from jobtui.config.loader import load_inventory, parse_inventory
from jobtui.config.models import EnvVar, Inventory, PortSpec, SshSettings
from jobtui.config.reader import SIZE_LIMIT

SERVICE = "- name: web\n  image: web:1\n  run_on_host: h\n"


def problems_of(path: str | Path) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path, environ={})
    return [str(p) for p in info.value.problems]


def parse(text: str, **kwargs: object) -> Inventory:
    return parse_inventory(textwrap.dedent(text), file="inv.yml", **kwargs)  # type: ignore[arg-type]


# -- what is not a regular file -------------------------------------------------


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "inventory.yml"
    os.mkfifo(fifo)
    start = time.monotonic()
    assert problems_of(fifo) == [
        f"{fifo}: cannot read the file: it is a FIFO (named pipe), not a regular file"
    ]
    assert time.monotonic() - start < 1


def test_devices_and_directories_are_refused(tmp_path: Path) -> None:
    assert "a character device, not a regular file" in problems_of("/dev/zero")[0]
    assert "a directory, not a regular file" in problems_of(tmp_path)[0]
    assert "it does not exist" in problems_of(tmp_path / "missing.yml")[0]


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    with big.open("wb") as out:
        out.write(SERVICE.encode())
        out.truncate(SIZE_LIMIT + 1)
    start = time.monotonic()
    assert "larger than 16 MiB" in problems_of(big)[0]
    assert time.monotonic() - start < 1


# -- encodings --------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-32"])
def test_a_file_with_a_byte_order_mark_loads(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "inv.yml"
    data = SERVICE.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path.write_bytes(data)
    (service,) = load_inventory(path).services
    assert service.name == "web"


def test_bytes_that_are_not_utf8_are_reported_on_their_line(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_bytes(SERVICE.encode() + b"  network_mode: host\n  cmd: caf\xe9\n")
    assert problems_of(path) == [
        f"{path}:5: byte 0xe9 is not valid UTF-8 text; save the file as UTF-8"
    ]


def test_control_characters_are_reported_on_their_line() -> None:
    with pytest.raises(InventoryError) as info:
        parse(SERVICE + "  cmd: a\x07b\n  network_mode: \x1bhost\n")
    assert [(p.line, p.message[:24]) for p in info.value.problems] == [
        (4, "control character U+0007"),
        (5, "control character U+001B"),
    ]


# -- valid inputs ------------------------------------------------------------------


def test_cpus_as_a_string_and_ipv6_ports_load() -> None:
    (service,) = parse(SERVICE + '  cpus: "1.5"\n  port: "[::1]:8080:80"\n').services
    assert service.cpus == 1.5
    assert service.port == PortSpec(80, 8080, "::1")


def test_yaml_11_values_are_taken_as_meant() -> None:
    (service,) = parse(
        SERVICE + "  restart: no\n  port: 8080:80\n  envs:\n    - {key: DAY, value: 2024-05-01}\n"
        "    - {key: MODE, value: 0755}\n  ulimits:\n    - {name: nofile, soft: 0x10000}\n"
    ).services
    assert service.restart == "no"
    assert service.port == PortSpec(80, 8080)
    assert service.envs == (EnvVar("DAY", "2024-05-01"), EnvVar("MODE", "0755"))
    assert service.ulimits[0].soft == 65536


def test_explicit_str_tags_and_plain_anchors_load() -> None:
    inventory = parse(
        """
        - &web
          name: !!str 123
          image: web:1
          run_on_host: &hosts [a, b]
          envs:
            - {key: N, value: !!int 5}
        - name: api
          image: api:1
          run_on_host: *hosts
        """
    )
    web, api = inventory.services
    assert web.name == "123" and web.envs == (EnvVar("N", "5"),)
    assert api.run_on_host == ("a", "b")


def test_value_env_reads_the_bastion_environment_and_secret_is_kept() -> None:
    (service,) = parse(
        SERVICE + "  envs:\n    - {key: DB_PASSWORD, value_env: DB_PW, secret: true}\n"
        "    - {key: MODE, value: prod, secret: false}\n",
        environ={"DB_PW": "hunter2"},
    ).services
    assert service.envs == (
        EnvVar("DB_PASSWORD", "hunter2", secret=True, value_env="DB_PW"),
        EnvVar("MODE", "prod"),
    )


def test_host_urls_are_parsed_once_into_parts(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("key\n")
    inventory = parse(
        f"""
        ssh:
          identity_file: {key}
          options: [Compression=yes]
        hosts:
          a: unix:///run/a.sock
          b: {{url: "tcp://10.0.0.2:2376", tls: {{ca_cert: {key}, verify: false}}}}
          c: ssh://deploy@c.dc1:2222
          d:
            url: ssh://d.dc1
            ssh: {{jump_host: ops@bastion, options: [ConnectionAttempts=3]}}
        services: []
        """,
        check_files=True,
    )
    hosts = inventory.hosts
    assert hosts["a"].endpoint == HostURL("unix", path="/run/a.sock")
    assert hosts["b"].endpoint == HostURL("tcp", "10.0.0.2", 2376) and hosts["b"].ssh is None
    assert hosts["c"].endpoint == HostURL("ssh", "c.dc1", 2222, "deploy")
    assert hosts["c"].ssh == SshSettings(str(key), options=("Compression=yes",))
    assert hosts["d"].ssh == SshSettings(
        str(key), None, "ops@bastion", ("ConnectionAttempts=3", "Compression=yes")
    )
    assert inventory.ssh == SshSettings(str(key), options=("Compression=yes",))
    assert hosts["c"].address == "c.dc1" and hosts["a"].address == "127.0.0.1"


def test_tls_files_are_checked_only_when_asked() -> None:
    text = 'hosts: {b: {url: "tcp://h:2376", tls: {ca_cert: /nonexistent/ca.pem}}}\nservices: []\n'
    assert parse(text).hosts["b"].tls is not None
    with pytest.raises(InventoryError, match="does not exist"):
        parse(text, check_files=True)


def test_a_bare_list_host_url_pattern_is_checked_once() -> None:
    with pytest.raises(InventoryError) as info:
        parse(SERVICE, host_url_pattern="tcp://{host}")
    assert [(p.line, p.key) for p in info.value.problems] == [(1, "host URL pattern")]
    assert "needs a port" in info.value.problems[0].message


def test_bad_values_report_the_value_cut_short() -> None:
    with pytest.raises(InventoryError) as info:
        parse(SERVICE + "  network_mode: " + "x" * 500 + "!\n")
    (problem,) = info.value.problems
    assert "(501 characters)" in problem.message and len(problem.message) < 200


def test_the_pure_python_parser_is_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where PyYAML has no libyaml, its own parser feeds the same bounded composer."""
    monkeypatch.setattr(composer, "_LOADER", yaml.SafeLoader)
    with pytest.raises(InventoryError, match="nested deeper than 64 levels"):
        parse("hosts:\n  " + "[" * 5000 + "]" * 5000 + ": x\nservices: []\n")
    with pytest.raises(InventoryError) as info:
        parse(SERVICE + '  cmd: "a\\ud800b"\n')
    assert [(p.line, p.key) for p in info.value.problems] == [(4, "[0].cmd")]
    assert "lone surrogate" in info.value.problems[0].message
    (service,) = parse(SERVICE + "  restart: no\n  port: '[::1]:8080:80'\n").services
    assert service.restart == "no" and service.port == PortSpec(80, 8080, "::1")
