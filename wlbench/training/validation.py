"""Validation metrics of the training loop, computed with the harness's metric functions.

Checkpoints are chosen on threshold-free metrics: ``map`` (macro average precision over the classes with a
positive in the validation set) for anything that outputs class scores, ``centroid_map`` for embeddings.
F1 at the decision threshold is logged beside them for the learning curves, never used for selection.
"""

from __future__ import annotations

import numpy as np

from wlbench.metrics.ranking import map_macro
from wlbench.metrics.tagging import binarize, f1_macro


def score_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """``map`` and ``f1_macro`` (at ``threshold``) of class scores (N, C) against labels (N, C)."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    return {"map": float(map_macro(s, y)), "f1_macro": float(f1_macro(binarize(s, threshold), y))}


def centroid_class_scores(reference: np.ndarray, reference_labels: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(N, C) scores of ``embeddings`` against class centroids: minus the squared Euclidean distance to the
    mean embedding of the ``reference`` clips carrying each class (the training set, as in Turpault et al.
    2020, eq. 4). A class that no reference clip carries gets the lowest score of the others for every clip,
    so ranking metrics stay defined."""
    ref = np.asarray(reference, dtype=np.float64)
    y = np.asarray(reference_labels, dtype=np.float64)
    counts = y.sum(axis=0)
    centroids = (y.T @ ref) / np.maximum(counts, 1)[:, None]
    e = np.asarray(embeddings, dtype=np.float64)
    d2 = (e ** 2).sum(axis=1)[:, None] - 2 * e @ centroids.T + (centroids ** 2).sum(axis=1)[None, :]
    scores = -np.maximum(d2, 0.0)
    if (counts == 0).any() and scores.size:
        scores[:, counts == 0] = scores[:, counts > 0].min() if (counts > 0).any() else 0.0
    return scores


def centroid_map(reference: np.ndarray, reference_labels: np.ndarray, embeddings: np.ndarray,
                 labels: np.ndarray) -> float:
    """Macro average precision of :func:`centroid_class_scores`: for every class, how well the distance to its
    training centroid ranks the validation clips carrying it above the others. Threshold-free and defined
    for multi-label data; on single-label data it rises with the centroid accuracy of the paper (eq. 5)."""
    return float(map_macro(centroid_class_scores(reference, reference_labels, embeddings),
                           np.asarray(labels).astype(bool)))
