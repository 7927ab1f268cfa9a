"""Submission formats and their validation report.

Formats
-------
- **Clip scores** (task ``tagging``), CSV (comma; a tab-separated file is accepted too):
  *wide* ``filename,<class 1>,...,<class C>`` (one row per clip) or *long* ``filename,event_label,score``
  (one row per clip and class).
- **Detections** (task ``detection``), TSV DCASE style: ``filename onset offset event_label`` with a
  header line (a file without header must use that column order). A clip with no detections may be
  left out or written as a row holding only its filename.
- **Embeddings** (task ``embedding``): ``.npz`` or HDF5 (``.h5``/``.hdf5``) holding either the arrays
  ``clip_ids`` (N,) and ``embeddings`` (N, D), or one (D,) array per clip id; or a plain ``.npy`` (N, D)
  array whose rows follow the split's clip order.

Text files may start with ``# key: value`` lines; ``dataset`` (name), ``split_truth_id`` (the truth id of the
split the predictions were made for) and ``split`` are checked against the dataset being scored. A declared
``content_id`` names the features the predictions were computed from: it is recorded (note
``declared_content_id_differs`` when it is not the scored file's), never a reason to refuse, since scores
depend on the truth only. Filenames may carry a directory and an audio extension
(``eval_000123.wav`` is clip ``eval_000123``).

Validation
----------
Reading never stops at the first problem: it returns a :class:`ValidationReport` listing every problem
(``kind``, 1-based file ``row``, ``field``, ``message``). ``load_*`` raise :class:`SubmissionError` (a
:class:`~wlbench.errors.WlbenchError`) carrying that report when it is not clean. Kinds: ``unreadable``,
``bad_header``, ``missing_clip``, ``unknown_clip``, ``duplicate_row``, ``unknown_label`` (with the
nearest valid label), ``missing_label``, ``missing_score``, ``not_a_number``, ``not_finite``,
``out_of_range`` (scores outside [0, 1] when probabilities are expected; one problem per column),
``missing_value`` (also a wide row with fewer fields than the header), ``bad_row`` (a row with more
fields than the header), ``onset_not_before_offset``, ``time_outside_clip``, ``wrong_split``, ``wrong_dataset``,
``wrong_shape``.
"""

from __future__ import annotations

import csv
import difflib
import io
import operator
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wlbench.errors import WlbenchError

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".aiff", ".aif")
TIME_TOLERANCE = 1e-6  # seconds an event may stick out of [0, clip duration] (float round-off)
TASK_BY_SUFFIX = {".csv": "tagging", ".tsv": "detection", ".npy": "embedding", ".npz": "embedding",
                  ".h5": "embedding", ".hdf5": "embedding"}


@dataclass
class Problem:
    """One validation problem. ``row`` is the 1-based line number in the file (None: the whole file)."""

    kind: str
    message: str
    row: int | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "row": self.row, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"[{self.kind}] " + (", ".join(where) + ": " if where else "") + self.message


@dataclass
class ValidationReport:
    """Every problem found in one submission file, plus informational notes."""

    path: str
    task: str
    format: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, message: str, row: int | None = None, field: str | None = None) -> None:
        self.problems.append(Problem(kind, message, row, field))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "task": self.task, "format": self.format, "valid": self.ok,
                "counts": self.counts(), "problems": [p.to_dict() for p in self.problems],
                "notes": self.notes}

    def summary(self) -> str:
        """All problems, one per line, after a count line."""
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        lines = [f"invalid submission {self.path}: {len(self.problems)} problem(s) ({counts})"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)

    def raise_if_invalid(self) -> None:
        if not self.ok:
            raise SubmissionError(self)


