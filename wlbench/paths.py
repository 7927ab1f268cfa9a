"""What a path on disk is, told without opening it (a FIFO would block a reader forever).

:func:`file_kind` is the one test of "is this a regular file" behind the soundbank scan and
:func:`require_input_file`, the shared guard of commands that read one input file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from wlbench.errors import WlbenchError


def file_kind(path: str | Path) -> str:
    """``"file"`` (a regular file, reached through symbolic links), ``"directory"``, ``"missing"``, or what
    else it is: ``"a symbolic link loop"``, ``"a broken symbolic link"``, ``"a FIFO (named pipe)"``,
    ``"a socket"``, ``"a device"``, ``"unreadable (<reason>)"``. Never opens the file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if exc.errno == errno.ENOENT:
            return "a broken symbolic link" if os.path.islink(path) else "missing"
        return f"unreadable ({exc.strerror})"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def require_input_file(path: str | Path, what: str, *, hint: str | None = None) -> Path:
    """``path`` if it is a regular file this process may read; else one :class:`WlbenchError` saying what
    the path is instead (missing, a folder, a FIFO, a link loop, unreadable). ``what`` names the input,
    e.g. ``"dataset file"``."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "file" and not os.access(path, os.R_OK):
        kind = "unreadable (permission denied)"
    if kind != "file":
        description = {"missing": "not found", "directory": "is a folder, not a file"}.get(kind, f"is {kind}")
        raise WlbenchError(f"{what} {path} {description}", hint=hint)
    return path
