"""The stack's bastion-style parts are real: a TLS-only daemon (host-tls), a
daemon behind an sshd of the stack's own (host-ssh), and a registry with
htpasswd auth; and the generated inventory points jobtui at them."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import pytest
import requests
import yaml

if TYPE_CHECKING:
    from conftest import Stack

JOBTUI = str(Path(sys.executable).with_name("jobtui"))
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def web_answer(port: int) -> str | None:
    try:
        with _OPENER.open(f"http://127.0.0.1:{port}/index.html", timeout=2) as response:
            return str(response.read().decode().strip())
    except OSError:
        return None


def tls_client(stack: Stack, *, with_cert: bool = True) -> docker.DockerClient:
    where = stack.host_tls_cert_dir
    cert = (str(where / "cert.pem"), str(where / "key.pem")) if with_cert else None
    tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=str(where / "ca.pem"), verify=True)
    client = docker.DockerClient(base_url=stack.host_tls_url, tls=tls, version="1.41", timeout=10)
    client.api.trust_env = False
    return client


# ---------------------------------------------------------------- host-tls


def test_tls_host_answers_only_with_a_client_certificate(stack: Stack) -> None:
    assert stack.host_tls_url == f"tcp://127.0.0.1:{stack.ports['docker_tls']}"
    client = tls_client(stack)
    try:
        assert client.ping() is True
        assert client.info()["DockerRootDir"] == str(stack.dir / "host-tls" / "data")
        (billing,) = client.containers.list(filters={"label": "jobtui.service=billing"})
        assert billing.labels["jobtui.version"] == "v1"
    finally:
        client.close()
    assert web_answer(stack.ports["billing"]) == "web v1"

    anonymous = tls_client(stack, with_cert=False)
    try:
        with pytest.raises(requests.exceptions.SSLError, match="certificate"):
            anonymous.ping()  # the daemon ends the handshake: no client certificate
    finally:
        anonymous.close()
    # Plain HTTP on the TLS port gets nowhere either (Go's TLS server says so).
    status, body = http_get(stack.host_tls_url.replace("tcp://", "http://") + "/_ping")
    assert status == 400 and b"HTTPS server" in body
    # No unix socket: tcp+TLS is the only way in.
    assert not (stack.dir / "host-tls" / "docker.sock").exists()


def test_tls_server_certificate_is_for_127_0_0_1_from_the_stacks_ca(stack: Stack) -> None:
    where = stack.host_tls_cert_dir
    context = ssl.create_default_context(cafile=str(where / "ca.pem"))
    context.load_cert_chain(str(where / "cert.pem"), str(where / "key.pem"))
    port = stack.ports["docker_tls"]
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cert = tls.getpeercert()
    assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    assert (where / "key.pem").stat().st_mode & 0o077 == 0, "the client key is private"


def test_inventory_lists_the_tls_host_with_its_certificates(stack: Stack) -> None:
    hosts = yaml.safe_load(stack.inventory.read_text())["hosts"]
    where = stack.host_tls_cert_dir
    assert hosts["host-tls"] == {
        "url": stack.host_tls_url,
        "tls": {
            "ca_cert": str(where / "ca.pem"),
            "client_cert": str(where / "cert.pem"),
            "client_key": str(where / "key.pem"),
        },
    }
    result = subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), "status", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    (tls_host,) = [h for h in status["hosts"] if h["name"] == "host-tls"]
    assert tls_host["status"] == "up", tls_host
    (row,) = [s for s in status["services"] if s["service"] == "billing"]
    assert (row["host"], row["state"], row["running_version"]) == ("host-tls", "running", "v1")


# ---------------------------------------------------------------- host-ssh


def ssh(stack: Stack, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-F", str(config or stack.ssh_config), "-o", "ConnectTimeout=5", "host-ssh", *args],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_ssh_host_is_reached_with_the_stacks_own_key_and_known_hosts(stack: Stack) -> None:
    config = stack.ssh_config.read_text()
    assert f"Port {stack.sshd_port}" in config
    assert f"IdentityFile {stack.ssh_identity}" in config
    assert f"UserKnownHostsFile {stack.ssh_known_hosts}" in config
    assert "StrictHostKeyChecking yes" in config
    result = ssh(stack, "test", "-S", stack.host_ssh_socket, "&&", "echo", "socket-there")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "socket-there"
    user = stack.host_ssh_url.removeprefix("ssh://").split("@", 1)[0]
    assert stack.host_ssh_url == f"ssh://{user}@127.0.0.1:{stack.sshd_port}{stack.host_ssh_socket}"


def test_ssh_host_with_an_unknown_host_key_is_refused(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("")
    config = stack.ssh_config.read_text().replace(
        str(stack.ssh_known_hosts), str(tmp_path / "known_hosts")
    )
    (tmp_path / "ssh_config").write_text(config)
    result = ssh(stack, "true", config=tmp_path / "ssh_config")
    assert result.returncode == 255
    assert "Host key verification failed" in result.stderr


@pytest.fixture
def forward(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An OpenSSH socket forward to host-ssh's daemon, as jobtui makes one; stopped by pid."""
    where = Path(tmp_path_factory.mktemp("fwd", numbered=True))
    local = where / "docker.sock"
    process = subprocess.Popen(
        ["ssh", "-F", str(stack.ssh_config), "-N", "-o", "ExitOnForwardFailure=yes",
         "-L", f"{local}:{stack.host_ssh_socket}", "host-ssh"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: local.exists() or process.poll() is not None, 10, "the forward's socket")
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield local
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ssh_host_daemon_answers_through_a_socket_forward(stack: Stack, forward: Path) -> None:
    client = docker.DockerClient(base_url=f"unix://{forward}", version="1.41", timeout=10)
    try:
        assert client.ping() is True
        assert client.info()["DockerRootDir"] == str(stack.dir / "host-ssh" / "data")
        (shop,) = client.containers.list(filters={"label": "jobtui.service=shop"})
        assert shop.labels["jobtui.version"] == "v1"
    finally:
        client.close()
    assert web_answer(stack.ports["shop"]) == "web v1"


def test_inventory_has_host_ssh_only_with_its_ssh_settings(stack: Stack) -> None:
    data = yaml.safe_load(stack.inventory.read_text())
    full = data
    if not stack.host_ssh_in_inventory:
        full = yaml.safe_load((stack.dir / "jobtui-ssh.yml").read_text())
    assert full["hosts"]["host-ssh"] == stack.host_ssh_url
    assert full["ssh"] == {
        "identity_file": str(stack.ssh_identity),
        "known_hosts_file": str(stack.ssh_known_hosts),
    }
    assert [s["run_on_host"] for s in full["services"] if s["name"] == "shop"] == ["host-ssh"]
    if not stack.host_ssh_in_inventory:
        # Until jobtui reaches it through those settings the demo inventory leaves it out.
        assert "host-ssh" not in data["hosts"] and "ssh" not in data
        assert "shop" not in [s["name"] for s in data["services"]]


def _sshd_pid(stack: Stack) -> int:
    return int((stack.dir / "sshd.pid").read_text())


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_stopping_sshd_ends_its_sessions_and_starting_it_brings_the_host_back(
    stack: Stack, forward: Path
) -> None:
    listener = _sshd_pid(stack)
    sessions = _children(listener)
    assert sessions, "the forward's session runs under the stack's sshd"
    stack.stop_part("sshd")
    try:
        for pid in [listener, *sessions]:
            assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)
        assert ssh(stack, "true").returncode == 255
    finally:
        stack.start_part("sshd")
    assert _sshd_pid(stack) != listener
    assert ssh(stack, "true").returncode == 0


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