class SubmissionError(WlbenchError):
    """A submission failed validation; ``report`` holds every problem."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.summary())


@dataclass
class Expected:
    """What a submission must match: the evaluated split of one dataset."""

    classes: Sequence[str]
    clip_ids: Sequence[str]
    split: str | None = None
    dataset_name: str | None = None
    content_id: str | None = None
    split_truth_id: str | None = None
    clip_duration: float | None = None
    other_splits: Mapping[str, Sequence[str]] | None = None  # ids of the dataset's other splits

    def __post_init__(self) -> None:
        self.classes = [str(c) for c in self.classes]
        self.clip_ids = [str(c) for c in self.clip_ids]
        self._index = {c: i for i, c in enumerate(self.clip_ids)}
        self._class_index = {c: i for i, c in enumerate(self.classes)}

    def clip_index(self, name: str) -> int | None:
        return self._index.get(normalize_clip_id(name, self._index))

    def class_index(self, label: str) -> int | None:
        return self._class_index.get(str(label).strip())

    def nearest_label(self, label: str) -> str:
        best = difflib.get_close_matches(str(label), self.classes, n=1, cutoff=0.0)
        return best[0] if best else ""


@dataclass
class ClipScores:
    """Scores (N, C) in the dataset's clip and class order."""

    scores: np.ndarray
    report: ValidationReport


@dataclass
class Detections:
    """Detected events: DataFrame ``filename`` (dataset clip id), ``event_label``, ``onset``, ``offset``."""

    events: pd.DataFrame
    report: ValidationReport


@dataclass
class Embeddings:
    """Embeddings (N, D) in the dataset's clip order."""

    embeddings: np.ndarray
    report: ValidationReport


def normalize_clip_id(name: Any, known: Mapping[str, int] | None = None) -> str:
    """``dir/eval_000123.wav`` -> ``eval_000123`` (the extension is dropped only for audio extensions)."""
    s = str(name).strip()
    if known is not None and s in known:
        return s
    s = s.replace("\\", "/").rsplit("/", 1)[-1]
    stem, ext = os.path.splitext(s)
    if ext.lower() in AUDIO_EXTENSIONS:
        s = stem
    return s


def infer_task(path: str | Path) -> str:
    """tagging (.csv), detection (.tsv) or embedding (.npy, .npz, .h5, .hdf5)."""
    suffix = Path(path).suffix.lower()
    if suffix not in TASK_BY_SUFFIX:
        raise WlbenchError(f"{path}: cannot tell the task from the extension {suffix!r}",
                           hint="pass --task tagging|detection|embedding, or use .csv, .tsv, .npy/.npz/.h5")
    return TASK_BY_SUFFIX[suffix]


# --- shared text handling -------------------------------------------------------------------------

def _read_text(path: Path, report: ValidationReport, head_only: bool = False
               ) -> tuple[list[str], dict[str, str]] | None:
    """Lines of the file (only the comment lines and the header line if ``head_only``) and its metadata."""
    try:
        if head_only:
            lines_ = []
            with open(path, encoding="utf-8-sig") as handle:
                for line in handle:
                    lines_.append(line.rstrip("\r\n"))
                    if not line.startswith("#"):
                        break
            text = "\n".join(lines_)
        else:
            text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        report.add("unreadable", "file not found; check the path")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        report.add("unreadable", f"cannot read the file as UTF-8 text: {exc}")
        return None
    lines = text.splitlines()
    meta = parse_declared(lines)
    n_meta = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return lines, meta | {"__n_meta__": str(n_meta)}


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


def _check_meta(meta: Mapping[str, str], exp: Expected, report: ValidationReport) -> None:
    if exp.split is not None and "split" in meta and meta["split"] != exp.split:
        report.add("wrong_split", f"the file declares split {meta['split']!r} but split {exp.split!r} is being "
                   "scored; score it with --split " + meta["split"] + " or submit predictions for " + exp.split,
                   field="split")
    for key, want in (("dataset", exp.dataset_name), ("split_truth_id", exp.split_truth_id)):
        if want is not None and key in meta and meta[key] != want:
            report.add("wrong_dataset", f"the file declares {key} {meta[key]!r} but the dataset has {want!r}; "
                       "score it against the dataset it was made for", field=key)
    if exp.content_id is not None and meta.get("content_id", exp.content_id) != exp.content_id:
        report.notes["declared_content_id_differs"] = meta["content_id"]


