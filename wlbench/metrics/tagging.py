"""Clip-level metrics from binary decisions: precision, recall, F1 (per class, macro, micro), label coverage.

Inputs are ``decisions`` (N clips, C classes) of 0/1 system outputs and ``targets`` (N, C) of 0/1 true
labels. :func:`binarize` turns scores into decisions with one threshold or one threshold per class
(a score >= its threshold is a positive decision).

Degenerate cases (docs/metrics.md): a class never predicted has precision 0 and F1 0 and is kept in the
macro averages; a class with no positives (recall undefined) gets NaN recall and F1 and is excluded from
the macro averages (its false positives still count in the micro averages).
"""

from __future__ import annotations

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.metrics.checks import as_binary, as_scores, as_weights, same_shape


def binarize(scores: np.ndarray, threshold: float | np.ndarray = 0.5) -> np.ndarray:
    """Decisions ``scores >= threshold`` (bool, (N, C)); ``threshold`` is a scalar or (C,) per class."""
    s = as_scores(scores, "scores")
    thr = np.asarray(threshold, dtype=np.float64)
    if thr.ndim == 0:
        thr = np.full(s.shape[1], float(thr))
    if thr.shape != (s.shape[1],) or not np.isfinite(thr).all():
        raise WlbenchError(f"threshold: expected a finite scalar or {s.shape[1]} per-class values, "
                           f"got shape {thr.shape}")
    return s >= thr


def tagging_counts(decisions: np.ndarray, targets: np.ndarray,
                   sample_weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-class counts ``tp``, ``fp``, ``fn`` (and ``support`` = tp + fn), optionally clip-weighted."""
    d = as_binary(decisions, "decisions")
    t = as_binary(targets, "targets")
    same_shape(d, t, "decisions", "targets")
    w = as_weights(sample_weight, d.shape[0])
    if w is None:
        tp = np.count_nonzero(d & t, axis=0).astype(np.float64)
        fp = np.count_nonzero(d & ~t, axis=0).astype(np.float64)
        fn = np.count_nonzero(~d & t, axis=0).astype(np.float64)
    else:
        tp = w @ (d & t)
        fp = w @ (d & ~t)
        fn = w @ (~d & t)
    return {"tp": tp, "fp": fp, "fn": fn, "support": tp + fn}


def prf_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1) arrays from counts, with the wlbench policy for empty denominators.

    precision = 0 when nothing was predicted; recall = NaN when there are no positives; F1 = NaN when
    there are no positives, else 2 tp / (2 tp + fp + fn).
    """
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), 0.0)
        recall = np.where(tp + fn > 0, tp / np.where(tp + fn > 0, tp + fn, 1), np.nan)
        f1 = np.where(tp + fn > 0, 2 * tp / np.where(tp + fn > 0, 2 * tp + fp + fn, 1), np.nan)
    return precision, recall, f1


def prf_per_class(decisions: np.ndarray, targets: np.ndarray,
                  sample_weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-class ``precision``, ``recall``, ``f1`` and ``support`` (C,) -- see :func:`prf_from_counts`."""
    c = tagging_counts(decisions, targets, sample_weight)
    p, r, f = prf_from_counts(c["tp"], c["fp"], c["fn"])
    return {"precision": p, "recall": r, "f1": f, "support": c["support"]}


def _macro(values: np.ndarray, support: np.ndarray) -> float:
    keep = support > 0
    return float(np.mean(values[keep])) if keep.any() else float("nan")


def f1_macro(decisions: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Mean per-class F1 over classes with at least one positive."""
    r = prf_per_class(decisions, targets, sample_weight)
    return _macro(r["f1"], r["support"])


def precision_macro(decisions: np.ndarray, targets: np.ndarray,
                    sample_weight: np.ndarray | None = None) -> float:
    """Mean per-class precision over classes with at least one positive (never-predicted classes count 0)."""
    r = prf_per_class(decisions, targets, sample_weight)
    return _macro(r["precision"], r["support"])


def recall_macro(decisions: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Mean per-class recall over classes with at least one positive."""
    r = prf_per_class(decisions, targets, sample_weight)
    return _macro(r["recall"], r["support"])


def _micro(decisions, targets, sample_weight):
    c = tagging_counts(decisions, targets, sample_weight)
    p, r, f = prf_from_counts(c["tp"].sum(keepdims=True), c["fp"].sum(keepdims=True),
                              c["fn"].sum(keepdims=True))
    return float(p[0]), float(r[0]), float(f[0])


def f1_micro(decisions: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """F1 of the pooled counts of all classes (NaN if there is no positive at all)."""
    return _micro(decisions, targets, sample_weight)[2]


def precision_micro(decisions: np.ndarray, targets: np.ndarray,
                    sample_weight: np.ndarray | None = None) -> float:
    """Precision of the pooled counts of all classes (0 if nothing was predicted)."""
    return _micro(decisions, targets, sample_weight)[0]


def recall_micro(decisions: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Recall of the pooled counts of all classes (NaN if there is no positive at all)."""
    return _micro(decisions, targets, sample_weight)[1]


def label_coverage(scores: np.ndarray, targets: np.ndarray, threshold: float | np.ndarray = 0.5,
                   sample_weight: np.ndarray | None = None) -> float:
    """Share of the true (clip, label) pairs whose score reaches the threshold (micro recall of
    :func:`binarize`); NaN if there is no true label."""
    return recall_micro(binarize(scores, threshold), targets, sample_weight)
