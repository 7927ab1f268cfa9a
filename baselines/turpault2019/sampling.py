"""Triplet plans for the sampling strategies S1-S5 of the paper's Table 1.

A *plan* is the triplet set of one training run (the paper counts its budgets in triplets: "31,560
triplets"): for each triplet the anchor row of the sub-segment pool, how its positive is made and from which
row, and its negative row or "mine it" (semi-hard, chosen at each step from the current embeddings; see
:mod:`mining`). Random transformation parameters are drawn when a batch is built, not in the plan.

Table 1, per anchor role ("labeled" = a sub-segment of a labeled clip):

========  ===========================  ===========================
strategy  labeled anchor (pos / neg)   unlabeled anchor (pos / neg)
========  ===========================  ===========================
S1        transform / semi-hard        transform / semi-hard
S2        label / label                transform / semi-hard
S3        label / label                nearest / semi-hard
S4        label / semi-hard            (no unlabeled anchors)
S5        label / label                (no unlabeled anchors)
========  ===========================  ===========================

S1 is unsupervised: it draws anchors from both pools in the budget's proportions but never reads a label.
S4 and S5 use the whole budget on labeled anchors (the paper: "for S4 and S5 we use each sample twice as
an anchor" at the 31,560 budget).

Multi-label rules: a **label positive** is a sub-segment of *another* labeled clip sharing at least one
label with the anchor's clip (sub-segments inherit their clip's weak label; a sub-segment of the anchor's own
clip is a temporal-proximity positive, not a label positive); a **label negative** is a sub-segment of a
labeled clip sharing no label with it. Both are uniform over the qualifying sub-segments. A labeled anchor
with no qualifying positive (or, when its negative is by label, no qualifying negative) cannot make a label
triplet: it is left out of the anchor draw, and :attr:`TripletPlan.info` counts it.

Labels reach a plan only through :class:`MaskedLabels`, which refuses any row outside its known mask and
records which rows were read, so "S1 reads no label" and "S2/S3 never read an unlabeled clip's label" are
checkable facts (tests/test_turpault2019.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from wlbench.errors import WlbenchError
from wlbench_baselines.turpault2019.subsegments import SubSegments, rows_of_clips

STRATEGIES = ("S1", "S2", "S3", "S4", "S5")

# positive kinds (TripletPlan.positive_kind)
LABEL, NEAREST, NOISE, SHIFT, MIXING, PROXIMITY = range(6)
KIND_NAMES = ("label", "nearest", "noise", "shift", "mixing", "proximity")
TRANSFORMATIONS = {"noise": NOISE, "shift": SHIFT, "mixing": MIXING, "proximity": PROXIMITY}
MINE = -1  # TripletPlan.negative: mine a semi-hard negative at training time


@dataclass(frozen=True)
class Rule:
    positive: str  # "label", "transform" or "nearest"
    negative: str  # "label" or "semi_hard"


TABLE_1: dict[str, dict[str, Rule | None]] = {
    "S1": {"labeled": Rule("transform", "semi_hard"), "unlabeled": Rule("transform", "semi_hard")},
    "S2": {"labeled": Rule("label", "label"), "unlabeled": Rule("transform", "semi_hard")},
    "S3": {"labeled": Rule("label", "label"), "unlabeled": Rule("nearest", "semi_hard")},
    "S4": {"labeled": Rule("label", "semi_hard"), "unlabeled": None},
    "S5": {"labeled": Rule("label", "label"), "unlabeled": None},
}


def reads_labels(strategy: str) -> bool:
    """Whether a strategy uses labels at all (S1 does not)."""
    return any(r is not None and "label" in (r.positive, r.negative) for r in TABLE_1[strategy].values())


class LabelLeak(RuntimeError):
    """A sampler asked for the label of a row it may not read (a bug, never an input error)."""


class MaskedLabels:
    """Weak labels ``(N, C)`` of a pool that may be read only where ``known (N,)`` is true.

    :meth:`rows` raises :class:`LabelLeak` for any unknown row and records every row read in :attr:`read`."""

    def __init__(self, labels: np.ndarray, known: np.ndarray) -> None:
        labels = np.asarray(labels)
        known = np.asarray(known, dtype=bool)
        if labels.ndim != 2 or known.shape != (labels.shape[0],):
            raise ValueError(f"labels (N, C) and known (N,) expected, got {labels.shape} and {known.shape}")
        self._labels = labels.astype(bool)
        self.known = known
        self.read = np.zeros(labels.shape[0], dtype=bool)

    def rows(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        bad = index[~self.known[index]]
        if bad.size:
            raise LabelLeak(f"label of row {int(bad[0])} read, but that row's label is not known")
        self.read[index] = True
        return self._labels[index]


@dataclass(frozen=True)
class PoolIndex:
    """Where each sub-segment of the pool comes from (no features, no labels).

    ``clip (N,)`` clip row, clip-major with ``per_clip`` sub-segments per clip (see :mod:`subsegments`);
    ``start_s (N,)`` start time in its clip (s); ``labeled_clip (n_clips,)`` the clip's role."""

    clip: np.ndarray
    start_s: np.ndarray
    per_clip: int
    labeled_clip: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.labeled_clip) * self.per_clip
        if self.clip.shape != (n,) or self.start_s.shape != (n,):
            raise ValueError(f"clip and start_s must have {n} rows (clips x per_clip)")

    @classmethod
    def of(cls, segments: SubSegments, labeled_clip: np.ndarray, frame_seconds: float) -> PoolIndex:
        """The index of a cut pool: ``labeled_clip (n_clips,)`` from the roles, ``frame_seconds`` the hop."""
        return cls(segments.clip, segments.start * float(frame_seconds), segments.per_clip,
                   np.asarray(labeled_clip, dtype=bool))

    @property
    def labeled(self) -> np.ndarray:
        """(N,) whether each sub-segment belongs to a labeled clip."""
        return np.asarray(self.labeled_clip, dtype=bool)[self.clip]


