"""Benchmarks: threshold-free detection metrics and the bootstrap, beside the reference doing the same work.

Normal runs (``--benchmark-disable``) run each once on small inputs and check the numbers agree. Full size
(``--benchmark-enable``): 1,000 score files (clips of 156 frames of 64 ms, 10 classes, ~2,800 reference
events), and tagging resamples at 20,000 clips x 527 classes::

    .venv/bin/pytest tests/benchmarks/test_bench_psds.py -p no:xdist --benchmark-enable --benchmark-group-by=group

- PSDS1 / PSDS2 from the score files on disk: wlbench (read, validate, compute) vs sed_scores_eval;
- all four threshold-free metrics (PSDS1, PSDS2, collar- and segment-based F1 at the best threshold);
- tagging bootstrap resamples: batched (one sparse product per batch) vs the previous per-resample sums.
Tests never assert wall-clock times; docs/performance.md records measured ratios.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))

from sed_cases import make_case  # noqa: E402

from wlbench.metrics import bootstrap as bs  # noqa: E402
from wlbench.metrics import ranking as rk  # noqa: E402
from wlbench.metrics.detection_curves import CollarStatistics, SegmentStatistics  # noqa: E402
from wlbench.metrics.frames import FrameDetections  # noqa: E402
from wlbench.metrics.operating_points import fscores  # noqa: E402
from wlbench.metrics.psds import PSDS1, PSDS2, psds  # noqa: E402
from wlbench.scoring import TaggingStat  # noqa: E402
from wlbench.submissions import Expected, load_submission, write_score_files  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from sed_scores_eval import collar_based, intersection_based, segment_based


@pytest.fixture(scope="module")
def full_size(request) -> bool:
    cfg = request.config
    return bool(cfg.getoption("benchmark_enable", False)) or not cfg.getoption("benchmark_disable", True)


@pytest.fixture(scope="module")
def score_files(full_size, tmp_path_factory):
    n, c = (1000, 10) if full_size else (30, 4)
    case = make_case(np.random.default_rng(0), n, 156, c, 0.064, smooth=5, max_events=5)
    case.scores = np.minimum(case.scores, 1.0)
    folder = tmp_path_factory.mktemp("bench_scores") / "scores"
    write_score_files(folder, case.ids, case.scores, case.hop, case.classes)
    _, truth, durations = case.sed_scores_eval_inputs()
    return case, folder, truth, durations


def _wlbench_psds(case, folder, settings):
    exp = Expected(classes=case.classes, clip_ids=case.ids, clip_duration=case.duration)
    frames = load_submission(folder, exp, "frame_scores").frames
    det = FrameDetections(frames, case.reference, np.full(len(case.ids), case.duration))
    return psds(det, settings).psds


def _sse_psds(folder, truth, durations, st):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return intersection_based.psds(str(folder), truth, durations, dtc_threshold=st.dtc, gtc_threshold=st.gtc,
                                       cttc_threshold=st.cttc, alpha_ct=st.alpha_ct, alpha_st=st.alpha_st,
                                       max_efpr=st.max_efpr)[0]


@pytest.mark.parametrize("st", [PSDS1, PSDS2], ids=["psds1", "psds2"])
def test_bench_psds_wlbench(benchmark, score_files, st):
    benchmark.group = f"{st.name} from 1,000 score files"
    case, folder, truth, durations = score_files
    ours = benchmark.pedantic(_wlbench_psds, args=(case, folder, st), rounds=3, iterations=1)
    if len(case.ids) <= 100:
        assert ours == pytest.approx(_sse_psds(folder, truth, durations, st), abs=1e-9)


@pytest.mark.parametrize("st", [PSDS1, PSDS2], ids=["psds1", "psds2"])
def test_bench_psds_sed_scores_eval(benchmark, score_files, st):
    benchmark.group = f"{st.name} from 1,000 score files"
    _, folder, truth, durations = score_files
    benchmark.pedantic(_sse_psds, args=(folder, truth, durations, st), rounds=1, iterations=1)


def _wlbench_all(case):
    det = case.detections()
    out = [psds(det, PSDS1).psds, psds(det, PSDS2).psds]
    cs, ss = CollarStatistics(det), SegmentStatistics(det, segment_length=1.0)
    for stats, ref in ((cs, det.ref_count.sum(axis=0)), (ss, ss.active.sum(axis=0))):
        out.append(fscores(stats.points, stats.points.cumulative("main", "tp"),
                           stats.points.cumulative("main", "fp"), ref).macro)
    return out


def _sse_all(case):
    scores, truth, durations = case.sed_scores_eval_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [intersection_based.psds(scores, truth, durations, dtc_threshold=s.dtc, gtc_threshold=s.gtc,
                                       cttc_threshold=s.cttc, alpha_ct=s.alpha_ct, alpha_st=s.alpha_st,
                                       max_efpr=s.max_efpr)[0] for s in (PSDS1, PSDS2)]
        out.append(collar_based.best_fscore(scores, truth, onset_collar=0.2, offset_collar=0.2,
                                            offset_collar_rate=0.2)[0]["macro_average"])
        out.append(segment_based.best_fscore(scores, truth, durations, segment_length=1.0)[0]["macro_average"])
    return out


@pytest.mark.benchmark(group="PSDS1 + PSDS2 + collar and segment F1 at the best threshold (in memory)")
def test_bench_all_threshold_free_wlbench(benchmark, score_files):
    case = score_files[0]
    ours = benchmark.pedantic(_wlbench_all, args=(case,), rounds=3, iterations=1)
    if len(case.ids) <= 100:
        np.testing.assert_allclose(ours, _sse_all(case), atol=1e-9)


@pytest.mark.benchmark(group="PSDS1 + PSDS2 + collar and segment F1 at the best threshold (in memory)")
def test_bench_all_threshold_free_sed_scores_eval(benchmark, score_files):
    benchmark.pedantic(_sse_all, args=(score_files[0],), rounds=1, iterations=1)


# --- tagging bootstrap ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tagging_stat(full_size):
    n, c = (20000, 527) if full_size else (400, 12)
    rng = np.random.default_rng(0)
    t = rng.random((n, c)) < (0.01 if full_size else 0.1)
    t[0], t[1] = True, False
    s = np.clip(rng.random((n, c)) * 0.7 + 0.3 * t, 0, 1)
    stat = TaggingStat(s, t, np.full(c, 0.5), 3)
    weights = np.stack(list(bs.resample_counts(n, 32, seed=0)))
    stat(weights[:2])  # build the sorted index and the segment matrix once, as the bootstrap does
    ranking = rk.ClassRanking(s, t)
    return stat, ranking, weights


def _previous_resamples(stat, ranking, weights):
    """The previous harness: per resample, re-gather and sum the sorted weights of every class (the sort
    itself is kept), lwlrap by bincount, decision counts by three matrix-vector products."""
    out = []
    for w in weights:
        st = ranking.stats(w)
        num, den = stat.clip.lwlrap_parts(w)
        counts = [(w.astype(np.float32) @ m) for m in stat._mats]
        out.append((rk.mean_of_defined(st["ap"]), num.sum() / den.sum(), counts[0].sum()))
    return out


@pytest.mark.benchmark(group="tagging bootstrap, 32 resamples of 20,000 clips x 527 classes")
def test_bench_bootstrap_batched(benchmark, tagging_stat):
    stat, ranking, weights = tagging_stat

    def run():
        return [stat(weights[i:i + stat.batch_size]) for i in range(0, len(weights), stat.batch_size)]

    parts = benchmark.pedantic(run, rounds=3, iterations=1)
    got = np.concatenate([p["map"] for p in parts])
    want = [r[0] for r in _previous_resamples(stat, ranking, weights[:3])]
    np.testing.assert_allclose(got[:3], want, rtol=1e-12)


@pytest.mark.benchmark(group="tagging bootstrap, 32 resamples of 20,000 clips x 527 classes")
def test_bench_bootstrap_previous(benchmark, tagging_stat):
    stat, ranking, weights = tagging_stat
    benchmark.pedantic(_previous_resamples, args=(stat, ranking, weights), rounds=1, iterations=1)
