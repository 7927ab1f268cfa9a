"""Clip scores (task ``tagging``): a CSV of one row per clip, *wide* ``filename,<class 1>,...,<class C>``,
or *long* ``filename,event_label,score`` (one row per clip and class; without a header too, as sed_eval's
``estimated.txt``). The delimiter is read from the
header (comma, tab or spaces); every field is read as text, so clip ids stay strings (``001`` is not
``1``), and each row is judged on its own.
"""

from __future__ import annotations

import csv
import io
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.errors import plain
from wlbench.submissions.expected import Expected, check_clip_sets, check_declared, label_problem, resolve_clip
from wlbench.submissions.layouts import find_layout
from wlbench.submissions.numbers import SEPARATORS, read_named_numbers
from wlbench.submissions.report import ValidationReport
from wlbench.submissions.text import describe_delimiters, find_header, parse_numbers, read_text, to_float


@dataclass
class ClipScores:
    """Scores (N, C) in the expected clip and class order."""

    scores: np.ndarray
    report: ValidationReport


def _rows(lines: list[str], start: int, sep: str):
    """(1-based line number, fields) of every line from ``start`` on; raises csv.Error on broken quoting."""
    if sep == " ":
        for i in range(start, len(lines)):
            yield i + 1, lines[i].split()
        return
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=sep)
    for fields in reader:
        yield start + reader.line_num, fields


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
    tf = read_text(Path(path), report)
    if tf is None:
        return None, report
    check_declared(tf.declared, expected, report)
    header_row = tf.body_start + 1
    head = tf.head
    if head is None or not head.strip():
        report.add("bad_header", "expected a header line 'filename,<classes...>' or 'filename,event_label,score'",
                   row=header_row)
        return None, report
    header = find_header(head, ["filename"])
    layout = find_layout(tf.lines, tf.body_start) if header is None else None
    if layout is not None and layout.task == "tagging":  # headerless long scores (sed_eval's estimated.txt)
        report.notes["layout"] = layout.describe()
        return _read_long(tf.lines, tf.body_start - 1, layout.sep, list(layout.columns), expected, report,
                          probabilities)
    if layout is not None:
        report.add("bad_header", f"line {header_row} is a row of an event list ({layout.describe()}), not clip "
                   "scores; score it with --task detection", row=header_row)
        return None, report
    if header is None:
        report.add("bad_header", f"the header names no 'filename' column (the line holds "
                   f"{describe_delimiters(head)}); expected 'filename,<class 1>,...' or 'filename,event_label,score'"
                   ", separated by commas or tabs", row=header_row)
        return None, report
    spaced = [c for c in expected.classes if any(ch.isspace() for ch in c)]
    if header.sep == " " and spaced:
        report.add("bad_header", f"the header is separated by spaces but class names contain spaces (e.g. "
                   f"{spaced[0]!r}); separate the columns by commas or tabs", row=header_row)
        return None, report
    cols = ["filename" if k == "filename" else n for n, k in zip(header.names, header.canonical)]
    if set(header.canonical) == {"filename", "event_label", "score"}:
        return _read_long(tf.lines, tf.body_start, header.sep, header.canonical, expected, report, probabilities)
    return _read_wide(tf.lines, tf.body_start, header.sep, cols, expected, report, probabilities)


