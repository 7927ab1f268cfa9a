"""Input checks shared by the metric functions and the scoring tasks that validate arrays before them.

Every metric refuses NaN or infinite scores and mismatched shapes with a :class:`WlbenchError` that says
which argument is at fault; metrics never guess.
"""

from __future__ import annotations

import numpy as np

from wlbench.errors import WlbenchError


def as_scores(scores: np.ndarray, name: str = "scores", ndim: int = 2) -> np.ndarray:
    """Return ``scores`` as a float64 array of ``ndim`` dimensions; refuse NaN/inf."""
    arr = np.asarray(scores)
    if arr.dtype.kind not in "biuf":
        raise WlbenchError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != ndim:
        raise WlbenchError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise WlbenchError(
            f"{name}: contains NaN or infinite values (first at index {tuple(int(i) for i in bad)})",
            hint="replace them by finite scores; wlbench refuses to guess a value")
    return arr


def as_binary(labels: np.ndarray, name: str = "targets", ndim: int = 2) -> np.ndarray:
    """Return ``labels`` as a bool array; refuse values other than 0/1."""
    arr = np.asarray(labels)
    if arr.ndim != ndim:
        raise WlbenchError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind not in "biuf":
        raise WlbenchError(f"{name}: expected 0/1 values, got dtype {arr.dtype}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise WlbenchError(f"{name}: expected only 0 and 1", hint="binarise labels before scoring")
    return arr.astype(bool)


def same_shape(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise WlbenchError(f"{na} has shape {a.shape} but {nb} has shape {b.shape}",
                           hint="both must be (clips, classes) in the same order")


def as_weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray | None:
    """Non-negative per-clip weights (bootstrap counts) or ``None``."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise WlbenchError(f"sample_weight: expected shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise WlbenchError("sample_weight: expected finite non-negative weights")
    return w
