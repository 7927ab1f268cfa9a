"""Fonseca et al. (2020), section 3: flag the top-scored implicit negatives of each class and mask them out of
the negative term of the student's BCE.

**Implicit negatives.** The (clip, class) entries that the observed labels mark negative, that may enter a
loss at all (``known``), and that no human rated (``explicit``). wlbench's label views have no explicit
negatives (every observed negative is implicit); ``explicit`` is there for datasets that have them.

**Flags (eq. 2, "score > t_c" made exact).** For class c with ``n_c`` implicit negatives, the
``k_c = floor(p / 100 * n_c)`` of them with the highest teacher scores are flagged (``p`` in percent,
computed in exact decimal arithmetic, so ``p = 10`` of 70 entries flags 7, never 6 by float rounding). The
percentile threshold ``t_c`` of the paper flags "score > t_c"; with tied scores no threshold flags exactly
``k_c``, so the entries are ranked by score (descending) and **ties broken by clip row (lower first)**, and
exactly the first ``k_c`` are flagged. ``t_c`` (reported) is the score of the last flagged entry; an
unflagged entry may share it (a tie). ``floor`` flags at most p % (0.1 % of 505,064 entries: 505).

**Mask (eq. 2).** ``M = 0`` on flagged entries, 1 elsewhere: positives, explicit labels and entries outside
``known`` are never flagged, so never masked.

**Loss.** :func:`masked_bce`: ``pos + M * neg`` per entry (the mask multiplies the negative term only, see
:func:`wlbench_baselines.teacher_student.losses.bce_terms`), summed over the entries that may enter the loss and
divided by either all of them (``normalise="all"``, the paper's "compute (1) as usual, then apply M to the
negative term": flagged entries still count in the denominator) or by the unmasked ones
(``normalise="unmasked"``: flagged negatives leave the denominator too). With nothing flagged both equal the
plain mean BCE exactly.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import torch

from wlbench_baselines.teacher_student.losses import bce_terms

NORMALISATIONS = ("all", "unmasked")


def implicit_negatives(labels: np.ndarray, known: np.ndarray | None = None,
                       explicit: np.ndarray | None = None) -> np.ndarray:
    """(N, C) bool: observed negative, known (may enter a loss), and not explicitly rated."""
    labels = np.asarray(labels)
    out = labels == 0
    for name, extra in (("known", known), ("explicit", explicit)):
        if extra is None:
            continue
        extra = np.asarray(extra)
        if extra.shape != labels.shape:
            raise ValueError(f"{name} has shape {extra.shape}, labels {labels.shape}")
        out &= (extra != 0) if name == "known" else (extra == 0)
    return out


@dataclasses.dataclass(frozen=True)
class Flags:
    """Result of :func:`flag_top_negatives`: ``flagged`` (N, C) bool; per class (C,): ``candidates`` (implicit
    negatives), ``counts`` (flagged), ``thresholds`` (score of the last flagged entry; +inf where none)."""

    flagged: np.ndarray
    candidates: np.ndarray
    counts: np.ndarray
    thresholds: np.ndarray
    percent: float

    @property
    def mask(self) -> np.ndarray:
        """(N, C) float32 loss mask M: 0 on flagged entries, 1 elsewhere."""
        return (~self.flagged).astype(np.float32)


def flag_count(n: int, percent: float) -> int:
    """``floor(percent / 100 * n)`` in exact decimal arithmetic (``percent`` as written, e.g. 0.1)."""
    return int(Fraction(repr(float(percent))) * int(n) // 100)


def flag_top_negatives(scores: np.ndarray, implicit: np.ndarray, percent: float) -> Flags:
    """Flag, per class, the top ``percent`` % of the implicit negatives by teacher score (module docstring)."""
    scores = np.asarray(scores, dtype=np.float64)
    implicit = np.asarray(implicit, dtype=bool)
    if scores.ndim != 2 or scores.shape != implicit.shape:
        raise ValueError(f"scores {scores.shape} and implicit {implicit.shape} must be the same (N, C) shape")
    if not 0.0 <= float(percent) <= 100.0:
        raise ValueError(f"percent must be in [0, 100], got {percent}")
    if np.isnan(scores[implicit]).any():
        raise ValueError("teacher scores contain NaN")
    n, c = scores.shape
    candidates = implicit.sum(axis=0)
    counts = np.array([flag_count(m, percent) for m in candidates], dtype=np.int64)
    # rank within each class: implicit entries by score descending, ties by row; the others last
    key = np.where(implicit, -scores, np.inf)
    rows = np.broadcast_to(np.arange(n)[:, None], (n, c))
    order = np.lexsort((rows, key), axis=0)  # (N, C): row indices of each class, best first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[:, None].repeat(c, axis=1), axis=0)
    flagged = (rank < counts[None, :]) & implicit
    thresholds = np.full(c, np.inf)
    has = counts > 0
    last = order[np.maximum(counts - 1, 0), np.arange(c)]
    thresholds[has] = scores[last[has], np.arange(c)[has]]
    return Flags(flagged=flagged, candidates=candidates, counts=counts, thresholds=thresholds,
                 percent=float(percent))


def masked_bce(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, *,
               known: torch.Tensor | None = None, normalise: str = "all") -> torch.Tensor:
    """BCE whose negative term is multiplied by ``mask`` (M, 0/1 per entry; None: all ones).

    ``known`` (0/1, optional) drops entries from the loss entirely (both terms, and the denominator).
    ``normalise``: ``"all"`` divides by the number of entries in the loss, ``"unmasked"`` by those whose
    negative term is not masked or whose target is positive. With ``mask`` all ones and no ``known`` both
    equal ``torch.nn.functional.binary_cross_entropy(pred, target)`` bit for bit."""
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
    pos, neg = bce_terms(pred, target)
    per = pos + (neg if mask is None else mask * neg)
    weight = None if known is None else known.to(per.dtype)
    if normalise == "unmasked" and mask is not None:
        kept = 1 - (1 - mask.to(per.dtype)) * (1 - target)
        if bool((kept != 1).any()):  # nothing masked: the denominator is unchanged
            weight = kept if weight is None else weight * kept
    if weight is None:
        return per.mean()
    return (per * weight).sum() / weight.sum().clamp(min=1.0)
