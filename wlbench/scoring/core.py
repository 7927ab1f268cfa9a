"""Scoring and comparing: validate, then compute (one path for every task and every kind of truth).

- :func:`score` / :func:`compare`: a :class:`~wlbench.scoring.truth.Truth` and parsed submissions;
- :func:`score_submission` / :func:`compare_submissions`: the same from submission files (validated
  first: :class:`~wlbench.submissions.SubmissionError` lists every problem);
- :func:`score_file` / :func:`compare_files`: against a split of a wlbench dataset (HDF5);
- :func:`score_tagging`, :func:`score_detection`, :func:`score_embedding`, :func:`score_frame_scores` and
  ``compare_*``: from plain arrays, testable without any file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wlbench import HARNESS_VERSION
from wlbench.errors import WlbenchError
from wlbench.metrics import bootstrap as bs
from wlbench.metrics.frames import FrameScores
from wlbench.scoring.report import Report, json_safe
from wlbench.scoring.settings import Settings
from wlbench.scoring.tasks import Task, task_named
from wlbench.scoring.truth import Truth, truth_from_dataset
from wlbench.submissions import detect_task, infer_task, parse_declared, read_submission, submission_sha256

if TYPE_CHECKING:
    from wlbench.dataset.reader import Dataset

Progress = Callable[[int], None] | None


def _check_task(task: Task, truth: Truth) -> None:
    if task.needs_events and not truth.has_events:
        raise WlbenchError(f"task {task.name} needs event times, but the truth is a weak (clip-level) annotation",
                           hint="give a strong annotation (filename onset offset event_label)")
    if not task.clip_level and (truth.labels != "true" or truth.segment != "clip"):
        raise WlbenchError(f"task {task.name} is scored against the true events: label views and segment views "
                           "hold clip labels only", hint="leave out --labels (and any '# segment:' line)")


def score(truth: Truth, parsed: Any, task: str, settings: Settings | None = None,
          progress: Progress = None) -> Report:
    """The report of a parsed submission of ``task`` against ``truth`` (point values, intervals, details)."""
    settings = settings or Settings()
    spec = task_named(task)
    _check_task(spec, truth)
    stat = spec.build(truth, parsed, settings)
    n = int(getattr(stat, "n", truth.n_clips))
    names = spec.headline_names(settings)
    res = bs.bootstrap_ci(stat, n, settings.n_resamples, settings.seed, settings.ci, progress)
    parts = spec.describe(stat, truth, settings)
    return Report(task=task, classes=list(truth.classes), n_clips=n, settings=settings.to_dict() | parts.get("settings", {}),
                  headline={names.get(k, k): v for k, v in res.items()}, per_class=parts["per_class"],
                  excluded_classes=parts["excluded"], notes=parts["notes"] | _truth_notes(truth, spec),
                  curves=parts.get("curves"),
                  dataset=truth.source, split=truth.split if truth.source and "content_id" in truth.source else None,
                  labels=truth.labels if truth.source else None, segment=truth.segment if truth.source else None)


def _truth_notes(truth: Truth, spec: Task) -> dict[str, Any]:
    """What reading the truth files did (durations rows repeated; reference events clipped, dropped, of
    zero length: the tolerance policy), under ``notes.truth`` of every report scored against files."""
    if not truth.notes:
        return {}
    notes = dict(truth.notes)
    if not spec.needs_events:
        notes = {k: v for k, v in notes.items() if not k.startswith("reference_")}
    return {"truth": notes}


def compare(truth: Truth, parsed_a: Any, parsed_b: Any, task: str, settings: Settings | None = None,
            progress: Progress = None) -> dict[str, Any]:
    """Paired bootstrap test A - B of every headline metric of ``task`` (the same resamples for both)."""
    settings = settings or Settings()
    spec = task_named(task)
    _check_task(spec, truth)
    a = spec.build(truth, parsed_a, settings)
    b = spec.build(truth, parsed_b, settings)
    n = int(getattr(a, "n", truth.n_clips))
    res = bs.paired_bootstrap_test(a, b, n, settings.n_resamples, settings.seed, settings.ci, progress)
    names = spec.headline_names(settings)
    out: dict[str, Any] = {"harness_version": HARNESS_VERSION, "task": task, "settings": settings.to_dict(),
                           "comparison": {names.get(k, k): v for k, v in res.items()}}
    if truth.source is not None:
        out["dataset"] = truth.source
        if "content_id" in truth.source:
            out["split"] = truth.split
    return json_safe(out)


def declared_segment(submission_path: str | Path) -> str | None:
    """The segment view a text submission declares in a ``# segment: <name>`` header line, else None."""
    if Path(submission_path).suffix.lower() not in (".csv", ".tsv", ".txt") or Path(submission_path).is_dir():
        return None
    from wlbench.submissions.text import read_once

    try:  # the input guard: a FIFO or device is never opened; the bytes are kept for the validator
        text = read_once(Path(submission_path)).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, WlbenchError):
        return None  # the validator reports unreadable files
    return parse_declared(text.splitlines()).get("segment")


