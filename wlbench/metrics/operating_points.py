"""Operating points: counting statistics at every decision threshold, from per-clip changes.

The threshold-free detection metrics follow sed_scores_eval's design (Ebbers et al., ICASSP 2022):
first the *intermediate statistics* -- how many true positives, false positives, ... a system has at
each decision threshold -- then thin metric functions on top (PSD-ROC and PSDS in
:mod:`wlbench.metrics.psds`, F-scores here).

A :class:`Deltas` table lists, per clip and class, how each statistic changes when the threshold falls
to a score level (the system detects ``score >= threshold``). :class:`OperatingPoints` sorts the levels
of every class once; :meth:`OperatingPoints.cumulative` then adds the changes up, optionally weighting
each clip (bootstrap counts), so a resample costs a weighted sum and a cumulative sum -- no re-sort.

Conventions (as sed_scores_eval): for class ``c`` the operating points are its distinct change levels in
ascending order followed by ``+inf`` (nothing detected, every statistic 0); the statistics at level ``u``
are those of the decisions ``score >= u``. Precision with no detection is 1 on a curve (so that F = 0
there); the best threshold reported for a level is midway between it and the next lower level (-inf
for the lowest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_matrix

from wlbench.errors import WlbenchError
from wlbench.threads import map_in_threads

if TYPE_CHECKING:
    from wlbench.metrics.frames import FrameDetections

# frames x classes below which the statistics are built in one piece (threads do not pay on small inputs)
PARALLEL_MIN_VALUES = 200_000


@dataclass(frozen=True)
class Deltas:
    """Changes of statistics (D,) rows: ``cls``, ``clip``, ``level`` and one (D,) array per statistic in
    ``values``. Rows of one (class, clip, level) add up."""

    cls: np.ndarray
    clip: np.ndarray
    level: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cls)

    @staticmethod
    def concat(parts: list[Deltas]) -> Deltas:
        keys = sorted({k for p in parts for k in p.values})
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return Deltas(z, z, np.zeros(0), {})
        values = {k: np.concatenate([p.values.get(k, np.zeros(len(p))) for p in parts]) for k in keys}
        return Deltas(np.concatenate([p.cls for p in parts]).astype(np.int64),
                      np.concatenate([p.clip for p in parts]).astype(np.int64),
                      np.concatenate([p.level for p in parts]).astype(np.float64), values)

    def without_zero_rows(self) -> Deltas:
        if not self.values:
            return self
        keep = np.zeros(len(self), dtype=bool)
        for v in self.values.values():
            keep |= v != 0
        return Deltas(self.cls[keep], self.clip[keep], self.level[keep],
                      {k: v[keep] for k, v in self.values.items()})

    def merged_per_clip(self) -> Deltas:
        """Rows of one (class, clip, level) added into one, and rows where every statistic is 0 dropped
        (what sed_scores_eval keeps per clip: the levels where something changes)."""
        if len(self) == 0:
            return self
        # rows ordered by level (one float sort); only rows sharing their level with another row can
        # share (class, clip, level), and those are ordered by class and clip within their level
        order = np.argsort(self.level)
        level = self.level[order]
        same = level[1:] == level[:-1]
        if same.any():
            tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
            sub = order[tied]
            order[tied] = sub[np.lexsort((self.clip[sub], self.cls[sub], self.level[sub]))]
            level = self.level[order]
        cls, clip = self.cls[order], self.clip[order]
        new = np.r_[True, (cls[1:] != cls[:-1]) | (clip[1:] != clip[:-1]) | (level[1:] != level[:-1])]
        start = np.flatnonzero(new)
        values = {k: np.add.reduceat(v[order], start) for k, v in self.values.items()}
        return Deltas(cls[start], clip[start], level[start], values).without_zero_rows()


class OperatingPoints:
    """The levels of every class, sorted once, for cumulative statistics under any clip weights.

    ``tables``: named :class:`Deltas` tables (e.g. the main statistics and the cross-trigger rows) whose
    levels together make the operating points. Groups (class, level) are ordered by class, then level
    descending; ``class_ptr[c]:class_ptr[c + 1]`` are the groups of class ``c``.
    """

    def __init__(self, tables: dict[str, Deltas], n_classes: int, n_clips: int) -> None:
        self.n_classes, self.n_clips = int(n_classes), int(n_clips)
        names = list(tables)
        cls = np.concatenate([tables[n].cls for n in names]) if names else np.zeros(0, np.int64)
        level = np.concatenate([tables[n].level for n in names]) if names else np.zeros(0)
        if cls.size and (cls.min() < 0 or cls.max() >= self.n_classes):
            raise WlbenchError("deltas: class index out of range")
        order = _class_then_level_desc(cls, level, self.n_classes)
        cs, ls = cls[order], level[order]
        new = np.r_[True, (cs[1:] != cs[:-1]) | (ls[1:] != ls[:-1])] if cs.size else np.zeros(0, bool)
        group_sorted = np.cumsum(new) - 1
        group = np.empty(cls.size, dtype=np.int64)
        group[order] = group_sorted
        self.group_class = cs[new]
        self.group_level = ls[new]
        self.n_groups = int(self.group_class.size)
        self.class_ptr = np.searchsorted(self.group_class, np.arange(self.n_classes + 1), "left")
        self._rows: dict[str, tuple[np.ndarray, Deltas]] = {}
        self._matrices: dict[tuple, tuple] = {}
        self._class_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        at = 0
        for n in names:
            size = len(tables[n])
            self._rows[n] = (group[at:at + size], tables[n])
            at += size

    def cumulative(self, table: str, stat: str, weight: np.ndarray | None = None,
                   row_scale: np.ndarray | None = None) -> np.ndarray:
        """(G,) statistic ``stat`` of ``table`` summed over every level >= each group's level within its
        class; each row weighted by its clip's ``weight`` (bootstrap counts) and by ``row_scale``."""
        group, deltas = self._rows[table]
        v = deltas.values[stat]
        if weight is not None:
            v = v * np.asarray(weight, np.float64)[deltas.clip]
        if row_scale is not None:
            v = v * row_scale
        per_group = np.bincount(group, weights=v, minlength=self.n_groups)
        out = np.empty(self.n_groups)
        ptr = self.class_ptr
        for c in range(self.n_classes):
            a, b = ptr[c], ptr[c + 1]
            if b > a:
                np.cumsum(per_group[a:b], out=out[a:b])
        return out

    def cumulative_in_class(self, table: str, stat: str, by: str, c: int, weight: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Class ``c``'s rows of ``table`` only: ``(groups, counts)`` with ``groups`` (H,) ascending, the
        groups of class ``c`` where a row lies, and ``counts`` (K, H) the cumulative of ``stat`` over the
        rows whose integer column ``by`` is ``k`` (weighted by their clip's ``weight``), at those groups;
        between two of them (and after the last, up to the class's end) the cumulatives are constant,
        before the first they are 0 -- e.g. cross-trigger counts per triggered class, kept apart so that
        their rates add up exactly as counts."""
        group, deltas = self._rows[table]
        if table not in self._class_rows:  # the rows of each class, in row order
            order = np.argsort(self.group_class[group], kind="stable")
            self._class_rows[table] = (order, np.searchsorted(self.group_class[group][order],
                                                              np.arange(self.n_classes + 1)))
        order, bounds = self._class_rows[table]
        sel = order[bounds[c]:bounds[c + 1]]
        key = deltas.values[by][sel].astype(np.int64)
        v = deltas.values[stat][sel]
        if weight is not None:
            v = v * np.asarray(weight, np.float64)[deltas.clip[sel]]
        groups, slot = np.unique(group[sel], return_inverse=True)
        width = int(key.max(initial=-1)) + 1
        counts = np.bincount(key * groups.size + slot, weights=v, minlength=width * groups.size)
        counts = counts.reshape(width, groups.size)
        np.cumsum(counts, axis=1, out=counts)
        return groups, counts

    def has_table(self, table: str) -> bool:
        return table in self._rows

    def cumulative_batch(self, table: str, stat: str, weights: np.ndarray, *, scale: np.ndarray | None = None,
                         scale_by: str | None = None, at: np.ndarray | None = None) -> np.ndarray:
        """:meth:`cumulative` for B clip-weight vectors at once: (B, G), or (B, len(at)) at the groups
        ``at`` when every change of the statistic lies on one of them (e.g. :meth:`segment_starts`). One
        sparse product with a (groups x clips) matrix of the summed changes serves the whole batch.
        ``scale`` (B, K) multiplies each row by ``scale[b, row's scale_by column]`` (e.g. 1 / reference
        duration of a cross-triggered class, which itself depends on the weights)."""
        w = np.asarray(weights, dtype=np.float64)
        key = (table, stat, scale_by, None if at is None else at.tobytes())
        if key not in self._matrices:
            group, deltas = self._rows[table]
            v = deltas.values[stat]
            n_out = self.n_groups if at is None else at.size
            slot = group if at is None else np.searchsorted(at, group, "right") - 1
            if scale_by is None:
                self._matrices[key] = (csr_matrix((v, (slot, deltas.clip)), shape=(n_out, self.n_clips)),)
            else:
                k = deltas.values[scale_by].astype(np.int64)
                width = int(k.max(initial=0)) + 1
                pair, inverse = np.unique(slot * width + k, return_inverse=True)
                m = csr_matrix((v, (inverse, deltas.clip)), shape=(pair.size, self.n_clips))
                fold = csr_matrix((np.ones(pair.size), (np.arange(pair.size), pair // width)),
                                  shape=(pair.size, n_out))
                self._matrices[key] = (m, fold, pair % width)
            starts = self.class_ptr[:-1] if at is None else np.searchsorted(at, self.class_ptr[:-1])
            ends = self.class_ptr[1:] if at is None else np.searchsorted(at, self.class_ptr[1:])
            self._matrices[key] += (np.stack([starts, ends], axis=1),)
        parts = self._matrices[key]
        per = np.asarray(parts[0] @ w.T).T  # (B, slots) or (B, pairs)
        if scale_by is not None:
            if scale is None:
                raise ValueError("scale_by needs scale")  # a programming error, not user input
            per = np.asarray((per * scale[:, parts[2]]) @ parts[1])
        per = np.ascontiguousarray(per)
        for a, b in parts[-1]:
            if b > a:
                np.cumsum(per[:, a:b], axis=1, out=per[:, a:b])
        return per

    def segment_starts(self, table: str, stat: str) -> np.ndarray:
        """Group indices where ``stat`` of ``table`` may change within a class (its groups with a nonzero
        row), plus each class's first group: between two starts the statistic is constant."""
        group, deltas = self._rows[table]
        changes = np.unique(group[deltas.values[stat] != 0])
        firsts = self.class_ptr[:-1][np.diff(self.class_ptr) > 0]
        return np.union1d(changes, firsts).astype(np.int64)

    def curve(self, c: int, *stats: np.ndarray) -> tuple[np.ndarray, ...]:
        """Class ``c``'s operating points in ascending order, ``+inf`` (nothing detected) last: returns
        ``(levels, *stats)`` with each cumulative statistic (G,) cut to the class and 0 at ``+inf``."""
        a, b = self.class_ptr[c], self.class_ptr[c + 1]
        levels = np.r_[self.group_level[a:b][::-1], np.inf]
        return (levels, *(np.r_[s[a:b][::-1], 0.0] for s in stats))


def _class_then_level_desc(cls: np.ndarray, level: np.ndarray, n_classes: int) -> np.ndarray:
    """The order sorting rows by class, then level descending: one float sort, then a stable sort of the
    class indices (a radix sort for 16-bit keys), much faster than ``np.lexsort``."""
    by_level = np.argsort(-level)
    key = cls[by_level]
    if n_classes < 2**15:
        key = key.astype(np.int16)
    return by_level[np.argsort(key, kind="stable")]


@dataclass(frozen=True)
class FScores:
    """F-scores of every class at one operating point each: (C,) arrays ``f1``, ``precision``,
    ``recall``, ``threshold``, ``tp``, ``fp``, ``n_ref`` (NaN for a class without reference), and the
    ``macro`` (mean over classes with reference) and ``micro`` (pooled counts) F1."""

    f1: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    threshold: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_ref: np.ndarray

    @property
    def macro(self) -> float:
        ok = self.n_ref > 0
        return float(self.f1[ok].mean()) if ok.any() else float("nan")

    @property
    def micro(self) -> float:
        ok = self.n_ref > 0
        tp, fp, n_ref = self.tp[ok].sum(), self.fp[ok].sum(), self.n_ref[ok].sum()
        if n_ref <= 0:
            return float("nan")
        p = tp / max(tp + fp, 1.0)
        r = tp / n_ref
        return float(2 * p * r / max(p + r, 1e-15))


def best_f1_batch(points: OperatingPoints, tp: np.ndarray, fp: np.ndarray, n_ref: np.ndarray,
                  starts: np.ndarray) -> np.ndarray:
    """(B, C) best F1 of every class for B resamples: ``tp``/``fp`` (B, G) cumulative, ``n_ref`` (B, C),
    ``starts`` from :meth:`OperatingPoints.segment_starts` of the TP statistic. Within a segment TP is
    constant, so F1 is highest where FP is lowest: one minimum per segment, one maximum per class.
    NaN for a class without reference (in that resample)."""
    fp_min = np.minimum.reduceat(fp, starts, axis=1)
    t = tp[:, starts]
    seg_class = points.group_class[starts]
    ref = n_ref[:, seg_class]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = t / np.maximum(t + fp_min, 1.0)
        r = t / ref
        f = 2 * p * r / np.maximum(p + r, 1e-15)
    f = np.where(ref > 0, np.nan_to_num(f), 0.0)
    present = np.unique(seg_class)
    first = np.searchsorted(seg_class, present)
    best = np.zeros((tp.shape[0], points.n_classes))
    best[:, present] = np.maximum.reduceat(f, first, axis=1)
    return np.where(n_ref > 0, np.maximum(best, 0.0), np.nan)


def f1_at_batch(points: OperatingPoints, tp: np.ndarray, fp: np.ndarray, n_ref: np.ndarray,
                threshold: np.ndarray) -> np.ndarray:
    """(B, C) F1 of the decisions ``score >= threshold[c]`` for B resamples (NaN without reference)."""
    out = np.full((tp.shape[0], points.n_classes), np.nan)
    for c in range(points.n_classes):
        a, b = points.class_ptr[c], points.class_ptr[c + 1]
        levels = points.group_level[a:b]  # descending
        k = int(np.searchsorted(-levels, -threshold[c], "right")) - 1  # last group with level >= threshold
        t = tp[:, a + k] if k >= 0 else np.zeros(tp.shape[0])
        f_ = fp[:, a + k] if k >= 0 else np.zeros(tp.shape[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            p = t / np.maximum(t + f_, 1.0)
            r = t / n_ref[:, c]
            out[:, c] = np.where(n_ref[:, c] > 0, 2 * p * r / np.maximum(p + r, 1e-15), np.nan)
    return out


def _f1_curve(tp: np.ndarray, fp: np.ndarray, n_ref: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F1, precision, recall) at every operating point (sed_scores_eval's formulas)."""
    n_sys = tp + fp
    p = tp / np.maximum(n_sys, 1)
    p[n_sys == 0] = 1.0
    r = tp / n_ref
    return 2 * p * r / np.maximum(p + r, 1e-15), p, r


def fscores(points: OperatingPoints, tp: np.ndarray, fp: np.ndarray, n_ref: np.ndarray, *,
            threshold: float | np.ndarray | None = None) -> FScores:
    """F-scores of every class from cumulative ``tp``/``fp`` (G,) and reference counts ``n_ref`` (C,).

    ``threshold=None``: each class at its best operating point (highest F1; among equal F1 the highest
    level), with the threshold midway to the next lower level -- sed_scores_eval's
    ``best_fscore_from_intermediate_statistics``. Otherwise the decisions ``score >= threshold`` (scalar
    or (C,)).
    """
    c_n = points.n_classes
    thr_in = None if threshold is None else np.broadcast_to(np.asarray(threshold, np.float64), (c_n,))
    out = {k: np.full(c_n, np.nan) for k in ("f1", "precision", "recall", "threshold", "tp", "fp")}
    for c in range(c_n):
        if n_ref[c] <= 0:
            continue
        levels, t, f = points.curve(c, tp, fp)
        f1, p, r = _f1_curve(t, f, float(n_ref[c]))
        if thr_in is None:
            best = len(f1) - 1 - int(np.argmax(f1[::-1]))
            thr = (levels[best] + levels[best - 1]) / 2 if best > 0 else -np.inf
        else:
            best = int(np.searchsorted(levels, thr_in[c], "left"))  # lowest level >= threshold
            thr = thr_in[c]
        out["f1"][c], out["precision"][c], out["recall"][c] = f1[best], p[best], r[best]
        out["threshold"][c], out["tp"][c], out["fp"][c] = thr, t[best], f[best]
    return FScores(n_ref=np.asarray(n_ref, np.float64), **out)


def tables_in_clip_parts(det: FrameDetections, build: Callable[[FrameDetections], dict[str, Deltas]], *,
                         threads: int, min_values: int | None = None) -> dict[str, Deltas]:
    """``build(det)``, computed on runs of whole clips on ``threads`` threads when ``det`` holds at least
    ``min_values`` frame scores (default :data:`PARALLEL_MIN_VALUES`): each part's tables with its clip
    indices shifted back, concatenated per name.

    Every statistic built here is a sum over clips, so the parts' rows are the whole's rows (in another
    order, which no :class:`OperatingPoints` result depends on: its groups are sorted, and their sums are
    of whole counts, exact in any order)."""
    size = det.scores.n_frames * det.n_classes
    if threads <= 1 or det.n_clips < 2 or size < (PARALLEL_MIN_VALUES if min_values is None else min_values):
        return build(det)
    parts = det.clip_parts(threads)
    built = map_in_threads(lambda part: build(part[1]), parts, threads)
    names = list(dict.fromkeys(name for tables in built for name in tables))
    out = {}
    for name in names:
        shifted = [Deltas(t[name].cls, t[name].clip + first, t[name].level, t[name].values)
                   for (first, _), t in zip(parts, built) if name in t]
        out[name] = Deltas.concat(shifted)
    return out
