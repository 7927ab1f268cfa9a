"""The fast paths of PSDS against their definitions, bit for bit: run / event overlaps from per-frame event
bits against every pair of a clip; the cross-trigger table (net changes at birth) against the runs alive at
each threshold; each class ROC from one candidate per stretch of constant TP against the staircase of every
operating point. tests/test_metrics_psds.py compares the values with sed_scores_eval."""

from __future__ import annotations

import numpy as np
import pytest
from sed_cases import make_case

from wlbench.metrics.detection import TIME_DECIMALS
from wlbench.metrics.events import EventList
from wlbench.metrics.frames import score_intervals
from wlbench.metrics.psds import (
    PSDS1,
    PSDS2,
    SECONDS_PER_HOUR,
    EventMasks,
    IntersectionStatistics,
    PSDSSettings,
    _row_overlaps,
    staircase,
)

CUSTOM = PSDSSettings("custom", dtc=0.5, gtc=0.5, cttc=0.3, alpha_ct=1.0, alpha_st=0.0, max_efpr=50.0)
LOOSE = PSDSSettings("loose", dtc=0.0, gtc=0.2, cttc=0.0, alpha_ct=1.0, alpha_st=0.5, max_efpr=100.0)
# dtc x the length of a run of one or two frames rounds to 0 at 6 decimals (such runs are relevant), not of longer ones
TINY = PSDSSettings("tiny", dtc=2e-6, gtc=0.5, cttc=0.3, alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0)


def _cases(n_cases: int, *, max_clips: int = 12):
    for seed in range(n_cases):
        rng = np.random.default_rng(seed)
        hop = (0.1, 0.064, 0.25)[seed % 3]
        yield make_case(rng, int(rng.integers(1, max_clips)), int(rng.integers(1, 40)), int(rng.integers(2, 5)), hop,
                        quant=hop if seed % 2 else None, ties=seed % 4 == 0, max_events=6, smooth=1 + seed % 3)


def test_event_bits_give_every_overlapping_pair_in_order():
    for case in _cases(60):
        det = case.detections()
        masks = EventMasks(det)
        assert masks.usable
        for kind in ("target", "other"):
            iv = det.intervals(kind)
            for same in (True, False):
                want = _row_overlaps(iv, det, same)
                got = _row_overlaps(iv, det, same, masks)
                for a, b in zip(got, want):
                    assert a.dtype == b.dtype and np.array_equal(a, b)


class _ThreeBits(EventMasks):
    MAX_EVENTS = 3


def test_clips_with_more_events_than_bits_use_the_clip_wide_pairs():
    case = make_case(np.random.default_rng(3), 4, 40, 3, 0.1, max_events=8)
    det = case.detections()
    assert np.bincount(case.reference.file).max() > 3 and not _ThreeBits(det).usable
    iv = det.intervals("target")
    assert all(np.array_equal(a, b) for a, b in zip(_row_overlaps(iv, det, True, _ThreeBits(det)),
                                                   _row_overlaps(iv, det, True, EventMasks(det))))


def test_reference_in_any_order_gives_the_same_psds():
    rng = np.random.default_rng(5)
    case = make_case(rng, 10, 30, 3, 0.1, quant=0.1)
    ref = case.reference
    shuffled = rng.permutation(len(ref))
    want = {st.name: IntersectionStatistics(case.detections(), st).roc().psds for st in (PSDS1, PSDS2, CUSTOM)}
    case.reference = EventList(ref.file[shuffled], ref.label[shuffled], ref.onset[shuffled], ref.offset[shuffled])
    for st in (PSDS1, PSDS2, CUSTOM):
        assert IntersectionStatistics(case.detections(), st).roc().psds == pytest.approx(want[st.name], abs=1e-12)


def _rounded_at_least(a: float, b: float) -> bool:
    return bool(np.round(a, TIME_DECIMALS) >= np.round(b, TIME_DECIMALS))


def _cross_trigger_counts(det, st) -> dict[tuple[int, int], np.ndarray]:
    """{(class, other class): cross-triggers alive at each of the class's operating points}, run by run:
    a run alive at level u (death < u <= birth) that is not relevant and overlaps the other class's events
    by at least cttc of its length."""
    ref = det.reference
    points = IntersectionStatistics(det, st).points
    out = {}
    for kind in ("target", "other"):
        iv = det.intervals(kind)
        for i in range(len(iv)):
            c, clip = int(iv.cls[i]), int(iv.clip[i])
            length = iv.offset[i] - iv.onset[i]
            overlap = np.zeros(det.n_classes)
            for e in np.flatnonzero(np.asarray(ref.file) == clip):
                inter = min(iv.offset[i], ref.offset[e]) - max(iv.onset[i], ref.onset[e])
                if inter > 0:
                    overlap[int(ref.label[e])] += inter
            if _rounded_at_least(overlap[c], st.dtc * length):
                continue  # relevant
            a, b = points.class_ptr[c], points.class_ptr[c + 1]
            levels = points.group_level[a:b]
            alive = (iv.death[i] < levels) & (levels <= iv.birth[i])
            for k in range(det.n_classes):
                if k != c and overlap[k] > 0 and _rounded_at_least(overlap[k], st.cttc * length):
                    out.setdefault((c, k), np.zeros(b - a))
                    out[(c, k)] += alive
    return out


