"""The truth a submission is scored against: from a wlbench dataset split, or from DCASE files.

A :class:`Truth` holds the evaluated clips (ids, durations), the classes, every source event, the clip
labels of clip-level tasks and the report's ``dataset`` block. Its :attr:`Truth.reference` is the
reference annotation of detection scoring and export: the events merged by the DCASE rule
(:func:`wlbench.metrics.events.merge_overlaps`, same-class events of a clip that overlap or touch become
one); the dataset's event table keeps every source event.

:func:`dataset_block` is the one place that builds a dataset's metadata for reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wlbench.errors import WlbenchError, plain
from wlbench.hashing import hash_file
from wlbench.metrics.events import EventList, events_from_frame, events_to_frame, merge_overlaps
from wlbench.submissions import Expected, ValidationReport, normalize_clip_id, read_event_table, read_text
from wlbench.submissions.text import DELIMITER_NAMES, find_header, parse_numbers, split_fields
from wlbench.submissions.tolerance import ClipFit, outside

EVENT_COLUMNS = ["filename", "event_label", "onset", "offset"]


@dataclass
class Truth:
    """Clips (``clip_ids`` (N,), ``durations`` (N,) s), ``classes`` (C,), ``events`` (every source event:
    filename = clip id, event_label, onset, offset), ``weak_labels`` (N, C) 0/1 clip labels scored by the
    clip tasks, and ``source`` (the report's ``dataset`` block). ``has_events``: False for weak-only
    truth (no event times)."""

    classes: list[str]
    clip_ids: list[str]
    durations: np.ndarray
    events: pd.DataFrame
    weak_labels: np.ndarray
    source: dict[str, Any] | None = None
    split: str | None = None
    other_splits: dict[str, list[str]] | None = None
    labels: str = "true"
    segment: str = "clip"
    has_events: bool = True
    name: str | None = None
    content_id: str | None = None
    split_truth_id: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def n_clips(self) -> int:
        return len(self.clip_ids)

    @cached_property
    def source_events(self) -> EventList:
        return events_from_frame(self.events[EVENT_COLUMNS], self.clip_ids, self.classes)

    @cached_property
    def _merged(self) -> tuple[EventList, int]:
        return merge_overlaps(self.source_events)

    @property
    def reference(self) -> EventList:
        """The reference events of detection scoring: source events merged by the DCASE rule."""
        return self._merged[0]

    @property
    def n_merged(self) -> int:
        """How many source events the merging rule absorbed."""
        return self._merged[1]

    def reference_for(self, convention: str = "wlbench") -> EventList:
        """The reference of detection-list scoring under ``convention``: :attr:`reference` (merged) for
        ``"wlbench"``; the source events as given for ``"dcase"`` (sed_eval scores raw references)."""
        return self.source_events if convention == "dcase" else self.reference

    def reference_frame(self) -> pd.DataFrame:
        """:attr:`reference` as a DataFrame (filename = clip id, event_label, onset, offset)."""
        return events_to_frame(self.reference, self.clip_ids, self.classes)

    def expected(self, *, strict: bool = False) -> Expected:
        """What a submission for this truth must match (``strict``: times outside a clip are refused)."""
        hint = None
        if (self.source or {}).get("classes") == "from the annotation":
            hint = "the classes are the labels found in the truth file; pass --classes with the full class list"
        return Expected(classes=self.classes, clip_ids=self.clip_ids, split=self.split, dataset_name=self.name,
                        content_id=self.content_id, split_truth_id=self.split_truth_id,
                        other_splits=self.other_splits, durations=self.durations,
                        label_hint=hint, strict=strict)

    @staticmethod
    def from_arrays(classes: Sequence[str], *, clip_ids: Sequence[str] | None = None,
                    weak_labels: np.ndarray | None = None, events: pd.DataFrame | None = None,
                    durations: float | np.ndarray | None = None) -> Truth:
        """A truth from plain arrays (no dataset): clip labels and/or events with clip durations."""
        classes = [str(c) for c in classes]
        n = (len(clip_ids) if clip_ids is not None else np.shape(weak_labels)[0])
        ids = [str(c) for c in clip_ids] if clip_ids is not None else [str(i) for i in range(n)]
        frame = (events[EVENT_COLUMNS].copy() if events is not None
                 else pd.DataFrame({c: [] for c in EVENT_COLUMNS}))
        dur = np.broadcast_to(np.asarray(np.nan if durations is None else durations, np.float64), (n,)).copy()
        if weak_labels is None:
            weak = np.zeros((n, len(classes)), dtype=np.uint8)
            ev = events_from_frame(frame, ids, classes)
            weak[np.asarray(ev.file, np.int64), np.asarray(ev.label, np.int64)] = 1
        else:
            weak = np.asarray(weak_labels)
        return Truth(classes, ids, dur, frame, weak, has_events=events is not None)


def dataset_block(ds, path: str | Path, split: str) -> dict[str, Any]:
    """The ``dataset`` block of every report scored against split ``split`` of a wlbench dataset (the one
    place it is built): the truth ids (checked when the split was opened), content and spec id, the clip
    duration (seconds)."""
    duration = ds.attr("clip_duration")
    return {"name": ds.name, "truth_id": ds.truth_id, "split_truth_id": ds.split(split).truth_id,
            "content_id": ds.content_id, "spec_id": ds.spec_id, "path": str(path),
            "clip_duration": None if duration is None else float(duration)}


def truth_from_dataset(ds, path: str | Path, split: str, *, labels: str = "true", segment: str = "clip") -> Truth:
    """The truth of one split of an open dataset. ``labels``: ``"true"`` or a stored missing-label view
    (clip labels only); ``segment``: ``"clip"`` or a segment view whose window labels are the clip labels."""
    sp = ds.split(split)
    base = ds.memo(("scoring-truth", split), lambda: _split_truth(ds, path, split))  # once per open dataset
    weak = sp.segment(segment).weak_labels() if segment != "clip" else sp.labels(labels)
    return Truth(classes=list(ds.classes), clip_ids=list(base["ids"]), durations=base["durations"].copy(),
                 events=base["events"].copy(), weak_labels=weak, source=dict(base["source"]), split=split,
                 other_splits={k: list(v) for k, v in base["others"].items()}, labels=labels, segment=segment,
                 name=ds.name, content_id=ds.content_id, split_truth_id=sp.truth_id)


def _split_truth(ds, path: str | Path, split: str) -> dict[str, Any]:
    """What every truth of one split shares, whatever its labels or segment: clip ids, durations, events,
    the dataset block and the other splits' clip ids (for the wrong-split check)."""
    sp = ds.split(split)
    others: dict[str, list[str]] = {}
    for name in ds.splits:
        if name != split:
            try:
                others[name] = [str(x) for x in ds.split(name).clip_ids]
            except Exception:  # noqa: BLE001 - an odd group is no reason to refuse scoring
                continue
    ids = [str(x) for x in sp.clip_ids]
    return {"ids": ids, "durations": np.full(len(ids), float(sp.clip_duration)), "events": sp.events(),
            "source": dataset_block(ds, path, split), "others": others}


# --- DCASE files ------------------------------------------------------------------------------------

def _fail(report: ValidationReport) -> None:
    if not report.ok:
        raise WlbenchError(report.summary(limit=20))


def read_durations(path: str | Path, notes: dict[str, Any] | None = None) -> tuple[list[str], np.ndarray]:
    """A DCASE durations file (``filename duration``, header line; other columns ignored): clip ids and
    durations in seconds. psds_eval's metadata layout -- one row per event, the clip's duration repeated --
    is read too: rows repeating a clip with the same duration are skipped (psds_eval keeps the first row of
    a clip; counted in ``notes["durations_repeated_rows"]``); a clip given two different durations is a
    ``duplicate_row`` problem."""
    report = ValidationReport(str(path), "durations", subject="durations file")
    tf = read_text(Path(path), report)
    _fail(report)
    head = tf.head or ""
    header = find_header(head, ["filename", "duration"])
    if header is None:
        report.add("bad_header", "expected a header 'filename<TAB>duration'", row=tf.body_start + 1)
        _fail(report)
    at_f, at_d = header.canonical.index("filename"), header.canonical.index("duration")
    ids: list[str] = []
    raw: list[str] = []
    lines: list[int] = []
    for i in range(tf.body_start + 1, len(tf.lines)):
        if not tf.lines[i].strip():
            continue
        fields = split_fields(tf.lines[i], header.sep)
        if len(fields) <= max(at_f, at_d):
            report.add("missing_value", f"{len(fields)} field(s); expected a filename and a duration", row=i + 1)
            continue
        ids.append(normalize_clip_id(fields[at_f]))
        raw.append(fields[at_d])
        lines.append(i + 1)
    values, empty, bad = parse_numbers(raw)
    first: dict[str, int] = {}
    keep: list[int] = []
    for k, (cid, v, e, b, line) in enumerate(zip(ids, values, empty, bad, lines)):
        if e or b or not np.isfinite(v) or v <= 0:
            report.add("not_a_number", "the duration must be a positive number of seconds", row=line, field="duration")
            continue
        if cid in first:
            if values[first[cid]] != v:
                report.add("duplicate_row", f"clip {cid!r} has duration {plain(values[first[cid]])} s at line "
                           f"{lines[first[cid]]} and {plain(v)} s here; give each clip one duration", row=line)
            continue
        first[cid] = k
        keep.append(k)
    if not ids:
        report.add("missing_clip", "the durations file lists no clip")
    _fail(report)
    if notes is not None:
        notes["durations_repeated_rows"] = len(ids) - len(keep)
    return [ids[k] for k in keep], values[np.asarray(keep, dtype=np.int64)]


def truth_from_files(truth_path: str | Path, durations_path: str | Path,
                     classes: Sequence[str] | None = None, *, strict: bool = False) -> Truth:
    """Truth from DCASE files: a strong annotation (``filename onset offset event_label``) or a weak one
    (``filename event_labels``, labels comma-separated), and a durations file listing every evaluated
    clip (clips without events included). ``classes``: the class list (default: the labels of the
    annotation, sorted). Every problem of the files is reported at once (``WlbenchError``).

    Reference events sticking out of their clip are fitted to it by the tolerance policy
    (:mod:`wlbench.submissions.tolerance`; refused when ``strict``); zero-length events (onset = offset)
    are kept, as sed_eval keeps them. What was done is counted in :attr:`Truth.notes`."""
    notes: dict[str, Any] = {}
    ids, durations = read_durations(durations_path, notes)
    index = {c: i for i, c in enumerate(ids)}
    report = ValidationReport(str(truth_path), "truth", subject="truth file")
    tf = read_text(Path(truth_path), report)
    _fail(report)
    head = tf.head or ""
    weak_header = find_header(head, ["filename", "event_labels"])
    rows: list[tuple[int, str, float, float, str]] = []
    if weak_header is not None and find_header(head, ["onset", "offset"]) is None:
        if weak_header.sep != "\t":
            report.add("bad_header", f"a weak annotation must be tab-separated (its labels are separated by "
                       f"commas); the header is {DELIMITER_NAMES[weak_header.sep]}-separated", row=tf.body_start + 1)
            _fail(report)
        kind = "weak"
        at_f, at_l = weak_header.canonical.index("filename"), weak_header.canonical.index("event_labels")
        for i in range(tf.body_start + 1, len(tf.lines)):
            if not tf.lines[i].strip():
                continue
            fields = split_fields(tf.lines[i], "\t") + ["", ""]
            for label in filter(None, (x.strip() for x in fields[at_l].split(","))):
                rows.append((i + 1, fields[at_f].strip(), np.nan, np.nan, label))
            if not fields[at_l].strip():
                rows.append((i + 1, fields[at_f].strip(), np.nan, np.nan, ""))
    else:
        kind = "strong"
        table = read_event_table(tf, report, what="reference event",
                                 default_filename=ids[0] if len(ids) == 1 else None)
        _fail(report)
        on, on_empty, on_bad = parse_numbers(table.columns["onset"])
        off, off_empty, off_bad = parse_numbers(table.columns["offset"])
        for r, line in enumerate(table.lines):
            name = str(table.columns["filename"][r]).strip()
            label = str(table.columns["event_label"][r]).strip()
            if label == "" and on_empty[r] and off_empty[r]:
                rows.append((int(line), name, np.nan, np.nan, ""))
                continue
            if on_empty[r] or on_bad[r] or off_empty[r] or off_bad[r] or not (np.isfinite(on[r]) and np.isfinite(off[r])):
                report.add("not_a_number", "onset and offset must be numbers", row=int(line))
                continue
            rows.append((int(line), name, float(on[r]), float(off[r]), label))
    if not rows and report.ok:
        report.add("missing_clip", "the annotation lists no clip and no event: is it the right file? (a clip "
                   "without events is a row with an empty label)")
        _fail(report)
    known = list(classes) if classes is not None else sorted({r[4] for r in rows if r[4]})
    class_index = {c: j for j, c in enumerate(known)}
    keep: list[tuple[str, str, float, float]] = []
    unknown_clips: set[str] = set()
    fit = ClipFit("reference_events")
    zero_length = 0
    for line, name, a, b, label in rows:
        cid = normalize_clip_id(name)
        if cid not in index:
            if cid not in unknown_clips:
                report.add("unknown_clip", f"clip {cid!r} is not in the durations file {durations_path}; add its "
                           "duration", row=line, field="filename")
            unknown_clips.add(cid)
            continue
        if not label:
            continue  # a clip without events
        if label not in class_index:
            report.add("unknown_label", f"label {label!r} is not one of the classes given", row=line,
                       field="event_label")
            continue
        if kind == "strong":
            dur = float(durations[index[cid]])
            if a > b or (strict and a == b):
                report.add("onset_not_before_offset", f"onset {plain(a)} > offset {plain(b)}" if a > b else
                           f"onset = offset = {plain(a)}: a zero-length event (leave out --strict to keep it, "
                           "as sed_eval does)", row=line)
                continue
            if strict and outside(a, b, dur):
                report.add("time_outside_clip", f"event [{plain(a)}, {plain(b)}] s lies outside the clip "
                           f"[0, {plain(dur)}] s (leave out --strict to clip it to the clip)", row=line)
                continue
            zero_length += a == b
            fitted = fit.fit(a, b, dur)
            if fitted is None:
                continue
            a, b = fitted
        keep.append((cid, label, a, b))
    if not known:
        report.add("missing_label", "no class: the annotation holds no label; pass the class list")
    _fail(report)
    frame = pd.DataFrame(keep, columns=EVENT_COLUMNS) if keep else pd.DataFrame({c: [] for c in EVENT_COLUMNS})
    weak = np.zeros((len(ids), len(known)), dtype=np.uint8)
    if len(frame):
        weak[frame["filename"].map(index).to_numpy(), frame["event_label"].map(class_index).to_numpy()] = 1
    if kind == "weak":
        frame = pd.DataFrame({c: [] for c in EVENT_COLUMNS})
    else:
        notes.update(fit.notes())
        notes["reference_events_zero_length"] = int(zero_length)
    source = {"truth": str(truth_path), "truth_sha256": hash_file(Path(truth_path)), "truth_kind": kind,
              "durations": str(durations_path), "durations_sha256": hash_file(Path(durations_path)),
              "classes": "given" if classes is not None else "from the annotation"}
    if strict:
        source["strict"] = True
    return Truth(classes=known, clip_ids=ids, durations=durations, events=frame, weak_labels=weak, source=source,
                 has_events=kind == "strong", notes=notes)


TRUTH_FOLDER_FILES = ("strong.tsv", "weak.tsv", "durations.tsv", "classes.txt")


def truth_from_folder(folder: str | Path, classes: Sequence[str] | None = None, *,
                      durations: str | Path | None = None, strict: bool = False) -> Truth:
    """The truth of a folder written by ``wlbench export`` (or any folder using its names): ``strong.tsv``
    (else ``weak.tsv``), ``durations.tsv`` (or ``durations``) and, unless ``classes`` are given,
    ``classes.txt`` (one class a line; so classes without an event in the split stay known). See
    :func:`truth_from_files`."""
    folder = Path(folder)
    annotation = next((folder / n for n in ("strong.tsv", "weak.tsv") if (folder / n).is_file()), None)
    durations = Path(durations) if durations is not None else folder / "durations.tsv"
    if annotation is None or not durations.is_file():
        missing = (["strong.tsv (or weak.tsv)"] if annotation is None else []) + \
            ([durations.name] if not durations.is_file() else [])
        raise WlbenchError(f"--truth {folder} is a folder without {' and '.join(missing)}",
                           hint="give the folder `wlbench export` wrote, or the annotation file with --durations")
    given = "given"
    if classes is None and (folder / "classes.txt").is_file():
        report = ValidationReport(str(folder / "classes.txt"), "classes", subject="class list")
        tf = read_text(folder / "classes.txt", report)
        _fail(report)
        classes = [line.strip() for line in tf.lines if line.strip()]
        if not classes or len(set(classes)) != len(classes):
            raise WlbenchError(f"{folder / 'classes.txt'}: expected distinct class names, one a line")
        given = "classes.txt"
    truth = truth_from_files(annotation, durations, classes, strict=strict)
    if truth.source is not None and classes is not None:
        truth.source["classes"] = given
    return truth
