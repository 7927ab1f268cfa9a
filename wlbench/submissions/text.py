"""Text submissions: reading lines and declared metadata, finding the header and the delimiter, numbers.

A text file may start with ``# key: value`` lines (its declared metadata). The first other line is the
header, or the first data row of a headerless file. The delimiter is read from the header: a tab, a
comma, or runs of spaces -- whichever splits it into the expected column names (so a comma-separated
``.tsv`` or a space-separated file is read when that is unambiguous); when none does, the message says
which delimiter was found and what is expected.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wlbench.submissions.report import ValidationReport

DELIMITER_NAMES = {"\t": "tab", ",": "comma", " ": "space"}
NAN_WORDS = frozenset({"nan", "-nan", "+nan", "na", "n/a"})


@dataclass
class TextFile:
    """A text file's lines, its declared ``# key: value`` metadata (keys lower-cased) and the index of
    its first line that is not such a comment (``body_start``; 1-based line ``body_start + 1``)."""

    lines: list[str]
    declared: dict[str, str]
    body_start: int

    @property
    def head(self) -> str | None:
        return self.lines[self.body_start] if self.body_start < len(self.lines) else None


def parse_declared(lines: Iterable[str]) -> dict[str, str]:
    """The ``# key: value`` (or ``# key = value``) lines at the top of a text submission, keys lower-cased;
    reading stops at the first line that is not a comment."""
    meta: dict[str, str] = {}
    for line in lines:
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        for sep in (":", "="):
            if sep in body:
                key, value = body.split(sep, 1)
                meta[key.strip().lower()] = value.strip()
                break
    return meta


def decode_text(data: bytes, report: ValidationReport, file: str | None = None) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.add("unreadable", f"not UTF-8 text (byte {exc.start}): is it a binary file? Save it as UTF-8 text",
                   file=file)
        return None


def read_bytes(path: Path, report: ValidationReport, size: int = -1) -> bytes | None:
    """The bytes of a file (the first ``size`` ones when >= 0); None (with an ``unreadable`` problem saying
    why) for a directory, a missing or an unreadable file."""
    from wlbench.errors import WlbenchError
    from wlbench.paths import file_kind

    path = Path(path)
    kind = file_kind(path)
    if kind == "directory":
        report.add("unreadable", "this is a directory, not a file; give the submission file")
        return None
    if kind == "missing":
        report.add("unreadable", "file not found; check the path")
        return None
    try:  # the input guard: regular files only, never opened if a FIFO or device, at most MAX_INPUT_BYTES
        return read_once(path, size=size)
    except WlbenchError as exc:
        report.add("unreadable", str(exc))
    return None


_kept: list[dict[tuple, bytes]] = []  # inside kept_reads(): the files read whole, by stat signature


@contextlib.contextmanager
def kept_reads() -> Iterator[None]:
    """Within the block, :func:`read_once` reads each unchanged file from disk once and serves later reads
    of it from memory; the bytes are dropped when the outermost block ends (nothing outlives one scoring
    call)."""
    if _kept:
        yield
        return
    _kept.append({})
    try:
        yield
    finally:
        _kept.clear()


def _signature(path: Path) -> tuple:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_once(path: Path, *, size: int = -1) -> bytes:
    """The bytes of the input file ``path`` through the input guard (:func:`wlbench.paths.read_input_bytes`),
    read from disk once while the file is unchanged inside a :func:`kept_reads` block: scoring a submission
    sniffs its format, reads its declared header, parses it and hashes it, and all four read the bytes kept
    from the first (a file is identified by real path, device, inode, size and modification and change
    times; any write changes them). Outside a block every call reads the file. ``size >= 0``: the first ``size`` bytes only (a file larger than the input limit
    is then read no further)."""
    from wlbench.paths import MAX_INPUT_BYTES, read_input_bytes

    if not _kept:
        return read_input_bytes(path, "file", size=size)
    kept = _kept[0]
    try:
        before = _signature(path)
    except OSError:
        before = None
    if before is not None and before in kept:
        data = kept[before]
        return data if size < 0 else data[:size]
    if size >= 0 and (before is None or before[3] > MAX_INPUT_BYTES):
        return read_input_bytes(path, "file", size=size)
    data = read_input_bytes(path, "file")
    try:
        if before is not None and _signature(path) == before:
            kept[before] = data
    except OSError:
        pass  # a file that cannot be stat-ed again is simply not kept
    return data if size < 0 else data[:size]


def read_text(path: Path, report: ValidationReport) -> TextFile | None:
    """The lines and declared metadata of a UTF-8 text file; None (with an ``unreadable`` problem) when it
    cannot be read."""
    data = read_bytes(path, report)
    if data is None:
        return None
    text = decode_text(data, report)
    if text is None:
        return None
    return text_file(text)


def text_file(text: str) -> TextFile:
    lines = text.splitlines()
    body = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return TextFile(lines, parse_declared(lines), body)


def split_fields(line: str, sep: str) -> list[str]:
    """The stripped fields of one line: runs of spaces for ``" "``, else CSV rules (quotes honoured)."""
    if sep == " ":
        return line.split()
    return [f.strip() for f in next(csv.reader([line], delimiter=sep), [])]


@dataclass
class Header:
    """A recognised header: its delimiter, raw names and canonical names (aliases resolved)."""

    sep: str
    names: list[str]
    canonical: list[str]

    @property
    def delimiter(self) -> str:
        return DELIMITER_NAMES[self.sep]


def canonical_name(name: str, aliases: Mapping[str, str]) -> str:
    low = name.strip().lower()
    return aliases.get(low, low)


def find_header(line: str, required: Sequence[str], aliases: Mapping[str, str] | None = None) -> Header | None:
    """The delimiter (tab, comma, spaces; in that order) that splits ``line`` into names holding every
    ``required`` name (case-insensitive, ``aliases`` resolved), or None."""
    aliases = aliases or {}
    for sep in ("\t", ",", " "):
        if sep not in line:
            continue
        try:
            names = split_fields(line, sep)
        except csv.Error:
            continue
        canonical = [canonical_name(n, aliases) for n in names]
        if set(required) <= set(canonical):
            return Header(sep, names, canonical)
    return None


def describe_delimiters(line: str) -> str:
    """What separates the fields of a line, for messages: e.g. ``"3 commas, no tab"``."""
    found = [f"{line.count(s)} {name}{'s' if line.count(s) != 1 else ''}"
             for s, name in DELIMITER_NAMES.items() if s in line]
    if "\t" not in line:
        found.append("no tab")
    return ", ".join(found) if found else "no delimiter at all"


def is_number(text: str) -> bool:
    """``float(text)`` succeeds (format sniffing: a column of numbers, whatever they are)."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def to_float(text: str) -> float | None:
    """A number read from text (NaN words give NaN, to be reported as not finite); None: not a number."""
    s = text.strip()
    if s.lower() in NAN_WORDS:
        return float("nan")
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def parse_numbers(values: Sequence[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(floats, empty mask, not-a-number mask) for an array of strings. Numbers are parsed correctly rounded
    (as Python's ``float``; pandas' default parser can be 1 ulp off), NaN words give NaN."""
    text = [str(v).strip() for v in np.asarray(values, dtype=object).ravel()]
    n = len(text)
    try:
        nums = np.array(text, dtype=np.float64) if n else np.zeros(0)
        return nums, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    except ValueError:
        pass
    nums = np.full(n, np.nan)
    empty = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for i, t in enumerate(text):
        v = to_float(t)
        if v is None:
            empty[i] = t == ""
            bad[i] = t != ""
        else:
            nums[i] = v
    return nums, empty, bad