def _read(truth: Truth, path: str | Path, task: str, settings: Settings):
    parsed, report = read_submission(path, truth.expected(strict=settings.strict), task, settings.probabilities)
    return parsed, report


def score_submission(truth: Truth, submission_path: str | Path, task: str | None = None,
                     settings: Settings | None = None, progress: Progress = None) -> dict[str, Any]:
    """Validate a submission file (or score-file directory) and score it against ``truth``."""
    from wlbench.submissions.text import kept_reads

    settings = settings or Settings()
    reason = f"read as {task} (--task {task})" if task else None
    with kept_reads():  # the sniff, the validation and the hash read the file once
        if task is None:
            task, reason = detect_task(submission_path)
        _check_task(task_named(task), truth)
        parsed, vreport = _read(truth, submission_path, task, settings)
        vreport.notes["read_as"] = reason
        vreport.raise_if_invalid()
        sha256 = submission_sha256(submission_path)
    report = score(truth, parsed, task, settings, progress)
    report.submission = {"path": str(submission_path), "sha256": sha256,
                         "format": vreport.format, "notes": vreport.notes}
    return report.to_dict()


def compare_submissions(truth: Truth, path_a: str | Path, path_b: str | Path, task: str | None = None,
                        settings: Settings | None = None, progress: Progress = None) -> dict[str, Any]:
    """Validate two submissions for the same truth (every problem of both listed) and run the paired test."""
    settings = settings or Settings()
    if task is None:
        task, task_b = infer_task(path_a), infer_task(path_b)
        if task != task_b:
            raise WlbenchError(f"A {path_a} is a {task} submission and B {path_b} a {task_b} one: a paired test "
                               "compares two submissions of the same task",
                               hint="compare two files of one task (or pass --task to read both as one)")
    _check_task(task_named(task), truth)
    if int(settings.n_resamples) < 1:
        raise WlbenchError("compare needs bootstrap resamples: its interval and p-value come from them (got 0)",
                           hint="use --bootstrap 1000 (the default), or at least 200")
    parsed, errors = [], []
    for p in (path_a, path_b):
        got, rep = _read(truth, p, task, settings)
        parsed.append(got)
        if not rep.ok:
            errors.append(rep.summary())
    if errors:
        raise WlbenchError("\n".join(errors))
    out = compare(truth, parsed[0], parsed[1], task, settings, progress)
    out.update({"a": str(path_a), "b": str(path_b)})
    return out


def score_file(dataset: Dataset | str | Path, submission_path: str | Path, *, split: str = "eval",
               task: str | None = None, settings: Settings | None = None, progress: Progress = None,
               labels: str = "true", segment: str | None = None) -> dict[str, Any]:
    """Open the dataset (or read through an open one: a :class:`~wlbench.dataset.reader.Dataset`, whose split
    truth is then built once for every file scored against it), validate the submission (raising :class:`~wlbench.submissions.SubmissionError`
    listing every problem) and score it. Returns the report dict.

    ``labels``: score against the true labels (default) or a stored missing-label view of the split (clip
    tasks only). ``segment``: score clip-level predictions of a segment view (e.g. ``"1s"``) against that
    view's labels; default: the segment the file declares (``# segment: 1s``), else the whole clip."""
    from wlbench.dataset.reader import opened
    from wlbench.submissions.text import kept_reads

    with kept_reads():  # sniff, header, validation and hash read the file once
        declared = declared_segment(submission_path)
        if segment is not None and declared not in (None, segment):
            raise WlbenchError(f"{submission_path} declares segment {declared!r} but segment {segment!r} is being "
                               f"scored", hint=f"score it as segment {declared!r}")
        segment = segment or declared or "clip"
        with opened(dataset) as ds:
            truth = truth_from_dataset(ds, ds.path, split, labels=labels, segment=segment)
            return score_submission(truth, submission_path, task, settings, progress)


