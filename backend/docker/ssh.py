"""The OpenSSH socket forward that reaches an ``ssh://`` host's Docker socket.

``ssh -N -L local.sock:/var/run/docker.sock host`` and a plain ``unix://``
client on it: measured as cancellable, fine with a dozen concurrent streams
and ~300x faster than docker-py's ``use_ssh_client``. It is the system
``ssh``, so ``~/.ssh/config``, ProxyJump, the agent and known_hosts apply;
the inventory's ``ssh:`` settings (identity file, known_hosts file, jump
host, options) come on top. Host keys are checked strictly
(``StrictHostKeyChecking=yes`` unless the inventory's options say otherwise):
an unknown or changed key is one sentence naming the host and the fix.

:class:`SshForward` is supervised by its users: every client access calls
:meth:`SshForward.ensure`, which restarts a forward that died, with a
backoff after failures so a host that is down costs one quick error per
access, not one ssh per access.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from jobtui.backend.docker.errors import HostUnavailable
from jobtui.backend.docker.forwards import ForwardFiles, Spawner, pdeathsig_prefix
from jobtui.config.hosturl import HostURL
from jobtui.config.models import SshSettings

DEFAULT_CONNECT_TIMEOUT = 10.0
MIN_BACKOFF = 0.5
MAX_BACKOFF = 5.0
"""Longest wait before a failed forward is tried again: a returning host is seen within it."""
RESTART_DELAY = 0.5
"""Seconds between noticing that a forward ended and starting it again."""


def ssh_command(
    endpoint: HostURL,
    local_socket: Path,
    *,
    settings: SshSettings | None = None,
    options: Sequence[str] = (),
    ssh: str = "ssh",
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    config_file: Path | None = None,
) -> list[str]:
    """The OpenSSH command line that forwards ``endpoint``'s Docker socket to ``local_socket``.

    ``endpoint`` comes from the one URL parser (``config.hosturl``), which
    refuses users and hosts ssh could read as options or shell words.
    ssh takes the first value it is given for an option: jobtui's own come
    first (the inventory may not change them), then the inventory's, then
    strict host key checking, which the inventory's options may relax.
    ``config_file`` (see :func:`jump_config`) is passed as ``-F``.
    """
    if endpoint.scheme != "ssh" or not endpoint.host:
        raise HostUnavailable(f"{endpoint}: not an ssh://[user@]host[:port] URL")
    if endpoint.host.startswith("-") or (endpoint.user or "").startswith("-"):
        raise HostUnavailable(f"{endpoint}: a host or user cannot start with '-'")
    command = [
        ssh,
        "-N",
        "-o", "ExitOnForwardFailure=yes",
        "-o", "BatchMode=yes",
        "-o", "StreamLocalBindUnlink=yes",
        # Let a dead network path end the forward so the next access restarts it.
        "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=2",
        "-o", f"ConnectTimeout={max(1, round(connect_timeout))}",
        # A ControlPersist master from ~/.ssh/config would outlive jobtui.
        "-o", "ControlMaster=no",
        "-o", "ControlPath=none",
    ]  # fmt: skip
    if config_file is not None:
        command += ["-F", str(config_file)]
    if endpoint.port is not None:
        command += ["-p", str(endpoint.port)]
    if settings is not None:
        if settings.identity_file:
            command += ["-i", settings.identity_file]
        if settings.known_hosts_file:
            command += ["-o", f"UserKnownHostsFile={settings.known_hosts_file}"]
        if settings.jump_host:
            command += ["-J", settings.jump_host]
        for option in settings.options:
            command += ["-o", option]
    command += [*options, "-o", "StrictHostKeyChecking=yes"]
    command += ["-L", f"{local_socket}:{endpoint.remote_socket}", endpoint.ssh_destination]
    return command


def jump_config(settings: SshSettings) -> str:
    """An ssh_config for a forward through a jump host.

    ssh hands only ``-F`` (not ``-i`` or ``-o``) to the ssh it runs for the
    jump, so the inventory's settings travel in a file: first them (ssh keeps
    the first value), then the user's and the system's own configuration,
    which ``-F`` would otherwise leave out.
    """
    lines = ["# Written by jobtui for one ssh forward; removed when it ends."]
    if settings.identity_file:
        lines.append(f'IdentityFile "{settings.identity_file}"')
    if settings.known_hosts_file:
        lines.append(f'UserKnownHostsFile "{settings.known_hosts_file}"')
    lines += [*settings.options, "StrictHostKeyChecking yes", "BatchMode yes"]
    lines += ["ControlMaster no", "ControlPath none"]
    lines += ["Include ~/.ssh/config", "Include /etc/ssh/ssh_config"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- host keys


def host_key_problem(stderr: str) -> str | None:
    """``changed``, ``unknown`` or ``None``: what ssh's stderr says about the host key."""
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or (
        "Host key for" in stderr and "has changed" in stderr
    ):
        return "changed"
    if "Host key verification failed" in stderr or "host key is known for" in stderr:
        return "unknown"
    return None


def effective_config(command: Sequence[str], ssh: str = "ssh") -> dict[str, str]:
    """What ssh would use for ``command``'s destination (``ssh -G``; no connection made)."""
    words = list(command[1:-1])
    if "-L" in words:
        at = words.index("-L")
        del words[at : at + 2]
    words = [w for w in words if w != "-N"]
    try:
        done = subprocess.run(
            [ssh, "-G", *words, command[-1]], capture_output=True, text=True, timeout=5,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key.lower(), value.strip())
    return found


