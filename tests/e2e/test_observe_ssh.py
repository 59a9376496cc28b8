"""An ``ssh://`` host through the OpenSSH socket forward, against a real sshd.

The test runs its own sshd on a free loopback port (own host key, own
authorized key, started and stopped by pid) and reaches host-a's Docker
socket through it, so the forward, its events stream and its recovery are
exercised exactly as on a remote host.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import pytest

from jobtui.backend.docker.hosts import HostPool
from jobtui.backend.model import HostStatus
from jobtui.backend.observe.fleet import FleetObserver
from jobtui.config.models import Host

if TYPE_CHECKING:
    from conftest import Stack

from test_observe import TEST_LABEL, TEST_VALUE, wait_for

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def client_options(self) -> list[str]:
        return [
            "-F", "/dev/null",  # ignore the user's ssh config
            "-i", str(self.dir / "id"),
            "-o", f"UserKnownHostsFile={self.dir / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=accept-new",
        ]  # fmt: skip

    def start(self) -> None:
        log = (self.dir / "sshd.log").open("ab")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
        wait_for(self._listening, 10, "sshd listening")

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        """Stop our sshd and the per-connection sshd processes it forked (all by pid)."""
        if self.process is None:
            return
        # Children first, while their parent still lives to reap them.
        children = _children(self.process.pid)
        for pid in children:
            subprocess.run(["kill", str(pid)], check=False, capture_output=True)
        wait_for(lambda: not set(children) & set(_children(self.process.pid)), 5, "sessions gone")
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if not (Path(SSHD).exists() and shutil.which("ssh") and shutil.which("ssh-keygen")):
        pytest.fail("needs openssh-server and openssh-client: scripts/stack up installs them")
    where = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "id"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(where / key)], check=True
        )
    (where / "authorized_keys").write_text((where / "id.pub").read_text())
    port = _free_port()
    (where / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {where / 'host_key'}\n"
        f"AuthorizedKeysFile {where / 'authorized_keys'}\nPidFile {where / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "AllowStreamLocalForwarding yes\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    server = Sshd(where, port)
    server.start()
    yield server
    server.stop()


def _ssh_processes(socket_dir: Path) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(socket_dir).encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


def test_ssh_host_observed_through_the_forward_and_recovers(stack: Stack, sshd: Sshd) -> None:
    remote_socket = stack.host_a_url.removeprefix("unix://")
    hosts = {"far": Host("far", f"ssh://root@127.0.0.1:{sshd.port}{remote_socket}")}
    pool = HostPool(hosts, timeout=5, ssh_options=sshd.client_options)
    fleet = FleetObserver(hosts, pool=pool)
    direct = docker.DockerClient(base_url=stack.host_a_url, timeout=30)
    name = f"e2e-observe-ssh-{uuid.uuid4().hex[:8]}"
    fleet.start(lambda: None)
    try:
        assert fleet.wait_settled(15)
        far = fleet.snapshot().hosts["far"]
        assert far.status is HostStatus.UP, far.error
        ids = {c.id for c in direct.containers.list(all=True)}
        assert ids <= {c.id for c in far.containers}

        # Events travel through the forward too.
        container = direct.containers.run(
            stack.image("worker:v1"), ["sleep", "600"], name=name, detach=True, init=True,
            network_mode="host", labels={TEST_LABEL: TEST_VALUE},
        )  # fmt: skip
        wait_for(
            lambda: any(c.name == name for c in fleet.snapshot().hosts["far"].containers),
            5,
            "container started on host-a seen over ssh",
        )
        container.remove(force=True)

        sshd.stop()
        wait_for(
            lambda: fleet.snapshot().hosts["far"].status is HostStatus.DOWN,
            5,
            "ssh host DOWN after sshd stopped",
        )
        assert "127.0.0.1" in (fleet.snapshot().hosts["far"].error or "")

        sshd.start()
        wait_for(
            lambda: fleet.snapshot().hosts["far"].status is HostStatus.UP,
            10,
            "ssh host UP again by itself",
        )
    finally:
        fleet.stop()
        pool.close()  # a pool handed in stays the caller's to close
        for leftover in direct.containers.list(all=True, filters={"name": name}):
            leftover.remove(force=True)
        direct.close()
    assert pool._runtime_dir is not None
    assert not pool._runtime_dir.exists(), "forward sockets removed"
    wait_for(lambda: _ssh_processes(pool._runtime_dir) == [], 5, "ssh forward stopped")
