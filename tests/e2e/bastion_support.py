"""Helpers of the bastion tests (ssh, TLS, registry auth, secrets) on the real stack.

Each test runs the ``jobtui`` console script with a runtime directory of its
own (``JOBTUI_RUNTIME_DIR``), so every ssh forward it (or the detached runner
it starts) makes has that directory in its command line: "no ssh left" is a
scan of /proc for such processes, never a guess by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

JOBTUI = str(Path(sys.executable).with_name("jobtui"))


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def answer(port: int) -> str | None:
    """What the demo web image says on ``port`` (``web v1`` …); ``None`` if nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return str(response.read().decode().strip())
    except OSError:
        return None


class Cli:
    """Runs ``jobtui -i INVENTORY …`` with its own runtime and state directories."""

    def __init__(self, inventory: Path, tmp: Path, env: Mapping[str, str] | None = None) -> None:
        self.inventory = inventory
        self.runtime = tmp / "run"
        self.state = tmp / "state"
        self.env = dict(os.environ)
        self.env.update(
            {"JOBTUI_RUNTIME_DIR": str(self.runtime), "JOBTUI_STATE_DIR": str(self.state)}
        )
        self.env.update(env or {})
        self.outputs: list[str] = []
        """Everything every call printed (the secrets test greps it)."""

    def __call__(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [JOBTUI, "-i", str(self.inventory), *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env=self.env,
        )  # fmt: skip
        self.outputs.append(result.stdout + result.stderr)
        return result

    def no_ssh_left(self, timeout: float = 10) -> None:
        """No ssh process of this CLI's (or its runners') remains, and no socket or pid file."""
        wait_for(lambda: not ssh_processes(self.runtime), timeout, "every ssh forward to end")
        leftovers = (
            [p for p in self.runtime.rglob("*") if p.is_file()] if self.runtime.exists() else []
        )
        assert leftovers == [], leftovers


def argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def ssh_processes(marker: Path) -> list[int]:
    """Live ``ssh`` processes whose command line mentions ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        words = argv(int(entry.name))
        ours = words and Path(words[0]).name == "ssh" and any(str(marker) in w for w in words)
        if ours and state_of(int(entry.name)) not in ("Z", "gone"):
            found.append(int(entry.name))
    return found


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def ssh_children(pid: int) -> list[int]:
    """The ``ssh`` processes ``pid`` started (its direct children named ssh)."""
    return [c for c in children(pid) if argv(c) and Path(argv(c)[0]).name == "ssh"]


def edited_inventory(
    source: Path,
    target: Path,
    *,
    keep_services: tuple[str, ...] | None = None,
    services: Mapping[str, Mapping[str, Any]] | None = None,
    top: Mapping[str, Any] | None = None,
    rename: Mapping[str, str] | None = None,
) -> Path:
    """``source`` with some services kept, changed or renamed and top-level keys replaced."""
    data = yaml.safe_load(source.read_text())
    chosen = [s for s in data["services"] if keep_services is None or s["name"] in keep_services]
    for service in chosen:
        service.update((services or {}).get(service["name"], {}))
        service["name"] = (rename or {}).get(service["name"], service["name"])
    data["services"] = chosen
    data.update(top or {})
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target
