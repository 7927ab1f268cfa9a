"""Exact nearest neighbours in the input space (the "nearest sample" positive, paper section 3.3).

``x_p = argmin_{x_i in D, x_i != x_a} ||x_i - x_a||_2^2`` over the whole pool ``D`` (labeled and unlabeled
sub-segments, flattened to vectors), computed with blocked matrix products, never a Python loop over pairs:

1. screen: ``|q|^2 + |p|^2 - 2 q.p`` in float32 for a block of queries against the whole pool (one GEMM);
2. verify: every pool row whose screened distance lies within a rigorous bound of the row minimum (the
   float32 rounding error of step 1, ``2 * D * eps32 * (|q| + |p|max)^2``) is recomputed directly as
   ``sum((q - p)^2)`` in float64, and the smallest wins; ties go to the lowest pool row.

The answer is therefore the float64 brute-force argmin (same tie rule), whatever the BLAS kernel or
thread count, at the cost of one float32 GEMM.
"""

from __future__ import annotations

import numpy as np
import torch

from wlbench.errors import WlbenchError

_EPS32 = float(np.finfo(np.float32).eps)


def _block_rows(pool_size: int, budget_bytes: int = 64 * 2**20) -> int:
    return max(1, min(4096, budget_bytes // max(8 * pool_size, 1)))


def nearest_neighbours(pool: np.ndarray, query_rows: np.ndarray, *, groups: np.ndarray | None = None,
                       block_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each pool row in ``query_rows``, its nearest other row of ``pool`` in squared L2 distance.

    ``pool (P, ...)`` is flattened to ``(P, D)``; ``query_rows (Q,)`` are rows of ``pool``. A query never
    matches itself; with ``groups (P,)`` (e.g. the clip of each sub-segment) it never matches a row of its own
    group either. Returns ``(index (Q,) int64, squared distance (Q,) float64)``.

    Raises :class:`WlbenchError` when a query has no admissible row (a pool of one row, or one group)."""
    flat = np.ascontiguousarray(pool.reshape(pool.shape[0], -1), dtype=np.float32)
    n_pool, dim = flat.shape
    query_rows = np.asarray(query_rows, dtype=np.int64)
    if query_rows.size and (query_rows.min() < 0 or query_rows.max() >= n_pool):
        raise ValueError(f"query rows must lie in [0, {n_pool})")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n_pool,):
            raise ValueError(f"groups must have shape ({n_pool},), got {groups.shape}")
    p = torch.from_numpy(flat)
    p_sq = p.pow(2).sum(dim=1)
    p_norm_max = float(p_sq.max().sqrt()) if n_pool else 0.0
    index = np.empty(len(query_rows), dtype=np.int64)
    dist = np.empty(len(query_rows), dtype=np.float64)
    step = int(block_rows or _block_rows(n_pool))
    for lo in range(0, len(query_rows), step):
        rows = query_rows[lo:lo + step]
        q = p[torch.from_numpy(rows)]
        d = p_sq[torch.from_numpy(rows)][:, None] + p_sq[None, :] - 2.0 * (q @ p.T)
        banned = np.zeros((len(rows), n_pool), dtype=bool)
        banned[np.arange(len(rows)), rows] = True
        if groups is not None:
            banned |= groups[rows][:, None] == groups[None, :]
        if banned.all(axis=1).any():
            bad = int(rows[np.flatnonzero(banned.all(axis=1))[0]])
            raise WlbenchError(f"pool row {bad} has no other row to be its nearest neighbour",
                               hint="the pool needs rows of at least two clips")
        d = d.numpy().astype(np.float64)
        d[banned] = np.inf
        bound = 2.0 * dim * _EPS32 * (np.sqrt(p_sq[torch.from_numpy(rows)].numpy().astype(np.float64))
                                      + p_norm_max) ** 2
        qi, pj = np.nonzero(d <= d.min(axis=1, keepdims=True) + 2.0 * bound[:, None])
        exact = np.empty(len(qi), dtype=np.float64)
        for c in range(0, len(qi), 4096):  # candidate pairs: about one or two per query
            diff = flat[pj[c:c + 4096]].astype(np.float64) - flat[rows[qi[c:c + 4096]]]
            exact[c:c + 4096] = np.einsum("ij,ij->i", diff, diff)
        order = np.lexsort((pj, exact, qi))  # per query: smallest exact distance, then lowest pool row
        first = order[np.r_[True, qi[order][1:] != qi[order][:-1]]]
        index[lo:lo + len(rows)], dist[lo:lo + len(rows)] = pj[first], exact[first]
    return index, dist
