"""What a submission must match (the evaluated clips and classes), and the checks every format shares:
clip ids, declared metadata, unknown labels."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wlbench.submissions.report import ValidationReport
from wlbench.submissions.tolerance import TIME_TOLERANCE  # noqa: F401 - re-exported (its old home)

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".aiff", ".aif")


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


@dataclass
class Expected:
    """What a submission must match: the evaluated clips and classes of one split (or external truth).

    ``durations``: seconds of each clip (N,), or None; ``clip_duration`` is their common value when they
    are all equal; ``strict``: times outside a clip are refused rather than clipped
    (:mod:`wlbench.submissions.tolerance`). ``dataset_name``/``split_truth_id``/``split`` are compared with a text file's declared
    ``# key: value`` lines (a declared ``content_id`` other than ``content_id`` is only noted); ``other_splits`` (ids of the dataset's other splits) diagnoses a submission
    made for another split.
    """

    classes: Sequence[str]
    clip_ids: Sequence[str]
    split: str | None = None
    dataset_name: str | None = None
    content_id: str | None = None
    split_truth_id: str | None = None
    clip_duration: float | None = None
    other_splits: Mapping[str, Sequence[str]] | None = None
    durations: np.ndarray | None = None
    label_hint: str | None = None  # added to unknown-label messages (e.g. where the class list came from)
    strict: bool = False  # refuse times outside the clip instead of clipping them (wlbench.submissions.tolerance)

    def __post_init__(self) -> None:
        self.classes = [str(c) for c in self.classes]
        self.clip_ids = [str(c) for c in self.clip_ids]
        self._index = {c: i for i, c in enumerate(self.clip_ids)}
        self._class_index = {c: i for i, c in enumerate(self.classes)}
        if self.durations is None and self.clip_duration is not None:
            self.durations = np.full(len(self.clip_ids), float(self.clip_duration))
        if self.durations is not None:
            self.durations = np.asarray(self.durations, dtype=np.float64)
            if self.clip_duration is None and self.durations.size and (self.durations == self.durations[0]).all():
                self.clip_duration = float(self.durations[0])

    def clip_index(self, name: str) -> int | None:
        return self._index.get(normalize_clip_id(name, self._index))

    def class_index(self, label: str) -> int | None:
        return self._class_index.get(str(label).strip())

    def nearest_label(self, label: str) -> str:
        best = difflib.get_close_matches(str(label), self.classes, n=1, cutoff=0.0)
        return best[0] if best else ""

    def duration(self, index: int) -> float | None:
        return None if self.durations is None else float(self.durations[index])


def resolve_clip(exp: Expected, name: str, line: int, report: ValidationReport,
                 unknown: list[tuple[str, int]]) -> int | None:
    """The clip index a row names; an empty name is a ``missing_value``, an unknown one is collected in
    ``unknown`` (reported together by :func:`check_clip_sets`). None when the row names no clip."""
    if name == "":
        report.add("missing_value", "empty filename", row=line, field="filename")
        return None
    idx = exp.clip_index(name)
    if idx is None:
        unknown.append((name, line))
    return idx


def check_declared(meta: Mapping[str, str], exp: Expected, report: ValidationReport) -> None:
    """Compare the ``# key: value`` lines of a text submission with what is being scored."""
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


def check_clip_sets(seen: Mapping[str, int], unknown: list[tuple[str, int]], exp: Expected,
                    report: ValidationReport, missing_is_problem: bool = True, hint: str | None = None,
                    file_of: Mapping[str, str] | None = None) -> None:
    """Report unknown clips (with a wrong-split / wrong-dataset diagnosis) and missing clips.

    ``hint``: added to the wrong-dataset message (e.g. what the file's delimiter looked like);
    ``file_of``: member file of each unknown name (multi-file submissions)."""
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
                   "check that the submission was made for this dataset" + (f" ({hint})" if hint else ""),
                   field="filename")
    else:
        for name, row in unknown:
            other = split_of.get(normalize_clip_id(name))
            where = f" (it is a clip of split {other!r})" if other else ""
            report.add("unknown_clip", f"clip {name!r} is not in split {exp.split or '?'}{where}; remove it or fix "
                       "the id", row=row, field="filename", file=None if file_of is None else file_of.get(name))
    if missing_is_problem and wrong_split is None and not (unknown and not seen):
        for cid in exp.clip_ids:
            if cid not in seen:
                report.add("missing_clip", f"no prediction for clip {cid!r}; add it", field="filename")


def label_problem(exp: Expected, report: ValidationReport, label: str, row: int | None, fld: str,
                  file: str | None = None) -> None:
    hint = f" ({exp.label_hint})" if exp.label_hint else ""
    report.add("unknown_label", f"unknown label {label!r}; did you mean {exp.nearest_label(label)!r}?{hint}",
               row=row, field=fld, file=file)
