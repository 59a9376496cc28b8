"""The OpenSSH socket forward that reaches an ``ssh://`` host's Docker socket.

``ssh -N -L local.sock:/var/run/docker.sock host`` and a plain ``unix://``
client on it: measured as cancellable, fine with a dozen concurrent streams
and ~300x faster than docker-py's ``use_ssh_client``; the system ``ssh``
honours ``~/.ssh/config``, ProxyJump, the agent and known_hosts.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from jobtui.backend.docker.errors import HostUnavailable

REMOTE_DOCKER_SOCKET = "/var/run/docker.sock"


DEFAULT_CONNECT_TIMEOUT = 10.0


def ssh_command(
    url: str,
    local_socket: Path,
    *,
    ssh: str = "ssh",
    options: Sequence[str] = (),
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> list[str]:
    """The OpenSSH command line that forwards ``url``'s Docker socket to ``local_socket``.

    ``ssh://user@host:port/path/to/docker.sock``: the path is optional and
    defaults to ``/var/run/docker.sock``.
    """
    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise HostUnavailable(f"{url}: not an ssh://[user@]host[:port] URL")
    destination = parts.hostname
    if destination.startswith("-") or (parts.username or "").startswith("-"):
        # ssh would read it as an option.
        raise HostUnavailable(f"{url}: a host name cannot start with '-'")
    if parts.username:
        destination = f"{parts.username}@{destination}"
    remote = parts.path if parts.path not in ("", "/") else REMOTE_DOCKER_SOCKET
    command = [
        ssh,
        "-N",
        "-o", "ExitOnForwardFailure=yes",
        "-o", "BatchMode=yes",
        "-o", "StreamLocalBindUnlink=yes",
        # Let a dead network path end the forward so the next connect restarts it.
        "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=2",
        "-o", f"ConnectTimeout={max(1, round(connect_timeout))}",
    ]  # fmt: skip
    if parts.port:
        command += ["-p", str(parts.port)]
    command += [*options, "-L", f"{local_socket}:{remote}", destination]
    return command


class SshForward:
    """An ``ssh -N -L`` process forwarding a remote Docker socket to a local one."""

    def __init__(
        self, url: str, local_socket: Path, *, ssh: str = "ssh", options: Sequence[str] = ()
    ) -> None:
        self.url = url
        self.local_socket = local_socket
        self._ssh = ssh
        self._options = tuple(options)
        self._log = local_socket.with_suffix(".log")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float) -> None:
        """Start ssh and wait until the local socket exists; ``HostUnavailable`` if it fails."""
        self.stop()
        if shutil.which(self._ssh) is None:
            raise HostUnavailable(f"{self.url}: the OpenSSH client ({self._ssh}) is missing")
        command = ssh_command(
            self.url, self.local_socket, ssh=self._ssh, options=self._options,
            connect_timeout=timeout,
        )  # fmt: skip
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                detail = self.last_message() or "ssh exited"
                self.stop()
                raise HostUnavailable(f"{self.url}: ssh forward failed: {detail}")
            if self.local_socket.exists():
                return
            time.sleep(0.02)
        self.stop()
        raise HostUnavailable(f"{self.url}: ssh forward not ready within {timeout:g} s")

    def last_message(self) -> str:
        """ssh's last stderr line, e.g. why it could not open the remote socket."""
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1].strip() if lines else ""

    def stop(self) -> None:
        """Stop our ssh process (by its pid) and remove the local socket."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=3)
        with contextlib.suppress(FileNotFoundError):
            self.local_socket.unlink()