def _check_clip_sets(seen: dict[str, int], unknown: list[tuple[str, int]], exp: Expected,
                     report: ValidationReport, missing_is_problem: bool = True) -> None:
    """Report unknown clips (with a wrong-split / wrong-dataset diagnosis) and missing clips."""
    wrong_split = None
    split_of: dict[str, str] = {}
    if unknown and exp.other_splits:
        names = {normalize_clip_id(u) for u, _ in unknown}
        for split, ids in exp.other_splits.items():
            found = names & set(map(str, ids))
            split_of.update({x: split for x in found})
            # most rows name clips of another split and few of this one: the whole file is for that split
            if len(found) >= max(1, len(names) // 2) and len(seen) < max(1, len(exp.clip_ids) // 2):
                wrong_split = (split, len(found))
                break
    if wrong_split is not None:
        report.add("wrong_split", f"{wrong_split[1]} of the {len(unknown)} unknown clip ids belong to split "
                   f"{wrong_split[0]!r}, not {exp.split!r}; score with --split {wrong_split[0]} or submit "
                   f"predictions for the {exp.split} clips", field="filename")
    elif unknown and not seen:
        report.add("wrong_dataset", f"none of the {len(unknown)} clip ids is a clip of this split (e.g. "
                   f"{unknown[0][0]!r}, expected ids like {exp.clip_ids[0] if exp.clip_ids else '?'!r}); "
                   "check that the submission was made for this dataset", field="filename")
    else:
        for name, row in unknown:
            other = split_of.get(normalize_clip_id(name))
            where = f" (it is a clip of split {other!r})" if other else ""
            report.add("unknown_clip", f"clip {name!r} is not in split {exp.split or '?'}{where}; remove the row "
                       "or fix the id", row=row, field="filename")
    if missing_is_problem and wrong_split is None and not (unknown and not seen):
        for cid in exp.clip_ids:
            if cid not in seen:
                report.add("missing_clip", f"no prediction for clip {cid!r}; add it", field="filename")


def _label_problem(exp: Expected, report: ValidationReport, label: str, row: int | None, fld: str) -> None:
    report.add("unknown_label", f"unknown label {label!r}; did you mean {exp.nearest_label(label)!r}?",
               row=row, field=fld)


def _read_frame(lines: list[str], n_meta: int, sep: str, header: bool, names: list[str] | None = None
                ) -> pd.DataFrame:
    body = "\n".join(lines[n_meta:])
    return pd.read_csv(io.StringIO(body), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                       skip_blank_lines=False, header=0 if header else None, names=names,
                       engine="c", quoting=0)


def _parse_numbers(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(floats, empty mask, not-a-number mask) for an array of strings."""
    s = pd.Series(np.asarray(values, dtype=object)).astype(str).str.strip()
    nums = pd.to_numeric(s, errors="coerce").to_numpy(np.float64)
    empty = (s == "").to_numpy()
    lower = s.str.lower()
    nan_words = lower.isin(["nan", "-nan", "+nan", "na", "n/a"]).to_numpy()
    bad = np.isnan(nums) & ~empty & ~nan_words
    return nums, empty, bad


# --- clip scores ----------------------------------------------------------------------------------

def _header_fields(head: str, sep: str) -> list[str]:
    """The names of the raw header line (quotes handled as in the rows), stripped."""
    return [c.strip() for c in next(csv.reader([head], delimiter=sep), [])]


def _duplicate_header_problems(cols: Sequence[str], header_row: int, report: ValidationReport) -> bool:
    """Report every name that appears more than once in the raw header line; True if any did."""
    positions: dict[str, list[int]] = {}
    for i, c in enumerate(cols):
        positions.setdefault(c, []).append(i + 1)
    found = False
    for c, where in positions.items():
        if len(where) > 1 and c:
            times = "twice" if len(where) == 2 else f"{len(where)} times"
            report.add("bad_header", f"column {c!r} appears {times} in the header (columns "
                       f"{', '.join(map(str, where))}); keep one", row=header_row, field=c)
            found = True
    return found


def read_clip_scores(path: str | Path, expected: Expected, probabilities: bool = True
                     ) -> tuple[ClipScores | None, ValidationReport]:
    """Parse and validate a clip-score CSV; returns (scores or None, report)."""
    report = ValidationReport(str(path), "tagging")
    got = _read_text(Path(path), report)
    if got is None:
        return None, report
    lines, meta = got
    n_meta = int(meta.pop("__n_meta__"))
    _check_meta(meta, expected, report)
    if n_meta >= len(lines) or not lines[n_meta].strip():
        report.add("bad_header", "expected a header line 'filename,<classes...>' or 'filename,event_label,score'",
                   row=n_meta + 1)
        return None, report
    head = lines[n_meta]
    sep = "\t" if ("\t" in head and "," not in head) else ","
    try:
        head_cols = _header_fields(head, sep)
    except csv.Error as exc:
        report.add("unreadable", f"cannot parse the header line as CSV: {exc}", row=n_meta + 1)
        return None, report
    is_long = set(head_cols) == {"filename", "event_label", "score"}
    if not is_long:
        return _read_wide(lines, n_meta, sep, head_cols, expected, report, probabilities)
    try:
        frame = _read_frame(lines, n_meta, sep, header=True)
    except (pd.errors.ParserError, ValueError) as exc:
        report.add("unreadable", f"cannot parse as CSV: {exc}")
        return None, report
    cols = [str(c).strip() for c in frame.columns]
    frame.columns = cols
    header_row = n_meta + 1
    first = header_row + 1  # line number of frame row 0
    if _duplicate_header_problems(head_cols, header_row, report):
        return None, report
    report.format = "long"
    n_clips, n_classes = len(expected.clip_ids), len(expected.classes)
    scores = np.full((n_clips, n_classes), np.nan)
    have = np.zeros((n_clips, n_classes), dtype=bool)
    names = frame["filename"].astype(str).str.strip().to_numpy()
    blank = names == ""
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    clip_idx = np.full(len(frame), -1)
    for r, name in enumerate(names):
        if blank[r]:
            continue
        if name == "":
            report.add("missing_value", "empty filename", row=first + r, field="filename")
            continue
        idx = expected.clip_index(name)
        if idx is None:
            unknown.append((name, first + r))
            continue
        clip_idx[r] = idx
    labels = frame["event_label"].astype(str).str.strip().to_numpy()
    vals, empty, bad = _parse_numbers(frame["score"])
    lab_idx = np.array([expected.class_index(x) if x else None for x in labels], dtype=object)
    first_row: dict[tuple[int, int], int] = {}
    for r in range(len(frame)):
        if blank[r] or clip_idx[r] < 0:
            continue
        seen.setdefault(expected.clip_ids[clip_idx[r]], first + r)
        li = lab_idx[r]
        if li is None:
            _label_problem(expected, report, labels[r], first + r, "event_label")
            continue
        key = (int(clip_idx[r]), int(li))
        if key in first_row:
            report.add("duplicate_row", f"clip {expected.clip_ids[key[0]]!r}, label {labels[r]!r} already "
                       f"scored at line {first_row[key]}; keep one row", row=first + r, field="event_label")
            continue
        first_row[key] = first + r
        _check_value(report, vals[r], empty[r], bad[r], frame["score"].iat[r], first + r, "score", probabilities)
        scores[key] = vals[r]
        have[key] = True
    if first_row:
        miss_clip, miss_cls = np.nonzero(~have)
        for ci, cj in zip(miss_clip, miss_cls):
            if expected.clip_ids[ci] in seen:
                report.add("missing_score", f"clip {expected.clip_ids[ci]!r} has no score for "
                           f"{expected.classes[cj]!r}; add a row", field="score")
    _check_clip_sets(seen, unknown, expected, report)
    if probabilities:
        _collapse_range_problems(report)
    if not report.ok:
        return None, report
    return ClipScores(scores, report), report


NAN_WORDS = frozenset({"nan", "-nan", "+nan", "na", "n/a"})


def _to_float(text: str) -> float | None:
    """A score read from text (NaN words give NaN, to be reported as not finite); None: not a number."""
    s = text.strip()
    if s.lower() in NAN_WORDS:
        return float("nan")
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _read_wide(lines: list[str], n_meta: int, sep: str, head_cols: list[str], expected: Expected,
               report: ValidationReport, probabilities: bool) -> tuple[ClipScores | None, ValidationReport]:
    """The wide format ``filename,<class 1>,...``: every field is read as text (clip ids stay strings, so
    ``001`` is not clip ``1``) and numbers are parsed here, so that each row is judged on its own: a row
    with more fields than the header is a ``bad_row``, one with fewer a ``missing_value`` naming the
    columns it lacks, and neither shifts the other rows."""
    header_row = n_meta + 1
    report.format = "wide"
    cols = head_cols
    if "filename" not in cols:
        report.add("bad_header", f"no 'filename' column in header {cols[:5]}...; the first column must be "
                   "'filename'", row=header_row, field=cols[0] if cols else None)
        return None, report
    _duplicate_header_problems(cols, header_row, report)
    n_head = len(cols)
    fn = cols.index("filename")
    col_of_class: dict[int, int] = {}  # class index -> position of its (first) column
    for p, c in enumerate(cols):
        if p == fn or c == "filename":
            continue
        if c == "":
            report.add("bad_header", f"column {p + 1} of the header has no name; name the class or remove the "
                       f"extra '{_sep_name(sep)}'", row=header_row, field=None)
            continue
        j = expected.class_index(c)
        if j is None:
            _label_problem(expected, report, c, header_row, c)
        elif j not in col_of_class:
            col_of_class[j] = p
    for j, name in enumerate(expected.classes):
        if j not in col_of_class:
            report.add("missing_label", f"no column for class {name!r}; add one", row=header_row, field=name)

    reader = csv.reader(io.StringIO("\n".join(lines[header_row:])), delimiter=sep)
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    good: list[tuple[int, list[str], int]] = []  # (clip index, fields, line)
    try:
        for fields in reader:
            line = header_row + reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank line
            name = fields[fn].strip() if fn < len(fields) else ""
            if len(fields) > n_head:
                report.add("bad_row", f"{len(fields)} fields but the header has {n_head}; remove the extra "
                           f"field(s) (a stray '{_sep_name(sep)}'?), or quote a clip id that contains one",
                           row=line)
                idx = expected.clip_index(name) if name else None
                if idx is not None:  # the clip has a row: do not report it missing as well
                    seen.setdefault(expected.clip_ids[idx], line)
                continue
            if name == "":
                report.add("missing_value", "empty filename", row=line, field="filename")
                continue
            idx = expected.clip_index(name)
            if idx is None:
                unknown.append((name, line))
                continue
            cid = expected.clip_ids[idx]
            if cid in seen:
                report.add("duplicate_row", f"clip {cid!r} already has a row at line {seen[cid]}; keep one row "
                           "per clip", row=line, field="filename")
                continue
            seen[cid] = line
            if len(fields) < n_head:
                lacking = cols[len(fields):]
                shown = ", ".join(map(repr, lacking[:5])) + (f" and {len(lacking) - 5} more" if len(lacking) > 5
                                                              else "")
                report.add("missing_value", f"{len(fields)} fields but the header has {n_head}: no value for "
                           f"{shown}; write a score in every column", row=line, field=lacking[0])
            good.append((idx, fields, line))
    except csv.Error as exc:
        report.add("unreadable", f"cannot parse as CSV: {exc}", row=header_row + reader.line_num)
        return None, report

    classes = list(col_of_class)
    positions = [col_of_class[j] for j in classes]
    vals, number = _wide_values(good, positions, cols, report)
    for r, k in zip(*np.nonzero(number & ~np.isfinite(vals))):
        p = positions[k]
        report.add("not_finite", f"score {good[r][1][p].strip()!r} is NaN or infinite; write a finite number",
                   row=good[r][2], field=cols[p])
    if probabilities:
        for k, p in enumerate(positions):
            column = vals[:, k]
            out = np.isfinite(column) & ((column < 0) | (column > 1))
            if out.any():
                r = int(np.flatnonzero(out)[0])
                report.add("out_of_range", f"{int(out.sum())} score(s) outside [0, 1] (first {column[r]!r} at "
                           f"line {good[r][2]}); submit probabilities, or pass --raw-scores if the scores are not "
                           "probabilities", row=good[r][2], field=cols[p])
    _check_clip_sets(seen, unknown, expected, report)
    if not report.ok:
        return None, report
    scores = np.full((len(expected.clip_ids), len(expected.classes)), np.nan)
    rows = np.array([g[0] for g in good], dtype=np.int64)
    for k, j in enumerate(classes):
        scores[rows, j] = vals[:, k]
    return ClipScores(scores, report), report


def _wide_values(good: list[tuple[int, list[str], int]], positions: list[int], cols: list[str],
                 report: ValidationReport) -> tuple[np.ndarray, np.ndarray]:
    """(values (rows, columns), mask of the cells that hold a number, NaN/inf included); empty cells and
    text are reported here, cells missing from a short row were reported with their row."""
    shape = (len(good), len(positions))
    if not positions or not good:
        return np.full(shape, np.nan), np.ones(shape, dtype=bool)
    width = max(positions) + 1
    if all(len(g[1]) >= width for g in good):
        pick = operator.itemgetter(*positions)
        try:  # fast path: every cell a plain number (NaN/inf are numbers here, reported later)
            table = [pick(g[1]) for g in good]
            vals = np.array(table, dtype=np.float64).reshape(shape)
            return vals, np.ones(shape, dtype=bool)
        except ValueError:
            pass
    vals = np.full(shape, np.nan)
    number = np.ones(shape, dtype=bool)
    for r, (_, fields, line) in enumerate(good):
        try:
            vals[r] = [float(fields[p]) for p in positions]  # a row of plain numbers
            continue
        except (ValueError, IndexError):
            pass
        for k, p in enumerate(positions):
            if p >= len(fields):  # a short row: reported once above
                number[r, k] = False
                continue
            v = _to_float(fields[p])
            if v is None:
                number[r, k] = False
                if fields[p].strip() == "":
                    report.add("missing_value", "empty score; write a number", row=line, field=cols[p])
                else:
                    report.add("not_a_number", f"{fields[p]!r} is not a number", row=line, field=cols[p])
            vals[r, k] = np.nan if v is None else v
    return vals, number


def _sep_name(sep: str) -> str:
    return "\\t" if sep == "\t" else sep


def _check_value(report: ValidationReport, value: float, empty: bool, bad: bool, raw: Any, row: int, fld: str,
                 probabilities: bool) -> None:
    if empty:
        report.add("missing_value", "empty score; write a number", row=int(row), field=fld)
    elif bad:
        report.add("not_a_number", f"{str(raw)!r} is not a number", row=int(row), field=fld)
    elif not np.isfinite(value):
        report.add("not_finite", f"score {str(raw).strip()!r} is empty, NaN or infinite; write a finite number",
                   row=int(row), field=fld)
    elif probabilities and not 0.0 <= value <= 1.0:
        report.add("out_of_range", f"score {value!r} outside [0, 1]", row=int(row), field=fld)


def _collapse_range_problems(report: ValidationReport) -> None:
    """Long format: one out_of_range problem (with count and first line) instead of one per row."""
    rng = [p for p in report.problems if p.kind == "out_of_range"]
    if len(rng) <= 1:
        return
    report.problems = [p for p in report.problems if p.kind != "out_of_range"]
    report.add("out_of_range", f"{len(rng)} score(s) outside [0, 1] (first at line {rng[0].row}); submit "
               "probabilities, or pass --raw-scores if the scores are not probabilities",
               row=rng[0].row, field="score")


def load_clip_scores(path: str | Path, expected: Expected, probabilities: bool = True) -> ClipScores:
    """:func:`read_clip_scores`, raising :class:`SubmissionError` unless the file is valid."""
    got, report = read_clip_scores(path, expected, probabilities)
    report.raise_if_invalid()
    assert got is not None
    return got


# --- detections -----------------------------------------------------------------------------------

DETECTION_COLUMNS = ["filename", "onset", "offset", "event_label"]


def read_detections(path: str | Path, expected: Expected) -> tuple[Detections | None, ValidationReport]:
    """Parse and validate a DCASE-style detection TSV; returns (detections or None, report)."""
    report = ValidationReport(str(path), "detection", format="tsv")
    got = _read_text(Path(path), report)
    if got is None:
        return None, report
    lines, meta = got
    n_meta = int(meta.pop("__n_meta__"))
    _check_meta(meta, expected, report)
    if n_meta >= len(lines):
        frame = pd.DataFrame(columns=DETECTION_COLUMNS)
        first = n_meta + 1
    else:
        head = [h.strip() for h in lines[n_meta].split("\t")]
        has_header = "filename" in head
        try:
            frame = _read_frame(lines, n_meta, "\t", header=has_header,
                                names=None if has_header else DETECTION_COLUMNS)
        except (pd.errors.ParserError, ValueError) as exc:
            report.add("unreadable", f"cannot parse as a tab-separated file: {exc}")
            return None, report
        frame.columns = [str(c).strip() for c in frame.columns]
        first = n_meta + (2 if has_header else 1)
        missing = [c for c in DETECTION_COLUMNS if c not in frame.columns]
        if missing:
            report.add("bad_header", f"missing column(s) {missing}; the header must be "
                       "'filename<TAB>onset<TAB>offset<TAB>event_label'", row=n_meta + 1)
            return None, report
    frame = frame[DETECTION_COLUMNS].astype(str).apply(lambda s: s.str.strip())
    names = frame["filename"].to_numpy()
    labels = frame["event_label"].to_numpy()
    on, on_empty, on_bad = _parse_numbers(frame["onset"])
    off, off_empty, off_bad = _parse_numbers(frame["offset"])
    dur = expected.clip_duration
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    keep_rows, keep_clip, keep_label = [], [], []
    first_of: dict[tuple, int] = {}
    for r in range(len(frame)):
        row = first + r
        rest_empty = on_empty[r] and off_empty[r] and labels[r] == ""
        if names[r] == "":
            if not rest_empty:
                report.add("missing_value", "empty filename", row=row, field="filename")
            continue
        idx = expected.clip_index(names[r])
        if idx is None:
            unknown.append((names[r], row))
            continue
        cid = expected.clip_ids[idx]
        seen.setdefault(cid, row)
        if rest_empty:
            continue  # a clip with no detections
        ok = True
        li = expected.class_index(labels[r]) if labels[r] else None
        if labels[r] == "":
            report.add("missing_value", "empty event_label", row=row, field="event_label")
            ok = False
        elif li is None:
            _label_problem(expected, report, labels[r], row, "event_label")
            ok = False
        for name, v, e, b in (("onset", on[r], on_empty[r], on_bad[r]), ("offset", off[r], off_empty[r], off_bad[r])):
            if e:
                report.add("missing_value", f"empty {name}", row=row, field=name)
                ok = False
            elif b:
                report.add("not_a_number", f"{frame[name].iat[r]!r} is not a number", row=row, field=name)
                ok = False
            elif not np.isfinite(v):
                report.add("not_finite", f"{name} is NaN or infinite", row=row, field=name)
                ok = False
        if not ok:
            continue
        if on[r] >= off[r]:
            report.add("onset_not_before_offset", f"onset {on[r]!r} >= offset {off[r]!r}; an event must have "
                       "positive length", row=row, field="onset")
            ok = False
        if on[r] < -TIME_TOLERANCE or (dur is not None and off[r] > dur + TIME_TOLERANCE):
            report.add("time_outside_clip", f"event [{on[r]!r}, {off[r]!r}] s lies outside the clip "
                       f"[0, {dur}] s; clip it to the clip", row=row,
                       field="onset" if on[r] < -TIME_TOLERANCE else "offset")
            ok = False
        key = (cid, int(li), float(on[r]), float(off[r]))
        if key in first_of:
            report.add("duplicate_row", f"same event as line {first_of[key]}; remove the copy", row=row)
            ok = False
        else:
            first_of[key] = row
        if ok:
            keep_rows.append(r)
            keep_clip.append(cid)
            keep_label.append(expected.classes[li])
    _check_clip_sets(seen, unknown, expected, report, missing_is_problem=False)
    report.notes["clips_without_detections"] = int(len(expected.clip_ids) - len(set(keep_clip)))
    report.notes["n_events"] = len(keep_rows)
    if not report.ok:
        return None, report
    rows = np.asarray(keep_rows, dtype=np.int64)
    events = pd.DataFrame({"filename": keep_clip, "event_label": keep_label,
                           "onset": on[rows] if rows.size else np.zeros(0),
                           "offset": off[rows] if rows.size else np.zeros(0)})
    return Detections(events, report), report


def load_detections(path: str | Path, expected: Expected) -> Detections:
    """:func:`read_detections`, raising :class:`SubmissionError` unless the file is valid."""
    got, report = read_detections(path, expected)
    report.raise_if_invalid()
    assert got is not None
    return got


# --- embeddings -----------------------------------------------------------------------------------

def _embedding_source(path: Path, report: ValidationReport) -> tuple[list[str] | None, list[np.ndarray]] | None:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
            report.format = "npy"
            if arr.ndim != 2:
                report.add("wrong_shape", f"expected a 2-D (clips, dims) array, got shape {arr.shape}")
                return None
            return None, list(arr)
        if suffix == ".npz":
            report.format = "npz"
            with np.load(path, allow_pickle=False) as z:
                items = {k: z[k] for k in z.files}
        elif suffix in (".h5", ".hdf5"):
            import h5py
            report.format = "hdf5"
            with h5py.File(path, "r") as h:
                items = {k: h[k][()] for k in h.keys() if isinstance(h[k], h5py.Dataset)}
        else:
            report.add("unreadable", f"unknown embedding file type {suffix!r}; use .npy, .npz, .h5 or .hdf5")
            return None
    except FileNotFoundError:
        report.add("unreadable", "file not found; check the path")
        return None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a problem of the file
        report.add("unreadable", f"cannot read embeddings: {type(exc).__name__}: {exc}")
        return None
    if "clip_ids" in items and "embeddings" in items:
        ids = [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(items["clip_ids"]).ravel()]
        arr = np.asarray(items["embeddings"])
        if arr.ndim != 2 or arr.shape[0] != len(ids):
            report.add("wrong_shape", f"'embeddings' has shape {arr.shape} but there are {len(ids)} clip_ids; "
                       "expected (clips, dims)", field="embeddings")
            return None
        return ids, list(arr)
    return list(items.keys()), [np.asarray(v) for v in items.values()]


def read_embeddings(path: str | Path, expected: Expected) -> tuple[Embeddings | None, ValidationReport]:
    """Parse and validate an embedding file; returns (embeddings or None, report).

    ``row`` in problems is the 1-based position of the entry in the file.
    """
    path = Path(path)
    report = ValidationReport(str(path), "embedding")
    got = _embedding_source(path, report)
    if got is None:
        return None, report
    ids, vectors = got
    n = len(expected.clip_ids)
    if ids is None:  # plain .npy: rows in split order
        if len(vectors) != n:
            report.add("wrong_shape", f"{len(vectors)} rows but the split has {n} clips; a .npy file must hold "
                       "one row per clip in the split's order (or use .npz/.h5 with clip_ids)")
            return None, report
        ids = list(expected.clip_ids)
    dims = {np.asarray(v).shape for v in vectors}
    out = None
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    rows: list[tuple[int, np.ndarray]] = []
    for k, (name, v) in enumerate(zip(ids, vectors)):
        idx = expected.clip_index(name)
        if idx is None:
            unknown.append((name, k + 1))
            continue
        cid = expected.clip_ids[idx]
        if cid in seen:
            report.add("duplicate_row", f"clip {cid!r} already given at entry {seen[cid]}", row=k + 1, field=cid)
            continue
        seen[cid] = k + 1
        v = np.asarray(v)
        if v.dtype.kind not in "biuf":
            report.add("not_a_number", f"embedding of {cid!r} has dtype {v.dtype}", row=k + 1, field=cid)
            continue
        if v.ndim != 1:
            report.add("wrong_shape", f"embedding of {cid!r} has shape {v.shape}; expected (dims,)", row=k + 1,
                       field=cid)
            continue
        if not np.isfinite(v).all():
            report.add("not_finite", f"embedding of {cid!r} contains NaN or infinite values", row=k + 1, field=cid)
            continue
        rows.append((idx, v.astype(np.float64)))
    if len(dims) > 1:
        report.add("wrong_shape", f"embeddings have different shapes {sorted(dims)[:3]}; all must be (dims,)")
    _check_clip_sets(seen, unknown, expected, report)
    if report.ok:
        d = rows[0][1].size if rows else 0
        out = np.zeros((n, d))
        for idx, v in rows:
            out[idx] = v
        return Embeddings(out, report), report
    return None, report


def load_embeddings(path: str | Path, expected: Expected) -> Embeddings:
    """:func:`read_embeddings`, raising :class:`SubmissionError` unless the file is valid."""
    got, report = read_embeddings(path, expected)
    report.raise_if_invalid()
    assert got is not None
    return got


def read_submission(path: str | Path, expected: Expected, task: str | None = None, probabilities: bool = True):
    """Dispatch on ``task`` (inferred from the extension when None); returns (parsed or None, report)."""
    task = task or infer_task(path)
    if task == "tagging":
        return read_clip_scores(path, expected, probabilities)
    if task == "detection":
        return read_detections(path, expected)
    if task == "embedding":
        return read_embeddings(path, expected)
    raise WlbenchError(f"unknown task {task!r}", hint="use tagging, detection or embedding")
