"""Grammars of paths: bind mounts, files on the bastion, key prefixes."""

from __future__ import annotations

import os
import posixpath
import re
import stat

from jobtui.config.errors import show

PATH_MAX = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _absolute(text: str, what: str) -> str:
    if not text.startswith("/"):
        raise ValueError(f"{show(text)} must be an absolute path")
    bad = _CONTROL.search(text)
    if bad:
        raise ValueError(f"{show(text)}: {what} cannot contain {show(bad.group())}")
    if len(text) > PATH_MAX:
        raise ValueError(f"{show(text)} is longer than {PATH_MAX} characters")
    if ".." in text.split("/"):
        raise ValueError(f"{show(text)}: {what} cannot contain '..'")
    return text


def parse_volume_path(text: str, *, container: bool) -> str:
    """One side of a bind mount: absolute, normalized, without ``..`` or ``:``.

    Docker reports mounts with cleaned paths and separates the parts of a
    bind with ``:``, so anything else would read as drift forever or split
    wrongly. The container side cannot be ``/``.
    """
    _absolute(text, "a mount path")
    if ":" in text:
        raise ValueError(f"{show(text)}: a mount path cannot contain ':'")
    clean = posixpath.normpath(text)
    if clean != text or text.startswith("//"):
        raise ValueError(f"{show(text)}: write it as {show(clean)}, as Docker reports it")
    if container and text == "/":
        raise ValueError("'/' cannot be a mount point: the container's root is its image")
    return text


def parse_file_path(text: str) -> str:
    """A file on the bastion named by the inventory (certificates, keys): an absolute path."""
    return _absolute(text, "a file path")


def check_file(path: str) -> str:
    """``path`` is an existing regular file that this user can read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{show(path)} does not exist") from None
    except PermissionError:
        raise ValueError(f"{show(path)} cannot be reached (permission denied)") from None
    except OSError as exc:
        raise ValueError(f"{show(path)}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{show(path)} is not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{show(path)} is not readable")
    return path


def parse_key_prefix(text: str) -> str:
    """An etcd key prefix: starts with ``/``, no whitespace or control characters."""
    if not text.startswith("/"):
        raise ValueError(f"{show(text)} must start with '/'")
    bad = re.search(r"[\s\x00-\x1f\x7f]", text)
    if bad:
        raise ValueError(f"{show(text)}: a key prefix cannot contain {show(bad.group())}")
    return text
