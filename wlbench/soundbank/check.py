"""Read a soundbank's metadata, collect every problem, summarise it.

:func:`scan_soundbank` is the one code path behind both :func:`check_soundbank` (never raises on content
problems, reports all of them) and :func:`wlbench.soundbank.load_soundbank` (raises on the *fatal* ones).
Metadata comes from ``soundfile.info`` (headers only, nothing is decoded).
"""

from __future__ import annotations

import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wlbench.paths import file_kind
from wlbench.soundbank.fingerprint import file_digests, fingerprint_from_digests
from wlbench.soundbank.layout import (
    PART_NAMES,
    SOURCES_CSV,
    Soundbank,
    SoundFile,
    discover,
    is_audio_name,
    read_sources_csv,
)


@dataclass(frozen=True)
class Problem:
    """One problem found in a soundbank. ``fatal`` problems make :func:`load_soundbank` refuse the bank."""

    where: str      # relpath (or the root) at fault
    message: str    # what is wrong and how to fix it
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class DurationStats:
    files: int
    groups: int
    min: float
    median: float
    max: float

    @classmethod
    def of(cls, files: list[SoundFile]) -> DurationStats:
        durations = [f.duration for f in files]
        if not durations:
            return cls(0, 0, 0.0, 0.0, 0.0)
        return cls(len(files), len({f.group for f in files}), min(durations), statistics.median(durations),
                   max(durations))


