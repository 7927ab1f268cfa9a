"""Samplers over multi-label data: every rule is by label *sets* (a clip may carry several classes).

``labels`` is an (N, C) 0/1 array of the labels a sampler may use (a trainer passes the observed labels of
its view; unlabeled clips have empty rows and are never drawn by a label rule). Every draw uses the run's
seeded numpy generator.
"""

from __future__ import annotations

import numpy as np


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Index batches covering ``range(n)`` once (shuffled with ``rng`` when given; the last may be shorter)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def class_members(labels: np.ndarray) -> list[np.ndarray]:
    """For each class, the indices of the clips carrying it."""
    y = np.asarray(labels).astype(bool)
    return [np.flatnonzero(y[:, c]) for c in range(y.shape[1])]


def balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of about ``n`` labeled clips, drawn class by class (round robin over the classes present,
    each class taking a clip carrying it that is not yet chosen), so every class is as represented as the
    data allows. Single-label data gives ``n // K`` clips per class, as a stratified draw would."""
    rng = np.random.default_rng([int(seed), 7919])
    members = [rng.permutation(m) for m in class_members(labels) if len(m)]
    chosen: list[int] = []
    taken = np.zeros(len(labels), dtype=bool)
    cursor = [0] * len(members)
    n = min(int(n), int(np.asarray(labels).any(axis=1).sum()))
    while len(chosen) < n:
        progressed = False
        for k, pool in enumerate(members):
            while cursor[k] < len(pool) and taken[pool[cursor[k]]]:
                cursor[k] += 1
            if cursor[k] < len(pool) and len(chosen) < n:
                taken[pool[cursor[k]]] = True
                chosen.append(int(pool[cursor[k]]))
                progressed = True
        if not progressed:
            break
    return np.sort(np.asarray(chosen, dtype=np.int64))


def label_triplets(labels: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k`` (anchor, positive, negative) index triples by label sets: the anchor is a labeled clip, the
    positive another clip sharing at least one label with it (the anchor itself only when no other clip
    does), the negative a clip sharing none of its labels (a labeled clip; the anchor itself only when none
    exists, which makes that triplet's loss the margin). Anchors are drawn by class first (a uniform class,
    then a clip carrying it), so rare classes are anchored as often as frequent ones."""
    y = np.asarray(labels).astype(bool)
    labeled = np.flatnonzero(y.any(axis=1))
    if len(labeled) == 0:
        raise ValueError("no labeled clip to draw triplets from")
    members = [m for m in class_members(y) if len(m)]
    classes = rng.integers(len(members), size=k)
    anchors = np.array([members[c][rng.integers(len(members[c]))] for c in classes], dtype=np.int64)
    shares = (y[anchors].astype(np.int32) @ y.T.astype(np.int32)) > 0  # (k, N): shares a label
    pos = np.empty(k, dtype=np.int64)
    neg = np.empty(k, dtype=np.int64)
    is_labeled = y.any(axis=1)
    for j, a in enumerate(anchors):
        same = np.flatnonzero(shares[j])
        same = same[same != a]
        pos[j] = same[rng.integers(len(same))] if len(same) else a
        other = np.flatnonzero(~shares[j] & is_labeled)
        neg[j] = other[rng.integers(len(other))] if len(other) else a
    return anchors, pos, neg


def episode(labels: np.ndarray, n_support: int, n_query: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """One episode over every class present, support-major: indices ``[support of class 0..K-1 (n_support
    each), query of class 0..K-1 (n_query each)]`` and K. A class's clips are drawn among the clips carrying
    it (without replacement when it has enough, else with replacement); in multi-label data a clip drawn
    for class k may carry other classes too (it stands for class k in this episode)."""
    members = [m for m in class_members(labels) if len(m)]
    need = n_support + n_query
    picks = [rng.choice(m, size=need, replace=len(m) < need) for m in members]
    support = [p[:n_support] for p in picks]
    query = [p[n_support:] for p in picks]
    return np.concatenate(support + query).astype(np.int64), len(members)
