"""Intersection-based detection statistics and the Polyphonic Sound Detection Score (PSDS).

PSDS (Bilen et al., ICASSP 2020) computed exactly over every decision threshold from frame scores, as
sed_scores_eval does (Ebbers et al., ICASSP 2022), with the same numbers (tests check it to 1e-9):

- a detection (a run of frames with ``score >= threshold``) is *relevant* when its intersection with the
  reference events of its class is at least ``dtc`` of its own length (detection tolerance criterion);
  an irrelevant detection is a false positive;
- a reference event is *detected* (true positive) when its intersection with the relevant detections is
  at least ``gtc`` of its length (ground-truth intersection criterion);
- a false positive that overlaps the events of another class by at least ``cttc`` of its length is a
  cross-trigger on that class;
- per class: TPR = TP / N_ref and the effective FPR = (FP / total duration + alpha_ct x mean over the
  other classes of CT / their reference duration) per hour; the class's ROC is the staircase upper
  envelope of its (eFPR, TPR) points up to ``max_efpr``;
- the PSD-ROC is the mean of the class ROCs minus ``alpha_st`` times their (population) standard
  deviation, clipped at 0; PSDS is the area under it up to ``max_efpr``, divided by ``max_efpr``.

Times are compared at ``time_decimals`` decimals (6: one microsecond), as sed_scores_eval does.

Degenerate cases (wlbench's policy, docs/metrics.md): a class without reference events has no TPR; it is
left out of the PSD-ROC, of the standard deviation and of the cross-trigger mean (sed_scores_eval
refuses such a reference), and its per-class PSDS is NaN. A bootstrap resample in which a class has no
reference event leaves it out the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from wlbench.errors import WlbenchError, plain
from wlbench.metrics.detection import TIME_DECIMALS
from wlbench.metrics.events import equal_key_pairs
from wlbench.metrics.frames import FrameDetections, ScoreIntervals, onset_deltas, score_intervals
from wlbench.metrics.operating_points import Deltas, OperatingPoints, tables_in_clip_parts
from wlbench.threads import harness_threads

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class PSDSSettings:
    """One PSDS definition: intersection criteria, penalties and the eFPR range (per hour)."""

    name: str
    dtc: float
    gtc: float
    cttc: float | None = None
    alpha_ct: float = 0.0
    alpha_st: float = 0.0
    max_efpr: float = 100.0

    def __post_init__(self) -> None:
        for key in ("dtc", "gtc"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and 0.0 <= float(v) <= 1.0):
                raise WlbenchError(f"{self.name}: {key} must lie in [0, 1], got {plain(v)}")
        if (self.alpha_ct != 0.0) != (self.cttc is not None):
            raise WlbenchError(f"{self.name}: cross-triggers need both cttc and alpha_ct (got cttc={self.cttc}, "
                               f"alpha_ct={self.alpha_ct})", hint="give cttc with a nonzero alpha_ct, or neither")
        if self.cttc is not None and not 0.0 <= self.cttc <= 1.0:
            raise WlbenchError(f"{self.name}: cttc must lie in [0, 1], got {plain(self.cttc)}")
        if self.alpha_ct < 0 or self.alpha_st < 0:
            raise WlbenchError(f"{self.name}: alpha_ct and alpha_st must be >= 0")
        if not self.max_efpr > 0:
            raise WlbenchError(f"{self.name}: max_efpr must be > 0, got {plain(self.max_efpr)}")

    def to_dict(self) -> dict[str, object]:
        return {"dtc": self.dtc, "gtc": self.gtc, "cttc": self.cttc, "alpha_ct": self.alpha_ct,
                "alpha_st": self.alpha_st, "max_efpr": self.max_efpr, "efpr_unit": "per hour"}


#: DCASE 2022-2024 Task 4 scenario 1 (tight localisation, no cross-trigger penalty).
PSDS1 = PSDSSettings("psds1", dtc=0.7, gtc=0.7, cttc=None, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0)
#: DCASE 2022-2024 Task 4 scenario 2 (loose localisation, cross-triggers penalised).
PSDS2 = PSDSSettings("psds2", dtc=0.1, gtc=0.1, cttc=0.3, alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0)
PRESETS = {"psds1": PSDS1, "psds2": PSDS2}


@dataclass(frozen=True)
class PSDROC:
    """A PSD-ROC: ``efpr`` (ascending, ending at ``max_efpr``) and ``etpr`` (P,) arrays, the PSDS value,
    and per class its ROC (``class_tpr``/``class_efpr`` lists, None for a class without reference) and
    single-class PSDS (C,) (NaN without reference)."""

    efpr: np.ndarray
    etpr: np.ndarray
    psds: float
    class_tpr: list[np.ndarray | None]
    class_efpr: list[np.ndarray | None]
    class_psds: np.ndarray


def _round(x: np.ndarray | float, decimals: int | None) -> np.ndarray:
    return np.asarray(x) if decimals is None else np.round(x, decimals)


def _row_overlaps(intervals: ScoreIntervals, det: FrameDetections, same_class: bool,
                  masks: EventMasks | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(interval index, reference index, intersection seconds) of every interval / reference pair of the
    same clip (and class if ``same_class``; of another class otherwise) that overlaps, by interval, then
    reference index. With ``masks`` (when they apply) the pairs come from per-frame event bits, without
    testing every interval against every event of its clip; the same pairs, in the same order."""
    ref = det.reference
    if masks is not None and masks.usable:
        ii, gg = masks.pairs(intervals, same_class)
    else:
        n = det.n_clips
        if same_class:
            ii, gg = equal_key_pairs(intervals.cls * n + intervals.clip,
                                     np.asarray(ref.label, np.int64) * n + np.asarray(ref.file, np.int64))
        else:
            ii, gg = equal_key_pairs(intervals.clip, np.asarray(ref.file, np.int64))
            keep = np.asarray(ref.label, np.int64)[gg] != intervals.cls[ii]
            ii, gg = ii[keep], gg[keep]
    inter = (np.minimum(intervals.offset[ii], np.asarray(ref.offset, np.float64)[gg])
             - np.maximum(intervals.onset[ii], np.asarray(ref.onset, np.float64)[gg]))
    keep = inter > 0
    return ii[keep], gg[keep], inter[keep]


