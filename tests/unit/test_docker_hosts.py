"""Docker client construction, SSH forward command lines and readable errors (no daemon)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import requests

from jobtui.backend.docker.errors import HostUnavailable, describe_error
from jobtui.backend.docker.forwards import ForwardFiles, Forwards, private_dir
from jobtui.backend.docker.hosts import (
    PINNED_API_VERSION,
    HostConnection,
    HostPool,
    negotiate_api_version,
)
from jobtui.backend.docker.ssh import SshForward, ssh_command
from jobtui.config.hosturl import parse_host_url
from jobtui.config.models import Host, TlsConfig


def test_ssh_command_forwards_the_remote_docker_socket(tmp_path: Path) -> None:
    sock = tmp_path / "h.sock"
    command = ssh_command(parse_host_url("ssh://deploy@db1.example:2222"), sock, connect_timeout=4)
    assert command[:2] == ["ssh", "-N"]
    for option in ("ExitOnForwardFailure=yes", "BatchMode=yes", "ConnectTimeout=4"):
        assert option in command
    assert command[command.index("-p") + 1] == "2222"
    assert command[-3:] == ["-L", f"{sock}:/var/run/docker.sock", "deploy@db1.example"]


def test_ssh_command_without_user_or_port_and_with_a_socket_path(tmp_path: Path) -> None:
    url = parse_host_url("ssh://db1/run/user/1000/docker.sock")
    command = ssh_command(url, tmp_path / "s", options=["-q"])
    assert "-p" not in command
    assert command[-6:] == [
        "-q", "-o", "StrictHostKeyChecking=yes",
        "-L", f"{tmp_path / 's'}:/run/user/1000/docker.sock", "db1",
    ]  # fmt: skip


@pytest.mark.parametrize("url", ["tcp://db1:2375", "unix:///run/docker.sock"])
def test_ssh_command_rejects_what_is_no_ssh_host(url: str, tmp_path: Path) -> None:
    with pytest.raises(HostUnavailable):
        ssh_command(parse_host_url(url), tmp_path / "s")


@pytest.mark.parametrize(
    ("server_max", "server_min", "expected"),
    [
        ("1.41", "1.12", PINNED_API_VERSION),  # Debian's 20.10: no rebuild needed
        ("1.47", "1.24", PINNED_API_VERSION),  # newer daemons still accept 1.41
        ("1.40", "1.12", "1.40"),  # older daemon: speak its version
        ("1.52", "1.44", "1.45"),  # daemon that dropped 1.41: newest docker-py knows
        ("1.44", "1.44", "1.44"),
    ],
)
def test_api_version_negotiation(server_max: str, server_min: str, expected: str) -> None:
    assert negotiate_api_version(server_max, server_min) == expected


def test_a_down_host_costs_nothing_to_build_and_says_why_on_connect(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sock"
    pool = HostPool({"a": Host("a", f"unix://{missing}")}, timeout=1)
    connection = pool["a"]
    assert connection.client.api.api_version == PINNED_API_VERSION  # built without network
    with pytest.raises(HostUnavailable, match="no Docker socket there"):
        connection.connect()
    with pytest.raises(HostUnavailable):
        connection.ping(0.5)
    pool.close()


def test_tls_host_gets_its_certificates_and_ignores_the_environment(tmp_path: Path) -> None:
    files = {}
    for name in ("ca.pem", "cert.pem", "key.pem"):
        files[name] = tmp_path / name
        files[name].write_text("not read until a connection is made")
    tls = TlsConfig(str(files["ca.pem"]), str(files["cert.pem"]), str(files["key.pem"]))
    connection = HostConnection(Host("t", "tcp://127.0.0.1:2376", tls=tls))
    api = connection.client.api
    assert api.base_url == "https://127.0.0.1:2376"
    assert api.verify == str(files["ca.pem"])
    assert api.cert == (str(files["cert.pem"]), str(files["key.pem"]))
    assert api.trust_env is False


def test_tls_with_missing_files_is_a_readable_error_not_a_crash(tmp_path: Path) -> None:
    tls = TlsConfig(str(tmp_path / "ca.pem"), str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    connection = HostConnection(Host("t", "tcp://127.0.0.1:2376", tls=tls))
    with pytest.raises(HostUnavailable, match=r"tcp://127\.0\.0\.1:2376"):
        connection.connect()


def test_describe_error_finds_the_os_reason_inside_requests_wrappers() -> None:
    refused = requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused"))
    assert "connection refused" in describe_error(refused, "tcp://h:2375")
    timeout = requests.exceptions.ReadTimeout("read timed out")
    assert "no answer in time" in describe_error(timeout, "tcp://h:2375")
    assert describe_error(HostUnavailable("as is"), "x") == "as is"


def _fake_ssh(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-ssh"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _files(tmp_path: Path, name: str = "db1") -> ForwardFiles:
    return ForwardFiles.of(tmp_path, name)


def test_ssh_forward_reports_what_ssh_said(tmp_path: Path) -> None:
    fake = _fake_ssh(
        tmp_path,
        "import sys\nprint('Permission denied (publickey).', file=sys.stderr)\nsys.exit(255)\n",
    )
    forward = SshForward("db1", parse_host_url("ssh://deploy@db1"), _files(tmp_path), ssh=fake)
    with pytest.raises(HostUnavailable, match=r"db1 .*Permission denied \(publickey\)"):
        forward.start(timeout=5)
    assert not forward.alive


def test_ssh_forward_waits_for_the_socket_and_stops_its_process(tmp_path: Path) -> None:
    # Stands in for ssh: binds the -L socket like ssh does, then stays up.
    fake = _fake_ssh(
        tmp_path,
        "import socket, sys, time\n"
        "local = sys.argv[sys.argv.index('-L') + 1].split(':')[0]\n"
        "s = socket.socket(socket.AF_UNIX)\ns.bind(local)\ns.listen()\n"
        "time.sleep(60)\n",
    )
    files = _files(tmp_path)
    forward = SshForward("db1", parse_host_url("ssh://deploy@db1"), files, ssh=fake)
    forward.start(timeout=10)
    assert forward.alive and files.socket.exists()
    forward.stop()
    assert not forward.alive and not files.socket.exists()


def test_pool_names_a_private_runtime_dir_only_for_ssh_hosts(tmp_path: Path) -> None:
    forwards = Forwards(lambda: private_dir(tmp_path / "run"))
    pool = HostPool({"s": Host("s", "ssh://deploy@db1")}, forwards=forwards)
    runtime = pool._runtime_dir
    assert runtime == tmp_path / "run" / str(os.getpid())
    assert stat.S_IMODE(os.stat(tmp_path / "run").st_mode) == 0o700
    pool.close()
    assert not runtime.exists()
    plain = HostPool({"u": Host("u", "unix:///nowhere.sock")}, forwards=forwards)
    assert plain._runtime_dir is None
