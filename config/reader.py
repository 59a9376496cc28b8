"""Read an inventory file's text, bounded: a regular file, at most 16 MiB, valid Unicode.

Every refusal is a :class:`~jobtui.config.errors.Problem` with the line it
concerns, so a stray byte is reported where an editor would show it.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

from jobtui.config.errors import InventoryError, Problem

SIZE_LIMIT = 16 * 1024 * 1024
"""Inventories are kilobytes; anything this large is the wrong file."""
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# What YAML allows in a stream (YAML 1.1 §5.1, as PyYAML and libyaml check it).
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# YAML's line breaks: libyaml and PyYAML count all of these.
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_REPORTED_CHARACTERS = 5
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_text(path: str | Path) -> str:
    """The decoded text of the inventory at ``path``; ``InventoryError`` when it cannot be."""
    file = str(path)
    data = _read_bytes(path, file)
    return decode(data, file)


def _read_bytes(path: str | Path, file: str) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before it is refused.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise _unreadable(file, "it does not exist") from exc
    except PermissionError as exc:
        raise _unreadable(file, "permission denied") from exc
    except OSError as exc:
        raise _unreadable(file, exc.strerror or str(exc)) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise _unreadable(file, f"it is {kind}, not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= SIZE_LIMIT:
            chunk = os.read(fd, min(1 << 20, SIZE_LIMIT + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _unreadable(file, exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)
    if size > SIZE_LIMIT:
        raise _unreadable(
            file,
            "it is larger than 16 MiB; an inventory is a few kilobytes (is it the right file?)",
        )
    return b"".join(chunks)


def _unreadable(file: str, why: str) -> InventoryError:
    return InventoryError([Problem(file, 0, "", f"cannot read the file: {why}")])


def decode(data: bytes, file: str) -> str:
    """``data`` as text: UTF-8, or UTF-16/32 with a byte-order mark; a BOM is dropped."""
    encoding, start = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, start = name, len(bom)
            break
    body = data[start:]
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        line = _line_at(body[: exc.start].decode(encoding, errors="replace"), None)
        where = f"byte 0x{body[exc.start]:02x}" if encoding == "utf-8" else "the bytes"
        raise InventoryError(
            [
                Problem(
                    file,
                    line,
                    "",
                    f"{where} is not valid {encoding.upper()} text; save the file as UTF-8",
                )
            ]
        ) from None
    return check_characters(text, file)


def check_characters(text: str, file: str) -> str:
    """``text`` when YAML allows every character in it; else the first few, with their lines."""
    problems: list[Problem] = []
    lines: set[int] = set()
    for match in _NOT_PRINTABLE.finditer(text):
        line = _line_at(text, match.start())
        if line in lines:
            continue
        lines.add(line)
        code = ord(match.group())
        kind = "control character" if code < 0x20 or 0x7F <= code <= 0x9F else "character"
        escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        hint = " (a UTF-16 file needs a byte-order mark)" if code == 0 else ""
        problems.append(
            Problem(
                file,
                line,
                "",
                f"{kind} U+{code:04X} is not allowed in YAML; inside double quotes "
                f"write it as {escape}{hint}",
            )
        )
        if len(problems) >= _REPORTED_CHARACTERS:
            break
    if problems:
        raise InventoryError(problems)
    return text


def _line_at(text: str, index: int | None) -> int:
    """The 1-based line of ``text[index]`` (of the end of ``text`` when ``index`` is None)."""
    head = text if index is None else text[:index]
    return len(_BREAK.findall(head)) + 1
