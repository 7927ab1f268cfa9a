"""Submission formats, their validation, and writers.

One module per format; every reader returns ``(parsed or None, ValidationReport)`` and never stops at the
first problem (mir_eval's order: validate, then compute):

- :mod:`~wlbench.submissions.clip_scores` -- task ``tagging``: clip scores, CSV wide or long;
- :mod:`~wlbench.submissions.detections` -- task ``detection``: DCASE event lists (TSV, or comma- /
  space-separated when unambiguous; sed_eval headers; DESED_task's predictions CSV);
- :mod:`~wlbench.submissions.embeddings` -- task ``embedding``: ``.npy``/``.npz``/``.h5``;
- :mod:`~wlbench.submissions.scores` -- task ``frame_scores``: sed_scores_eval score files (a directory or
  archive of per-clip frame tables), the input of PSDS.

The task of a file is told by its content (:func:`detect_task`, :mod:`~wlbench.submissions.layouts`), the
extension deciding only when the content does not. Times outside a clip follow one tolerance policy
(:mod:`~wlbench.submissions.tolerance`).

Text files may start with ``# key: value`` lines; ``dataset`` (name), ``split_truth_id`` and ``split`` are
checked against what is scored; a declared ``content_id`` (the features the predictions came from) is only
recorded, as note ``declared_content_id_differs`` when it is not the scored file's. Filenames may carry a
directory and an audio extension (``eval_000123.wav`` is clip ``eval_000123``).

Problem kinds: ``unreadable``, ``bad_header``, ``missing_clip``, ``unknown_clip``, ``duplicate_row``,
``unknown_label`` (with the nearest valid label), ``missing_label``, ``missing_score``, ``missing_value``,
``not_a_number``, ``not_finite``, ``out_of_range``, ``bad_row``, ``onset_not_before_offset``,
``time_outside_clip``, ``bad_frames``, ``unexpected_file``, ``wrong_split``, ``wrong_dataset``,
``wrong_shape`` (docs/metrics.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.atomic import write_text_atomic
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_file
from wlbench.submissions.clip_scores import ClipScores, read_clip_scores
from wlbench.submissions.detections import (
    DETECTION_COLUMNS,
    Detections,
    read_detections,
    read_event_table,
    write_detections,
)
from wlbench.submissions.embeddings import Embeddings, read_embeddings
from wlbench.submissions.expected import AUDIO_EXTENSIONS, TIME_TOLERANCE, Expected, normalize_clip_id
from wlbench.submissions.layouts import detect_text_task
from wlbench.submissions.report import KINDS, Problem, SubmissionError, ValidationReport
from wlbench.submissions.scores import ScoreFiles, is_archive, is_score_files, read_score_files, write_score_files
from wlbench.submissions.text import parse_declared, read_bytes, read_once, read_text, text_file
from wlbench.tasks import TASKS

TASK_BY_SUFFIX = {".csv": "tagging", ".tsv": "detection", ".txt": "detection", ".npy": "embedding",
                  ".npz": "embedding", ".h5": "embedding", ".hdf5": "embedding"}
SNIFF_BYTES = 65536  # bytes of a text file read to tell its task
READERS = {"tagging": read_clip_scores, "detection": read_detections, "embedding": read_embeddings,
           "frame_scores": read_score_files}
if set(READERS) != set(TASKS):  # one reader per task of the one list (wlbench.tasks)
    raise ImportError(f"submission readers {sorted(READERS)} differ from the tasks {sorted(TASKS)}")

__all__ = [
    "AUDIO_EXTENSIONS", "ClipScores", "DETECTION_COLUMNS", "Detections", "Embeddings", "Expected", "KINDS",
    "Problem", "READERS", "ScoreFiles", "SubmissionError", "TASKS", "TIME_TOLERANCE", "ValidationReport",
    "detect_task", "infer_task", "is_archive", "is_score_files", "load_submission", "normalize_clip_id",
    "parse_declared",
    "read_clip_scores", "read_detections", "read_embeddings", "read_event_table", "read_score_files",
    "read_submission", "read_text", "submission_sha256", "write_clip_scores", "write_detections",
    "write_score_files",
]


def detect_task(path: str | Path) -> tuple[str, str]:
    """(task, reason) of a submission, told by its content: a directory or archive of score tables is
    ``frame_scores``; ``.npy`` / ``.npz`` / ``.h5`` / ``.hdf5`` is ``embedding``; a text file is read by its
    header or its first rows (:func:`wlbench.submissions.layouts.detect_text_task`: a ``.csv`` of events is a
    detection list), and only when the content does not tell, by its extension (``.csv`` tagging, ``.tsv`` /
    ``.txt`` detection). The reason says which, e.g. "read as detection list: header names filename, onset,
    offset, event_label (tab-separated)"."""
    if is_score_files(path):
        return "frame_scores", "read as sed_scores_eval score files (a directory or archive of per-clip tables)"
    suffix = Path(path).suffix.lower()
    if TASK_BY_SUFFIX.get(suffix) == "embedding":
        return "embedding", f"read as embeddings (a {suffix} file)"
    data = read_bytes(Path(path), ValidationReport(str(path), "sniff"), SNIFF_BYTES)
    if data is not None and b"\0" not in data:
        tf = text_file(data.decode("utf-8-sig", errors="replace"))
        found = detect_text_task(tf.lines, tf.body_start)
        if found is not None:
            return found
    if suffix in TASK_BY_SUFFIX:
        task = TASK_BY_SUFFIX[suffix]
        return task, f"read as {task} by the extension {suffix} (the first lines name no known columns)"
    raise WlbenchError(f"{path}: cannot tell the task: its first lines are no header or row of a known layout and "
                       f"the extension {suffix!r} says nothing",
                       hint=f"pass --task {'|'.join(TASKS)} (docs/metrics.md lists the formats read)")