def compare_files(dataset: str | Path, path_a: str | Path, path_b: str | Path, *, split: str = "eval",
                  task: str | None = None, settings: Settings | None = None, labels: str = "true",
                  progress: Progress = None) -> dict[str, Any]:
    """Validate two submissions for the same dataset split and run the paired bootstrap test A - B."""
    from wlbench.dataset.reader import open_dataset

    with open_dataset(dataset) as ds:
        truth = truth_from_dataset(ds, dataset, split, labels=labels)
        return compare_submissions(truth, path_a, path_b, task, settings, progress)


# --- from arrays ------------------------------------------------------------------------------------

def score_tagging(classes: Sequence[str], weak_labels: np.ndarray, scores: np.ndarray,
                  settings: Settings | None = None, progress: Progress = None) -> dict[str, Any]:
    """Clip-level report for scores (N, C) against true labels (N, C), both in the same clip/class order."""
    truth = Truth.from_arrays(classes, weak_labels=weak_labels)
    return score(truth, np.asarray(scores), "tagging", settings, progress).to_dict()


def score_detection(classes: Sequence[str], clip_ids: Sequence[str], events: pd.DataFrame,
                    clip_duration: float | np.ndarray, detections: pd.DataFrame, *, settings: Settings | None = None,
                    progress: Progress = None) -> dict[str, Any]:
    """Detection report: reference ``events`` and system ``detections`` (filename = clip id, event_label,
    onset, offset). The reference is merged by the DCASE rule first."""
    truth = Truth.from_arrays(classes, clip_ids=clip_ids, events=events, durations=clip_duration)
    return score(truth, detections, "detection", settings, progress).to_dict()


def score_embedding(classes: Sequence[str], weak_labels: np.ndarray, embeddings: np.ndarray,
                    settings: Settings | None = None, progress: Progress = None) -> dict[str, Any]:
    """Centroid metric on clips with exactly one true label (others are left out and counted in notes)."""
    truth = Truth.from_arrays(classes, weak_labels=weak_labels)
    return score(truth, np.asarray(embeddings), "embedding", settings, progress).to_dict()


def score_frame_scores(classes: Sequence[str], clip_ids: Sequence[str], events: pd.DataFrame,
                       durations: float | np.ndarray, frames: FrameScores, *, settings: Settings | None = None,
                       progress: Progress = None) -> dict[str, Any]:
    """Threshold-free detection report (PSDS1, PSDS2, F1 at the best and at the decision threshold) of
    frame scores (:class:`~wlbench.metrics.frames.FrameScores`, clips in ``clip_ids`` order)."""
    truth = Truth.from_arrays(classes, clip_ids=clip_ids, events=events, durations=durations)
    return score(truth, frames, "frame_scores", settings, progress).to_dict()


def compare_tagging(classes: Sequence[str], weak_labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray,
                    settings: Settings | None = None) -> dict[str, Any]:
    """Paired bootstrap test A - B of every tagging headline metric."""
    truth = Truth.from_arrays(classes, weak_labels=weak_labels)
    return compare(truth, np.asarray(scores_a), np.asarray(scores_b), "tagging", settings)


def compare_detection(classes: Sequence[str], clip_ids: Sequence[str], events: pd.DataFrame,
                      clip_duration: float | np.ndarray, detections_a: pd.DataFrame, detections_b: pd.DataFrame,
                      *, settings: Settings | None = None) -> dict[str, Any]:
    """Paired bootstrap test A - B of every detection headline metric."""
    truth = Truth.from_arrays(classes, clip_ids=clip_ids, events=events, durations=clip_duration)
    return compare(truth, detections_a, detections_b, "detection", settings)


def compare_embedding(classes: Sequence[str], weak_labels: np.ndarray, emb_a: np.ndarray, emb_b: np.ndarray,
                      settings: Settings | None = None) -> dict[str, Any]:
    """Paired bootstrap test A - B of the centroid metrics (single-label clips)."""
    truth = Truth.from_arrays(classes, weak_labels=weak_labels)
    return compare(truth, np.asarray(emb_a), np.asarray(emb_b), "embedding", settings)
