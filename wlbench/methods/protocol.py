"""The contract between wlbench and a training method (the reference baselines and any outside method).

A method is an object (or a class with a no-argument constructor) registered under the entry-point group
``wlbench.methods`` that satisfies :class:`Method`. wlbench owns the run (folder, config validation,
seeding, predictions -> submission files -> harness reports, learning curves, experiments); the method owns
training and inference and reads its labels only through the dataset layer's training API
(``wlbench.dataset.training_data(ctx.dataset.split(name), labels=..., ...)``). The truth reaches it only as a
named oracle or through :class:`Audit`, which measures predicted labels against the truth without returning
it; ``predict`` reads features only (``ctx.dataset.split(name).features()``, segment windows through
``split.segment(name).features()``), never labels. The runner opens the dataset once and hands every
context the open :class:`~wlbench.dataset.reader.Dataset`: read through it, never reopen the file by path.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from wlbench.dataset.reader import Dataset
from wlbench.errors import WlbenchError
from wlbench.methods.config import ConfigSchema, Option

CLIP = "clip"  # the segment name of whole clips


@runtime_checkable
class Method(Protocol):
    """What a method provides. ``controls`` (optional attribute) names control variants of the method as
    config overrides, e.g. ``{"untrained": {"embedding_epochs": 0}}``; experiments run them beside the cells.
    A control is a lower control (a cell must beat it to count as learned) unless its name is
    ``oracle-<something>``: then it is an upper bound, e.g. ``{"oracle-mask": {"oracle": "mask"}}``."""

    name: str
    description: str

    def config_schema(self) -> ConfigSchema:
        """Every option the method accepts, with types, ranges and defaults."""

    def train(self, ctx: TrainContext) -> dict[str, Any]:
        """Train and write the checkpoint under ``ctx.run_dir``; return a JSON-able summary."""

    def predict(self, ctx: PredictContext) -> dict[tuple[str, str], Predictions]:
        """Load the run once and answer every ``(split, segment)`` request of ``ctx``."""


RUN_OPTIONS: dict[str, Option] = {
    "labels": Option("true", kind=str, doc="label view to train on: 'true' or a missing-label view of the training "
                                           "split"),
    "threads": Option(1, kind=int, min=0, doc="torch CPU threads (default 1: safe beside other runs on a shared "
                                              "machine; 0: torch's default, one per core)"),
    "train_split": Option("train", kind=str, doc="split to train on"),
    "valid_split": Option("validation", kind=str, doc="held-out split for checkpoint choice and early stopping"),
    "valid_labels": Option("view", kind=str, choices=("view", "true"),
                           doc="labels of the validation split for checkpoint choice and early stopping: 'view' "
                               "(the training label view; the truth for oracle runs) or 'true' (truth-based "
                               "selection: an oracle, name it so)"),
}
"""The config keys the runner and the grids read themselves, with their meaning and defaults: a method that
declares one (in its :meth:`Method.config_schema`) declares it with this :class:`Option`, so that the
runner's audit (``labels``), the predicted splits (``valid_split``), the grids' oracle and reuse checks
(``labels``, ``valid_labels``) and thread limits mean the same for every method. A method may leave any out
(the default then applies). ``train_segment`` (a segment view name, or ``"clip"``) is read by the grids and
the leaderboard where a method declares it; its default is the method's own."""


def run_option(config: Mapping[str, Any], key: str) -> Any:
    """The value of runner key ``key`` (:data:`RUN_OPTIONS`) in a resolved ``config``: its default where the
    method does not declare it."""
    return config.get(key, RUN_OPTIONS[key].default)


