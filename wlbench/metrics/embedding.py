"""Embedding quality: the centroid metric of Turpault et al.

``embeddings`` (N clips, D dims) and ``labels`` (N,) integer class indices in ``[0, n_classes)`` (one
class per clip, as in single-event sets). Centroids are computed on the given set (the clip itself
included): with ``euclidean`` the mean embedding of each class; with ``cosine`` the embeddings are
L2-normalised first and the centroid is the normalised mean of the normalised embeddings (the mean
direction). A clip is correct when its own class centroid is the nearest one.

Ties: when k centroids are equally near and the clip's own is among them, the clip scores 1/k (the
expectation under a random tie break), so the result never depends on class order.
"""

from __future__ import annotations

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.metrics._checks import as_scores, as_weights


def _check(embeddings, labels, n_classes):
    e = as_scores(embeddings, "embeddings")
    y = np.asarray(labels)
    if y.shape != (e.shape[0],) or y.dtype.kind not in "iu":
        raise WlbenchError(f"labels: expected ({e.shape[0]},) integer class indices, got {y.shape} {y.dtype}")
    if n_classes is None:
        n_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise WlbenchError(f"labels: class indices must lie in [0, {n_classes})")
    return e, y.astype(np.int64), int(n_classes)


def centroid_scores(embeddings: np.ndarray, labels: np.ndarray, n_classes: int | None = None,
                    metric: str = "euclidean", sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Per-clip credit (N,) in [0, 1]: 1 if the own class centroid is strictly nearest, 1/k on a k-way tie.

    ``metric``: "euclidean" or "cosine" (distance 1 - cosine similarity; zero vectors are refused).
    ``sample_weight`` weights the clips in the centroids (bootstrap counts).
    """
    e, y, c = _check(embeddings, labels, n_classes)
    w = as_weights(sample_weight, e.shape[0])
    if metric not in ("euclidean", "cosine"):
        raise WlbenchError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    if metric == "cosine":
        norm = np.linalg.norm(e, axis=1, keepdims=True)
        if (norm == 0).any():
            raise WlbenchError("embeddings: zero vector cannot be compared by cosine distance")
        e = e / norm
    w_ = np.ones(e.shape[0]) if w is None else w
    if metric == "euclidean" and e.shape[0]:
        # Euclidean distances do not change under a translation, but the expanded form below
        # (|e|^2 - 2 e.c + |c|^2) cancels catastrophically far from the origin: centre on the (weighted)
        # mean first, so that the result does not depend on where the embeddings lie.
        total = w_.sum()
        e = e - ((w_ @ e) / total if total > 0 else e.mean(axis=0))
    counts = np.bincount(y, weights=w_, minlength=c)
    sums = np.zeros((c, e.shape[1]))
    np.add.at(sums, y, e * w_[:, None])
    present = counts > 0
    cent = sums[present] / counts[present, None]
    if metric == "cosine":
        cn = np.linalg.norm(cent, axis=1, keepdims=True)
        cent = cent / np.where(cn > 0, cn, 1.0)
        dist = 1.0 - e @ cent.T
    else:
        dist = (e * e).sum(1)[:, None] - 2.0 * e @ cent.T + (cent * cent).sum(1)[None, :]
    col_of = np.full(c, -1)
    col_of[present] = np.arange(present.sum())
    own_col = col_of[y]
    out = np.zeros(e.shape[0])
    valid = own_col >= 0
    if valid.any():
        d = dist[valid]
        own = d[np.arange(d.shape[0]), own_col[valid]]
        # compare with a small relative tolerance so that round-off does not break exact ties
        tol = 1e-12 * np.maximum(1.0, np.abs(d).max(axis=1))
        best = d.min(axis=1)
        n_tied = np.count_nonzero(d <= (best + tol)[:, None], axis=1)
        out[valid] = np.where(own <= best + tol, 1.0 / n_tied, 0.0)
    return out


def centroid_accuracy_per_class(embeddings: np.ndarray, labels: np.ndarray, n_classes: int | None = None,
                                metric: str = "euclidean",
                                sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Share of each class's clips whose nearest centroid is their own: (n_classes,); NaN for a class
    without clips."""
    e, y, c = _check(embeddings, labels, n_classes)
    w = as_weights(sample_weight, e.shape[0])
    credit = centroid_scores(e, y, c, metric, w)
    w_ = np.ones(e.shape[0]) if w is None else w
    num = np.bincount(y, weights=credit * w_, minlength=c)
    den = np.bincount(y, weights=w_, minlength=c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def centroid_accuracy_macro(embeddings: np.ndarray, labels: np.ndarray, n_classes: int | None = None,
                            metric: str = "euclidean", sample_weight: np.ndarray | None = None) -> float:
    """Mean of :func:`centroid_accuracy_per_class` over classes with clips."""
    per = centroid_accuracy_per_class(embeddings, labels, n_classes, metric, sample_weight)
    ok = ~np.isnan(per)
    return float(per[ok].mean()) if ok.any() else float("nan")


def centroid_accuracy_micro(embeddings: np.ndarray, labels: np.ndarray, n_classes: int | None = None,
                            metric: str = "euclidean", sample_weight: np.ndarray | None = None) -> float:
    """Share of all clips whose nearest centroid is their own."""
    e, y, c = _check(embeddings, labels, n_classes)
    w = as_weights(sample_weight, e.shape[0])
    credit = centroid_scores(e, y, c, metric, w)
    w_ = np.ones(e.shape[0]) if w is None else w
    return float((credit * w_).sum() / w_.sum()) if w_.sum() > 0 else float("nan")
