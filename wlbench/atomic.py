"""Atomic writes: build under a temporary name beside the target, rename onto it at the end.

A failed or interrupted write leaves neither a partial file under the final name nor damage to an
existing file of that name; the temporary file is removed on any exception (KeyboardInterrupt too).

Output paths are checked before any work (:func:`check_output_path`, the one output guard, which every
writer here runs again just before it writes): a name too long for the file system, a parent that is a
file, a folder where a file goes (or the reverse), a FIFO, socket or device at the target, an input of the
same command at the target (same inode), a folder that cannot be written, a file that cannot be replaced,
or a disk too small for the expected size each give one :class:`WlbenchError` naming the path.

A process killed outright (SIGKILL, power loss) cannot remove its temporary file. So every temporary name
carries its owner, ``.<target name>.<host>-<pid>-<random><suffix>`` (``host``: 8 hex digits of a hash of
the machine's name), and the next atomic write into the same folder removes the temporaries whose owner is
provably gone: written on this machine by a process that no longer exists (:func:`remove_abandoned`).
Temporaries of another machine, or of a live process, are never touched; :func:`leftovers` lists them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from wlbench.errors import WlbenchError
from wlbench.paths import describe, file_kind, noted_input, noted_inputs

_OWNED = re.compile(r"^\.(?P<target>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[0-9a-f]{8}(?P<suffix>(\.[A-Za-z0-9]+)*)$")
_UNOWNED = re.compile(r"^\..+\.(partial|old)$")  # temporaries of wlbench before owners were recorded


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def human_bytes(count: float) -> str:
    """``1536 -> "1.5 kB"`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------------------- checks

def _existing_ancestor(path: Path) -> Path:
    """The nearest of ``path`` and its parents that exists (something at least: a folder or a file)."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


_TEMPORARY_OVERHEAD = len(".") + len(".12345678-4194304-12345678") + len(".h5.partial") + 8
"""Characters a temporary name adds to its target's name (owner, the longest suffix, some room)."""


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_name_length(target: Path) -> None:
    """Refuse a path the file system cannot hold: a name (or one of the folders to create) longer than its
    folder allows, with room for the temporary name an atomic write uses beside it; a whole path over
    ``PATH_MAX``. Creates nothing."""
    target = Path(os.path.abspath(target))
    ancestor = _existing_ancestor(target.parent)
    limit = _name_max(ancestor if ancestor.is_dir() else Path("/"))
    names = [target.name] + [part.name for part in target.parents if not os.path.lexists(part)]
    for name in names:
        size = len(os.fsencode(name))
        if size + _TEMPORARY_OVERHEAD > limit:
            raise WlbenchError(f"cannot write {target}: the name {name[:40]}... is {size} bytes long, and the file "
                               f"system holds names of at most {limit} bytes (less {_TEMPORARY_OVERHEAD} for the "
                               "temporary name of an atomic write)", hint="choose a shorter name")
    with contextlib.suppress(OSError, ValueError):
        if len(os.fsencode(str(target))) + _TEMPORARY_OVERHEAD > os.pathconf(ancestor, "PC_PATH_MAX"):
            raise WlbenchError(f"cannot write {str(target)[:60]}...: the path is longer than the file system allows",
                               hint="choose a shorter output path")


def _same_file(a: Path, b: str | Path) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return False


def _input_inside(folder: Path) -> Path | None:
    """A noted input of the running command that lies inside the existing ``folder`` (replacing the folder
    would delete it), or None."""
    real = Path(os.path.realpath(folder))
    for found in noted_inputs():
        with contextlib.suppress(ValueError):
            Path(os.path.realpath(found)).relative_to(real)
            return found
    return None


def check_output_path(target: Path, *, directory: bool = False, expected_bytes: int | None = None,
                      inputs: Iterable[str | Path | None] = (), rebuilds: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written atomically or that must not be.

    ``target`` is a file (``directory=False``) or a folder (``directory=True``) to be created or replaced.
    Raises :class:`WlbenchError` when a name is longer than the file system holds, a parent is a file, a
    folder stands where a file goes (or a file where a folder goes), a FIFO, socket or device stands at the
    target (it is never replaced), the target is an input of the same command (one of ``inputs``, or one
    noted by :func:`wlbench.paths.note_input`: the same inode, through any link; or, for a folder, one
    holding such an input, unless ``rebuilds``: a folder rebuilt from its own contents), the folder is not
    writable, an existing target cannot be replaced (a sticky
    folder and another owner), or ``expected_bytes`` exceed the free space of the disk. Creates nothing.
    """
    target = Path(target)
    check_name_length(target)
    ancestor = _existing_ancestor(target.parent)
    if not ancestor.is_dir():
        raise WlbenchError(f"cannot write {target}: {ancestor} is {describe(file_kind(ancestor))}, not a folder",
                           hint="choose another output path")
    if os.path.lexists(target):
        kind = file_kind(target)
        if kind == "directory" and not directory:
            raise WlbenchError(f"cannot write {target}: a folder of that name is in the way",
                               hint="remove or rename that folder, or choose another output path")
        if directory and kind != "directory":
            raise WlbenchError(f"cannot write folder {target}: {describe(kind)} of that name is in the way",
                               hint="remove or rename it, or choose another output path")
        if kind not in ("file", "directory", "a broken symbolic link"):
            raise WlbenchError(f"cannot write {target}: it is {describe(kind)}, and an output is only ever a "
                               "regular file", hint="choose another output path")
        same = noted_input(target) or next((Path(p) for p in inputs if p is not None and _same_file(target, p)),
                                           None)
        if same is None and directory and not rebuilds:
            same = _input_inside(target)
        if same is not None:
            what = "holds" if directory and not _same_file(target, same) else "is"
            raise WlbenchError(f"cannot write {target}: it {what} {same}, an input of this command; writing "
                               "would destroy it", hint="choose another output path")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise WlbenchError(f"cannot write {target}: folder {ancestor} is not writable",
                           hint="fix its permissions or choose another output path")
    if os.path.lexists(target) and ancestor == Path(os.path.abspath(target.parent)):
        folder, owner = os.stat(ancestor), os.lstat(target).st_uid
        euid = os.geteuid()
        if folder.st_mode & stat.S_ISVTX and euid not in (0, owner, folder.st_uid):
            raise WlbenchError(f"cannot replace {target}: it belongs to another user in a folder where only "
                               "owners may replace files", hint="choose another output path")
    if expected_bytes is not None:
        free = shutil.disk_usage(ancestor).free
        if expected_bytes > free:
            raise WlbenchError(f"cannot write {target}: it needs about {human_bytes(expected_bytes)}, and the disk "
                               f"holding {ancestor} has {human_bytes(free)} free",
                               hint="free some space, choose another output path, or write less")


def ensure_writable_dir(directory: Path) -> Path:
    """Create ``directory`` (and parents) if needed and check that files can be created in it."""
    directory = Path(directory)
    ancestor = _existing_ancestor(directory)
    if not ancestor.is_dir():
        raise WlbenchError(f"cannot use {directory} as a folder: {ancestor} is {describe(file_kind(ancestor))}, "
                           "not a folder", hint="choose another output path")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WlbenchError(f"cannot create output folder {directory}: {exc.strerror}",
                           hint="choose a folder you can write to") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise WlbenchError(f"output folder {directory} is not writable",
                           hint="fix its permissions or choose another output path")
    return directory


# ------------------------------------------------------------------------------- owned temporaries

def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _temporary_name(target: Path, suffix: str) -> Path:
    return target.with_name(f".{target.name}.{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0  # another user's process (or a pid this system cannot have: not ours to judge)
    return True


@dataclasses.dataclass(frozen=True)
class Leftover:
    """A temporary file or folder of an atomic write that did not finish."""

    path: Path
    target: str      # the final name it was written for ("" when unknown)
    owner: str       # "gone" (provably abandoned), "running", "another machine" or "unknown"
    pid: int | None

    def describe(self) -> str:
        why = {"gone": f"its process {self.pid} on this machine no longer exists",
               "running": f"its process {self.pid} is still running",
               "another machine": f"written by process {self.pid} on another machine",
               "unknown": "its owner was not recorded"}[self.owner]
        return f"{'folder' if self.path.is_dir() else 'file'} {self.path.name} ({human_bytes(_size(self.path))}) " \
               f"left by an interrupted write of {self.target or 'a file'}: {why}"


def _size(path: Path) -> int:
    with contextlib.suppress(OSError):
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.lstat().st_size
    return 0


def leftovers(directory: Path) -> list[Leftover]:
    """Temporaries of unfinished atomic writes directly in ``directory``, sorted by name."""
    found = []
    with contextlib.suppress(OSError), os.scandir(directory) as it:
        for item in it:
            match = _OWNED.match(item.name)
            if match:
                pid = int(match["pid"])
                owner = ("another machine" if match["host"] != _host_tag()
                         else "running" if _process_exists(pid) else "gone")
                found.append(Leftover(Path(item.path), match["target"], owner, pid))
            elif _UNOWNED.match(item.name):
                found.append(Leftover(Path(item.path), "", "unknown", None))
    return sorted(found, key=lambda leftover: leftover.path.name)


def remove_abandoned(directory: Path) -> list[Leftover]:
    """Remove the temporaries in ``directory`` whose writer is provably gone; returns what was removed.

    A moved-aside previous version (``....old``) whose target is missing (the writer died between its two
    renames) is put back under its name instead of being removed."""
    return _remove([leftover for leftover in leftovers(directory) if leftover.owner == "gone"], restore=True)


def remove_temporaries(directory: Path) -> list[Leftover]:
    """Remove every temporary of an atomic write in ``directory``, whoever wrote it: for a folder whose
    writers have all finished (the staging folder of a sharded render, where a worker that died mid-write
    left its partial file before its job ran again elsewhere). Returns what was removed."""
    return _remove(leftovers(directory), restore=False)


def _remove(found: list[Leftover], *, restore: bool) -> list[Leftover]:
    """Remove ``found`` (with ``restore``, put a moved-aside previous version whose target is missing back)."""
    removed = []
    for leftover in found:
        target = leftover.path.with_name(leftover.target)
        with contextlib.suppress(OSError):
            if restore and leftover.path.name.endswith(".old") and not os.path.lexists(target):
                os.replace(leftover.path, target)
            elif leftover.path.is_dir() and not leftover.path.is_symlink():
                shutil.rmtree(leftover.path)
            else:
                leftover.path.unlink()
            removed.append(leftover)
    return removed


def _replace(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError as exc:  # something took the name while the output was built
        raise WlbenchError(f"cannot write {target}: {exc.strerror}; the new output was discarded",
                           hint="remove what is in the way, or choose another output path") from exc


# ---------------------------------------------------------------------------------------- writers

@contextlib.contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success rename it onto ``target``.

    The caller writes the whole file at the yielded path. On any exception the temporary file is deleted
    and ``target`` is left untouched. ``suffix`` ends the temporary name (default ``.partial``; give the
    extension when the writer infers the format from it, e.g. ``.png``).
    """
    target = Path(target)
    check_output_path(target)
    ensure_writable_dir(target.parent)
    remove_abandoned(target.parent)
    tmp = _temporary_name(target, suffix or ".partial")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # created 0600 while private; give the file the usual permissions
        _replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(target: Path, *, rebuilds: bool = False) -> Iterator[Path]:
    """Like :func:`atomic_path` for a directory: fill the yielded directory, then it replaces ``target``.

    ``rebuilds``: the new folder is built from the inputs inside the old one (they are carried over), so
    an input of the command inside ``target`` does not refuse it (see :func:`check_output_path`)."""
    target = Path(target)
    check_output_path(target, directory=True, rebuilds=rebuilds)
    ensure_writable_dir(target.parent)
    remove_abandoned(target.parent)
    tmp = _temporary_name(target, ".partial")
    tmp.mkdir(mode=0o700)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            old = _temporary_name(target, ".old")
            os.replace(target, old)
            _replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            _replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
