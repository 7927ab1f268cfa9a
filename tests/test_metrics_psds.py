"""Threshold-free detection metrics from frame scores vs sed_scores_eval 0.0.4 (exact) and psds_eval 0.5.3
(operating points): the runs of every threshold, PSDS1 / PSDS2, collar- and segment-based F1 at the best
threshold, the degenerate-case policy and clip weights."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sed_cases import make_case

from wlbench.errors import WlbenchError
from wlbench.metrics import bootstrap as bs
from wlbench.metrics.detection_curves import CollarStatistics, SegmentStatistics
from wlbench.metrics.events import EventList, events_to_frame
from wlbench.metrics.frames import FrameDetections, FrameScores, frame_scores_to_events, score_intervals
from wlbench.metrics.operating_points import fscores
from wlbench.metrics.psds import PSDS1, PSDS2, IntersectionStatistics, PSDSSettings, psds

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from sed_scores_eval import collar_based, intersection_based, segment_based

CUSTOM = PSDSSettings("custom", dtc=0.5, gtc=0.5, cttc=0.3, alpha_ct=1.0, alpha_st=0.0, max_efpr=50.0)


def _sse_psds(case, st):
    scores, truth, durations = case.sed_scores_eval_inputs()
    return intersection_based.psds(scores, truth, durations, dtc_threshold=st.dtc, gtc_threshold=st.gtc,
                                   cttc_threshold=st.cttc, alpha_ct=st.alpha_ct, alpha_st=st.alpha_st,
                                   max_efpr=st.max_efpr)


def test_runs_of_every_threshold_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n, t, c = (int(v) for v in rng.integers(1, [4, 14, 3], endpoint=True))
        s = np.round(rng.random((n, t, c)) * rng.integers(1, 5)) / 4  # many ties, plateaus
        iv = score_intervals(FrameScores.from_array(s, 0.1))
        got = {(int(iv.cls[i]), int(iv.clip[i]), int(iv.first[i]), int(iv.end[i])): (iv.birth[i], iv.death[i])
               for i in range(len(iv))}
        assert len(got) == len(iv)  # each run listed once
        want = {}
        for cl in range(c):
            for k in range(n):
                x = s[k, :, cl]
                for u in np.unique(x):
                    on = np.flatnonzero(np.diff(np.r_[0, (x >= u).astype(int), 0]) == 1)
                    off = np.flatnonzero(np.diff(np.r_[0, (x >= u).astype(int), 0]) == -1)
                    for a, b in zip(on, off):
                        death = max(x[a - 1] if a > 0 else -np.inf, x[b] if b < t else -np.inf)
                        want[(cl, k, k * t + a, k * t + b)] = (x[a:b].min(), death)
        assert got == want
        for i in np.flatnonzero(iv.parent >= 0):  # a run grows into a run that contains it, born at its death
            p = iv.parent[i]
            assert iv.first[p] <= iv.first[i] and iv.end[i] <= iv.end[p] and iv.birth[p] == iv.death[i]


@pytest.mark.parametrize("seed", range(12))
def test_psds_equals_sed_scores_eval(seed):
    """Random and adversarial cases: tied scores, event times on the frame grid (boundaries exactly at the
    criteria), events at clip edges, few classes, one frame per clip."""
    rng = np.random.default_rng(seed)
    n, t, c = int(rng.integers(1, 9)), int(rng.integers(1, 30)), int(rng.integers(2, 4))
    hop = (0.1, 0.064, 0.25)[seed % 3]
    case = make_case(rng, n, t, c, hop, quant=hop if seed % 2 else None, ties=seed % 4 == 0)
    det = case.detections()
    for st in (PSDS1, PSDS2, CUSTOM):
        value, per_class, _, rocs = _sse_psds(case, st)
        ours = psds(det, st)
        assert ours.psds == pytest.approx(value, abs=1e-9)
        for j, name in enumerate(case.classes):
            assert ours.class_psds[j] == pytest.approx(per_class[name], abs=1e-9)
            np.testing.assert_allclose(ours.class_tpr[j], rocs[name][0], atol=1e-12)
            np.testing.assert_allclose(ours.class_efpr[j], rocs[name][1], rtol=1e-9)


def test_psds_of_a_large_case_equals_sed_scores_eval():
    case = make_case(np.random.default_rng(42), 60, 50, 4, 0.2, smooth=3)
    for st in (PSDS1, PSDS2):
        assert psds(case.detections(), st).psds == pytest.approx(_sse_psds(case, st)[0], abs=1e-9)


def test_events_at_clip_edges_and_perfect_scores():
    # events covering the whole clip and touching both edges; scores that are exactly the reference
    t, hop = 20, 0.1
    ref = EventList(np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([0.0, 0.0, 1.5]), np.array([2.0, 0.5, 2.0]))
    s = np.zeros((2, t, 2))
    s[0, :, 0] = 1.0
    s[1, :5, 0] = 1.0
    s[1, 15:, 1] = 1.0
    det = FrameDetections(FrameScores.from_array(s, hop), ref, np.full(2, t * hop))
    assert psds(det, PSDS1).psds == pytest.approx(1.0)
    assert psds(det, PSDS2).psds == pytest.approx(1.0)


def test_class_without_reference_is_left_out():
    """POLICY: sed_scores_eval refuses a class without reference events; wlbench leaves it out of the
    PSD-ROC, its spread and the cross-trigger mean, so the value is that of the other classes."""
    rng = np.random.default_rng(7)
    case = make_case(rng, 6, 20, 3, 0.1)
    det = case.detections()
    extra = np.concatenate([case.scores, rng.random(case.scores.shape[:2] + (1,))], axis=2)
    det_extra = FrameDetections(FrameScores.from_array(extra, case.hop), case.reference, det.durations)
    for st in (PSDS1, PSDS2):
        ours = psds(det_extra, st)
        assert ours.psds == pytest.approx(psds(det, st).psds, abs=1e-12)
        assert np.isnan(ours.class_psds[-1]) and ours.class_tpr[-1] is None


def test_no_detection_at_all_scores_zero():
    case = make_case(np.random.default_rng(3), 4, 10, 2, 0.1)
    flat = FrameDetections(FrameScores.from_array(np.zeros_like(case.scores), case.hop), case.reference,
                           np.full(4, case.duration))
    assert psds(flat, PSDS1).psds == 0.0


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_psds_eval_operating_points_approach_the_exact_value():
    """psds_eval approximates the PSD-ROC from operating points (one detection list per threshold): from
    a few thresholds it is at most the exact value; from every distinct score as a threshold it is the
    exact value (PSDS1; and PSDS2, cross-triggers included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from psds_eval import PSDSEval
    case = make_case(np.random.default_rng(5), 8, 20, 3, 0.1)
    case.scores = np.round(case.scores * 12) / 12  # 13 distinct scores: every threshold stays cheap
    names = [f"{k}.wav" for k in case.ids]
    gt = events_to_frame(case.reference, names, case.classes)[["filename", "onset", "offset", "event_label"]]
    meta = pd.DataFrame({"filename": names, "duration": case.duration})
    det = case.detections()

    def psds_eval(st, thresholds):
        pe = PSDSEval(st.dtc, st.gtc, st.cttc if st.cttc is not None else 0.3, ground_truth=gt, metadata=meta)
        for th in thresholds:
            ev = frame_scores_to_events(case.scores, frame_hop=case.hop, threshold=th)
            pe.add_operating_point(events_to_frame(ev, names, case.classes)[["filename", "onset", "offset",
                                                                              "event_label"]])
        return pe.psds(st.alpha_ct, st.alpha_st, st.max_efpr).value

    every = np.unique(case.scores)
    for st in (PSDS1, PSDS2):
        exact = psds(det, st).psds
        assert psds_eval(st, every[::4]) <= exact + 1e-12
        assert psds_eval(st, every) == pytest.approx(exact, abs=1e-9)


def test_collar_and_segment_best_f1_equal_sed_scores_eval():
    rng = np.random.default_rng(11)
    for trial in range(10):
        hop = (0.1, 0.064, 0.25, 0.05)[trial % 4]
        case = make_case(rng, int(rng.integers(1, 7)), int(rng.integers(2, 35)), int(rng.integers(1, 4)), hop,
                         quant=0.1 if trial % 2 else None, ties=trial % 3 == 0)
        scores, truth, durations = case.sed_scores_eval_inputs()
        det = case.detections()
        for collar, rate in ((0.2, 0.2), (0.5, 0.0), (hop, 0.5)):
            f, _, _, thr, _ = collar_based.best_fscore(scores, truth, onset_collar=collar, offset_collar=collar,
                                                       offset_collar_rate=rate)
            cs = CollarStatistics(det, t_collar=collar, percentage_of_length=rate)
            ours = fscores(cs.points, cs.points.cumulative("main", "tp"), cs.points.cumulative("main", "fp"),
                           det.ref_count.sum(axis=0))
            for j, name in enumerate(case.classes):
                assert ours.f1[j] == pytest.approx(f[name], abs=1e-12) and ours.threshold[j] == thr[name]
            assert ours.macro == pytest.approx(f["macro_average"], abs=1e-12)
            assert ours.micro == pytest.approx(f["micro_average"], abs=1e-12)
        for seg in (1.0, 0.3):
            try:
                f, _, _, thr, _ = segment_based.best_fscore(scores, truth, durations, segment_length=seg)
            except ValueError:  # sed_scores_eval: a class without an active segment
                continue
            ss = SegmentStatistics(det, segment_length=seg)
            ours = fscores(ss.points, ss.points.cumulative("main", "tp"), ss.points.cumulative("main", "fp"),
                           ss.active.sum(axis=0))
            for j, name in enumerate(case.classes):
                assert ours.f1[j] == pytest.approx(f[name], abs=1e-12) and ours.threshold[j] == thr[name]


def test_collar_conflicts_are_matched_exactly():
    """Two runs alive at one threshold both hit a short reference event (onset and offset within the
    collar): only one can be a true positive."""
    hop = 0.1
    s = np.zeros((1, 20, 1))
    s[0, 10, 0], s[0, 12, 0], s[0, 11, 0] = 0.9, 0.8, 0.3  # runs [1.0, 1.1] and [1.2, 1.3] above 0.3
    ref = EventList(np.array([0]), np.array([0]), np.array([1.0]), np.array([1.3]))
    det = FrameDetections(FrameScores.from_array(s, hop), ref, np.array([2.0]))
    cs = CollarStatistics(det, t_collar=0.2, percentage_of_length=0.2)
    levels, tp, fp = cs.points.curve(0, cs.points.cumulative("main", "tp"), cs.points.cumulative("main", "fp"))
    at = dict(zip(levels.tolist(), zip(tp.tolist(), fp.tolist())))
    assert at[0.8] == (1.0, 1.0)  # both runs hit the event: one TP, one FP
    assert at[0.9] == (1.0, 0.0)
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    scores = {"a": create_score_dataframe(s[0], np.arange(21) * hop, ["c0"])}
    truth = {"a": [[1.0, 1.3, "c0"]]}
    for th in (0.75, 0.85, 0.2):
        f, *_ = collar_based.fscore(scores, truth, threshold=th, onset_collar=0.2, offset_collar=0.2,
                                    offset_collar_rate=0.2)
        ours = fscores(cs.points, cs.points.cumulative("main", "tp"), cs.points.cumulative("main", "fp"),
                       np.array([1.0]), threshold=th)
        assert ours.f1[0] == pytest.approx(f["c0"], abs=1e-12)


def test_fscore_at_threshold_uses_score_at_least_threshold():
    s = np.zeros((1, 10, 1))
    s[0, 2:5, 0] = 0.5
    ref = EventList(np.array([0]), np.array([0]), np.array([0.2]), np.array([0.5]))
    det = FrameDetections(FrameScores.from_array(s, 0.1), ref, np.array([1.0]))
    cs = CollarStatistics(det)
    tp, fp = cs.points.cumulative("main", "tp"), cs.points.cumulative("main", "fp")
    assert fscores(cs.points, tp, fp, np.array([1.0]), threshold=0.5).f1[0] == 1.0  # 0.5 >= 0.5 detects
    assert fscores(cs.points, tp, fp, np.array([1.0]), threshold=0.50001).f1[0] == 0.0


def test_clip_weights_equal_repeating_clips():
    """Bootstrap counts re-weight clips: the weighted PSDS and F1 equal those of the data set in which clip
    i appears w_i times (batched and one resample at a time)."""
    rng = np.random.default_rng(9)
    case = make_case(rng, 7, 25, 3, 0.1, smooth=2)
    det = case.detections()
    stats = {st.name: IntersectionStatistics(det, st) for st in (PSDS1, PSDS2)}
    collar = CollarStatistics(det)
    weights = np.stack(list(bs.resample_counts(7, 4, seed=2)))
    batch = {name: s.psds_batch(weights) for name, s in stats.items()}
    for b, w in enumerate(weights):
        idx = np.repeat(np.arange(7), w.astype(int))
        keep = np.isin(np.asarray(case.reference.file), idx)
        files, labels, on, off = [], [], [], []
        for new, old in enumerate(idx):
            m = np.asarray(case.reference.file) == old
            files += [new] * int(m.sum())
            labels += list(np.asarray(case.reference.label)[m])
            on += list(np.asarray(case.reference.onset)[m])
            off += list(np.asarray(case.reference.offset)[m])
        assert keep.any()
        ref = EventList(np.array(files, int), np.array(labels, int), np.array(on), np.array(off))
        rep = FrameDetections(FrameScores.from_array(case.scores[idx], case.hop), ref, np.full(idx.size, case.duration))
        for name, s in stats.items():
            direct = psds(rep, s.settings)
            assert s.roc(w).psds == pytest.approx(direct.psds, abs=1e-12)
            assert batch[name][b] == pytest.approx(direct.psds, abs=1e-12)
        rc = CollarStatistics(rep)
        want = fscores(rc.points, rc.points.cumulative("main", "tp"), rc.points.cumulative("main", "fp"),
                       rep.ref_count.sum(axis=0))
        got = fscores(collar.points, collar.points.cumulative("main", "tp", w), collar.points.cumulative("main", "fp", w),
                      w @ det.ref_count)
        assert got.macro == pytest.approx(want.macro, abs=1e-12)


def test_settings_are_checked():
    with pytest.raises(WlbenchError, match="cttc"):
        PSDSSettings("x", dtc=0.5, gtc=0.5, cttc=None, alpha_ct=0.5)
    with pytest.raises(WlbenchError, match="dtc"):
        PSDSSettings("x", dtc=1.5, gtc=0.5)
    with pytest.raises(WlbenchError, match="frame"):
        FrameScores.from_array(np.zeros((2, 3)), 0.1)
    with pytest.raises(WlbenchError, match="within a clip"):
        FrameScores(np.zeros((2, 1)), np.array([0.0, 0.2]), np.array([0.1, 0.3]), np.array([0, 2]))


@pytest.mark.parametrize("threads", [1, 2])
def test_psds2_memory_is_flat_in_the_number_of_classes(threads, monkeypatch):
    """Peak memory of PSDS2 (cross-triggers: the step whose tables could grow with pairs of classes) per byte
    of scores stays the same from 10 to 40 classes, in one piece and in clip parts (tracemalloc: numpy's
    allocations; docs/performance.md, "Memory")."""
    import tracemalloc

    from wlbench.metrics import operating_points

    monkeypatch.setattr(operating_points, "PARALLEL_MIN_VALUES", 0)
    ratio = {}
    for c in (10, 40):
        case = make_case(np.random.default_rng(0), 60, 156, c, 0.064, smooth=5, max_events=5)
        det = case.detections()
        tracemalloc.start()
        try:
            IntersectionStatistics(det, PSDS2, threads=threads).roc()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        ratio[c] = peak / case.scores.nbytes
    assert ratio[40] < 1.25 * ratio[10] and ratio[40] < 30, ratio
