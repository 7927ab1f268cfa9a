"""Detections (task ``detection``): DCASE event lists ``filename onset offset event_label``.

Accepted layouts, all read the same way (:func:`read_event_table`):

- tab-separated with a header (DCASE), or without one (columns in that order; the headerless layouts of
  sed_eval / dcase_util -- 3 columns ``onset offset event_label`` for a single clip, 5+ columns ``filename
  scene_label onset offset event_label ...`` -- are read too: :mod:`wlbench.submissions.layouts`);
- comma- or space-separated, when the header (or a headerless row) splits into the expected columns
  with that delimiter (a comma-separated ``.tsv``, DESED_task's ``predictions*.csv``);
- columns in any order, named ``filename``/``file``, ``onset``/``event_onset``, ``offset``/``event_offset``
  (sed_eval / dcase_util), ``event_label``; other columns are ignored (listed in the notes); an unnamed
  first column holding 0, 1, 2, ... is a pandas index (DESED_task writes one) and is ignored.

A clip with no detections may be left out or written as a row holding only its filename.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wlbench.atomic import write_text_atomic
from wlbench.errors import WlbenchError, plain
from wlbench.submissions.expected import Expected, check_clip_sets, check_declared, label_problem
from wlbench.submissions.layouts import find_layout
from wlbench.submissions.report import ValidationReport
from wlbench.submissions.text import (
    DELIMITER_NAMES,
    TextFile,
    describe_delimiters,
    find_header,
    is_number,
    parse_numbers,
    read_text,
    split_fields,
)
from wlbench.submissions.tolerance import TIME_TOLERANCE, ClipFit, outside

DETECTION_COLUMNS = ("filename", "onset", "offset", "event_label")
ALIASES = {"file": "filename", "event_onset": "onset", "event_offset": "offset"}


@dataclass
class EventTable:
    """The text columns of an event list: ``columns[name]`` (R,) strings for each required column,
    ``lines`` (R,) their 1-based line numbers, the delimiter and whether a header was present."""

    columns: dict[str, np.ndarray]
    lines: np.ndarray
    sep: str
    has_header: bool


@dataclass
class Detections:
    """Detected events: DataFrame ``filename`` (clip id), ``event_label``, ``onset``, ``offset``."""

    events: pd.DataFrame
    report: ValidationReport


def _headerless_sep(line: str, n_cols: int) -> str | None:
    """The delimiter of a headerless event row ``filename onset offset label`` (or a filename alone)."""
    if not any(sep in line for sep in DELIMITER_NAMES):
        return "\t"  # a clip id alone: a clip without detections
    for sep in ("\t", ",", " "):
        if sep not in line:
            continue
        fields = split_fields(line, sep)
        if len(fields) >= 3 and is_number(fields[1]) and is_number(fields[2]) and len(fields) <= n_cols:
            return sep
        if sep == " " and len(fields) > 3 and is_number(fields[1]) and is_number(fields[2]):
            return sep  # a label with spaces: reported row by row
    return None


def read_event_table(tf: TextFile, report: ValidationReport, *, required: Sequence[str] = DETECTION_COLUMNS,
                     aliases: dict[str, str] | None = None, what: str = "detections",
                     default_filename: str | None = None) -> EventTable | None:
    """Find the header and delimiter of an event list and split its rows (see the module doc); problems
    go to ``report``. Returns None when the layout cannot be determined (one ``bad_header`` problem that
    says what was found and what is expected). A headerless file of a DCASE tool's layout
    (:mod:`wlbench.submissions.layouts`) is read by it; ``default_filename``: the clip of a layout without
    filenames (sed_eval's ``onset offset event_label``), when only one clip is scored."""
    rows_prefix: list[str] = []
    aliases = ALIASES if aliases is None else aliases
    n = len(required)
    empty = EventTable({c: np.zeros(0, dtype=object) for c in required}, np.zeros(0, dtype=np.int64), "\t", False)
    head = tf.head
    if head is None:
        return empty
    header_line = tf.body_start + 1
    header = find_header(head, required, aliases)
    if header is not None:
        sep, names = header.sep, header.canonical
        has_header = True
        if header.sep != "\t":
            report.notes["delimiter"] = header.delimiter
        start = tf.body_start + 1
        index_column = names[0] == "" and names.count("") == 1
        extra = [raw for raw, c in zip(header.names, names) if c not in required and c != ""]
        if extra:
            report.notes["ignored_columns"] = extra
    elif (layout := find_layout(tf.lines, tf.body_start)) is not None and layout.task == "detection":
        sep, names, has_header, start, index_column = layout.sep, list(layout.columns), False, tf.body_start, False
        report.notes["layout"] = layout.describe()
        if sep != "\t":
            report.notes["delimiter"] = DELIMITER_NAMES[sep]
        if "filename" not in names:
            if default_filename is None:
                report.add("bad_header", f"line {header_line} holds onset, offset, event_label without a filename "
                           f"(sed_eval's per-clip event list) but more than one clip is scored; add the filename "
                           f"as the first column (one file can hold every clip)", row=header_line)
                return None
            names = ["filename", *names]  # every row belongs to the one clip
            rows_prefix = [default_filename]
        if set(names) - set(required) - {""}:
            report.notes["ignored_columns"] = sorted(set(names) - set(required) - {""})
    else:
        sep = _headerless_sep(head, n)
        if sep is None:
            expected = "<TAB>".join(required)
            report.add("bad_header", f"line {header_line} is neither a header naming the columns "
                       f"{', '.join(required)} nor a {what} row (it holds {describe_delimiters(head)}); expected "
                       f"tab-separated columns '{expected}' (comma- or space-separated files need a header "
                       "naming them)", row=header_line)
            return None
        names, has_header, start, index_column = list(required), False, tf.body_start, False
        if sep != "\t":
            report.notes["delimiter"] = DELIMITER_NAMES[sep]
    position = {c: names.index(c) for c in required}
    width = len(names)
    rows: list[list[str]] = []
    lines: list[int] = []
    for i in range(start, len(tf.lines)):
        line = tf.lines[i]
        if not line.strip():
            continue
        try:
            fields = split_fields(line, sep)
        except csv.Error as exc:
            report.add("unreadable", f"cannot split the line: {exc}", row=i + 1)
            continue
        if len(rows_prefix) + len(fields) > width:
            hint = ("a label containing spaces? Separate the columns by tabs" if sep == " "
                    else f"a stray {DELIMITER_NAMES[sep]}?")
            report.add("bad_row", f"{len(fields)} {DELIMITER_NAMES[sep]}-separated fields but {width} columns ({hint})",
                       row=i + 1)
            continue
        rows.append(rows_prefix + fields + [""] * (width - len(rows_prefix) - len(fields)))
        lines.append(i + 1)
    if index_column:
        report.notes["ignored_columns"] = ["(unnamed first column: a pandas index)"]
    table = np.array(rows, dtype=object).reshape(len(rows), width)
    columns = {c: table[:, position[c]] for c in required}
    return EventTable(columns, np.asarray(lines, dtype=np.int64), sep, has_header)


def read_detections(path: str | Path, expected: Expected) -> tuple[Detections | None, ValidationReport]:
    """Parse and validate a detection list; returns (detections or None, report)."""
    report = ValidationReport(str(path), "detection", format="tsv")
    tf = read_text(Path(path), report)
    if tf is None:
        return None, report
    check_declared(tf.declared, expected, report)
    table = read_event_table(tf, report,
                             default_filename=expected.clip_ids[0] if len(expected.clip_ids) == 1 else None)
    if table is None:
        return None, report
    if table.sep != "\t":
        report.format = f"{DELIMITER_NAMES[table.sep]}-separated"
    names = np.array([str(x).strip() for x in table.columns["filename"]], dtype=object)
    labels = np.array([str(x).strip() for x in table.columns["event_label"]], dtype=object)
    on_raw, off_raw = table.columns["onset"], table.columns["offset"]
    on, on_empty, on_bad = parse_numbers(on_raw)
    off, off_empty, off_bad = parse_numbers(off_raw)
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    keep_rows, keep_clip, keep_label = [], [], []
    first_of: dict[tuple, int] = {}
    fit = ClipFit("events")
    for r in range(len(names)):
        row = int(table.lines[r])
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
            label_problem(expected, report, labels[r], row, "event_label")
            ok = False
        for name, v, e, b, raw in (("onset", on[r], on_empty[r], on_bad[r], on_raw[r]),
                                   ("offset", off[r], off_empty[r], off_bad[r], off_raw[r])):
            if e:
                report.add("missing_value", f"empty {name}", row=row, field=name)
                ok = False
            elif b:
                report.add("not_a_number", f"{str(raw).strip()!r} is not a number", row=row, field=name)
                ok = False
            elif not np.isfinite(v):
                report.add("not_finite", f"{name} is NaN or infinite", row=row, field=name)
                ok = False
        if not ok:
            continue
        dur = expected.duration(idx)
        if on[r] >= off[r]:
            report.add("onset_not_before_offset", f"onset {plain(on[r])} >= offset {plain(off[r])}; an event must "
                       "have positive length", row=row, field="onset")
            ok = False
        if expected.strict and outside(on[r], off[r], dur):
            report.add("time_outside_clip", f"event [{plain(on[r])}, {plain(off[r])}] s lies outside the clip "
                       f"[0, {plain(dur)}] s; clip it to the clip (or leave out --strict: it is then clipped)",
                       row=row, field="onset" if on[r] < -TIME_TOLERANCE else "offset")
            ok = False
        key = (cid, int(li), float(on[r]), float(off[r]))
        if key in first_of:
            report.add("duplicate_row", f"same event as line {first_of[key]}; remove the copy", row=row)
            ok = False
        else:
            first_of[key] = row
        if ok and outside(on[r], off[r], dur):
            fitted = fit.fit(float(on[r]), float(off[r]), dur)
            if fitted is None:
                continue
            on[r], off[r] = fitted
        if ok:
            keep_rows.append(r)
            keep_clip.append(cid)
            keep_label.append(expected.classes[li])
    alone = not table.has_header and all(v == "" for v in labels) and bool(on_empty.all())
    if unknown and not seen and alone:
        report.add("bad_header", f"no line splits into the columns {', '.join(DETECTION_COLUMNS)} (line "
                   f"{tf.body_start + 1} holds {describe_delimiters(tf.head or '')}); expected tab-separated columns, "
                   "or a header naming them with commas or spaces between", row=tf.body_start + 1)
    else:
        check_clip_sets(seen, unknown, expected, report, missing_is_problem=False)
    report.notes["clips_without_detections"] = int(len(expected.clip_ids) - len(set(keep_clip)))
    report.notes["n_events"] = len(keep_rows)
    report.notes.update(fit.notes())
    if not report.ok:
        return None, report
    rows = np.asarray(keep_rows, dtype=np.int64)
    events = pd.DataFrame({"filename": keep_clip, "event_label": keep_label,
                           "onset": on[rows] if rows.size else np.zeros(0),
                           "offset": off[rows] if rows.size else np.zeros(0)})
    return Detections(events, report), report


def write_detections(path: str | Path, events: pd.DataFrame, *, meta: dict[str, str] | None = None,
                     clip_ids: Sequence[str] | None = None) -> None:
    """Write a DCASE detection TSV (``filename onset offset event_label``, header line), atomically.

    ``events``: DataFrame with columns filename (clip id), event_label, onset, offset (e.g.
    :func:`wlbench.metrics.events_to_frame` of :func:`wlbench.metrics.frame_scores_to_events`);
    ``clip_ids``: every clip of the split -- clips without an event get a row holding only their id, so
    the file says they were processed; ``meta``: ``# key: value`` lines (dataset, content_id, split ...)
    written first. Times are written exactly (shortest round-trip decimal).
    """
    for col in DETECTION_COLUMNS:
        if col not in events.columns:
            raise WlbenchError(f"write_detections: events lack the column {col!r}")
    lines = [f"# {k}: {v}" for k, v in (meta or {}).items()]
    lines.append("\t".join(DETECTION_COLUMNS))
    for name, on, off, label in zip(events["filename"], events["onset"], events["offset"], events["event_label"]):
        lines.append(f"{name}\t{float(on)!r}\t{float(off)!r}\t{label}")
    if clip_ids is not None:
        present = set(map(str, events["filename"]))
        lines += [str(c) for c in clip_ids if str(c) not in present]
    write_text_atomic(Path(path), "\n".join(lines) + "\n")