# ---------------------------------------------------------------- registry with auth


def http_get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    request = urllib.request.Request(url, headers=headers)
    try:
        with _OPENER.open(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_auth_registry_needs_the_password_and_holds_the_demo_images(stack: Stack) -> None:
    base, user = stack.registry_auth_url, stack.registry_auth_username
    password = stack.registry_auth_password()
    assert len(password) >= 16
    assert stack.registry_auth_password_file.stat().st_mode & 0o077 == 0
    assert http_get(f"{base}/v2/")[0] == 401
    assert http_get(f"{base}/v2/", (user, password + "x"))[0] == 401
    assert http_get(f"{base}/v2/", (user, password))[0] == 200
    for repo, tags in (("web", {"v1", "v2", "v3", "v4", "broken"}), ("worker", {"v1", "v4"})):
        status, body = http_get(f"{base}/v2/demo/{repo}/tags/list", (user, password))
        assert status == 200, body
        assert tags <= set(json.loads(body)["tags"])
    htpasswd = (stack.dir / "registry-auth" / "htpasswd").read_text()
    assert htpasswd.startswith(f"{user}:$2y$"), "bcrypt, the only hash docker-registry takes"


def test_no_file_jobtui_reads_holds_the_registry_password(stack: Stack) -> None:
    password = stack.registry_auth_password()
    auth_inventory = yaml.safe_load(stack.registry_auth_inventory.read_text())
    assert auth_inventory["registry"] == {
        "url": stack.registry_auth_url,
        "username": stack.registry_auth_username,
        "password_env": stack.registry_auth_password_env,
    }
    for path in (stack.inventory, stack.registry_auth_inventory, stack.dir / "stack.env"):
        assert password not in path.read_text(), path


def jobtui_tags(stack: Stack, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != stack.registry_auth_password_env}
    if password is not None:
        env[stack.registry_auth_password_env] = password
    return subprocess.run(
        [JOBTUI, "-i", str(stack.registry_auth_inventory), "tags", "ledger"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_jobtui_lists_the_auth_registrys_tags_with_the_password_from_the_environment(
    stack: Stack,
) -> None:
    password = stack.registry_auth_password()
    listed = jobtui_tags(stack, password)
    assert listed.returncode == 0, listed.stderr
    assert {"v1", "v2", "v3", "v4"} <= set(listed.stdout.replace("*", " ").split())
    refused = jobtui_tags(stack, password[::-1])
    assert refused.returncode != 0
    for result in (listed, refused):
        assert password not in result.stdout + result.stderr
        assert password[::-1] not in result.stdout + result.stderr
