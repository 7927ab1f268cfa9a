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


def describe(kind: str) -> str:
    """A :func:`file_kind` as the end of "X is ...": ``"a file"``, ``"a folder"``, ``"missing"``, ..."""
    return {"file": "a file", "directory": "a folder"}.get(kind, kind)


def require_folder(path: str | Path, what: str, *, missing_ok: bool = False, hint: str | None = None) -> Path:
    """``path`` if it is a folder (or, with ``missing_ok``, nothing yet); else one :class:`WlbenchError`
    saying what it is instead. ``what`` names the input, e.g. ``"board"``."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "directory" or (kind == "missing" and missing_ok):
        return path
    raise WlbenchError(f"{what} {path} " + ("not found" if kind == "missing" else f"is {describe(kind)}, not a folder"),
                       hint=hint)


def read_text_input(path: str | Path, what: str, *, hint: str | None = None) -> str:
    """The UTF-8 text of an input file (see :func:`require_input_file`); a file that is not UTF-8 text (a
    binary file given by mistake) is one :class:`WlbenchError` saying so, with the first bad byte."""
    path = require_input_file(path, what, hint=hint)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WlbenchError(f"{what} {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                           f"{exc.start}); is it the right file?", hint=hint) from None
    except OSError as exc:
        raise WlbenchError(f"{what} {path} cannot be read ({exc.strerror})", hint=hint) from None


def require_input_file(path: str | Path, what: str, *, hint: str | None = None) -> Path:
    """``path`` if it is a regular file this process may read; else one :class:`WlbenchError` saying what
    the path is instead (missing, a folder, a FIFO, a link loop, unreadable). ``what`` names the input,
    e.g. ``"dataset file"``."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "file" and not os.access(path, os.R_OK):
        kind = "unreadable (permission denied)"
    if kind != "file":
        description = {"missing": "not found", "directory": "is a folder, not a file"}.get(kind, f"is {describe(kind)}")
        raise WlbenchError(f"{what} {path} {description}", hint=hint)
    return path
