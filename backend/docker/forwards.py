"""Where ssh forwards live, who may start one, and who ends those a dead jobtui left.

* **Runtime directory** — ``$JOBTUI_RUNTIME_DIR``, else
  ``$XDG_RUNTIME_DIR/jobtui``, else ``/tmp/jobtui-<uid>``; private (0700,
  ours, no symlink). Each jobtui process keeps its forwards in a
  subdirectory named by its pid: per host the local socket, ssh's stderr
  log and a pid file naming the ssh process and its socket.
* **One forward per host per process** — :data:`FORWARDS` hands out the same
  forward to every pool of the process, counts its users and stops it when
  the last one lets go, and at interpreter exit in any case.
* **No ssh outlives jobtui** — ssh starts in a session of its own (a
  terminal's Ctrl-C or hang-up does not cut a rollout's connection) and, via
  ``setpriv --pdeathsig``, is sent SIGTERM by the kernel the moment jobtui
  dies, however it dies. The spawning is done by one long-lived thread,
  because the kernel ties that signal to the thread that forked the child,
  and worker threads come and go.
* **Leftovers** — if a forward survives anyway (no ``setpriv``, a kernel
  without it), the next jobtui that opens a forward reads the pid files of
  processes that no longer exist and ends each recorded pid that is still an
  ``ssh`` whose command line holds the recorded socket and whose parent is not
  its jobtui: never by name, never anything else.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobtui.backend.docker.errors import HostUnavailable

if TYPE_CHECKING:
    from jobtui.backend.docker.ssh import SshForward

RUNTIME_DIR_ENV = "JOBTUI_RUNTIME_DIR"
UNIX_PATH_MAX = 107
"""Bytes of a unix socket path (Linux's ``sun_path`` less the NUL)."""
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def runtime_root() -> Path:
    """The private directory that holds every jobtui process's forwards (created if needed)."""
    configured = os.environ.get(RUNTIME_DIR_ENV)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if configured:
        root = Path(configured)
    elif xdg and Path(xdg).is_dir():
        root = Path(xdg) / "jobtui"
    else:
        root = Path(tempfile.gettempdir()) / f"jobtui-{os.getuid()}"
    # <root>/<pid>/<name>.sock must fit a unix socket path.
    if len(str(root)) > UNIX_PATH_MAX - 40:
        root = Path(tempfile.gettempdir()) / f"jobtui-{os.getuid()}"
    return private_dir(root)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only we can enter; ``HostUnavailable`` when it is someone else's."""
    try:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700, parents=False)
        info = path.lstat()
    except OSError as exc:
        raise HostUnavailable(
            f"cannot create {path} for jobtui's ssh sockets: {exc.strerror or exc} "
            f"(set ${RUNTIME_DIR_ENV} to a private directory)"
        ) from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise HostUnavailable(
            f"{path} is not a directory of this user's: jobtui keeps its ssh sockets there "
            f"(set ${RUNTIME_DIR_ENV} to a private directory)"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)
    return path


@dataclass(frozen=True)
class ForwardFiles:
    """The files of one forward in its process's directory."""

    socket: Path
    log: Path
    pidfile: Path

    @property
    def config(self) -> Path:
        """The forward's own ssh_config (written only for a jump host, see ``ssh.jump_config``)."""
        return self.socket.with_suffix(".ssh_config")

    @classmethod
    def of(cls, directory: Path, name: str) -> ForwardFiles:
        return cls(directory / f"{name}.sock", directory / f"{name}.log", directory / f"{name}.pid")

    def record(self, pid: int, host: str) -> None:
        """Write the pid file (atomically: a reader never sees half of it)."""
        data = json.dumps({"pid": pid, "socket": str(self.socket), "host": host})
        partial = self.pidfile.with_suffix(".pid.new")
        partial.write_text(data + "\n")
        partial.replace(self.pidfile)

    def remove(self) -> None:
        for path in (self.socket, self.log, self.pidfile, self.config):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def file_name(host: str, taken: Sequence[str] = ()) -> str:
    """A short file name for ``host``'s forward, unique among ``taken``."""
    base = _SAFE.sub("_", host)[:32] or "host"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


# ---------------------------------------------------------------- processes


