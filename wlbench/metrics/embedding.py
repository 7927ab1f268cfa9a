"""Embedding quality: the centroid metric of Turpault et al.

``embeddings`` (N clips, D dims) and ``labels`` (N,) integer class indices in ``[0, n_classes)`` (one
class per clip, as in single-event sets). Centroids are computed on the given set, **leave one out**: the
centroid a clip is compared with for its own class is computed without that clip (with bootstrap counts
``sample_weight``, without any copy of it), so a clip never votes for itself; the centroids of the other
classes are the full class means (the clip is not in them). With ``euclidean`` a centroid is the mean
embedding; with ``cosine`` the embeddings are L2-normalised first and the centroid is the normalised mean
of the normalised embeddings (the mean direction). A clip is correct when its own class centroid is the
nearest one. Random embeddings therefore score about ``1 / n_classes`` (tested); counting a clip in its own
centroid would pull every clip towards its own class and score well above chance on noise.

A clip whose class has no other clip (in a resample: no copy of another clip of its class) has no own
centroid: its credit is NaN and it is left out of the averages; a class with no scorable clip is NaN in
the per-class result and left out of the macro average.

Ties: when k centroids are equally near and the clip's own is among them, the clip scores 1/k (the
expectation under a random tie break), so the result never depends on class order.
"""

from __future__ import annotations

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.metrics.checks import as_scores, as_weights


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
    """Per-clip credit (N,): 1 if the own (leave-one-out) class centroid is strictly nearest, 1/k on a k-way
    tie, 0 otherwise; NaN for a clip whose class has no other clip with weight > 0.

    ``metric``: "euclidean" or "cosine" (distance 1 - cosine similarity; zero vectors are refused).
    ``sample_weight`` weights the clips in the centroids (bootstrap counts); all ``w_i`` copies of clip i
    are left out of clip i's own centroid.
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
    # full centroids (the other classes'), and each clip's own centroid without any copy of itself
    own_count = counts[y] - w_
    # a class weight left after removing the clip that is round-off, not another clip, counts as none
    scorable = own_count > 1e-9 * np.maximum(counts[y], 1.0)
    out = np.full(e.shape[0], np.nan)
    if not scorable.any():
        return out
    present = counts > 0
    cent = np.zeros_like(sums)
    cent[present] = sums[present] / counts[present, None]
    idx = np.flatnonzero(scorable)
    ex, yx = e[idx], y[idx]
    own_cent = (sums[yx] - ex * w_[idx, None]) / own_count[idx, None]
    if metric == "cosine":
        cn = np.linalg.norm(cent, axis=1, keepdims=True)
        cent = cent / np.where(cn > 0, cn, 1.0)
        on = np.linalg.norm(own_cent, axis=1, keepdims=True)
        own_cent = own_cent / np.where(on > 0, on, 1.0)
        dist = 1.0 - ex @ cent.T
        own = 1.0 - (ex * own_cent).sum(axis=1)
    else:
        dist = (ex * ex).sum(1)[:, None] - 2.0 * ex @ cent.T + (cent * cent).sum(1)[None, :]
        own = ((ex - own_cent) ** 2).sum(axis=1)
    # classes without clips have no centroid; the own column holds the leave-one-out distance
    dist[:, ~present] = np.inf
    dist[np.arange(idx.size), yx] = own
    # compare with a small relative tolerance so that round-off does not break exact ties
    finite = np.where(np.isfinite(dist), np.abs(dist), 0.0)
    tol = 1e-12 * np.maximum(1.0, finite.max(axis=1))
    best = dist.min(axis=1)
    n_tied = np.count_nonzero(dist <= (best + tol)[:, None], axis=1)
    out[idx] = np.where(own <= best + tol, 1.0 / n_tied, 0.0)
    return out


def centroid_accuracy_per_class(embeddings: np.ndarray, labels: np.ndarray, n_classes: int | None = None,
                                metric: str = "euclidean",
                                sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Share of each class's clips whose nearest centroid is their own: (n_classes,); NaN for a class
    without a scorable clip (none, or a single one: it has no leave-one-out centroid)."""
    e, y, c = _check(embeddings, labels, n_classes)
    w = as_weights(sample_weight, e.shape[0])
    credit = centroid_scores(e, y, c, metric, w)
    w_ = np.ones(e.shape[0]) if w is None else w
    w_ = np.where(np.isnan(credit), 0.0, w_)
    credit = np.nan_to_num(credit)
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
    """Share of all scorable clips (see :func:`centroid_scores`) whose nearest centroid is their own."""
    e, y, c = _check(embeddings, labels, n_classes)
    w = as_weights(sample_weight, e.shape[0])
    credit = centroid_scores(e, y, c, metric, w)
    w_ = np.ones(e.shape[0]) if w is None else w
    w_ = np.where(np.isnan(credit), 0.0, w_)
    credit = np.nan_to_num(credit)
    return float((credit * w_).sum() / w_.sum()) if w_.sum() > 0 else float("nan")