@pytest.mark.parametrize("st", [PSDS2, CUSTOM, LOOSE, TINY], ids=["psds2", "custom", "zero_dtc", "tiny_dtc"])
def test_class_rocs_equal_the_staircase_of_every_operating_point(st):
    """Cross-triggers counted run by run at every operating point, eFPR and TPR at every point, then the
    staircase: the same class ROCs, bit for bit, as the candidates-per-stretch path."""
    for case in _cases(25, max_clips=6):
        det = case.detections()
        stats = IntersectionStatistics(det, st)
        pts = stats.points
        roc = stats.roc()
        ct = _cross_trigger_counts(det, st)
        n_ref, t_ref, duration = det.weighted_reference()
        n_other = int((n_ref > 0).sum()) - 1
        tp, fp = pts.cumulative("main", "tp"), pts.cumulative("main", "fp")
        for c in range(det.n_classes):
            if n_ref[c] == 0:
                assert roc.class_tpr[c] is None
                continue
            a, b = pts.class_ptr[c], pts.class_ptr[c + 1]
            rate = np.zeros(b - a)
            for k in range(det.n_classes):
                if (c, k) in ct and t_ref[k] > 0:
                    rate += ct[(c, k)] / t_ref[k]
            if n_other > 0:
                efpr = (fp[a:b] / duration + st.alpha_ct * (rate / n_other)) * SECONDS_PER_HOUR
            else:
                efpr = fp[a:b] / duration * SECONDS_PER_HOUR
            tpr, e = staircase(np.r_[tp[a:b][::-1], 0.0] / max(n_ref[c], 1.0), np.r_[efpr[::-1], 0.0], st.max_efpr)
            assert np.array_equal(tpr, roc.class_tpr[c]) and np.array_equal(e, roc.class_efpr[c])


def test_psds1_class_rocs_equal_the_staircase_of_every_operating_point():
    for case in _cases(25):
        det = case.detections()
        stats = IntersectionStatistics(det, PSDS1)
        pts, roc = stats.points, stats.roc()
        n_ref, _, duration = det.weighted_reference()
        tp, fp = pts.cumulative("main", "tp"), pts.cumulative("main", "fp")
        for c in np.flatnonzero(n_ref > 0):
            _, t, f = pts.curve(c, tp, fp)
            tpr, e = staircase(t / max(n_ref[c], 1.0), f / duration * SECONDS_PER_HOUR, PSDS1.max_efpr)
            assert np.array_equal(tpr, roc.class_tpr[c]) and np.array_equal(e, roc.class_efpr[c])


def test_runs_kept_by_a_predicate_are_the_full_list_filtered_with_parents():
    """score_intervals(keep=...) lists the runs of the full list that the predicate keeps, each with its
    parent (the other classes' event overlap used for cross-triggers keeps a run's parent with the run)."""
    for case in _cases(30):
        det = case.detections()
        masks = EventMasks(det)
        rows = det.rows("other")
        full = score_intervals(det.scores, rows)
        kept = score_intervals(det.scores, rows, keep=masks.touch_other_class)
        touch = masks.touch_other_class(full.cls, full.clip, full.first, full.end)
        key = lambda iv, i: (int(iv.cls[i]), int(iv.clip[i]), int(iv.first[i]), int(iv.end[i]))  # noqa: E731
        assert [key(kept, i) for i in range(len(kept))] == [key(full, i) for i in np.flatnonzero(touch)]
        sel = np.flatnonzero(touch)
        for name in ("onset", "offset", "birth", "death"):
            assert np.array_equal(getattr(kept, name), getattr(full, name)[sel])
        has = kept.parent >= 0
        assert np.array_equal(has, full.parent[sel] >= 0)
        assert np.array_equal(sel[kept.parent[has]], full.parent[sel][has])


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_statistics_built_in_clip_parts_equal_the_whole_bit_for_bit(threads, monkeypatch):
    """The statistics built on runs of whole clips in threads (wlbench.threads) give the very same PSD-ROCs,
    PSDS, bootstrap PSDS and collar F1 curve as in one piece, whatever the number of parts."""
    from wlbench.metrics import operating_points
    from wlbench.metrics.detection_curves import CollarStatistics

    monkeypatch.setattr(operating_points, "PARALLEL_MIN_VALUES", 0)  # parts even for these small cases
    split = 0
    for case in _cases(40, max_clips=20):
        weights = np.random.default_rng(1).integers(1, 3, size=(3, len(case.ids))).astype(np.float64)
        for st in (PSDS1, PSDS2, CUSTOM, LOOSE, TINY):
            one = IntersectionStatistics(case.detections(), st, TIME_DECIMALS, threads=1)
            det = case.detections()
            many = IntersectionStatistics(det, st, TIME_DECIMALS, threads=threads)
            parts = det.clip_parts(threads)
            assert [first for first, _ in parts] == list(np.cumsum([0] + [p.n_clips for _, p in parts[:-1]]))
            assert sum(p.n_clips for _, p in parts) == len(case.ids) and len(parts) <= threads
            split += len(parts) > 1
            for w in (None, weights[0]):
                a, b = one.roc(w), many.roc(w)
                assert a.psds == b.psds or (np.isnan(a.psds) and np.isnan(b.psds))
                assert np.array_equal(a.efpr, b.efpr) and np.array_equal(a.etpr, b.etpr)
            assert np.array_equal(one.psds_batch(weights), many.psds_batch(weights), equal_nan=True)
        one, many = CollarStatistics(case.detections(), threads=1), CollarStatistics(case.detections(), threads=threads)
        for table in ("tp", "fp"):
            assert np.array_equal(one.points.cumulative("main", table), many.points.cumulative("main", table))
        assert np.array_equal(one.points.group_level, many.points.group_level)
    assert split > 100  # most cases were really cut into parts