def _sorted_unique(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)``, without a sort when ``key`` is already ascending."""
    if key.size and (key[1:] < key[:-1]).any():
        return np.unique(key, return_inverse=True)
    new = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, dtype=bool)
    return key[new], np.cumsum(new) - 1


def _first_index(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray, *, strictly_above: bool
                 ) -> np.ndarray:
    """Per query, the first index in ``[lo, hi)`` of ascending ``values`` with ``values > x``
    (``strictly_above``) or ``values >= x``, else ``hi``: a bisection of all queries at once."""
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    last = max(values.size - 1, 0)
    while True:
        act = lo < hi
        if not act.any():
            return lo
        mid = (lo + hi) // 2
        v = values[np.minimum(mid, last)]
        below = (v <= x) if strictly_above else (v < x)
        lo = np.where(act & below, mid + 1, lo)
        hi = np.where(act & ~below, mid, hi)


class EventMasks:
    """Which reference events a run of frames overlaps, as bits: bit ``j`` stands for its clip's ``j``-th
    event (reference order). Each event overlaps (positive intersection) the frames ``[fa, fb)`` of its
    clip; ``started[f]`` has the bits of the events with ``fa <= f``, ``ended[f]`` those with ``fb <= f``,
    so a run of frames ``[first, end)`` overlaps the events ``started[end - 1] & ~ended[first]`` -- the
    comparisons ``run onset < event offset`` and ``run offset > event onset`` that a positive
    ``min(offsets) - max(onsets)`` means. ``usable`` is False when a clip has more events than bits."""

    MAX_EVENTS = 62

    def __init__(self, det: FrameDetections) -> None:
        ref, fs = det.reference, det.scores
        n = det.n_clips
        file = np.asarray(ref.file, np.int64)
        count = np.bincount(file, minlength=n)
        self.usable = int(count.max(initial=0)) <= self.MAX_EVENTS
        if not self.usable:
            return
        self.by_clip = np.argsort(file, kind="stable")  # reference indices, clip by clip
        self.first_event = np.r_[0, np.cumsum(count)]
        j = np.arange(file.size) - self.first_event[file[self.by_clip]]
        bit = np.empty(file.size, dtype=np.int64)
        bit[self.by_clip] = np.left_shift(np.int64(1), j)
        on, off = np.asarray(ref.onset, np.float64), np.asarray(ref.offset, np.float64)
        starts = np.asarray(fs.clip_start, np.int64)
        lo, hi = starts[file], starts[file + 1]
        fa = _first_index(np.asarray(fs.offset, np.float64), lo, hi, on, strictly_above=True)
        fb = _first_index(np.asarray(fs.onset, np.float64), lo, hi, off, strictly_above=False)
        real = (off > on) & (fa < fb)
        f_total = fs.n_frames
        started = np.zeros(f_total + 1, dtype=np.int64)
        np.add.at(started, fa[real], bit[real])
        np.subtract.at(started, hi[real], bit[real])
        ended = np.zeros(f_total + 1, dtype=np.int64)
        np.add.at(ended, fb[real], bit[real])
        np.subtract.at(ended, hi[real], bit[real])
        self.started, self.ended = np.cumsum(started), np.cumsum(ended)
        self.of_class = np.zeros((n, det.n_classes), dtype=np.int64)
        np.add.at(self.of_class, (file, np.asarray(ref.label, np.int64)), bit)

    def touch_other_class(self, cls: np.ndarray, clip: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Whether each run of frames ``[first, end)`` of (clip, class) overlaps an event of another class
        (true of a run's parent whenever true of the run: a :func:`score_intervals` ``keep``)."""
        return (self.started[end - 1] & ~self.ended[first] & ~self.of_class[clip, cls]) != 0

    def pairs(self, iv: ScoreIntervals, same_class: bool) -> tuple[np.ndarray, np.ndarray]:
        """(interval index, reference index) of every overlapping pair, events of the interval's class
        (``same_class``) or of the other classes, by interval, then reference index."""
        m = self.started[iv.end - 1] & ~self.ended[iv.first]
        cls_bits = self.of_class[iv.clip, iv.cls]
        m &= cls_bits if same_class else ~cls_bits
        count = np.bitwise_count(m).astype(np.int64)
        at = np.r_[0, np.cumsum(count)[:-1]]
        ii = np.repeat(np.arange(m.size, dtype=np.int64), count)
        gg = np.empty(ii.size, dtype=np.int64)
        act = np.flatnonzero(m)
        mm = m[act]
        k = 0
        while act.size:
            low = mm & -mm
            j = np.log2(low.astype(np.float64)).astype(np.int64)  # exact for powers of two
            gg[at[act] + k] = self.by_clip[self.first_event[iv.clip[act]] + j]
            mm ^= low
            more = mm != 0
            act, mm = act[more], mm[more]
            k += 1
        return ii, gg


