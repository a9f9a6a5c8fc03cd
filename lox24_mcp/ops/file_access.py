"""Which files an import may read: only regular files inside the operator's allowed directories.

A model chooses the `path`, so it is treated as hostile. The checks, in order:

- no NUL byte (C APIs would cut the path there), not empty, not absurdly long;
- the path and every allowed directory are resolved to their real paths (symlinks followed), and the
  file must lie inside an allowed directory by whole path segments — `/data/imports-evil` is not
  inside `/data/imports`, and a symlink in the tree that points out of it resolves out of it;
- only a regular file (no directory, device, FIFO or socket), at most `max_bytes` long;
- it is opened without following a final symlink and without blocking (a FIFO swapped in after the
  check cannot hang the server), and the opened file must be the one that was checked.

Relative paths are looked up in the allowed directories, in order.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

#: Environment variable naming the allowed directories (os.pathsep-separated).
IMPORT_DIRS_VAR = "LOX24_MCP_IMPORT_DIRS"
MAX_FILE_BYTES = 50 * 1024 * 1024
_MAX_PATH_CHARS = 4096

NOT_CONFIGURED = (
    f"Reading files is switched off on this server: the operator must name the folders it may read in "
    f"{IMPORT_DIRS_VAR} (several separated by '{os.pathsep}'), or set the bundle's 'directory' setting."
)


class FileAccessError(ValueError):
    """The path may not be read; the message is one sentence the model can act on."""


@dataclass(frozen=True)
class OpenedFile:
    """A checked, opened regular file. Close `stream` when done."""

    stream: BinaryIO
    path: Path
    size: int


def parse_dirs(value: str | Sequence[str] | None) -> tuple[Path, ...]:
    """The allowed directories from `LOX24_MCP_IMPORT_DIRS` (or a list), `~` expanded, empties dropped.

    They are not resolved here: a directory created after start-up, or a symlinked one whose target
    moves, is resolved at the time of each import.
    """
    if value is None:
        return ()
    parts = value.split(os.pathsep) if isinstance(value, str) else list(value)
    return tuple(Path(os.path.expanduser(p.strip())) for p in parts if p.strip())


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def resolve_allowed(raw: str, allowed: Sequence[Path]) -> Path:
    """The real path of `raw` if it lies inside one of `allowed`; the file must exist.

    Raises:
        FileAccessError: not configured, a malformed path, outside every allowed directory, or missing.
    """
    if not allowed:
        raise FileAccessError(NOT_CONFIGURED)
    if "\x00" in raw:
        raise FileAccessError("The path contains a NUL byte; nothing was read.")
    text = raw.strip()
    if not text:
        raise FileAccessError("The path is empty; give the file's name or full path.")
    if len(text) > _MAX_PATH_CHARS:
        raise FileAccessError("The path is too long; nothing was read.")
    roots = [_real(directory) for directory in allowed]
    candidate = Path(os.path.expanduser(text))
    candidates = [candidate] if candidate.is_absolute() else [root / candidate for root in roots]
    names = ", ".join(str(root) for root in roots)
    inside = False
    for option in candidates:
        real = _real(option)
        if not any(real == root or real.is_relative_to(root) for root in roots):
            continue
        inside = True
        if os.path.lexists(real):
            return real
    if not inside:  # said whether or not it exists: no probing of the rest of the disk
        raise FileAccessError(
            f"{text!r} is outside the folders this server may read ({names}); copy the file into one of them."
        )
    raise FileAccessError(f"There is no file {text!r} in the folders this server may read ({names}).")


def open_allowed(raw: str, allowed: Sequence[Path], *, max_bytes: int = MAX_FILE_BYTES) -> OpenedFile:
    """Open `raw` for reading after every check in the module docstring.

    Raises:
        FileAccessError: the file may not or cannot be read; nothing was read.
    """
    real = resolve_allowed(raw, allowed)
    shown = real.name
    try:
        before = os.lstat(real)
    except OSError as exc:
        raise FileAccessError(f"{shown!r} cannot be read ({exc.strerror}).") from None
    if stat.S_ISDIR(before.st_mode):
        raise FileAccessError(f"{shown!r} is a folder; give the path of a file inside it.")
    if not stat.S_ISREG(before.st_mode):
        raise FileAccessError(f"{shown!r} is not a regular file (a device, pipe or socket); nothing was read.")
    _check_size(shown, before.st_size, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise FileAccessError(f"{shown!r} cannot be read ({exc.strerror}).") from None
    try:
        after = os.fstat(fd)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(after.st_mode):
            raise FileAccessError(f"{shown!r} changed while it was being opened; try again.")
        _check_size(shown, after.st_size, max_bytes)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        stream = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return OpenedFile(stream=stream, path=real, size=after.st_size)


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise FileAccessError(
            f"{name!r} is {size / 1e6:.1f} MB, more than the {max_bytes / 1e6:.0f} MB this server reads; "
            "split it into smaller files."
        )
    if size == 0:
        raise FileAccessError(f"{name!r} is empty.")