def infer_task(path: str | Path) -> str:
    """The task of a submission (:func:`detect_task` without the reason)."""
    return detect_task(path)[0]


def read_submission(path: str | Path, expected: Expected, task: str | None = None,
                    probabilities: bool = True) -> tuple[Any, ValidationReport]:
    """Read and validate ``path`` as ``task`` (told by its content when None, see :func:`detect_task`):
    (parsed or None, report); ``report.notes["read_as"]`` says how the file was read."""
    reason = f"read as {task} (--task {task})" if task else None
    if task is None:
        task, reason = detect_task(path)
    if task not in READERS:
        raise WlbenchError(f"unknown task {task!r}", hint="use " + ", ".join(TASKS))
    if task == "embedding":
        parsed, report = read_embeddings(path, expected)
    elif task == "detection":
        parsed, report = read_detections(path, expected)
    else:
        parsed, report = READERS[task](path, expected, probabilities)
    report.notes["read_as"] = reason
    return parsed, report


def load_submission(path: str | Path, expected: Expected, task: str | None = None,
                    probabilities: bool = True) -> Any:
    """:func:`read_submission`, raising :class:`SubmissionError` (every problem listed) unless valid."""
    parsed, report = read_submission(path, expected, task, probabilities)
    report.raise_if_invalid()
    return parsed


def submission_sha256(path: str | Path) -> str:
    """SHA-256 of a submission: of the file's bytes, or for a directory of the sorted (name, SHA-256)
    lines of its non-hidden files."""
    path = Path(path)
    if not path.is_dir():
        return hashlib.sha256(read_once(path)).hexdigest()  # the bytes the validator read (read once)
    digest = hashlib.sha256()
    for entry in sorted(path.iterdir()):
        if entry.is_file() and not entry.name.startswith("."):
            digest.update(f"{entry.name}\t{hash_file(entry)}\n".encode())
    return digest.hexdigest()


def write_clip_scores(path: str | Path, clip_ids: Sequence[str] | np.ndarray, scores: np.ndarray, classes: Sequence[str],
                      meta: dict[str, str] | None = None) -> None:
    """A wide clip-score CSV (``filename,<classes>``, 6 decimals) with ``# key: value`` header lines,
    atomically."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.shape != (len(clip_ids), len(classes)):
        raise WlbenchError(f"scores {arr.shape} for {len(clip_ids)} clips x {len(classes)} classes")
    lines = [f"# {k}: {v}" for k, v in (meta or {}).items()]
    lines.append(",".join(["filename", *map(str, classes)]))
    for cid, row in zip(clip_ids, arr):
        lines.append(",".join([str(cid), *(f"{v:.6f}" for v in row)]))
    write_text_atomic(Path(path), "\n".join(lines) + "\n")