class IntersectionStatistics:
    """TP, FP and cross-trigger counts of one :class:`PSDSSettings` at every decision threshold."""

    def __init__(self, det: FrameDetections, settings: PSDSSettings,
                 time_decimals: int | None = TIME_DECIMALS, *, threads: int | None = None) -> None:
        """``threads``: the statistics are built on runs of whole clips in parallel (default
        :func:`~wlbench.threads.harness_threads`); the result does not depend on it."""
        self.det, self.settings, self.time_decimals = det, settings, time_decimals
        tables = tables_in_clip_parts(det, self._tables, threads=harness_threads() if threads is None else threads)
        self.points = OperatingPoints(tables, det.n_classes, det.n_clips)
        self._starts: np.ndarray | None = None

    def _tables(self, det: FrameDetections) -> dict[str, Deltas]:
        """The statistics' changes of ``det`` (all clips, or one part of them): ``main`` (TP, FP) and, with
        cross-triggers, ``ct``."""
        settings, td = self.settings, self.time_decimals
        main, ct = [], []
        masks = det.shared("event_masks", lambda: EventMasks(det))
        free = None  # the onset deltas of the rows whose runs are all false positives (None: the shared ones)
        kinds = ["target"] + (["other"] if settings.cttc is not None else [])
        # a run that meets no event of its class is relevant when dtc x its length rounds to 0: possible
        # only if so for the shortest frame (then every run is listed; else only those that can cross-trigger)
        shortest = float(np.min(np.asarray(det.scores.offset, np.float64) - np.asarray(det.scores.onset, np.float64)))
        meeting_nothing_relevant = bool(_round(0.0, td) >= _round(settings.dtc * shortest, td))
        for kind in kinds:
            if kind == "target" or not masks.usable or meeting_nothing_relevant:
                iv = det.intervals(kind)
            else:
                iv = self._other_runs(det, masks)
            if len(iv) == 0:
                continue
            length = iv.offset - iv.onset
            if kind == "target":
                ii, gg, inter = det.shared("target_overlaps", partial(_row_overlaps, iv, det, True, masks))
                total = np.bincount(ii, weights=inter, minlength=len(iv))
                relevant = _round(total, td) >= _round(settings.dtc * length, td)
                fp = iv.net_at_birth(~relevant)
                main.append(Deltas(iv.cls, iv.clip, iv.birth, {"fp": fp}).without_zero_rows())
                main.append(self._true_positives(det, iv, ii, gg, inter, relevant))
            else:  # no event of the row's class: every run is a false positive (counted by onset_deltas) ...
                relevant = _round(np.zeros(len(iv)), td) >= _round(settings.dtc * length, td)
                if relevant.any():  # ... unless dtc (rounded) is 0, which makes runs that meet nothing relevant
                    main.append(Deltas(iv.cls, iv.clip, iv.birth, {"fp": iv.net_at_birth(~relevant)}).without_zero_rows())
                    free = onset_deltas(det.scores, det.rows("silent"))
            if settings.cttc is not None:
                ct.append(self._cross_triggers(det, iv, relevant, length, masks))
        cls, clip, level, delta = det.free_run_deltas() if free is None else free
        main.append(Deltas(cls, clip, level, {"fp": delta}))
        tables = {"main": Deltas.concat(main)}
        if ct:
            tables["ct"] = Deltas.concat(ct)
        return tables

    @staticmethod
    def _other_runs(det: FrameDetections, masks: EventMasks) -> ScoreIntervals:
        """The runs of the rows without an event of their class that overlap another class's events: the
        only ones there that can cross-trigger (shared by the settings with cross-triggers)."""
        return det.shared("other_runs_touching", lambda: score_intervals(det.scores, det.rows("other"),
                                                                          keep=masks.touch_other_class))

    def _true_positives(self, det: FrameDetections, iv: ScoreIntervals, ii, gg, inter, relevant) -> Deltas:
        """Per reference event, the intersection with relevant runs changes when a relevant run overlapping
        it is born (+) or grows into its parent (-); the event is detected while that sum reaches ``gtc``
        of its length. Returns the changes of TP where its state flips."""
        ref = det.reference
        td = self.time_decimals
        keep = relevant[ii]
        ii, gg, inter = ii[keep], gg[keep], inter[keep]
        dies = iv.parent[ii] >= 0
        g = np.r_[gg, gg[dies]]
        level = np.r_[iv.birth[ii], iv.death[ii][dies]]
        amount = np.r_[inter, -inter[dies]]
        if g.size == 0:
            z = np.zeros(0, dtype=np.int64)
            return Deltas(z, z, np.zeros(0), {"tp": np.zeros(0)})
        by_level = np.argsort(-level)
        order = by_level[np.argsort(g[by_level], kind="stable")]
        g, level, amount = g[order], level[order], amount[order]
        running = np.cumsum(amount)
        g_first = np.r_[True, g[1:] != g[:-1]]
        before = np.r_[0.0, running[:-1]][g_first]
        covered = running - np.repeat(before, np.diff(np.r_[np.flatnonzero(g_first), g.size]))
        last = np.r_[(g[1:] != g[:-1]) | (level[1:] != level[:-1]), True]
        g, level, covered = g[last], level[last], covered[last]
        length = np.asarray(ref.offset, np.float64)[g] - np.asarray(ref.onset, np.float64)[g]
        hit = (_round(covered, td) >= _round(self.settings.gtc * length, td)).astype(np.float64)
        start = np.r_[True, g[1:] != g[:-1]]
        change = hit - np.where(start, 0.0, np.r_[0.0, hit[:-1]])
        nz = change != 0
        return Deltas(np.asarray(ref.label, np.int64)[g[nz]], np.asarray(ref.file, np.int64)[g[nz]], level[nz],
                      {"tp": change[nz]})

    def _cross_triggers(self, det: FrameDetections, iv: ScoreIntervals, relevant: np.ndarray, length: np.ndarray,
                        masks: EventMasks) -> Deltas:
        """Per irrelevant run and other class: a cross-trigger while the run exists, when its overlap with
        that class's events reaches ``cttc`` of its length. Rows carry the other class in ``other``."""
        td = self.time_decimals
        ii, gg, inter = _row_overlaps(iv, det, same_class=False, masks=masks)
        keep = ~relevant[ii]
        ii, gg, inter = ii[keep], gg[keep], inter[keep]
        c_n = det.n_classes
        other = np.asarray(det.reference.label, np.int64)[gg]
        key, inverse = _sorted_unique(ii * c_n + other)
        total = np.bincount(inverse, weights=inter, minlength=key.size)
        hit = _round(total, td) >= _round(self.settings.cttc * length[key // c_n], td)
        key = key[hit]
        # a cross-triggering run adds 1 at its birth and takes 1 away at its death, where its parent is
        # born: net per (run, class) at birth, so nested runs inside another class's events cancel out
        run, other = key // c_n, key % c_n
        dies = iv.parent[run] >= 0
        up = iv.parent[run[dies]] * c_n + other[dies]  # (parent, class) losing a cross-triggering child
        at = np.minimum(np.searchsorted(key, up), max(key.size - 1, 0))
        found = key[at] == up if key.size else np.zeros(up.size, dtype=bool)
        net = 1.0 - np.bincount(at[found], minlength=key.size)
        lost, count = np.unique(up[~found], return_counts=True)
        pair = np.r_[key[net != 0], lost]
        net = np.r_[net[net != 0], -count.astype(np.float64)]
        run = pair // c_n
        return Deltas(iv.cls[run], iv.clip[run], iv.birth[run], {"ct": net, "other": (pair % c_n).astype(np.float64)})

    def psds_batch(self, weights: np.ndarray) -> np.ndarray:
        """(B,) PSDS for B clip-weight vectors (bootstrap resamples) at once; equal to
        ``roc(weights[b]).psds``. Within a stretch of thresholds where a class's TP is constant only the
        lowest eFPR can be on its ROC staircase, so each class keeps one candidate point per stretch: the
        staircases are built from a few points per reference event instead of every operating point."""
        st = self.settings
        pts = self.points
        w = np.asarray(weights, dtype=np.float64)
        det = self.det
        n_ref, t_ref, duration = w @ det.ref_count, w @ det.ref_length, w @ det.durations
        if self._starts is None:
            self._starts = pts.segment_starts("main", "tp")
        starts = self._starts
        t_seg = pts.cumulative_batch("main", "tp", w, at=starts)
        efpr = pts.cumulative_batch("main", "fp", w)
        efpr /= duration[:, None]
        scored = n_ref > 0
        n_other = scored.sum(axis=1) - 1
        if st.alpha_ct and pts.has_table("ct"):
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(t_ref > 0, 1.0 / np.maximum(t_ref, 1e-12), 0.0)
            ct = pts.cumulative_batch("ct", "ct", w, scale=scale, scale_by="other")
            with np.errstate(divide="ignore", invalid="ignore"):
                efpr += st.alpha_ct * np.where(n_other[:, None] > 0, ct / np.maximum(n_other, 1)[:, None], 0.0)
        efpr *= SECONDS_PER_HOUR
        e_min = np.minimum.reduceat(efpr, starts, axis=1) if starts.size else np.zeros((w.shape[0], 0))
        seg_class = pts.group_class[starts]
        bounds = np.searchsorted(seg_class, np.arange(pts.n_classes + 1))
        out = np.full(w.shape[0], np.nan)
        for b in range(w.shape[0]):
            tprs, efprs = [], []
            for c in np.flatnonzero(scored[b]):
                a, z = bounds[c], bounds[c + 1]
                tpr = np.r_[t_seg[b, a:z] / max(n_ref[b, c], 1.0), 0.0]
                t, e = staircase(tpr, np.r_[e_min[b, a:z], 0.0], st.max_efpr)
                tprs.append(t)
                efprs.append(e)
            grid, etpr = combine_rocs(tprs, efprs, st.alpha_st, st.max_efpr)
            if grid.size:
                out[b] = staircase_area(etpr, grid, st.max_efpr) / st.max_efpr
        return out

    def roc(self, weight: np.ndarray | None = None) -> PSDROC:
        """The PSD-ROC and PSDS, clips weighted by ``weight`` (bootstrap counts; None: each clip once).

        Within a stretch of thresholds where a class's TP is constant only its lowest eFPR can be on the
        class's ROC staircase, so each class's staircase is built from one candidate per stretch (the
        same staircase as from every operating point)."""
        st = self.settings
        pts = self.points
        n_ref, t_ref, duration = self.det.weighted_reference(weight)
        tp = pts.cumulative("main", "tp", weight)
        fp = pts.cumulative("main", "fp", weight)
        scored = n_ref > 0
        n_other = int(scored.sum()) - 1
        with_ct = bool(st.alpha_ct) and pts.has_table("ct") and n_other > 0
        class_tpr: list[np.ndarray | None] = []
        class_efpr: list[np.ndarray | None] = []
        class_psds = np.full(pts.n_classes, np.nan)
        for c in range(pts.n_classes):
            if not scored[c]:
                class_tpr.append(None)
                class_efpr.append(None)
                continue
            a, b = pts.class_ptr[c], pts.class_ptr[c + 1]
            if with_ct:
                efpr = (fp[a:b] / duration + st.alpha_ct * (self._ct_rate(c, weight, t_ref) / n_other)) * SECONDS_PER_HOUR
            else:
                efpr = fp[a:b] / duration * SECONDS_PER_HOUR
            t = tp[a:b]
            starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]]) if b > a else np.zeros(0, np.int64)
            e_min = np.minimum.reduceat(efpr, starts) if starts.size else np.zeros(0)
            # the last point: nothing detected (threshold +inf), every statistic 0
            tpr, efpr = staircase(np.r_[t[starts], 0.0] / max(n_ref[c], 1.0), np.r_[e_min, 0.0], st.max_efpr)
            class_tpr.append(tpr)
            class_efpr.append(efpr)
            class_psds[c] = staircase_area(tpr, efpr, st.max_efpr) / st.max_efpr
        efpr, etpr = combine_rocs([r for r in class_tpr if r is not None],
                                  [r for r in class_efpr if r is not None], st.alpha_st, st.max_efpr)
        value = staircase_area(etpr, efpr, st.max_efpr) / st.max_efpr if efpr.size else float("nan")
        return PSDROC(efpr, etpr, float(value), class_tpr, class_efpr, class_psds)

    def _ct_rate(self, c: int, weight: np.ndarray | None, t_ref: np.ndarray) -> np.ndarray:
        """(G_c,) at each operating point of class ``c``: the sum over the other classes k (ascending) of
        its cross-triggers on k / k's reference duration, each rate from exact counts (as sed_scores_eval).
        Computed where a cross-trigger count changes, then held."""
        pts = self.points
        a, b = pts.class_ptr[c], pts.class_ptr[c + 1]
        groups, counts = pts.cumulative_in_class("ct", "ct", "other", c, weight)
        if groups.size == 0:
            return np.zeros(b - a)
        rate = np.zeros(groups.size)
        for k in range(counts.shape[0]):
            if t_ref[k] > 0:
                rate += counts[k] / t_ref[k]
        held = np.zeros(b - a, dtype=np.int64)
        held[groups - a] = 1
        np.cumsum(held, out=held)  # 1 + the index of the last change at or before each point
        return np.r_[0.0, rate][held]