def _proc_argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _proc_ppid(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_our_ssh(pid: int, socket: Path) -> bool:
    """Whether ``pid`` is an ``ssh`` whose command line holds ``socket`` (a forward of ours)."""
    argv = _proc_argv(pid)
    if not argv or Path(argv[0]).name != "ssh":
        return False
    return any(str(socket) in arg for arg in argv[1:])


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def end_process(pid: int, timeout: float = 3.0) -> None:
    """SIGTERM ``pid``, SIGKILL if it is still running after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # polling a process we do not parent: nothing to wait() on
    if _running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def reap_leftovers(root: Path, *, me: int | None = None) -> list[int]:
    """End the forwards that jobtui processes which no longer run left in ``root``.

    Returns the ssh pids ended. A directory of a process that still runs is
    left alone, as is any recorded pid that is not (any more) that forward.
    """
    me = os.getpid() if me is None else me
    ended: list[int] = []
    for directory in sorted(root.iterdir()) if root.is_dir() else ():
        if not directory.name.isdigit() or int(directory.name) == me:
            continue
        owner = int(directory.name)
        owner_runs = _alive(owner)
        for pidfile in directory.glob("*.pid"):
            try:
                record = json.loads(pidfile.read_text())
                pid, sock = int(record["pid"]), Path(str(record["socket"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if is_our_ssh(pid, sock) and _proc_ppid(pid) != owner:
                end_process(pid)
                ended.append(pid)
            if not owner_runs:
                ForwardFiles(sock, pidfile.with_suffix(".log"), pidfile).remove()
        if not owner_runs:
            shutil.rmtree(directory, ignore_errors=True)
    return ended


# ---------------------------------------------------------------- spawning


def pdeathsig_prefix() -> list[str]:
    """``setpriv --pdeathsig TERM --``, or nothing where setpriv is missing."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class Spawner:
    """Starts child processes from one thread that lives as long as the process."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[
            tuple[list[str], Path, Future[subprocess.Popen[bytes]]]
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        """``argv`` started with stdin from /dev/null and stderr into ``log``."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jobtui-spawner")
                self._thread.daemon = True
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((argv, log, done))
        return done.result()

    def _run(self) -> None:
        while True:
            argv, log, done = self._requests.get()
            try:
                with log.open("wb") as err:
                    child = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                        start_new_session=True,
                    )  # fmt: skip
            except Exception as exc:  # handed to the caller, which raises it
                done.set_exception(exc)
            else:
                done.set_result(child)


# ---------------------------------------------------------------- the registry


class Forwards:
    """The process's forwards: one per host and settings, shared, counted, ended at exit."""

    def __init__(self, root: Callable[[], Path] = runtime_root) -> None:
        self._root = root
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[SshForward, int]] = {}
        self._directory: Path | None = None
        self._reaped = False
        self.spawner = Spawner()

    def process_dir(self) -> Path:
        """This process's directory of forwards (created, and leftovers reaped, on first use)."""
        with self._lock:
            return self._process_dir_locked()

    def _process_dir_locked(self) -> Path:
        if self._directory is None or not self._directory.is_dir():
            root = self._root()
            if not self._reaped:
                self._reaped = True
                reap_leftovers(root)
            self._directory = private_dir(root / str(os.getpid()))
        return self._directory

    def process_path(self) -> Path:
        """Where this process's forwards are kept (the directory exists only while they run)."""
        with self._lock:
            if self._directory is not None:
                return self._directory
        return self._root() / str(os.getpid())

    def acquire(
        self, key: Hashable, host: str, make: Callable[[ForwardFiles, Spawner], SshForward]
    ) -> SshForward:
        """The forward for ``key``, made by ``make`` on first use; one more user of it."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                directory = self._process_dir_locked()
                taken = [f.files.socket.stem for f, _ in self._items.values()]
                forward = make(ForwardFiles.of(directory, file_name(host, taken)), self.spawner)
                found = (forward, 0)
            self._items[key] = (found[0], found[1] + 1)
            return found[0]

    def release(self, key: Hashable) -> None:
        """One user fewer; the last one stops the forward and removes its files."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return
            forward, users = found
            if users > 1:
                self._items[key] = (forward, users - 1)
                return
            del self._items[key]
        forward.stop()
        forward.files.remove()
        self._remove_dir_if_unused()

    def active(self) -> list[SshForward]:
        """The forwards in use now."""
        with self._lock:
            return [forward for forward, _ in self._items.values()]

    def stop_all(self) -> None:
        """Stop every forward (at interpreter exit, whoever forgot to close a pool)."""
        with self._lock:
            forwards = [forward for forward, _ in self._items.values()]
            self._items.clear()
        for forward in forwards:
            with contextlib.suppress(Exception):
                forward.stop()
                forward.files.remove()
        self._remove_dir_if_unused()

    def _remove_dir_if_unused(self) -> None:
        with self._lock:
            directory = self._directory
            if directory is None or self._items:
                return
            self._directory = None
        with contextlib.suppress(OSError):
            for leftover in directory.iterdir():
                leftover.unlink()
            directory.rmdir()


FORWARDS = Forwards()
"""The process's one registry of ssh forwards."""
atexit.register(FORWARDS.stop_all)
