"""Frame scores (task ``frame_scores``): sed_scores_eval's score files, the input of PSDS.

One tab-separated table per clip, named ``<clip id>.tsv``: a header ``onset offset <class 1> ...
<class C>``, then one row per frame: its onset and offset in seconds (each frame starting where the
previous one ends) and one score per class. The tables come in a directory or an archive (``.zip``,
``.tar``, ``.tar.gz``, ``.tgz``; members may sit in a folder of the archive). Class columns may come in
any order; hidden files (``.DS_Store``) are skipped, any other file is reported.

:func:`write_score_files` writes them (atomically: a whole directory or nothing) from an
(N clips, T frames, C classes) array.
"""

from __future__ import annotations

import codecs
import os
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wlbench.atomic import atomic_dir
from wlbench.errors import WlbenchError, plain
from wlbench.metrics.frames import FrameScores
from wlbench.paths import ReadBudget, open_input, read_input_bytes
from wlbench.submissions.expected import Expected, check_clip_sets, label_problem
from wlbench.submissions.numbers import SEPARATORS, read_numbers
from wlbench.submissions.report import ValidationReport
from wlbench.submissions.text import decode_text, describe_delimiters, find_header, split_fields, to_float
from wlbench.submissions.tolerance import TIME_TOLERANCE, outside

SCORE_SUFFIX = ".tsv"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
_SAME_KIND_SHOWN = 5  # problems of one kind listed one by one before they are summarised


@dataclass
class ScoreFiles:
    """Frame scores of every expected clip, frames in clip order and columns in class order."""

    frames: FrameScores
    report: ValidationReport


def is_archive(path: str | Path) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def is_score_files(path: str | Path) -> bool:
    """A directory or an archive: the containers of score files."""
    return Path(path).is_dir() or is_archive(path)


def _members(path: Path, report: ValidationReport) -> list[tuple[str, bytes]] | None:
    """(name, bytes) of every score table in the directory or archive (hidden files skipped, other files
    reported as ``unexpected_file``)."""
    found: list[tuple[str, bytes]] = []
    try:
        if path.is_dir():
            report.format = "sed_scores directory"
            budget = ReadBudget(f"score folder {path}")
            with os.scandir(path) as listing:  # names and kinds in one read of the folder
                entries = sorted(listing, key=lambda e: e.name)
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir() or not entry.name.endswith(SCORE_SUFFIX):
                    report.add("unexpected_file", f"{entry.name} is not a score table ({SCORE_SUFFIX}); remove it",
                               file=entry.name)
                    continue
                found.append((entry.name, read_input_bytes(entry.path, "score table", limit=max(budget.left, 0))))
                budget.take(len(found[-1][1]))
        elif not path.exists():
            report.add("unreadable", "not found; check the path")
            return None
        elif str(path).lower().endswith(".zip"):
            report.format = "sed_scores zip"
            with open_input(path, "score archive") as handle, zipfile.ZipFile(handle) as archive:
                budget = ReadBudget.for_archive(path, "score archive")
                for info in archive.infolist():
                    name = info.filename.rsplit("/", 1)[-1]
                    if info.is_dir() or not name or name.startswith(".") or info.filename.startswith("__MACOSX/"):
                        continue
                    if not name.endswith(SCORE_SUFFIX):
                        report.add("unexpected_file", f"{info.filename} is not a score table; remove it", file=name)
                        continue
                    with archive.open(info) as member:
                        found.append((name, budget.read(member)))
        else:
            report.format = "sed_scores tar"
            with open_input(path, "score archive") as raw, tarfile.open(fileobj=raw, mode="r:*") as archive:
                budget = ReadBudget.for_archive(path, "score archive")
                for info in archive.getmembers():
                    name = info.name.rsplit("/", 1)[-1]
                    if not info.isfile() or not name or name.startswith("."):
                        continue
                    if not name.endswith(SCORE_SUFFIX):
                        report.add("unexpected_file", f"{info.name} is not a score table; remove it", file=name)
                        continue
                    handle = archive.extractfile(info)
                    found.append((name, b"" if handle is None else budget.read(handle)))
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        report.add("unreadable", f"cannot read the score files: {exc}")
        return None
    except WlbenchError as exc:  # the input guard: not a regular file, too large, an archive bomb
        report.add("unreadable", str(exc))
        return None
    return found