@dataclass
class TripletPlan:
    """One run's triplets, aligned arrays of length M.

    ``anchor``: pool row; ``positive_kind``: LABEL, NEAREST, NOISE, SHIFT, MIXING or PROXIMITY;
    ``positive``: pool row of the positive (LABEL, NEAREST, PROXIMITY), of the mixed-in example (MIXING), or
    -1 (NOISE, SHIFT: the positive is the transformed anchor); ``negative``: pool row, or MINE;
    ``labeled_anchor``: whether the anchor comes from a labeled clip (whether or not the strategy reads it)."""

    anchor: np.ndarray
    positive_kind: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    labeled_anchor: np.ndarray
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.anchor.shape[0])

    def summary(self) -> dict:
        kinds = {KIND_NAMES[k]: int((self.positive_kind == k).sum()) for k in range(len(KIND_NAMES))}
        return {"triplets": len(self), "labeled_anchors": int(self.labeled_anchor.sum()),
                "positives": {k: v for k, v in kinds.items() if v},
                "mined_negatives": int((self.negative == MINE).sum()), **self.info}


def choose_in_rows(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row of ``mask (M, K)``, the column of one true entry drawn uniformly; -1 for a row without any."""
    counts = mask.sum(axis=1)
    k = np.floor(rng.random(mask.shape[0]) * counts).astype(np.int64)
    pick = np.argmax(np.cumsum(mask, axis=1) > k[:, None], axis=1)
    return np.where(counts > 0, pick, -1)


def draw_anchors(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` anchors from ``rows``: whole passes (each row once, in random order), then a subset drawn without
    replacement for the remainder ("each sample as an anchor once", "twice", ...)."""
    rows = np.asarray(rows, dtype=np.int64)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    full, rest = divmod(int(n), len(rows))
    parts = [rng.permutation(rows) for _ in range(full)]
    if rest:
        parts.append(rng.choice(rows, size=rest, replace=False))
    return np.concatenate(parts)


def _label_rules(pool: PoolIndex, labels: MaskedLabels) -> tuple[np.ndarray, np.ndarray]:
    """(labeled clips (L,), share matrix (L, L): whether two labeled clips share >= 1 label)."""
    lab_clips = np.flatnonzero(pool.labeled_clip)
    y = labels.rows(lab_clips * pool.per_clip)  # one row per clip: its sub-segments inherit its label
    yi = y.astype(np.int64)
    return lab_clips, (yi @ yi.T) > 0


def _by_label(anchor_clips: np.ndarray, lab_clips: np.ndarray, share: np.ndarray, want_share: bool,
              pool: PoolIndex, rng: np.random.Generator) -> np.ndarray:
    """A sub-segment of a labeled clip (other than the anchor's) that shares (or shares no) label with it."""
    pos_in_lab = np.searchsorted(lab_clips, anchor_clips)
    out = np.empty(len(anchor_clips), dtype=np.int64)
    for lo in range(0, len(anchor_clips), 4096):
        sl = slice(lo, lo + 4096)
        mask = share[pos_in_lab[sl]] if want_share else ~share[pos_in_lab[sl]]
        mask = mask & (lab_clips[None, :] != anchor_clips[sl, None])
        col = choose_in_rows(mask, rng)
        if (col < 0).any():
            raise AssertionError("an anchor without candidates reached the label draw")
        out[sl] = lab_clips[col] * pool.per_clip + rng.integers(0, pool.per_clip, size=len(col))
    return out


def _proximity(anchors: np.ndarray, pool: PoolIndex, dt: float, rng: np.random.Generator) -> np.ndarray:
    """Another sub-segment of the anchor's clip whose start is less than ``dt`` seconds away."""
    rows = rows_of_clips(pool.clip[anchors], pool.per_clip).reshape(len(anchors), pool.per_clip)
    mask = (np.abs(pool.start_s[rows] - pool.start_s[anchors][:, None]) < dt) & (rows != anchors[:, None])
    col = choose_in_rows(mask, rng)
    if (col < 0).any():
        raise WlbenchError(f"no other sub-segment lies within proximity_dt = {dt} s of its anchor",
                           hint="raise proximity_dt above the sub-segment length, or drop 'proximity'")
    return rows[np.arange(len(anchors)), col]


def _other_clip_row(anchors: np.ndarray, pool: PoolIndex, rng: np.random.Generator) -> np.ndarray:
    """A pool row drawn uniformly outside the anchor's clip (the random example of example mixing)."""
    n, k = len(pool.clip), pool.per_clip
    if n <= k:
        raise WlbenchError("example mixing needs a pool of at least two clips")
    r = rng.integers(0, n - k, size=len(anchors))
    return np.where(r >= pool.clip[anchors] * k, r + k, r)


def _positives(rule: Rule, anchors: np.ndarray, pool: PoolIndex, rng: np.random.Generator, *,
               transformations: Sequence[str], proximity_dt: float,
               nearest: Callable[[np.ndarray], np.ndarray] | None,
               label_draw: Callable[[np.ndarray, bool], np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    m = len(anchors)
    if rule.positive == "label":
        return np.full(m, LABEL, dtype=np.int8), label_draw(anchors, True)
    if rule.positive == "nearest":
        if nearest is None:
            raise ValueError("the nearest positive needs a nearest-neighbour function")
        return np.full(m, NEAREST, dtype=np.int8), np.asarray(nearest(anchors), dtype=np.int64)
    codes = np.array([TRANSFORMATIONS[t] for t in transformations], dtype=np.int8)
    kind = codes[rng.integers(0, len(codes), size=m)]
    partner = np.full(m, -1, dtype=np.int64)
    mix, prox = kind == MIXING, kind == PROXIMITY
    if mix.any():
        partner[mix] = _other_clip_row(anchors[mix], pool, rng)
    if prox.any():
        partner[prox] = _proximity(anchors[prox], pool, proximity_dt, rng)
    return kind, partner


def plan_triplets(strategy: str, pool: PoolIndex, labels: MaskedLabels | None, *, labeled: int, unlabeled: int,
                  rng: np.random.Generator, transformations: Sequence[str] = ("noise", "shift", "mixing", "proximity"),
                  proximity_dt: float = 10.0, nearest: Callable[[np.ndarray], np.ndarray] | None = None,
                  ) -> TripletPlan:
    """The triplet set of ``strategy`` (Table 1): ``labeled`` triplets with anchors from labeled clips and
    ``unlabeled`` with anchors from unlabeled clips (S4, S5: ``labeled + unlabeled`` labeled anchors).

    ``labels`` is read only by strategies that use labels, and only on labeled clips (it may be None for S1).
    ``nearest(rows) -> rows`` gives the nearest pool row of each anchor (S3). ``transformations``: the
    transformations a transformed positive draws from, uniformly per triplet."""
    if strategy not in TABLE_1:
        raise WlbenchError(f"unknown strategy {strategy!r}", hint=f"use one of {', '.join(STRATEGIES)}")
    unknown = [t for t in transformations if t not in TRANSFORMATIONS]
    if unknown or not transformations:
        raise WlbenchError(f"transformations {list(transformations)!r}: each must be one of "
                           f"{', '.join(TRANSFORMATIONS)} (at least one)")
    rules = TABLE_1[strategy]
    if rules["unlabeled"] is None:
        labeled, unlabeled = labeled + unlabeled, 0
    if reads_labels(strategy) and labels is None:
        raise ValueError(f"strategy {strategy} needs labels")
    labeled_rows = np.flatnonzero(pool.labeled)
    unlabeled_rows = np.flatnonzero(~pool.labeled)
    info: dict = {}
    label_draw = None
    lab_rule = rules["labeled"]
    if lab_rule.positive == "label" or lab_rule.negative == "label":
        lab_clips, share = _label_rules(pool, labels)
        others = share & (lab_clips[None, :] != lab_clips[:, None])
        ok = others.any(axis=1)
        if lab_rule.negative == "label":
            ok &= (~share).any(axis=1)
        info["labeled_clips_without_triplet"] = int((~ok).sum())
        labeled_rows = rows_of_clips(lab_clips[ok], pool.per_clip)

        def label_draw(anchors: np.ndarray, want_share: bool) -> np.ndarray:
            return _by_label(pool.clip[anchors], lab_clips, share, want_share, pool, rng)

    parts = []
    for role, rows, n in (("labeled", labeled_rows, labeled), ("unlabeled", unlabeled_rows, unlabeled)):
        if n <= 0:
            continue
        if len(rows) == 0:
            raise WlbenchError(f"strategy {strategy} asks for {n} {role} triplets but the pool has no "
                               f"{role} sub-segment that can anchor one",
                               hint="check the dataset's roles and labels")
        rule = rules[role]
        anchors = draw_anchors(rows, n, rng)
        kind, pos = _positives(rule, anchors, pool, rng, transformations=transformations,
                               proximity_dt=proximity_dt, nearest=nearest, label_draw=label_draw)
        neg = label_draw(anchors, False) if rule.negative == "label" else np.full(len(anchors), MINE)
        parts.append((anchors, kind, pos, neg, np.full(len(anchors), role == "labeled")))
    if not parts:
        raise WlbenchError(f"strategy {strategy}: the budget asks for no triplet")
    cat = [np.concatenate(p) for p in zip(*parts)]
    return TripletPlan(cat[0], cat[1].astype(np.int8), cat[2].astype(np.int64), cat[3].astype(np.int64),
                       cat[4].astype(bool), info)