@dataclass
class ScanResult:
    root: Path
    exists: bool
    layout: str | None = None
    foreground: list[SoundFile] = field(default_factory=list)
    background: list[SoundFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fingerprint: str | None = None

    def soundbank(self) -> Soundbank:
        assert self.layout is not None and self.fingerprint is not None
        parts = {f.part for f in self.foreground} | {f.part for f in self.background}
        return Soundbank(root=self.root, layout=self.layout, foreground=tuple(self.foreground),
                         background=tuple(self.background), fingerprint=self.fingerprint,
                         classes=tuple(sorted({f.label for f in self.foreground})),
                         parts=tuple(p for p in PART_NAMES if p in parts))


def printable(relpath: str) -> str:
    """A path as text that prints anywhere: bytes that are not UTF-8 shown as ``\\xff``."""
    return relpath.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _declared_data_bytes(path: Path) -> tuple[int, int] | None:
    """(declared size of the sample data, bytes of it present) for WAV (RIFF / RIFX) and AIFF files, from
    their chunk headers; None for other formats, streamed WAVs of unknown size, or a header not parsed."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[8:12] not in (b"WAVE", b"AIFF", b"AIFC"):
                return None
            order = {b"RIFF": "little", b"RIFX": "big", b"FORM": "big"}.get(head[:4])
            if order is None:
                return None  # RF64 keeps its sizes in a ds64 chunk: left to libsndfile
            data_id = b"data" if head[:4] != b"FORM" else b"SSND"
            size = os.fstat(handle.fileno()).st_size
            position = 12
            while position + 8 <= size:
                handle.seek(position)
                chunk = handle.read(8)
                length = int.from_bytes(chunk[4:], order)
                if chunk[:4] == data_id:
                    if length in (0, 0xFFFFFFFF):
                        return None  # written while streaming: "to the end of the file"
                    return length, size - position - 8
                position += 8 + length + (length & 1)
    except OSError:
        return None
    return None


def truncation(path: Path, info) -> str | None:
    """Why the audio readable in ``path`` is shorter than its header declares, or None.

    WAV and AIFF: the data chunk's declared size against the bytes present (libsndfile silently reports
    only what is present). Every format: the last declared frame must be readable (a truncated FLAC fails
    here). Reads the headers and one frame, never the whole file."""
    declared = _declared_data_bytes(path)
    if declared is not None and declared[1] < declared[0]:
        return (f"truncated: its header declares {declared[0]} bytes of audio, the file holds {max(declared[1], 0)} "
                f"(only {info.frames / info.samplerate:.3f} s readable)")
    import soundfile as sf  # here, not at import: the CLI's other commands (training on a GPU machine) need no libsndfile

    try:
        with sf.SoundFile(str(path)) as handle:
            handle.seek(info.frames - 1)
            if handle.read(1).shape[0] != 1:
                raise RuntimeError("no last frame")
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError on a damaged file
        return (f"truncated or damaged: its header declares {info.frames} frames "
                f"({info.frames / info.samplerate:.2f} s) but the last one cannot be read ({exc})")
    return None


def _read(entry, groups: dict[str, str]) -> tuple[SoundFile | None, Problem | None]:
    rel = entry.relpath
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return None, Problem(printable(rel), "the file name (or a folder name in its path) is not valid UTF-8, so it "
                                             "cannot be stored in a dataset; rename it (the audio itself is not "
                                             "the problem)")
    if not is_audio_name(rel):
        return None, Problem(rel, "not an audio file (expected .wav, .flac, .ogg or .aiff); "
                                  "move it out of the soundbank or delete it")
    try:
        size = entry.path.stat().st_size
    except OSError as exc:
        return None, Problem(rel, f"cannot be read ({exc.strerror}); fix its permissions or delete it")
    if size == 0:
        return None, Problem(rel, "empty file (0 bytes); re-copy it or delete it")
    import soundfile as sf

    try:
        info = sf.info(str(entry.path))
    except Exception as exc:  # soundfile raises RuntimeError / LibsndfileError / TypeError on bad files
        reason = str(exc).replace(str(entry.path), "").strip(" :") or type(exc).__name__
        return None, Problem(rel, f"unreadable or not audio ({reason}); re-copy it or delete it")
    if info.frames <= 0 or info.samplerate <= 0:
        return None, Problem(rel, "zero-length audio (no samples); re-copy it or delete it")
    cut = truncation(entry.path, info)
    if cut is not None:
        return None, Problem(rel, f"{cut}; re-copy it or delete it")
    sound = SoundFile(path=entry.path, relpath=rel, label=entry.label, folder=entry.folder,
                      scaper_root=entry.scaper_root, part=entry.part, group=groups.get(rel, rel),
                      duration=info.frames / info.samplerate, sample_rate=int(info.samplerate),
                      channels=int(info.channels), cut_onset=entry.cut_onset, cut_offset=entry.cut_offset)
    return sound, None


def scan_soundbank(path: str | Path, fingerprint: bool = True) -> ScanResult:
    """Find, read and judge every file of the soundbank at ``path``; never raises on content problems."""
    root = Path(path).expanduser().absolute()
    kind = file_kind(root)
    if kind == "directory":
        root = root.resolve()
    result = ScanResult(root=root, exists=kind == "directory")
    if not result.exists:
        what = {"file": "is a file, not a folder", "missing": "does not exist"}.get(
            kind, f"is {kind}, not a folder")
        result.problems.append(Problem(str(root), f"{what}; pass the soundbank folder (the one holding foreground/ "
                                                  "and background/, a folder of parts, or a DESED root)"))
        return result
    found = discover(root)
    result.layout = found.layout
    if not found.part_dirs:
        result.problems.append(Problem(str(root), "no foreground/ folder found; expected ROOT/foreground/<class>/*.wav, "
                                                  "ROOT/<part>/foreground/<class>/*.wav or DESED's "
                                                  ".../soundbank/foreground/<Class>/*.wav"))
        return result
    groups, csv_problems = read_sources_csv(root)
    result.problems += [Problem(*message.split(": ", 1)) for message in csv_problems]
    for rel in found.empty_class_folders:
        result.problems.append(Problem(rel, "class folder has no files; add its events or delete the folder"))
    for rel in found.stray_files:
        result.problems.append(Problem(rel, "file directly in foreground/ is ignored (no class); move it into "
                                            "foreground/<class>/", fatal=False))
    for rel, kind in found.not_regular:
        result.problems.append(Problem(printable(rel), f"is {kind}, not a regular file; only regular files are "
                                                       "audio: replace it with the file itself or delete it"))
    for rel in found.ignored_subfolders:
        result.problems.append(Problem(rel, "subfolder of a class/source folder is ignored; move its files up",
                                       fatal=False))
    for entry in found.entries:
        sound, problem = _read(entry, groups)
        if problem is not None:
            result.problems.append(problem)
        elif entry.kind == "foreground":
            result.foreground.append(sound)
        else:
            result.background.append(sound)
    known = {e.relpath for e in found.entries}
    for rel in sorted(set(groups) - known):
        result.problems.append(Problem(SOURCES_CSV, f"lists {rel}, which is not a soundbank file; fix or remove "
                                                    "the row", fatal=False))
    if not result.foreground and not any(p.fatal for p in result.problems):
        result.problems.append(Problem(str(root), "no foreground files found; put events in foreground/<class>/"))
    _judge(result)
    if fingerprint:
        try:
            relpaths = sorted({e.relpath for e in found.entries if is_audio_name(e.relpath)}
                              | ({SOURCES_CSV} if (root / SOURCES_CSV).is_file() else set()))
            result.fingerprint = fingerprint_from_digests(file_digests(root, relpaths))
        except OSError as exc:
            result.problems.append(Problem(str(root), f"cannot compute the fingerprint ({exc}); fix file permissions"))
    return result


def _judge(result: ScanResult) -> None:
    """Bank-level problems: mixed sample rates, multichannel files, shared groups, missing classes/backgrounds."""
    files = result.foreground + result.background
    if not files:
        return
    rates = Counter(f.sample_rate for f in files)
    common_rate = max(sorted(rates), key=lambda r: rates[r])
    for f in files:
        if f.sample_rate != common_rate:
            result.problems.append(Problem(f.relpath, f"sample rate {f.sample_rate} Hz differs from the bank's "
                                                      f"{common_rate} Hz; resample it", fatal=False))
        if f.channels != 1:
            result.problems.append(Problem(f.relpath, f"has {f.channels} channels (mono expected); mix it down",
                                           fatal=False))
    parts_of_group: dict[str, set[str]] = {}
    for f in files:
        parts_of_group.setdefault(f.group, set()).add(f.part)
    for group in sorted(parts_of_group):
        if len(parts_of_group[group]) > 1:
            names = ", ".join(p for p in PART_NAMES if p in parts_of_group[group])
            result.problems.append(Problem(SOURCES_CSV, f"source group {group!r} appears in several parts ({names}); "
                                                        "parts must not share sources", fatal=False))
    classes = sorted({f.label for f in result.foreground})
    parts = [p for p in PART_NAMES if any(f.part == p for f in files)]
    for part in parts:
        present = {f.label for f in result.foreground if f.part == part}
        for label in classes:
            if label not in present:
                result.problems.append(Problem(part, f"class {label!r} has no foreground files in part {part!r}; "
                                                     "add some or remove the class from the other parts", fatal=False))
        if not any(f.part == part for f in result.background):
            result.problems.append(Problem(part, f"part {part!r} has no background files; add "
                                                 f"{part}/background/<source>/*.wav", fatal=False))


@dataclass
class CheckReport:
    """Everything ``wlbench soundbank check`` prints: summary per part/class, every problem, the fingerprint."""

    root: Path
    exists: bool
    layout: str | None
    parts: tuple[str, ...]
    classes: tuple[str, ...]
    foreground: dict[str, dict[str, DurationStats]]   # part -> class -> stats
    background: dict[str, DurationStats]              # part -> stats
    background_sources: dict[str, tuple[str, ...]]    # part -> background labels
    sample_rates: dict[int, int]                      # rate -> number of files
    channels: dict[int, int]                          # channel count -> number of files
    problems: list[Problem]
    fingerprint: str | None
    is_default: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def n_foreground(self) -> int:
        return sum(s.files for per_class in self.foreground.values() for s in per_class.values())

    def lines(self) -> list[str]:
        """The human-readable report, one line per item."""
        out = [f"soundbank: {self.root}" + ("  (the default soundbank, used when --soundbank is left out)"
                                           if self.is_default else "")]
        if self.exists and self.layout:
            out.append(f"layout: {self.layout}; parts: {', '.join(self.parts) or '-'}; "
                       f"{len(self.classes)} classes: {', '.join(self.classes) or '-'}")
            for part in self.parts:
                per_class = self.foreground.get(part, {})
                bg = self.background.get(part)
                n_fg = sum(s.files for s in per_class.values())
                out.append(f"part {part}: {n_fg} foreground files, {bg.files if bg else 0} background files")
                for label in self.classes:
                    s = per_class.get(label)
                    if s is None or s.files == 0:
                        out.append(f"  {label:<28} 0 files")
                        continue
                    out.append(f"  {label:<28} {s.files:4d} files {s.groups:4d} sources  duration "
                               f"min {s.min:6.2f} s  median {s.median:6.2f} s  max {s.max:6.2f} s")
                if bg and bg.files:
                    sources = ", ".join(self.background_sources.get(part, ()))
                    out.append(f"  {'(background)':<28} {bg.files:4d} files {bg.groups:4d} sources  duration "
                               f"min {bg.min:6.2f} s  median {bg.median:6.2f} s  max {bg.max:6.2f} s  [{sources}]")
            rates = ", ".join(f"{r} Hz ({n} files)" for r, n in sorted(self.sample_rates.items()))
            chans = ", ".join(f"{c} ch ({n} files)" for c, n in sorted(self.channels.items()))
            out.append(f"sample rates: {rates or '-'}; channels: {chans or '-'}")
        if self.problems:
            out.append(f"{len(self.problems)} problem(s):")
            out += [f"  problem: {p}" for p in self.problems]
        else:
            out.append("no problems found")
        out.append(f"fingerprint: {self.fingerprint or '-'}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root), "exists": self.exists, "layout": self.layout, "parts": list(self.parts),
            "classes": list(self.classes), "is_default": self.is_default, "fingerprint": self.fingerprint,
            "foreground": {p: {c: vars(s) for c, s in d.items()} for p, d in self.foreground.items()},
            "background": {p: vars(s) for p, s in self.background.items()},
            "background_sources": {p: list(v) for p, v in self.background_sources.items()},
            "sample_rates": {str(k): v for k, v in self.sample_rates.items()},
            "channels": {str(k): v for k, v in self.channels.items()},
            "problems": [{"where": p.where, "message": p.message, "fatal": p.fatal} for p in self.problems],
            "ok": self.ok,
        }


def report_from_scan(scan: ScanResult, is_default: bool = False) -> CheckReport:
    files = scan.foreground + scan.background
    parts = tuple(p for p in PART_NAMES if any(f.part == p for f in files))
    classes = tuple(sorted({f.label for f in scan.foreground}))
    foreground = {part: {label: DurationStats.of([f for f in scan.foreground if f.part == part and f.label == label])
                         for label in classes} for part in parts}
    background = {part: DurationStats.of([f for f in scan.background if f.part == part]) for part in parts}
    bg_sources = {part: tuple(sorted({f.label for f in scan.background if f.part == part})) for part in parts}
    return CheckReport(root=scan.root, exists=scan.exists, layout=scan.layout, parts=parts, classes=classes,
                       foreground=foreground, background=background, background_sources=bg_sources,
                       sample_rates=dict(sorted(Counter(f.sample_rate for f in files).items())),
                       channels=dict(sorted(Counter(f.channels for f in files).items())),
                       problems=list(scan.problems), fingerprint=scan.fingerprint, is_default=is_default)


def check_soundbank(path: str | Path | None = None) -> CheckReport:
    """Check the soundbank at ``path`` (None: the default bank, built if missing); collects every problem."""
    if path is None:
        from wlbench.soundbank.default import build_default_bank

        return report_from_scan(scan_soundbank(build_default_bank(progress=False)), is_default=True)
    return report_from_scan(scan_soundbank(path))
