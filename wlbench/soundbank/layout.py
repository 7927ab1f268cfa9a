"""Soundbank layouts: where the foreground and background files are, and what each file is.

Three layouts are accepted (see docs/soundbank.md):

* ``desed``: ``.../soundbank/foreground/<Class>[_nOn|_nOff|_nOn_nOff]/*.wav`` and
  ``.../soundbank/background/<source>/*.wav``, possibly one such folder per part (train / validation / eval);
* ``parts``: ``ROOT/<part>/foreground/<class>/*`` and ``ROOT/<part>/background/<source>/*``;
* ``plain``: ``ROOT/foreground/<class>/*`` and ``ROOT/background/*`` (or ``ROOT/background/<source>/*``).

A *part directory* is any directory under ROOT (ROOT included) that contains a ``foreground/`` folder. Its
part name is the nearest path component, from the part directory upward to ROOT, in
``{train, validation, eval}``, else ``train``. This module only lists files; reading their metadata and
judging them is :mod:`wlbench.soundbank.check`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from wlbench.paths import file_kind

PART_NAMES: tuple[str, ...] = ("train", "validation", "eval")
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".aif", ".aiff", ".aifc"})
SOURCES_CSV = "sources.csv"
# DESED marks events cut at onset / offset with a suffix on the class folder; longest suffix first.
_DESED_SUFFIXES = (("_nOn_nOff", True, True), ("_nOn", True, False), ("_nOff", False, True))


@dataclass(frozen=True)
class SoundFile:
    """One isolated foreground event or one background recording of a soundbank."""

    path: Path          # absolute
    relpath: str        # posix path relative to the soundbank root
    label: str          # class name (DESED suffix stripped) or background source name ("background" if none)
    folder: str         # immediate parent folder name: the label scaper sees
    scaper_root: Path   # the folder that contains ``folder`` (scaper's fg_path / bg_path)
    part: str           # "train" | "validation" | "eval"
    group: str          # source group: files of one group must stay in one split
    duration: float     # seconds
    sample_rate: int
    channels: int
    cut_onset: bool = False   # DESED _nOn: the event is cut at its onset
    cut_offset: bool = False  # DESED _nOff: the event is cut at its offset


@dataclass(frozen=True)
class Soundbank:
    """A soundbank found on disk: its files (with metadata), classes, parts and fingerprint."""

    root: Path
    layout: str                        # "desed" | "parts" | "plain"
    foreground: tuple[SoundFile, ...]  # sorted by relpath
    background: tuple[SoundFile, ...]  # sorted by relpath
    fingerprint: str                   # sha256 hex, see soundbank_fingerprint
    classes: tuple[str, ...]           # sorted foreground class names over all parts
    parts: tuple[str, ...]             # in the order train, validation, eval

    def foreground_files(self, part: str, label: str) -> list[SoundFile]:
        """Foreground files of class ``label`` in ``part`` (all its DESED _nOn/_nOff folders), by relpath."""
        return [f for f in self.foreground if f.part == part and f.label == label]

    def background_files(self, part: str) -> list[SoundFile]:
        """Background files of ``part``, by relpath."""
        return [f for f in self.background if f.part == part]


def split_class_folder(folder: str) -> tuple[str, bool, bool]:
    """``"Blender_nOn" -> ("Blender", True, False)``: class name and DESED cut-at-onset / offset flags."""
    for suffix, cut_onset, cut_offset in _DESED_SUFFIXES:
        if folder.endswith(suffix) and len(folder) > len(suffix):
            return folder[: -len(suffix)], cut_onset, cut_offset
    return folder, False, False


def part_name(root: Path, part_dir: Path) -> str:
    """The part of ``part_dir``: nearest component in PART_NAMES from ``part_dir`` up to ``root``."""
    for component in reversed(part_dir.relative_to(root).parts):
        if component in PART_NAMES:
            return component
    return "train"


def is_audio_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _visible(name: str) -> bool:
    return not name.startswith(".")


@dataclass
class Entry:
    """A file found in a foreground class folder or a background folder (not yet read)."""

    path: Path
    relpath: str
    kind: str           # "foreground" | "background"
    label: str
    folder: str
    scaper_root: Path
    part: str
    cut_onset: bool = False
    cut_offset: bool = False


@dataclass
class Discovery:
    """What a walk of a soundbank root found: part directories, files, and layout-level problems."""

    root: Path
    layout: str
    part_dirs: list[Path] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    empty_class_folders: list[str] = field(default_factory=list)   # relpaths
    stray_files: list[str] = field(default_factory=list)           # files directly in foreground/
    ignored_subfolders: list[str] = field(default_factory=list)    # folders inside class/source folders
    not_regular: list[tuple[str, str]] = field(default_factory=list)  # (relpath, kind): FIFOs, link loops...


def _relpath(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _files_and_dirs(directory: Path) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """Visible regular files, directories, and everything else (with its kind, see
    :func:`wlbench.paths.file_kind`)."""
    files, dirs, others = [], [], []
    with os.scandir(directory) as it:
        for item in it:
            if not _visible(item.name):
                continue
            kind = file_kind(item.path)
            if kind == "file":
                files.append(Path(item.path))
            elif kind == "directory":
                dirs.append(Path(item.path))
            else:
                others.append((Path(item.path), kind))
    return sorted(files), sorted(dirs), sorted(others)


def find_part_dirs(root: Path) -> list[Path]:
    """Every directory under ``root`` (``root`` included) holding a ``foreground/`` folder, sorted."""
    found = []
    for current, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        if "foreground" in dirnames:
            found.append(Path(current))
            dirnames[:] = [d for d in dirnames if d not in ("foreground", "background")]
    return sorted(found)


def _layout_name(root: Path, part_dirs: list[Path]) -> str:
    if any(p.name == "soundbank" for p in part_dirs):
        return "desed"
    if part_dirs == [root]:
        return "plain"
    return "parts"


def discover(root: Path) -> Discovery:
    """List the soundbank files under ``root`` (an existing directory, absolute)."""
    part_dirs = find_part_dirs(root)
    found = Discovery(root=root, layout=_layout_name(root, part_dirs), part_dirs=part_dirs)
    for part_dir in part_dirs:
        part = part_name(root, part_dir)
        fg_dir = part_dir / "foreground"
        stray, class_dirs, others = _files_and_dirs(fg_dir)
        found.stray_files += [_relpath(root, p) for p in stray]
        found.not_regular += [(_relpath(root, p), kind) for p, kind in others]
        for class_dir in class_dirs:
            label, cut_onset, cut_offset = split_class_folder(class_dir.name)
            files, subdirs, others = _files_and_dirs(class_dir)
            found.ignored_subfolders += [_relpath(root, d) for d in subdirs]
            found.not_regular += [(_relpath(root, p), kind) for p, kind in others]
            if not files and not others:
                found.empty_class_folders.append(_relpath(root, class_dir))
            for path in files:
                found.entries.append(Entry(path, _relpath(root, path), "foreground", label, class_dir.name,
                                           fg_dir, part, cut_onset, cut_offset))
        bg_dir = part_dir / "background"
        if bg_dir.is_dir():
            direct, source_dirs, others = _files_and_dirs(bg_dir)
            found.not_regular += [(_relpath(root, p), kind) for p, kind in others]
            for path in direct:
                found.entries.append(Entry(path, _relpath(root, path), "background", "background",
                                           "background", part_dir, part))
            for source_dir in source_dirs:
                files, subdirs, others = _files_and_dirs(source_dir)
                found.ignored_subfolders += [_relpath(root, d) for d in subdirs]
                found.not_regular += [(_relpath(root, p), kind) for p, kind in others]
                for path in files:
                    found.entries.append(Entry(path, _relpath(root, path), "background", source_dir.name,
                                               source_dir.name, bg_dir, part))
    found.entries.sort(key=lambda e: e.relpath)
    found.not_regular.sort()
    return found


def fingerprinted_relpaths(root: Path) -> list[str]:
    """The files the fingerprint covers: audio-named regular files of every class/background folder, plus
    sources.csv."""
    names = [e.relpath for e in discover(root).entries if is_audio_name(e.relpath)]
    if (root / SOURCES_CSV).is_file():
        names.append(SOURCES_CSV)
    return sorted(names)


def read_sources_csv(root: Path) -> tuple[dict[str, str], list[str]]:
    """Read ``root/sources.csv`` (columns ``path,group``): ``({relpath: group}, problems)``.

    Missing file -> ``({}, [])``. Problems are messages naming the row and the fix.
    """
    path = root / SOURCES_CSV
    if not path.is_file():
        return {}, []
    groups: dict[str, str] = {}
    problems: list[str] = []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            if "path" not in columns or "group" not in columns:
                return {}, [f"{SOURCES_CSV}: needs a header with columns 'path,group' (found {columns}); "
                            "fix the header or delete the file"]
            for row_number, row in enumerate(reader, start=2):
                rel = (row.get("path") or "").strip()
                group = (row.get("group") or "").strip()
                if not rel or not group:
                    problems.append(f"{SOURCES_CSV} row {row_number}: empty path or group; fill it in or remove the row")
                    continue
                rel = Path(rel).as_posix()
                if rel in groups and groups[rel] != group:
                    problems.append(f"{SOURCES_CSV} row {row_number}: {rel} is listed twice with different groups "
                                    f"({groups[rel]!r}, {group!r}); keep one row")
                    continue
                groups[rel] = group
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return {}, [f"{SOURCES_CSV}: cannot be read ({exc}); fix or delete it"]
    return groups, problems