def _read_long(lines: list[str], n_meta: int, sep: str, cols: list[str], expected: Expected,
               report: ValidationReport, probabilities: bool) -> tuple[ClipScores | None, ValidationReport]:
    """The long format ``filename,event_label,score``: one row per clip and class."""
    header_row = n_meta + 1
    if _duplicate_header_problems(cols, header_row, report):
        return None, report
    report.format = "long"
    at = {c: cols.index(c) for c in ("filename", "event_label", "score")}
    rows: list[tuple[int, list[str]]] = []
    try:
        for line, fields in _rows(lines, header_row, sep):
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) > len(cols):
                report.add("bad_row", f"{len(fields)} fields but the header has {len(cols)}; remove the extra "
                           f"field(s) (a stray {_sep_name(sep)}?), or quote a value that contains one", row=line)
                continue
            rows.append((line, [f.strip() for f in fields] + [""] * (len(cols) - len(fields))))
    except csv.Error as exc:
        report.add("unreadable", f"cannot parse as CSV: {exc}")
        return None, report
    n_clips, n_classes = len(expected.clip_ids), len(expected.classes)
    scores = np.full((n_clips, n_classes), np.nan)
    have = np.zeros((n_clips, n_classes), dtype=bool)
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    raw = [r[1][at["score"]] for r in rows]
    vals, empty, bad = parse_numbers(raw) if rows else (np.zeros(0), np.zeros(0, bool), np.zeros(0, bool))
    first_row: dict[tuple[int, int], int] = {}
    for r, (line, fields) in enumerate(rows):
        name, label = fields[at["filename"]], fields[at["event_label"]]
        idx = resolve_clip(expected, name, line, report, unknown)
        if idx is None:
            continue
        seen.setdefault(expected.clip_ids[idx], line)
        li = expected.class_index(label) if label else None
        if li is None:
            label_problem(expected, report, label, line, "event_label")
            continue
        key = (int(idx), int(li))
        if key in first_row:
            report.add("duplicate_row", f"clip {expected.clip_ids[idx]!r}, label {label!r} already scored at line "
                       f"{first_row[key]}; keep one row", row=line, field="event_label")
            continue
        first_row[key] = line
        _check_value(report, vals[r], empty[r], bad[r], raw[r], line, "score", probabilities)
        scores[key] = vals[r]
        have[key] = True
    if first_row:
        miss_clip, miss_cls = np.nonzero(~have)
        for ci, cj in zip(miss_clip, miss_cls):
            if expected.clip_ids[ci] in seen:
                report.add("missing_score", f"clip {expected.clip_ids[ci]!r} has no score for "
                           f"{expected.classes[cj]!r}; add a row", field="score")
    check_clip_sets(seen, unknown, expected, report)
    if probabilities:
        _collapse_range_problems(report)
    if not report.ok:
        return None, report
    return ClipScores(scores, report), report


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
                       f"extra {_sep_name(sep)}", row=header_row, field=None)
            continue
        j = expected.class_index(c)
        if j is None:
            label_problem(expected, report, c, header_row, c)
        elif j not in col_of_class:
            col_of_class[j] = p
    for j, name in enumerate(expected.classes):
        if j not in col_of_class:
            report.add("missing_label", f"no column for class {name!r}; add one", row=header_row, field=name)

    classes = list(col_of_class)
    positions = [col_of_class[j] for j in classes]
    fast = _wide_fast(lines, header_row, sep, n_head, fn, positions, expected, report) if report.ok else None
    if fast is not None:
        good, vals, seen, unknown = fast
        number = np.ones(vals.shape, dtype=bool)
    else:
        parsed = _wide_rows(lines, header_row, sep, cols, fn, expected, report)
        if parsed is None:
            return None, report
        good, seen, unknown = parsed
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
                report.add("out_of_range", f"{int(out.sum())} score(s) outside [0, 1] (first {plain(column[r])} at "
                           f"line {good[r][2]}); submit probabilities, or pass --raw-scores if the scores are not "
                           "probabilities", row=good[r][2], field=cols[p])
    check_clip_sets(seen, unknown, expected, report)
    if not report.ok:
        return None, report
    scores = np.full((len(expected.clip_ids), len(expected.classes)), np.nan)
    rows = np.array([g[0] for g in good], dtype=np.int64)
    for k, j in enumerate(classes):
        scores[rows, j] = vals[:, k]
    return ClipScores(scores, report), report


def _claim_row(expected: Expected, name: str, line: int, report: ValidationReport, seen: dict[str, int],
               unknown: list[tuple[str, int]]) -> int | None:
    """The clip index of a row naming ``name`` at ``line``, recorded in ``seen``; None (reported) for an unknown
    clip or a second row of a clip."""
    idx = resolve_clip(expected, name, line, report, unknown)
    if idx is None:
        return None
    cid = expected.clip_ids[idx]
    if cid in seen:
        report.add("duplicate_row", f"clip {cid!r} already has a row at line {seen[cid]}; keep one row per clip",
                   row=line, field="filename")
        return None
    seen[cid] = line
    return idx