@dataclass
class _Table:
    name: str
    clip: int
    header: str
    body: bytes  # the frame rows, UTF-8, joined by "\n" (no line end after the last one)
    first_line: int  # 1-based line number of the first frame row


# besides "\n", what str.splitlines() breaks lines at ("\r", "\x0b" to "\x1e") and "\x1f", which str.strip()
# drops as white space but bytes.strip() does not: tables holding any of them take the text path
_ODD_ASCII = (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f")


def _header_and_body(data: bytes, report: ValidationReport, name: str) -> tuple[str, bytes] | None:
    """(header line, frame rows) of one table: its UTF-8 text (a byte order mark dropped) split into lines as
    ``str.splitlines()`` splits it, trailing blank lines dropped, the rows joined by ``"\n"``. Plain ASCII
    with ``\n`` or ``\r\n`` line ends (every table wlbench or sed_scores_eval writes) is cut as bytes, without
    decoding and re-encoding the text; None (problem reported) for text that is not UTF-8."""
    raw = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    if b"\r" in raw:  # (one byte: a fast scan; the two-byte search is not)
        raw = raw.replace(b"\r\n", b"\n")
    if not raw.isascii() or any(c in raw for c in _ODD_ASCII):
        text = decode_text(data, report, file=name)
        if text is None:
            return None
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        return (lines[0] if lines else ""), "\n".join(lines[1:]).encode("utf-8")
    last = len(raw.rstrip(b" \t\n"))  # the end of the last line that is not blank
    if not last:
        return "", b""
    cut = raw.find(b"\n", last)
    raw = raw[:cut] if cut >= 0 else raw
    head_end = raw.find(b"\n")
    if head_end < 0:
        return raw.decode("ascii"), b""
    return raw[:head_end].decode("ascii"), raw[head_end + 1:]


def _collapse(report: ValidationReport, kinds: Sequence[str]) -> None:
    """Many problems of one kind across files: the first few, then one line counting the rest."""
    for kind in kinds:
        same = [p for p in report.problems if p.kind == kind]
        if len(same) <= _SAME_KIND_SHOWN + 1:
            continue
        rest = same[_SAME_KIND_SHOWN:]
        report.problems = [p for p in report.problems if p.kind != kind or p in same[:_SAME_KIND_SHOWN]]
        files = len({p.file for p in rest})
        report.add(kind, f"... and {len(rest)} more of this kind in {files} more file(s)")


def read_score_files(path: str | Path, expected: Expected, probabilities: bool = True
                     ) -> tuple[ScoreFiles | None, ValidationReport]:
    """Parse and validate a directory or archive of score tables; returns (frame scores or None, report).

    Checks: one table per expected clip (unknown, missing and duplicate clips), the header (``onset``,
    ``offset`` and exactly the expected classes), numbers (finite; in [0, 1] unless ``probabilities`` is
    False), frames (positive length, contiguous; frames outside ``[0, clip duration]`` are fitted to it, or refused
    when ``expected.strict``: :mod:`wlbench.submissions.tolerance`).
    """
    path = Path(path)
    report = ValidationReport(str(path), "frame_scores")
    members = _members(path, report)
    if members is None:
        return None, report
    tables: list[_Table] = []
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    file_of: dict[str, str] = {}
    for name, data in members:
        stem = name[: -len(SCORE_SUFFIX)]
        idx = expected.clip_index(stem)
        if idx is None:
            unknown.append((stem, None))
            file_of[stem] = name
            continue
        cid = expected.clip_ids[idx]
        if cid in seen:
            report.add("duplicate_row", f"a second table for clip {cid!r} (the first is {tables[seen[cid]].name}); "
                       "keep one", file=name)
            continue
        split = _header_and_body(data, report, name)
        if split is None:
            continue
        seen[cid] = len(tables)
        tables.append(_Table(name, idx, split[0], split[1], 2))
    check_clip_sets({k: 0 for k in seen}, unknown, expected, report, file_of=file_of)
    if not tables:
        if not report.problems:
            report.add("missing_clip", "no score table found; expected one <clip id>.tsv per clip")
        return None, report
    parsed = _parse_tables(tables, expected, report)
    if parsed is None or not report.ok:
        _collapse(report, ("bad_frames", "time_outside_clip", "not_a_number", "bad_row", "bad_header"))
        return None, report
    per_clip = parsed
    if probabilities:
        _check_range(per_clip, tables, expected, report)
    _collapse(report, ("bad_frames", "time_outside_clip", "not_a_number", "bad_row", "bad_header"))
    if not report.ok:
        return None, report
    order = sorted(range(len(tables)), key=lambda k: tables[k].clip)
    if len(order) != len(expected.clip_ids):
        return None, report
    frames = [per_clip[k] for k in order]
    lengths = np.array([f[0].shape[0] for f in frames])
    fs = FrameScores(np.concatenate([f[2] for f in frames]), np.concatenate([f[0] for f in frames]),
                     np.concatenate([f[1] for f in frames]), np.r_[0, np.cumsum(lengths)])
    report.notes.setdefault("clips_with_frames_outside_clip", 0)
    report.notes.setdefault("frames_dropped_outside_clip", 0)
    report.notes["n_frames"] = int(lengths.sum())
    report.notes["frames_per_clip"] = (int(lengths.min()), int(lengths.max()))
    return ScoreFiles(fs, report), report


def _class_columns(header: str, expected: Expected, report: ValidationReport, file: str
                   ) -> tuple[str, list[int]] | None:
    """(delimiter, position of each expected class) from a header line, or None (problem reported)."""
    found = find_header(header, ["onset", "offset"])
    if found is None:
        report.add("bad_header", f"the header names no 'onset' and 'offset' columns (it holds "
                   f"{describe_delimiters(header)}); expected 'onset<TAB>offset<TAB><class 1>...'", row=1, file=file)
        return None
    names = found.names
    if found.canonical[:2] != ["onset", "offset"]:
        report.add("bad_header", "the first two columns must be 'onset' and 'offset'", row=1, file=file)
        return None
    position: dict[int, int] = {}
    ok = True
    for p, name in enumerate(names[2:], start=2):
        j = expected.class_index(name)
        if j is None:
            label_problem(expected, report, name, 1, name, file=file)
            ok = False
        elif j in position:
            report.add("bad_header", f"column {name!r} appears twice; keep one", row=1, field=name, file=file)
            ok = False
        else:
            position[j] = p
    for j, name in enumerate(expected.classes):
        if j not in position:
            report.add("missing_label", f"no column for class {name!r}; add one", row=1, field=name, file=file)
            ok = False
    return (found.sep, [position[j] for j in range(len(expected.classes))]) if ok else None


def _parse_tables(tables: list[_Table], expected: Expected, report: ValidationReport
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """(onset, offset, scores (T, C)) per table. Tables sharing a header are parsed in one pass (Arrow's
    correctly rounded CSV reader on the joined rows, :mod:`wlbench.submissions.numbers`) and checked in one
    pass; if that fails, each table alone, and a table that still fails is read field by field for exact
    problems."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(tables)
    by_header: dict[str, list[int]] = {}
    for k, t in enumerate(tables):
        by_header.setdefault(t.header, []).append(k)
    for header, members in by_header.items():
        layout = _class_columns(header, expected, report, tables[members[0]].name)
        if layout is None:
            continue
        sep, positions = layout
        width = len(split_fields(header, sep))
        blocks, whole = _parse_fast(tables, members, sep, width) if sep in SEPARATORS else ({}, None)
        if whole is not None:
            framed = _frames_at_once(*whole, positions, tables, expected)
            if framed is not None:
                for k, frames in framed.items():
                    out[k] = frames
        for k in members:
            if out[k] is not None:
                continue
            block = blocks.get(k)
            if block is None:
                block = _parse_slowly(tables[k], sep, width, report)
            if block is not None:
                out[k] = _check_frames(block, positions, tables[k], expected, report)
    if any(o is None for o in out):
        return None
    return out  # type: ignore[return-value]


def _parse_fast(tables: list[_Table], members: list[int], sep: str, width: int
                ) -> tuple[dict[int, np.ndarray], tuple[np.ndarray, list[int], list[int]] | None]:
    """The (rows, width) numbers of every table of ``members`` that holds plain numbers only, one row per
    line (a blank line fails it): all in one pass, or, when some table fails, each alone. Also, when the
    one pass read them all: (their rows in one array, the tables in its order, rows per table)."""
    nonempty = [k for k in members if tables[k].body]
    blocks: dict[int, np.ndarray] = {}
    if not nonempty:
        return blocks, None
    counts = [tables[k].body.count(b"\n") + 1 for k in nonempty]
    bulk = read_numbers(b"\n".join(tables[k].body for k in nonempty), sep=sep, width=width)
    if bulk is not None and bulk.shape[0] == sum(counts):
        at = 0
        for k, n_rows in zip(nonempty, counts):
            blocks[k] = bulk[at:at + n_rows]
            at += n_rows
        return blocks, (bulk, nonempty, counts)
    for k, n_rows in zip(nonempty, counts):
        block = read_numbers(tables[k].body, sep=sep, width=width)
        if block is not None and block.shape[0] == n_rows:
            blocks[k] = block
    return blocks, None


def _frames_at_once(bulk: np.ndarray, order: list[int], counts: list[int], positions: list[int],
                    tables: list[_Table], expected: Expected
                    ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """What :func:`_check_frames` gives each table of ``order`` (its rows of ``bulk`` in turn), checked for
    all of them at once: None unless every table passes as is (finite numbers; frames that end after they
    start and follow each other; inside their clip, nothing to fit), and then each one's problems are
    found table by table."""
    if not np.isfinite(bulk).all():
        return None
    on, off = bulk[:, 0], bulk[:, 1]
    if not (off > on).all():
        return None
    first = np.cumsum([0, *counts[:-1]])
    last = first + np.asarray(counts) - 1
    follows = off[:-1] == on[1:]
    follows[last[:-1]] = True  # where one table ends and the next begins
    if not follows.all():
        return None
    if (on[first] < -TIME_TOLERANCE).any():
        return None
    if expected.durations is not None:
        ends = expected.durations[[tables[k].clip for k in order]]
        if (off[last] > ends + TIME_TOLERANCE).any():
            return None
    on, off, scores = on.copy(), off.copy(), np.ascontiguousarray(bulk[:, positions])
    return {k: (on[a:b + 1], off[a:b + 1], scores[a:b + 1]) for k, a, b in zip(order, first.tolist(), last.tolist())}


def _parse_slowly(table: _Table, sep: str, width: int, report: ValidationReport) -> np.ndarray | None:
    """One table, line by line, reporting every field that is not a number."""
    rows = []
    ok = True
    for i, line in enumerate(table.body.decode("utf-8").split("\n") if table.body else []):
        line_no = table.first_line + i
        fields = split_fields(line, sep)
        if len(fields) != width:
            report.add("bad_row", f"{len(fields)} fields but the header has {width}", row=line_no, file=table.name)
            ok = False
            continue
        values = []
        for f in fields:
            v = to_float(f)
            if v is None:
                report.add("not_a_number", f"{f!r} is not a number", row=line_no, file=table.name)
                ok = False
                break
            values.append(v)
        rows.append(values)
    if not rows and ok:
        report.add("bad_frames", "the table has no frame rows", file=table.name)
        return None
    return np.asarray(rows, dtype=np.float64) if ok else None


def _check_frames(block: np.ndarray, positions: list[int], table: _Table, expected: Expected,
                  report: ValidationReport) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    on, off = block[:, 0], block[:, 1]
    scores = block[:, positions]
    line0 = table.first_line
    if not (np.isfinite(on).all() and np.isfinite(off).all()):
        r = int(np.flatnonzero(~(np.isfinite(on) & np.isfinite(off)))[0])
        report.add("not_finite", "a frame time is empty, NaN or infinite", row=line0 + r, file=table.name)
        return None
    if not np.isfinite(scores).all():
        r, j = (int(v) for v in np.argwhere(~np.isfinite(scores))[0])
        report.add("not_finite", f"score for {expected.classes[j]!r} is empty, NaN or infinite; write a finite "
                   "number", row=line0 + r, field=expected.classes[j], file=table.name)
        return None
    short = np.flatnonzero(off <= on)
    if short.size:
        r = int(short[0])
        report.add("bad_frames", f"frame [{plain(on[r])}, {plain(off[r])}] s does not end after it starts",
                   row=line0 + r, file=table.name)
        return None
    gap = np.flatnonzero(off[:-1] != on[1:])
    if gap.size:
        r = int(gap[0])
        report.add("bad_frames", f"this frame starts at {plain(on[r + 1])} s but the previous one ends at "
                   f"{plain(off[r])} s; frames must follow each other without gap or overlap (write both times "
                   "from the same number)", row=line0 + r + 1, file=table.name)
        return None
    dur = expected.duration(table.clip)
    if outside(on[0], off[-1], dur):
        if expected.strict:
            report.add("time_outside_clip", f"frames span [{plain(on[0])}, {plain(off[-1])}] s but the clip lasts "
                       f"{plain(dur)} s; drop the frames beyond the clip (or give the true durations, or leave out "
                       "--strict: they are then clipped)",
                       row=line0 + (0 if on[0] < -TIME_TOLERANCE else len(on) - 1), file=table.name)
            return None
        return _fit_frames(on, off, scores, dur, table, report)
    return on.copy(), off.copy(), np.ascontiguousarray(scores)


def _fit_frames(on: np.ndarray, off: np.ndarray, scores: np.ndarray, dur: float | None, table: _Table,
                report: ValidationReport) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The frames of a table that sticks out of its clip, fitted to it (the tolerance policy,
    :mod:`wlbench.submissions.tolerance`): frames wholly outside are dropped, the first and last frame
    inside are cut at 0 and at the clip's end; counted in the report's notes."""
    end = np.inf if dur is None else dur
    keep = (on < end) & (off > 0)
    if not keep.any():
        report.add("bad_frames", f"no frame lies inside the clip [0, {plain(dur)}] s (frames span "
                   f"[{plain(on[0])}, {plain(off[-1])}] s); give the true durations", file=table.name)
        return None
    on, off, scores = on[keep].copy(), off[keep].copy(), np.ascontiguousarray(scores[keep])
    on[0], off[-1] = max(on[0], 0.0), min(off[-1], end)
    notes = report.notes
    notes["clips_with_frames_outside_clip"] = notes.get("clips_with_frames_outside_clip", 0) + 1
    notes["frames_dropped_outside_clip"] = notes.get("frames_dropped_outside_clip", 0) + int((~keep).sum())
    return on, off, scores


def _check_range(per_clip, tables: list[_Table], expected: Expected, report: ValidationReport) -> None:
    n_out, files, first = 0, 0, None
    for (_, _, scores), table in zip(per_clip, tables):
        bad = (scores < 0) | (scores > 1)
        if bad.any():
            n_out += int(bad.sum())
            files += 1
            if first is None:
                r, j = (int(v) for v in np.argwhere(bad)[0])
                first = (table.name, table.first_line + r, expected.classes[j], scores[r, j])
    if first is not None:
        report.add("out_of_range", f"{n_out} score(s) outside [0, 1] in {files} file(s) (first: "
                   f"{plain(first[3])} for {first[2]!r}); submit probabilities, or pass --raw-scores if the scores "
                   "are not probabilities", row=first[1], field=first[2], file=first[0])


def _check_clip_ids(clip_ids: Sequence[str]) -> list[str]:
    ids = [str(c) for c in clip_ids]
    for c in ids:
        if not c or c.startswith(".") or "/" in c or "\\" in c:
            raise WlbenchError(f"clip id {c!r} cannot name a score file", hint="use ids without '/' or a leading '.'")
    if len(set(ids)) != len(ids):
        raise WlbenchError("clip ids must be unique to name one score file each")
    return ids


def write_score_files(directory: str | Path, clip_ids: Sequence[str] | np.ndarray, frame_scores: np.ndarray,
                      frame_hop: float, classes: Sequence[str], *, clip_duration: float | None = None) -> Path:
    """Write frame scores as sed_scores_eval score files: ``directory/<clip id>.tsv`` for every clip.

    ``frame_scores``: (N clips, T frames, C classes) finite scores in the order of ``clip_ids`` and
    ``classes``; frame ``t`` of every clip covers ``[t * frame_hop, (t + 1) * frame_hop)`` seconds.
    Times are written exactly (shortest round-trip decimal of ``t * frame_hop``; a frame's offset is the
    same number as the next frame's onset), scores exactly too (the shortest decimal that reads back as
    the same float64, so reading the files gives the array back bit for bit). The directory is written whole and atomically: an
    existing directory of ``.tsv`` files is replaced, any other existing path is refused. Returns the
    directory.

    ``clip_duration`` (seconds, optional): frames that start at or after the clip's end are left out and
    the last frame's offset is cut at the end (e.g. 501 frames of 20 ms for a 10 s clip).
    """
    directory = Path(directory)
    ids = _check_clip_ids(clip_ids)
    arr = np.asarray(frame_scores)
    names = [str(c) for c in classes]
    if arr.ndim != 3 or arr.shape[0] != len(ids) or arr.shape[2] != len(names) or arr.shape[1] < 1:
        raise WlbenchError(f"frame_scores has shape {arr.shape}; expected ({len(ids)} clips, T >= 1 frames, "
                           f"{len(names)} classes)")
    if arr.dtype.kind not in "biuf" or not np.isfinite(arr).all():
        raise WlbenchError("frame_scores must be finite numbers", hint="replace NaN or infinite scores")
    hop = float(frame_hop)
    if not np.isfinite(hop) or hop <= 0:
        raise WlbenchError(f"frame_hop must be a positive number of seconds, got {frame_hop!r}")
    if any("\t" in c or "\n" in c for c in names):
        raise WlbenchError("class names must not contain tabs or newlines to be written as score columns")
    if directory.exists():
        if not directory.is_dir():
            raise WlbenchError(f"{directory} exists and is not a directory", hint="choose another output path")
        others = [p.name for p in directory.iterdir() if not p.name.endswith(SCORE_SUFFIX)]
        if others:
            raise WlbenchError(f"{directory} holds other files than score tables (e.g. {others[0]}); not replacing it",
                               hint="choose an empty or new directory")
    t = arr.shape[1]
    edges_s = np.arange(t + 1) * hop
    if clip_duration is not None:
        end = float(clip_duration)
        if not np.isfinite(end) or end <= 0:
            raise WlbenchError(f"clip_duration must be a positive number of seconds, got {clip_duration!r}")
        t = max(1, int(np.count_nonzero(edges_s[:-1] < end)))
        arr, edges_s = arr[:, :t], np.minimum(edges_s[:t + 1], end)
    edges = [repr(float(v)) for v in edges_s]
    stamps = [f"{edges[i]}\t{edges[i + 1]}" for i in range(t)]
    head = "\t".join(["onset", "offset", *names])
    with atomic_dir(directory) as tmp:
        for cid, clip in zip(ids, arr):
            rows = ["\t".join(map(repr, row)) for row in clip.astype(np.float64).tolist()]
            body = "\n".join(f"{s}\t{r}" for s, r in zip(stamps, rows))
            (tmp / f"{cid}{SCORE_SUFFIX}").write_text(f"{head}\n{body}\n", encoding="utf-8")
    return directory
