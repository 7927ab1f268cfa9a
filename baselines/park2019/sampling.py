"""Mini-batches composed of fixed numbers of clips from each role group (S, W, U), as the DCASE 2019
baseline composes its batches (synthetic / weak / unlabeled)."""

from __future__ import annotations

import math

import numpy as np


def role_batches(groups: dict[str, np.ndarray], per_batch: dict[str, int], rng: np.random.Generator, *,
                 epoch_group: str) -> list[np.ndarray]:
    """One epoch of index batches.

    ``groups``: name -> row indices of that group; ``per_batch``: name -> clips of that group in every batch
    (groups with 0, or absent from ``per_batch``, are left out). The epoch has ``ceil(len(epoch_group) /
    per_batch[epoch_group])`` batches, so it visits every clip of ``epoch_group`` once; every group is drawn
    from consecutive random permutations of its indices (a group smaller than its share of the epoch wraps
    round into a fresh permutation; the last batch of a group that divides unevenly is topped up the same
    way), so within an epoch no clip repeats before its whole group has been seen. Each batch lists its
    groups in the order of ``per_batch``. Draws come from ``rng`` only (same rng state, same batches)."""
    used = {g: int(k) for g, k in per_batch.items() if int(k) > 0}
    if epoch_group not in used:
        raise ValueError(f"epoch group {epoch_group!r} has no clips per batch")
    for g in used:
        if len(groups.get(g, ())) == 0:
            raise ValueError(f"group {g!r} is empty but {used[g]} of its clips are asked per batch")
    n_batches = math.ceil(len(groups[epoch_group]) / used[epoch_group])
    drawn: dict[str, np.ndarray] = {}
    for g, k in used.items():
        idx = np.asarray(groups[g])
        need = n_batches * k
        reps = math.ceil(need / len(idx))
        drawn[g] = np.concatenate([idx[rng.permutation(len(idx))] for _ in range(reps)])[:need]
    return [np.concatenate([drawn[g][b * k:(b + 1) * k] for g, k in used.items()]) for b in range(n_batches)]