def _wide_fast(lines: list[str], header_row: int, sep: str, n_head: int, fn: int, positions: list[int],
               expected: Expected, report: ValidationReport
               ) -> tuple[list[tuple[int, None, int]], np.ndarray, dict[str, int], list[tuple[str, int]]] | None:
    """The rows of a plain wide table read at once by Arrow's correctly rounded reader
    (:mod:`wlbench.submissions.numbers`): (rows kept as (clip index, None, line), their scores in the
    order of ``positions``, clips seen, unknown clips), with the row problems :func:`_wide_rows` would
    report (unknown, empty and repeated clip ids). None, the report untouched, unless every line is a row
    of exactly ``n_head`` fields, no field is quoted and every score is a finite number: the field-by-field
    reader then judges each row."""
    if sep not in SEPARATORS:
        return None
    end = len(lines)
    while end > header_row and not lines[end - 1].strip():
        end -= 1
    body = lines[header_row:end]
    if not body or any(not line.strip() for line in body):
        return None
    text = "\n".join(body)
    if '"' in text:
        return None
    table = read_named_numbers(text.encode("utf-8"), sep=sep, width=n_head, name_column=fn)
    if table is None or len(table[0]) != len(body) or not np.isfinite(table[1]).all():
        return None
    names, numbers = table
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    good: list[tuple[int, None, int]] = []
    kept: list[int] = []
    for r, raw in enumerate(names):
        line = header_row + 1 + r
        idx = _claim_row(expected, raw.strip(), line, report, seen, unknown)
        if idx is None:
            continue
        good.append((idx, None, line))
        kept.append(r)
    columns = [p - (p > fn) for p in positions]  # the numbers leave out the filename column
    return good, numbers[np.asarray(kept, dtype=np.int64)][:, columns], seen, unknown


def _wide_rows(lines: list[str], header_row: int, sep: str, cols: list[str], fn: int, expected: Expected,
               report: ValidationReport
               ) -> tuple[list[tuple[int, list[str], int]], dict[str, int], list[tuple[str, int]]] | None:
    """Every row of a wide table field by field: (rows kept as (clip index, fields, line), clips seen,
    unknown clips), each row's problems reported; None when the CSV quoting is broken (reported)."""
    n_head = len(cols)
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    good: list[tuple[int, list[str], int]] = []  # (clip index, fields, line)
    line = header_row
    try:
        for line, fields in _rows(lines, header_row, sep):
            if not fields or all(not f.strip() for f in fields):
                continue  # blank line
            name = fields[fn].strip() if fn < len(fields) else ""
            if len(fields) > n_head:
                report.add("bad_row", f"{len(fields)} fields but the header has {n_head}; remove the extra "
                           f"field(s) (a stray {_sep_name(sep)}?), or quote a clip id that contains one",
                           row=line)
                idx = expected.clip_index(name) if name else None
                if idx is not None:  # the clip has a row: do not report it missing as well
                    seen.setdefault(expected.clip_ids[idx], line)
                continue
            idx = _claim_row(expected, name, line, report, seen, unknown)
            if idx is None:
                continue
            if len(fields) < n_head:
                lacking = cols[len(fields):]
                shown = ", ".join(map(repr, lacking[:5])) + (f" and {len(lacking) - 5} more" if len(lacking) > 5
                                                              else "")
                report.add("missing_value", f"{len(fields)} fields but the header has {n_head}: no value for "
                           f"{shown}; write a score in every column", row=line, field=lacking[0])
            good.append((idx, fields, line))
    except csv.Error as exc:
        report.add("unreadable", f"cannot parse as CSV: {exc}", row=line + 1)
        return None
    return good, seen, unknown


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
            v = to_float(fields[p])
            if v is None:
                number[r, k] = False
                if fields[p].strip() == "":
                    report.add("missing_value", "empty score; write a number", row=line, field=cols[p])
                else:
                    report.add("not_a_number", f"{fields[p]!r} is not a number", row=line, field=cols[p])
            vals[r, k] = np.nan if v is None else v
    return vals, number


def _sep_name(sep: str) -> str:
    return {"\t": "tab", ",": "','", " ": "space"}[sep]


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
        report.add("out_of_range", f"score {plain(value)} outside [0, 1]", row=int(row), field=fld)


def _collapse_range_problems(report: ValidationReport) -> None:
    """Long format: one out_of_range problem (with count and first line) instead of one per row."""
    rng = [p for p in report.problems if p.kind == "out_of_range"]
    if len(rng) <= 1:
        return
    report.problems = [p for p in report.problems if p.kind != "out_of_range"]
    report.add("out_of_range", f"{len(rng)} score(s) outside [0, 1] (first at line {rng[0].row}); submit "
               "probabilities, or pass --raw-scores if the scores are not probabilities",
               row=rng[0].row, field="score")
