"""Nested training subsets: Dinkel et al.'s students on a small part of the teacher's data (balanced subset vs
full AudioSet) and Fonseca et al.'s tr_small vs tr_large (about 1:5).

``nested_subset(n, k, seed)`` is the first ``k`` rows of one seeded permutation of ``n`` rows, sorted: the
subset of size k is contained in every larger one drawn with the same seed, and it does not depend on the
run's seed (the experiment compares seeds on the same data). Rows are drawn uniformly (not stratified), so the
class distribution of a subset matches the split's in expectation.
"""

from __future__ import annotations

import numpy as np

SUBSET_STREAM = 0x5EB5E7  # keeps subset draws apart from any other use of the same seed


def nested_subset(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices of a k-row subset of n rows (``k = 0`` or ``k >= n``: all rows)."""
    if n < 0 or k < 0:
        raise ValueError(f"n and k must be >= 0, got {n} and {k}")
    if k == 0 or k >= n:
        return np.arange(n)
    order = np.random.default_rng([int(seed), SUBSET_STREAM]).permutation(n)
    return np.sort(order[:k])
