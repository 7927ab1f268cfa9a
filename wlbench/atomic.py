"""Atomic writes: build under a temporary name beside the target, rename onto it at the end.

A failed or interrupted write leaves neither a partial file under the final name nor damage to an
existing file of that name; the temporary file is removed on any exception (KeyboardInterrupt too).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from wlbench.errors import WlbenchError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ensure_writable_dir(directory: Path) -> Path:
    """Create ``directory`` (and parents) if needed and check that files can be created in it."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise WlbenchError(f"output path {directory} exists and is not a directory", hint="choose another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WlbenchError(f"cannot create output directory {directory}: {exc.strerror}",
                           hint="choose a directory you can write to") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise WlbenchError(f"output directory {directory} is not writable",
                           hint="fix its permissions or choose another --out")
    return directory


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success rename it onto ``target``.

    The caller writes the whole file at the yielded path. On any exception the temporary file is deleted
    and ``target`` is left untouched.
    """
    target = Path(target)
    ensure_writable_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".partial",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Like :func:`atomic_path` for a directory: fill the yielded directory, then it replaces ``target``."""
    target = Path(target)
    ensure_writable_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