def host_key_advice(
    problem: str, endpoint: HostURL, resolved: dict[str, str], settings: SshSettings | None
) -> str:
    """The sentence for an unknown or changed host key: what it means and the command to run."""
    host = resolved.get("hostname") or endpoint.host
    port = resolved.get("port") or str(endpoint.port or 22)
    known = (settings.known_hosts_file if settings else None) or (
        resolved.get("userknownhostsfile", "").split(" ")[0] or "~/.ssh/known_hosts"
    )
    shown = host if port == "22" else f"[{host}]:{port}"
    scan = f"ssh-keyscan -p {port} {host} >> {known}"
    if problem == "changed":
        return (
            f"the ssh host key of {shown} has CHANGED since it was recorded in {known}: "
            "refused (someone may be intercepting the connection). If the host was "
            f"reinstalled, check its new key, then: ssh-keygen -R '{shown}' -f {known} && {scan}"
        )
    return (
        f"the ssh host key of {shown} is not in {known}: refused. "
        f"Check the key with the host's owner, then add it: {scan}"
    )


# ---------------------------------------------------------------- the forward


class SshForward:
    """An ``ssh -N -L`` process forwarding a remote Docker socket to a local one.

    Thread-safe; :meth:`ensure` starts it on first use and restarts it when it
    has died, backing off after failed starts.
    """

    def __init__(
        self,
        name: str,
        endpoint: HostURL,
        files: ForwardFiles,
        *,
        settings: SshSettings | None = None,
        options: Sequence[str] = (),
        ssh: str = "ssh",
        spawner: Spawner | None = None,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.files = files
        self.settings = settings
        self._options = tuple(options)
        self._ssh = ssh
        self._spawner = spawner or Spawner()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._backoff = MIN_BACKOFF
        self._retry_at = 0.0
        self._last_error = ""
        self.starts = 0
        """How often ssh was started (a restart after it died counts too)."""

    @property
    def local_socket(self) -> Path:
        return self.files.socket

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def alive(self) -> bool:
        return self.pid is not None

    def state(self) -> str:
        """One line for the hosts panel: up with its pid, or the last failure."""
        pid = self.pid
        if pid is not None:
            return f"ssh forward up (pid {pid})"
        return self._last_error or "ssh forward not started"

    @property
    def _jump(self) -> bool:
        return self.settings is not None and bool(self.settings.jump_host)

    def command(self, connect_timeout: float) -> list[str]:
        return ssh_command(
            self.endpoint, self.files.socket, settings=self.settings, options=self._options,
            ssh=self._ssh, connect_timeout=connect_timeout,
            config_file=self.files.config if self._jump else None,
        )  # fmt: skip

    def ensure(self, timeout: float) -> None:
        """The forward running: started or restarted if needed; ``HostUnavailable`` if not."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            if self._process is not None:
                # It ran and ended (sshd restarted, network lost): say so, then restart
                # after a breath, so a server going down is not raced by our reconnect.
                said = self.last_message()
                self._last_error = f"{self.name}: ssh forward ended" + (f": {said}" if said else "")
                self._reap()
                time.sleep(RESTART_DELAY)
            elif time.monotonic() < self._retry_at:
                raise HostUnavailable(self._last_error)
            try:
                self._start_locked(timeout)
            except HostUnavailable as exc:
                self._last_error = str(exc)
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                raise
            self._backoff = MIN_BACKOFF
            self._last_error = ""

    def start(self, timeout: float) -> None:
        """Start ssh now (stopping a running one) and wait until the local socket exists."""
        with self._lock:
            self._start_locked(timeout)

    def _start_locked(self, timeout: float) -> None:
        self._stop_locked()
        if shutil.which(self._ssh) is None:
            raise HostUnavailable(
                f"{self.name}: the OpenSSH client ({self._ssh}) is missing: apt-get install "
                "openssh-client"
            )
        command = self.command(timeout)
        if self._jump and self.settings is not None:
            try:
                self.files.config.write_text(jump_config(self.settings))
            except OSError as exc:
                raise HostUnavailable(
                    f"{self.name}: cannot write {self.files.config}: {exc}"
                ) from exc
        try:
            self._process = self._spawner.popen([*pdeathsig_prefix(), *command], self.files.log)
        except OSError as exc:
            raise HostUnavailable(f"{self.name}: cannot start ssh: {exc}") from exc
        self.starts += 1
        with contextlib.suppress(OSError):
            self.files.record(self._process.pid, self.name)
        deadline = time.monotonic() + timeout + 1
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise HostUnavailable(self._failure(command))
            if self.files.socket.exists():
                return
            time.sleep(0.02)  # ssh says nothing when the socket is ready: look for it
        self._stop_locked()
        raise HostUnavailable(
            f"{self.name} ({self.endpoint}): ssh forward not ready within {timeout:g} s"
        )

    def _failure(self, command: Sequence[str]) -> str:
        """Why ssh exited: the host key advice, or ssh's last words."""
        text = self._log_text()
        self._stop_locked()
        problem = host_key_problem(text)
        if problem is not None:
            resolved = effective_config(command, self._ssh)
            advice = host_key_advice(problem, self.endpoint, resolved, self.settings)
            return f"{self.name}: {advice}"
        detail = self.last_message() if text else ""
        return f"{self.name} ({self.endpoint}): ssh forward failed: {detail or 'ssh exited'}"

    def _log_text(self) -> str:
        try:
            return self.files.log.read_text(errors="replace")
        except OSError:
            return ""

    def last_message(self) -> str:
        """ssh's last stderr line, e.g. why it could not open the remote socket."""
        lines = [line.strip() for line in self._log_text().strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def stop(self) -> None:
        """Stop our ssh process (by its pid) and remove the local socket."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=3)
        elif process is not None:
            process.wait()
        for path in (self.files.socket, self.files.pidfile):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _reap(self) -> None:
        # The process ended by itself: collect it, keep its log for last_message().
        self._stop_locked()