@dataclasses.dataclass
class Predictions:
    """A method's output for one split seen through one segment view.

    Attributes:
        clip_ids: (N,) clip ids, in any order.
        clip_scores: (N, C) clip-level class scores in [0, 1].
        frame_scores: optional (N, T, C) scores in [0, 1]; frame ``t`` covers ``[t * frame_hop,
            (t + 1) * frame_hop)`` seconds from the start of the clip (or of the segment window).
        frame_hop: seconds per frame of ``frame_scores``.
        embeddings: optional (N, D) clip embeddings.
    """

    clip_ids: np.ndarray
    clip_scores: np.ndarray
    frame_scores: np.ndarray | None = None
    frame_hop: float | None = None
    embeddings: np.ndarray | None = None

    def check(self, n_classes: int, where: str) -> None:
        """Shapes, ranges and finiteness; one :class:`WlbenchError` naming ``where`` otherwise."""
        n = len(self.clip_ids)
        scores = np.asarray(self.clip_scores)
        if scores.shape != (n, n_classes):
            raise WlbenchError(f"{where}: clip scores have shape {scores.shape}, expected ({n}, {n_classes})")
        arrays = [("clip", scores)]
        if self.frame_scores is not None:
            frames = np.asarray(self.frame_scores)
            if frames.ndim != 3 or frames.shape[0] != n or frames.shape[2] != n_classes:
                raise WlbenchError(f"{where}: frame scores have shape {frames.shape}, expected ({n}, T, {n_classes})")
            if not self.frame_hop or self.frame_hop <= 0:
                raise WlbenchError(f"{where}: frame scores need a positive frame_hop (seconds per frame)")
            arrays.append(("frame", frames))
        for what, array in arrays:
            if not np.all(np.isfinite(array)):
                raise WlbenchError(f"{where}: {what} scores hold NaN or infinite values; the run diverged",
                                   hint="train again with a lower lr or another seed")
            if array.size and (array.min() < -1e-6 or array.max() > 1 + 1e-6):
                raise WlbenchError(f"{where}: {what} scores lie outside [0, 1] "
                                   f"({float(array.min()):.4g} .. {float(array.max()):.4g})")


