"""The input guard: what a path on disk is, told without opening it (a FIFO would block a reader forever),
and every input file read through one bounded reader.

:func:`file_kind` is the one test of "is this a regular file" behind the soundbank scan and
:func:`require_input_file`, the shared guard of commands that read one input file. :func:`read_input_bytes`
(and :func:`read_text_input` on top of it) is the one way an input file is read: regular files only (a FIFO
or a device is named, never opened; the open itself cannot block), at most :data:`MAX_INPUT_BYTES`
(a larger file is one error naming its size and the limit). A :class:`ReadBudget` bounds what the members
of a folder or an archive may hold together (an archive: :data:`MAX_EXPANSION` times its size).

Inside :func:`command_scope` (the CLI opens one per command) every input checked or read here is noted by
its inode, and the output guard (:func:`wlbench.atomic.check_output_path`) refuses to write over any of
them (:func:`noted_input`), through whatever link or name it is reached.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from wlbench.errors import WlbenchError

MAX_INPUT_BYTES = 2 * 1024 ** 3
"""The most bytes one input file (or all the members of one archive together) may hold: 2 GiB."""
MAX_EXPANSION = 100
"""The most an archive may expand over its own size (an archive bomb is refused, not read)."""

_INPUTS: contextvars.ContextVar[dict[tuple[int, int], Path] | None] = contextvars.ContextVar("wlbench_inputs",
                                                                                           default=None)


@contextlib.contextmanager
def command_scope() -> Iterator[None]:
    """Note, for the time of one command, every input file it checks or reads (see :func:`noted_input`)."""
    token = _INPUTS.set({})
    try:
        yield
    finally:
        _INPUTS.reset(token)


def note_input(path: str | Path) -> None:
    """Record ``path`` as an input of the running command (nothing outside :func:`command_scope`)."""
    inputs = _INPUTS.get()
    if inputs is None:
        return
    with contextlib.suppress(OSError):
        info = os.stat(path)
        inputs.setdefault((info.st_dev, info.st_ino), Path(path))


def noted_inputs() -> list[Path]:
    """Every input noted so far by the running command (empty outside :func:`command_scope`)."""
    return list((_INPUTS.get() or {}).values())


def noted_input(path: str | Path) -> Path | None:
    """The input of the running command that ``path`` is (the same inode, through any link), or None."""
    inputs = _INPUTS.get()
    if not inputs:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return inputs.get((info.st_dev, info.st_ino))


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


def read_text_input(path: str | Path, what: str, *, hint: str | None = None, limit: int | None = None) -> str:
    """The UTF-8 text of an input file (read by :func:`read_input_bytes`); a file that is not UTF-8 text (a
    binary file given by mistake) is one :class:`WlbenchError` saying so, with the first bad byte."""
    data = read_input_bytes(path, what, hint=hint, limit=limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WlbenchError(f"{what} {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                           f"{exc.start}); is it the right file?", hint=hint) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as Path.read_text reads it


def _too_large(what: str, path: str | Path, size: str, limit: int, hint: str | None) -> WlbenchError:
    return WlbenchError(f"{what} {path} is {size}, more than the {limit:,} bytes an input may hold",
                        hint=hint or "is it the right file? split it, or leave out what is not needed")


def _open_regular(path: str | Path, what: str, hint: str | None, limit: int) -> tuple[IO[bytes], int]:
    """(a binary handle, the size in bytes) of the regular file ``path`` holding at most ``limit`` bytes,
    noted as an input; else one :class:`WlbenchError` (see :func:`open_input`). The path is looked at (one ``stat``) before it is
    opened, so a device node is never opened; the open itself cannot block, and a FIFO or device swapped in
    after the look is refused from the opened descriptor."""
    try:
        looked = os.stat(path)
    except OSError:
        looked = None
    if looked is None or not stat.S_ISREG(looked.st_mode):
        require_input_file(path, what, hint=hint)  # says what the path is instead
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        require_input_file(path, what, hint=hint)  # missing or unreadable by now: says which
        raise WlbenchError(f"{what} {path} cannot be read ({exc.strerror})", hint=hint) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WlbenchError(f"{what} {path} is not a regular file", hint=hint)
        if info.st_size > limit:
            raise _too_large(what, path, f"{info.st_size:,} bytes", limit, hint)
        handle = os.fdopen(fd, "rb")  # O_NONBLOCK has no effect on a regular file's reads
    except BaseException:
        os.close(fd)
        raise
    inputs = _INPUTS.get()
    if inputs is not None:
        inputs.setdefault((info.st_dev, info.st_ino), Path(path))
    return handle, info.st_size


def open_input(path: str | Path, what: str, *, hint: str | None = None, limit: int | None = None) -> IO[bytes]:
    """A binary handle on the regular file ``path`` (else one :class:`WlbenchError` saying what the path is
    instead, as :func:`require_input_file`), noted as an input of the running command. The open cannot
    block: a FIFO or device swapped in after the check is refused from the opened handle itself. A file
    larger than ``limit`` bytes (default :data:`MAX_INPUT_BYTES`) is refused before reading."""
    return _open_regular(path, what, hint, MAX_INPUT_BYTES if limit is None else limit)[0]


def read_input_bytes(path: str | Path, what: str, *, hint: str | None = None, limit: int | None = None,
                     size: int = -1) -> bytes:
    """The bytes of the input file ``path`` (the first ``size`` ones when ``0 <= size <= limit``, whatever the
    file's size), opened as :func:`open_input` opens it; never more than ``limit`` bytes (default
    :data:`MAX_INPUT_BYTES`): a larger file, or one that grows past it while being read, is refused."""
    limit = MAX_INPUT_BYTES if limit is None else limit
    whole = size < 0 or size > limit  # reading the first bytes only (a format sniff) is fine at any file size
    handle, known = _open_regular(path, what, hint, limit if whole else 2 ** 63 - 1)
    with handle:
        try:
            if whole:  # the size it has now (+1 to see growth), then what it grew by, up to the limit
                data = handle.read(min(known, limit) + 1)
                if len(data) == min(known, limit) + 1 and len(data) <= limit:
                    data += handle.read(limit + 1 - len(data))
            else:
                data = handle.read(size)
        except OSError as exc:
            raise WlbenchError(f"{what} {path} cannot be read ({exc.strerror})", hint=hint) from None
    if len(data) > limit:
        raise _too_large(what, path, f"more than {limit:,} bytes", limit, hint)
    return data


class ReadBudget:
    """What the members of one container of inputs (a folder of score tables, an archive) may hold together:
    at most :data:`MAX_INPUT_BYTES`, and an archive at most :data:`MAX_EXPANSION` times its own size (at
    least 1 MB), so that a small archive cannot expand without bound (an archive bomb is refused, not
    read)."""

    def __init__(self, what: str, limit: int = MAX_INPUT_BYTES, *, archive: bool = False) -> None:
        self.what, self.limit, self.left, self.archive = what, limit, limit, archive

    @classmethod
    def for_archive(cls, path: str | Path, what: str) -> ReadBudget:
        """The budget of the archive file ``path`` (its size times :data:`MAX_EXPANSION`)."""
        size = os.stat(path).st_size
        return cls(f"{what} {path}", min(MAX_INPUT_BYTES, max(MAX_EXPANSION * size, 1_000_000)), archive=True)

    def take(self, count: int) -> None:
        """Count ``count`` bytes read (by :func:`read_input_bytes` with ``limit=self.left``)."""
        self.left -= count
        if self.left < 0:
            raise self._error()

    def read(self, handle: IO[bytes]) -> bytes:
        """Read the rest of ``handle`` (an archive member), never more than what is left."""
        data = handle.read(self.left + 1)
        self.take(len(data))
        return data

    def _error(self) -> WlbenchError:
        if self.archive:
            return WlbenchError(f"{self.what} expands to more than {self.limit:,} bytes ({MAX_EXPANSION} times its "
                                "size, at most the limit of one input): refused as an archive bomb",
                                hint="if it is what you meant, unpack it yourself and give the folder")
        return WlbenchError(f"{self.what} holds more than the {self.limit:,} bytes an input may hold",
                            hint="is it the right folder?")


def require_input_file(path: str | Path, what: str, *, hint: str | None = None) -> Path:
    """``path`` if it is a regular file this process may read; else one :class:`WlbenchError` saying what
    the path is instead (missing, a folder, a FIFO, a link loop, unreadable). ``what`` names the input,
    e.g. ``"dataset file"``. The file is noted as an input of the running command (:func:`note_input`)."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "file" and not os.access(path, os.R_OK):
        kind = "unreadable (permission denied)"
    if kind != "file":
        description = {"missing": "not found", "directory": "is a folder, not a file"}.get(kind, f"is {describe(kind)}")
        raise WlbenchError(f"{what} {path} {description}", hint=hint)
    note_input(path)
    return path


def wlbench_cache_dir() -> Path:
    """``$WLBENCH_CACHE``, default ``~/.cache/wlbench``: caches shared by every command (soundbank fingerprints,
    intact-dataset records, the default soundbank)."""
    return Path(os.environ.get("WLBENCH_CACHE") or "~/.cache/wlbench").expanduser()