def staircase(tpr: np.ndarray, efpr: np.ndarray, max_efpr: float) -> tuple[np.ndarray, np.ndarray]:
    """The upper staircase of (eFPR, TPR) points: for each eFPR at which the best TPR so far rises, that
    TPR; points above ``max_efpr`` dropped. Returns ``(tpr, efpr)`` with efpr ascending."""
    order = np.argsort(efpr, kind="stable")
    t, e = tpr[order], efpr[order]
    best = np.maximum.accumulate(t)
    record = np.r_[0, np.flatnonzero(best[1:] > best[:-1]) + 1]
    t, e = best[record], e[record]
    last = np.r_[e[1:] != e[:-1], True]
    t, e = t[last], e[last]
    keep = e <= max_efpr
    return t[keep], e[keep]


def staircase_area(y: np.ndarray, x: np.ndarray, max_x: float) -> float:
    """Area under the step function that holds ``y[i]`` from ``x[i]`` to ``x[i + 1]`` (and the last value
    up to ``max_x``); x ascending, points beyond ``max_x`` ignored."""
    keep = x <= max_x
    xs = np.r_[x[keep], max_x]
    return float(np.sum(y[keep] * np.diff(xs)))


def combine_rocs(tprs: list[np.ndarray], efprs: list[np.ndarray], alpha_st: float,
                 max_efpr: float) -> tuple[np.ndarray, np.ndarray]:
    """The PSD-ROC from the class ROCs: every class's TPR held from each of its eFPR points (0 before its
    first), at the union of all eFPR points; mean minus ``alpha_st`` x standard deviation over classes,
    clipped at 0; a last point at ``max_efpr``. Returns ``(efpr, etpr)``."""
    if not tprs:
        return np.zeros(0), np.zeros(0)
    grid = np.unique(np.concatenate(efprs))
    held = np.empty((len(tprs), grid.size))
    for k, (t, e) in enumerate(zip(tprs, efprs)):
        idx = np.searchsorted(e, grid, "right") - 1
        held[k] = np.where(idx >= 0, t[np.maximum(idx, 0)], 0.0)
    etpr = np.maximum(held.mean(axis=0) - alpha_st * held.std(axis=0), 0.0)
    return np.r_[grid, max_efpr], np.r_[etpr, etpr[-1]]


def psds(det: FrameDetections, settings: PSDSSettings = PSDS1, *,
         time_decimals: int | None = TIME_DECIMALS) -> PSDROC:
    """The PSDS and PSD-ROC of ``settings`` (default PSDS1) for frame scores and their reference."""
    return IntersectionStatistics(det, settings, time_decimals).roc()