class Audit:
    """Measures labels a method produces (pseudo-labels, flags, relabelled chunks) against the truth the
    dataset keeps, and logs the numbers to ``audit.jsonl``. The method never receives the truth itself.

    ``view`` is the label view the run trains on; with it the audit also reports how many of the view's
    *dropped* positives (negatives that are really positives) the predicted labels recover.
    """

    def __init__(self, dataset: Dataset | Path, view: str, path: Path | None) -> None:
        self.dataset, self.view, self.path = dataset, view, path  # the run's open Dataset (a path: opened per use)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._ids: dict[str, np.ndarray] = {}
        self._where: dict[str, dict[str, int]] = {}

    def _truth(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if split not in self._cache:
            from wlbench.dataset.reader import opened

            with opened(self.dataset) as ds:
                self._cache[split] = ds.split(split).label_audit(self.view)
                self._ids[split] = np.asarray(ds.split(split).clip_ids).astype(str)
        return self._cache[split]

    def rows_of(self, split: str, clip_ids: np.ndarray) -> np.ndarray:
        """Store rows of ``clip_ids`` in ``split`` (the audit identifies clips by id, never by a position in
        some subset of the split); an id the split does not hold raises ValueError."""
        self._truth(split)
        where = self._where.get(split)
        if where is None:
            where = self._where[split] = {cid: i for i, cid in enumerate(self._ids[split])}
        ids = np.asarray(clip_ids).astype(str)
        missing = [cid for cid in ids[:1000] if cid not in where]
        if missing:
            raise ValueError(f"audit: clip id {missing[0]!r} is not in split {split!r}")
        return np.fromiter((where[cid] for cid in ids), dtype=np.int64, count=len(ids))

    def labels(self, name: str, split: str, predicted: np.ndarray, *, clip_ids: np.ndarray,
               threshold: float = 0.5, **extra: Any) -> dict[str, Any]:
        """Clip-level labels ``predicted`` (n, C), binary or scores (positive where ``>= threshold``), of the
        clips ``clip_ids`` (n,) of ``split`` (row i of ``predicted`` is clip ``clip_ids[i]``; any order, any
        subset), against the true weak labels.

        Returns (and logs) counts, precision and recall against the truth, and for the implicit negatives
        of the view (observed 0): how many predicted positives fall there, their precision against the
        dropped positives, and the share of dropped positives recovered. Per-class values are included.
        """
        truth, observed, dropped = self._truth(split)
        index = self.rows_of(split, clip_ids)
        pred = np.asarray(predicted) >= threshold
        if pred.shape != (len(index), truth.shape[1]):
            raise ValueError(f"audit {name}: predicted has shape {pred.shape}, expected ({len(index)}, "
                             f"{truth.shape[1]})")
        t, o, d = truth[index].astype(bool), observed[index].astype(bool), dropped[index].astype(bool)
        row = {"audit": name, "split": split, "view": self.view, "n_clips": int(len(index)),
               **_counts(pred, t, "", axis=None), **_counts(pred & ~o, d, "implicit_", axis=None),
               "per_class": {**_counts(pred, t, "", axis=0), **_counts(pred & ~o, d, "implicit_", axis=0)},
               **extra}
        self._write(row)
        return row

    def windows(self, name: str, split: str, predicted: np.ndarray, *, window_frames: int, hop_frames: int,
                clip_ids: np.ndarray, threshold: float = 0.5, **extra: Any) -> dict[str, Any]:
        """Window-level labels ``predicted`` (n, K, C) of the clips ``clip_ids`` (n,) of ``split`` (e.g. a
        teacher's chunk labels), window ``k`` covering
        feature frames ``[k * hop_frames, k * hop_frames + window_frames)``, against the truth of each window
        (a class is present when any of its true frame labels is). Returns and logs counts, precision,
        recall and the mean number of labels per window, predicted and true."""
        from wlbench.dataset.reader import opened

        with opened(self.dataset) as ds:
            frames = ds.split(split).frame_labels()
        index = self.rows_of(split, clip_ids)
        pred = np.asarray(predicted) >= threshold
        n_windows = pred.shape[1]
        starts = np.arange(n_windows) * hop_frames
        truth = np.stack([frames[index, s:s + window_frames].max(axis=1) for s in starts], axis=1).astype(bool)
        if pred.shape != truth.shape:
            raise ValueError(f"audit {name}: predicted has shape {pred.shape}, the windows {truth.shape}")
        row = {"audit": name, "split": split, "n_windows": int(pred.shape[0] * pred.shape[1]),
               "window_frames": int(window_frames), "hop_frames": int(hop_frames),
               "labels_per_window": float(pred.sum(axis=2).mean()), "true_labels_per_window":
                   float(truth.sum(axis=2).mean()),
               **_counts(pred.reshape(-1, pred.shape[2]), truth.reshape(-1, truth.shape[2]), "", axis=None),
               "per_class": _counts(pred.reshape(-1, pred.shape[2]), truth.reshape(-1, truth.shape[2]), "", axis=0),
               **extra}
        self._write(row)
        return row

    def _write(self, row: dict[str, Any]) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


def _ratio(num: np.ndarray, den: np.ndarray) -> Any:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    if out.ndim == 0:
        return None if np.isnan(out) else float(out)
    return [None if np.isnan(v) else float(v) for v in out]


def _counts(pred: np.ndarray, truth: np.ndarray, prefix: str, axis: int | None) -> dict[str, Any]:
    """Predicted positives, true positives among them, precision and recall (overall or per class)."""
    tp = (pred & truth).sum(axis=axis)
    n_pred, n_true = pred.sum(axis=axis), truth.sum(axis=axis)
    as_list = (lambda a: a.tolist()) if axis is not None else int
    return {f"{prefix}predicted": as_list(n_pred), f"{prefix}correct": as_list(tp),
            f"{prefix}true": as_list(n_true), f"{prefix}precision": _ratio(tp, n_pred),
            f"{prefix}recall": _ratio(tp, n_true)}


@dataclasses.dataclass(frozen=True)
class TrainContext:
    """Everything a method's ``train`` gets from the runner.

    Attributes:
        dataset: the run's open :class:`~wlbench.dataset.reader.Dataset` (labels through
            ``wlbench.dataset.training_data(dataset.split(name), ...)``; do not reopen the file).
        run_dir: the folder to write the checkpoint and any method files into (a temporary folder that the
            runner moves into place when the run has finished).
        config: the validated configuration (every key of the method's schema).
        seed: the run's seed (every random draw of the run must derive from it).
        progress: show progress bars.
        log: appends one learning-curve row (a flat JSON-able dict: ``stage``, ``epoch``, ``step``,
            ``loss``, validation metrics...) to ``log.jsonl``; the runner plots them.
        audit: measures produced labels against the truth (see :class:`Audit`).
        echo: prints a line for the user.
    """

    dataset: Dataset
    run_dir: Path
    config: Mapping[str, Any]
    seed: int
    progress: bool
    log: Callable[[dict[str, Any]], None]
    audit: Audit
    echo: Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class PredictContext:
    """What a method's ``predict`` gets: the finished run, the open dataset (features only: a prediction
    never reads labels), and the ``(split, segment)`` requests to answer (segment ``"clip"``: whole clips;
    else a segment view name such as ``"1s"``)."""

    run_dir: Path
    dataset: Dataset
    requests: tuple[tuple[str, str], ...]
    config: Mapping[str, Any]
