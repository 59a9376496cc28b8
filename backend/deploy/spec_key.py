"""The bastion's key for the ``jobtui.spec-hash`` label (see ``docker.spec.spec_hash``).

32 random bytes in ``<state dir>/spec-hash.key`` (0600), created on first
use. Only the bastion holds it: containers carry an HMAC under it, so whoever
reads labels (``docker ps``, Prometheus's ``container_label_*`` series from
cAdvisor) cannot test guesses of a secret env value against a label.
Bastions that share a state directory share the key; a label made under
another key merely reads as "changed" when a plan could not inspect the
container (plans inspect the current container, so this is rare).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from jobtui.backend.errors import JobtuiError

KEY_FILE = "spec-hash.key"
KEY_BYTES = 32


class SpecKeyError(JobtuiError):
    """The key file cannot be read or created."""


class SpecKeyNotMade(SpecKeyError):
    """There is no key file and the state directory takes no new one (full, read-only, …).

    An operation writes its request, lock or journal into the same directory
    right after, and that write fails with the same reason: callers need not
    warn about this one, the operator would read the cause twice.
    """


def load_spec_key(state_dir: Path) -> bytes:
    """The key in ``state_dir``, made on first use (atomically: racing processes agree)."""
    path = state_dir / KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SpecKeyError(f"cannot read the spec-hash key {path}: {exc}") from exc
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _make(path)
    except OSError as exc:
        raise SpecKeyNotMade(f"cannot create the spec-hash key in {state_dir}: {exc}") from exc
    try:
        return _read(path)
    except OSError as exc:
        raise SpecKeyError(f"cannot read the spec-hash key {path}: {exc}") from exc


def _make(path: Path) -> None:
    """Write a fresh key beside ``path`` and link it into place unless another process did."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        # A full disk fails this write (or the flush at close) after the
        # file exists: the finally below removes it whatever failed.
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        # link() fails if another process won the race: then its key counts.
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _read(path: Path) -> bytes:
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise SpecKeyError(f"{path} holds no key (delete it to make a new one)")
    if path.stat().st_mode & 0o077:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    return key
