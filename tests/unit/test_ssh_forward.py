"""The supervised ssh forward without an sshd: a stand-in ``ssh`` binds the -L socket.

Command lines are compared exactly; supervision (start on first use, restart
after death, backoff), one forward per host per process, pid files, the
reaping of a dead jobtui's forwards and the kernel's parent-death signal are
exercised with real processes, each ended by its pid.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobtui.backend.docker.errors import HostUnavailable
from jobtui.backend.docker.forwards import (
    ForwardFiles,
    Forwards,
    is_our_ssh,
    private_dir,
    reap_leftovers,
)
from jobtui.backend.docker.hosts import HostConnection
from jobtui.backend.docker.ssh import (
    SshForward,
    host_key_advice,
    host_key_problem,
    jump_config,
    ssh_command,
)
from jobtui.config.hosturl import parse_host_url
from jobtui.config.models import Host, SshSettings

BINDS_AND_STAYS = """
import os, socket, sys, time
with open(os.environ["FAKE_SSH_STARTS"], "a") as f:
    f.write(f"{os.getpid()}\\n")
local = sys.argv[sys.argv.index("-L") + 1].split(":")[0]
s = socket.socket(socket.AF_UNIX)
s.bind(local)
s.listen()
time.sleep(600)
"""


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def fake_ssh(where: Path, body: str) -> str:
    script = where / "fake-ssh"
    script.write_text(f"#!{sys.executable}\n{textwrap.dedent(body)}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "starts"
    path.write_text("")
    monkeypatch.setenv("FAKE_SSH_STARTS", str(path))
    return path


@pytest.fixture
def forwards(tmp_path: Path) -> Iterator[Forwards]:
    registry = Forwards(lambda: private_dir(tmp_path / "run"))
    yield registry
    registry.stop_all()


def started(starts: Path) -> list[int]:
    return [int(line) for line in starts.read_text().split()]


FAR = Host("far", "ssh://deploy@127.0.0.1:2222")


# ---------------------------------------------------------------- command lines


def test_command_puts_jobtuis_options_first_then_the_inventorys_then_strict_keys() -> None:
    settings = SshSettings(
        identity_file="/keys/id", known_hosts_file="/keys/known_hosts",
        jump_host="ops@gw:2200", options=("StrictHostKeyChecking=no", "Compression=yes"),
    )  # fmt: skip
    command = ssh_command(
        parse_host_url("ssh://deploy@db1:2222/run/docker.sock"), Path("/r/db1.sock"),
        settings=settings, connect_timeout=7,
    )  # fmt: skip
    assert command == [
        "ssh", "-N",
        "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes",
        "-o", "StreamLocalBindUnlink=yes", "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=2", "-o", "ConnectTimeout=7",
        "-o", "ControlMaster=no", "-o", "ControlPath=none",
        "-p", "2222",
        "-i", "/keys/id", "-o", "UserKnownHostsFile=/keys/known_hosts", "-J", "ops@gw:2200",
        # ssh keeps the first value: the inventory's StrictHostKeyChecking=no wins.
        "-o", "StrictHostKeyChecking=no", "-o", "Compression=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-L", "/r/db1.sock:/run/docker.sock", "deploy@db1",
    ]  # fmt: skip


def test_host_key_problems_are_recognised_and_explained() -> None:
    unknown = (
        "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict "
        "checking.\r\nHost key verification failed.\r\n"
    )
    changed = (
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
        "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
        "Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\n"
        "Host key verification failed.\n"
    )
    assert host_key_problem(unknown) == "unknown"
    assert host_key_problem(changed) == "changed"
    assert host_key_problem("Permission denied (publickey).") is None
    url = parse_host_url("ssh://deploy@db1:2222")
    resolved = {"hostname": "127.0.0.1", "port": "2222", "userknownhostsfile": "/k/kh /k/kh2"}
    text = host_key_advice("unknown", url, resolved, None)
    assert "[127.0.0.1]:2222 is not in /k/kh" in text
    assert text.endswith("ssh-keyscan -p 2222 127.0.0.1 >> /k/kh")
    text = host_key_advice("changed", url, {}, SshSettings(known_hosts_file="/inv/kh"))
    assert "has CHANGED" in text and "ssh-keygen -R '[db1]:2222' -f /inv/kh" in text
    assert text.endswith("ssh-keyscan -p 2222 db1 >> /inv/kh")


def test_a_jump_host_takes_the_settings_along_in_an_ssh_config(tmp_path: Path) -> None:
    settings = SshSettings(
        identity_file="/keys/id", known_hosts_file="/keys/known hosts", jump_host="ops@gw",
        options=("Compression=yes",),
    )  # fmt: skip
    files = ForwardFiles.of(tmp_path, "db1")
    forward = SshForward("db1", parse_host_url("ssh://db1"), files, settings=settings)
    command = forward.command(5)
    assert command[command.index("-F") + 1] == str(tmp_path / "db1.ssh_config")
    assert jump_config(settings).splitlines()[1:] == [
        'IdentityFile "/keys/id"',
        'UserKnownHostsFile "/keys/known hosts"',
        "Compression=yes",
        "StrictHostKeyChecking yes",
        "BatchMode yes",
        "ControlMaster no",
        "ControlPath none",
        "Include ~/.ssh/config",
        "Include /etc/ssh/ssh_config",
    ]
    plain = SshForward("db1", parse_host_url("ssh://db1"), files, settings=SshSettings("/k"))
    assert "-F" not in plain.command(5)


# ---------------------------------------------------------------- supervision


def test_forward_starts_on_first_client_use_and_restarts_after_it_died(
    tmp_path: Path, starts: Path, forwards: Forwards
) -> None:
    ssh = fake_ssh(tmp_path, BINDS_AND_STAYS)
    connection = HostConnection(FAR, timeout=5, ssh=ssh, forwards=forwards)
    assert connection.forward is None  # nothing runs before it is needed
    api = connection.client.api
    forward = connection.forward
    assert forward is not None and forward.alive
    assert api.base_url == "http+docker://localhost"
    (first,) = started(starts)
    assert forward.pid == first
    assert connection.forward_state() == f"ssh forward up (pid {first})"
    record = forward.files.pidfile.read_text()
    assert f'"pid": {first}' in record and str(forward.files.socket) in record

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not forward.alive, 5, "the forward seen dead")
    connection.client  # noqa: B018 - any use restarts it
    assert len(started(starts)) == 2 and forward.alive and forward.pid != first
    connection.close()
    wait_for(lambda: not any(running(p) for p in started(starts)), 5, "ssh ended")
    assert not forward.files.socket.exists() and not forward.files.pidfile.exists()


def test_a_failing_forward_backs_off_and_keeps_saying_why(
    tmp_path: Path, starts: Path, forwards: Forwards
) -> None:
    ssh = fake_ssh(
        tmp_path,
        """
        import os, sys
        open(os.environ["FAKE_SSH_STARTS"], "a").write(f"{os.getpid()}\\n")
        print("ssh: connect to host 127.0.0.1 port 2222: Connection refused", file=sys.stderr)
        sys.exit(255)
        """,
    )
    connection = HostConnection(FAR, timeout=5, ssh=ssh, forwards=forwards)
    with pytest.raises(HostUnavailable, match=r"far .*Connection refused") as first:
        connection.connect()
    # Within the backoff: the same sentence at once, no new ssh.
    with pytest.raises(HostUnavailable) as again:
        connection.ping(0.5)
    assert str(again.value) == str(first.value)
    assert len(started(starts)) == 1
    assert "Connection refused" in (connection.forward_state() or "")
    wait_for(lambda: _tries(connection) and len(started(starts)) == 2, 5, "a retry")
    connection.close()


def _tries(connection: HostConnection) -> bool:
    try:
        connection.connect()
    except HostUnavailable:
        return True
    return False


def test_an_unknown_host_key_is_one_sentence_with_the_fix(
    tmp_path: Path, forwards: Forwards
) -> None:
    ssh = fake_ssh(
        tmp_path,
        """
        import sys
        if "-G" in sys.argv:
            print("hostname 127.0.0.1\\nport 2222\\nuserknownhostsfile /k/known_hosts")
            sys.exit(0)
        print("No ED25519 host key is known for [127.0.0.1]:2222 and you have requested "
              "strict checking.", file=sys.stderr)
        print("Host key verification failed.", file=sys.stderr)
        sys.exit(255)
        """,
    )
    connection = HostConnection(FAR, timeout=5, ssh=ssh, forwards=forwards)
    with pytest.raises(HostUnavailable) as failed:
        connection.connect()
    message = str(failed.value)
    assert message.startswith("far: the ssh host key of [127.0.0.1]:2222 is not in /k/known_hosts")
    assert message.endswith("ssh-keyscan -p 2222 127.0.0.1 >> /k/known_hosts")
    assert "\n" not in message and "Traceback" not in message
    connection.close()


def test_one_forward_per_host_per_process_ended_by_its_last_user(
    tmp_path: Path, starts: Path, forwards: Forwards
) -> None:
    ssh = fake_ssh(tmp_path, BINDS_AND_STAYS)
    first = HostConnection(FAR, timeout=5, ssh=ssh, forwards=forwards)
    second = HostConnection(FAR, timeout=5, ssh=ssh, forwards=forwards)
    first.client  # noqa: B018
    second.client  # noqa: B018
    assert first.forward is second.forward
    (pid,) = started(starts)
    directory = tmp_path / "run" / str(os.getpid())
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    first.close()
    assert running(pid)
    second.close()
    wait_for(lambda: not running(pid), 5, "ssh ended with its last user")
    assert not directory.exists()


# ---------------------------------------------------------------- leftovers


def _fake_named_ssh(socket: Path) -> subprocess.Popen[bytes]:
    """A process whose argv[0] is ``ssh`` and whose command line holds ``socket``."""
    return subprocess.Popen(
        ["bash", "-c", 'exec -a ssh "$0" -c "import time; time.sleep(600)" -N -L "$1":/x h',
         sys.executable, str(socket)],
    )  # fmt: skip


def _dead_pid() -> int:
    probe = subprocess.Popen(["true"])
    probe.wait()
    return probe.pid


def test_leftovers_of_a_dead_jobtui_are_ended_and_nothing_else(tmp_path: Path) -> None:
    root = private_dir(tmp_path / "run")
    dead = root / str(_dead_pid())
    dead.mkdir()
    ours = _fake_named_ssh(dead / "h.sock")
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        wait_for(lambda: is_our_ssh(ours.pid, dead / "h.sock"), 5, "the stand-in ssh")
        (dead / "h.pid").write_text(f'{{"pid": {ours.pid}, "socket": "{dead / "h.sock"}"}}')
        # A recorded pid that is no ssh of ours (pid reuse) is never touched.
        (dead / "other.pid").write_text(f'{{"pid": {stranger.pid}, "socket": "{dead / "o.sock"}"}}')
        assert reap_leftovers(root) == [ours.pid]
        assert ours.wait(timeout=5) == -signal.SIGTERM
        assert stranger.poll() is None
        assert not dead.exists()
    finally:
        for process in (ours, stranger):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_forward_of_a_running_jobtui_is_left_alone(tmp_path: Path) -> None:
    root = private_dir(tmp_path / "run")
    # The "jobtui" is a shell whose child is the stand-in ssh.
    sock = root / "OWNER" / "h.sock"
    owner = subprocess.Popen(
        ["bash", "-c", '(exec -a ssh "$0" -c "import time; time.sleep(600)" -L "$1":/x h) & wait',
         sys.executable, str(sock)],
    )  # fmt: skip
    try:
        directory = root / str(owner.pid)
        directory.mkdir()
        sock = directory / "h.sock"
        child: list[int] = []

        def found() -> bool:
            child[:] = [
                int(p.parent.name)
                for p in Path("/proc").glob("[0-9]*/stat")
                if _ppid(p) == owner.pid and _argv0(int(p.parent.name)) == "ssh"
            ]
            return bool(child)

        wait_for(found, 5, "the owner's ssh")
        old = root / "OWNER" / "h.sock"
        (directory / "h.pid").write_text(f'{{"pid": {child[0]}, "socket": "{old}"}}')
        assert reap_leftovers(root) == []
        assert running(child[0]) and directory.exists()
    finally:
        for pid in child:
            os.kill(pid, signal.SIGKILL)
        owner.wait(timeout=5)


def _ppid(stat_path: Path) -> int | None:
    try:
        return int(stat_path.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _argv0(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return ""


KILLED_JOBTUI = """
import sys, time
from pathlib import Path
from jobtui.backend.docker.forwards import Forwards, private_dir
from jobtui.backend.docker.hosts import HostConnection
from jobtui.config.models import Host

forwards = Forwards(lambda: private_dir(Path(sys.argv[1])))
connection = HostConnection(Host("far", "ssh://deploy@127.0.0.1:2222"), ssh=sys.argv[2],
                            forwards=forwards)
connection.client
print(connection.forward.pid, flush=True)
time.sleep(600)
"""


def test_the_kernel_ends_the_forward_of_a_jobtui_killed_hard(tmp_path: Path, starts: Path) -> None:
    ssh = fake_ssh(tmp_path, BINDS_AND_STAYS)
    root = tmp_path / "run"
    jobtui = subprocess.Popen(
        [sys.executable, "-c", KILLED_JOBTUI, str(root), ssh], stdout=subprocess.PIPE, text=True
    )
    try:
        assert jobtui.stdout is not None
        pid = int(jobtui.stdout.readline())
        assert running(pid)
    finally:
        jobtui.kill()  # SIGKILL: no atexit, no finally
        jobtui.wait(timeout=10)
    wait_for(lambda: not running(pid), 5, "ssh ended with its jobtui (pdeathsig)")
    # Its files stay behind until the next jobtui tidies them.
    assert (root / str(jobtui.pid)).is_dir()
    assert reap_leftovers(root) == []
    assert not (root / str(jobtui.pid)).exists()
