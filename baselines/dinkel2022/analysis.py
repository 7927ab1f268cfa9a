"""The analysis of Dinkel et al., section 4.3, as pure functions of label arrays.

Soft labels are made hard with the harness's ``binarize`` (score >= 0.5, the paper's "thresholding ... with a
value of 0.5").

* Fig. 2, labels per item: :func:`labels_per_item` and :func:`count_shares` (share of chunks with 0, 1, ...
  labels; the last bin holds that many or more).
* Fig. 3, label coverage of the machine annotator's labels against the weak labels: for each item,
  ``|predicted AND weak| / |weak|`` (1: every original label is among the predicted ones; 0: none is);
  undefined (NaN) for an item without weak label. For a chunk, "weak" is its clip's weak label propagated
  to it (``y_weak^n``), the labels the paper compares with.
"""

from __future__ import annotations

import numpy as np

from wlbench.metrics.tagging import binarize


def labels_per_item(soft: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(M,) number of classes with score >= ``threshold`` in each row of ``soft`` (M, C)."""
    return binarize(soft, threshold).sum(axis=1)


def count_shares(counts: np.ndarray, max_count: int) -> np.ndarray:
    """(max_count + 1,) share of items with 0, 1, ..., ``max_count`` or more labels (sums to 1)."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        raise ValueError("no item to count")
    hist = np.bincount(np.minimum(counts, int(max_count)), minlength=int(max_count) + 1)
    return hist / counts.size


def label_coverage(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(M,) ``|predicted AND reference| / |reference|`` per row of two (M, C) label arrays; NaN where the
    reference row is empty."""
    predicted, reference = np.asarray(predicted, dtype=bool), np.asarray(reference, dtype=bool)
    if predicted.shape != reference.shape:
        raise ValueError(f"predicted {predicted.shape} and reference {reference.shape} differ in shape")
    n_ref = reference.sum(axis=1)
    both = (predicted & reference).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_ref > 0, both / np.maximum(n_ref, 1), np.nan)
