"""Benchmarks: wlbench metrics beside the reference library doing the same work, in the same run.

Normal test runs pass ``--benchmark-disable`` (pyproject addopts): each benchmark then runs once on small
inputs as a plain test. Full sizes (the issue's targets) run with ``--benchmark-enable``::

    .venv/bin/pytest tests/benchmarks -p no:xdist --benchmark-enable --benchmark-group-by=group

- ranking: mAP + lwlrap + d' on 20,000 clips x 527 classes (target < 1 s, >= 3x faster than sklearn)
- detection: event-based + segment-based F1 on 1,000 clips x 10 classes (target >= 10x faster than sed_eval)
Tests never assert wall-clock times; docs/metrics.md records measured ratios.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import ndtri
from sklearn.metrics import average_precision_score, label_ranking_average_precision_score, roc_auc_score

from wlbench.metrics import detection as det
from wlbench.metrics import ranking as rk


@pytest.fixture(scope="module")
def full_size(request) -> bool:
    cfg = request.config
    return bool(cfg.getoption("benchmark_enable", False)) or not cfg.getoption("benchmark_disable", True)


@pytest.fixture(scope="module")
def clip_data(full_size):
    n, c = (20000, 527) if full_size else (500, 20)
    rng = np.random.default_rng(0)
    t = rng.random((n, c)) < 0.01 * (1 + 9 * (not full_size))
    t[0] = True  # every class has a positive
    t[1] = False
    s = np.clip(rng.random((n, c)) * 0.7 + 0.3 * t, 0, 1)
    return s, t


def _wlbench_ranking(s, t):
    r = rk.ranking_metrics(s, t)
    return r.map_macro, r.lwlrap, r.dprime_mean_of_classes, r.dprime_of_mean_auc


def _sklearn_ranking(s, t):
    ap = average_precision_score(t, s, average=None)
    auc = roc_auc_score(t, s, average=None)
    keep = t.sum(1) > 0
    lw = label_ranking_average_precision_score(t[keep], s[keep], sample_weight=t[keep].sum(1))
    d = np.sqrt(2) * ndtri(auc)
    return float(np.mean(ap)), float(lw), float(np.mean(d)), float(np.sqrt(2) * ndtri(np.mean(auc)))


@pytest.mark.benchmark(group="clip mAP + lwlrap + d'")
def test_bench_ranking_wlbench(benchmark, clip_data):
    s, t = clip_data
    ours = benchmark.pedantic(_wlbench_ranking, args=(s, t), rounds=3, iterations=1)
    ref = _sklearn_ranking(s, t) if s.shape[0] <= 5000 else None
    if ref is not None:
        np.testing.assert_allclose(ours, ref, rtol=1e-9)


@pytest.mark.benchmark(group="clip mAP + lwlrap + d'")
def test_bench_ranking_sklearn(benchmark, clip_data):
    s, t = clip_data
    benchmark.pedantic(_sklearn_ranking, args=(s, t), rounds=3, iterations=1)


@pytest.fixture(scope="module")
def event_data(full_size):
    n_files, n_classes = (1000, 10) if full_size else (60, 10)
    rng = np.random.default_rng(1)
    n = 3 * n_files
    f = rng.integers(0, n_files, n)
    lab = rng.integers(0, n_classes, n)
    on = rng.random(n) * 9
    off = np.minimum(on + rng.random(n) * 3 + 0.05, 10.0)
    ref = det.EventList(f, lab, on, off)
    keep = rng.random(n) > 0.2
    eon = np.clip(on[keep] + rng.normal(0, 0.2, keep.sum()), 0, 9.8)
    eoff = np.minimum(np.maximum(eon + 0.05, off[keep] + rng.normal(0, 0.3, keep.sum())), 10.0)
    est = det.EventList(f[keep], lab[keep], eon, eoff)
    classes = [f"c{i}" for i in range(n_classes)]
    return ref, est, n_files, classes


def _wlbench_detection(ref, est, n_files, classes):
    ev = det.event_based_metrics(ref, est, n_files, len(classes), 0.2, 0.2)
    sg = det.segment_based_metrics(ref, est, n_files, len(classes), 10.0, 1.0)
    return ev["f1_micro"], ev["f1_macro"], sg["f1_micro"], sg["f1_macro"]


def _sed_eval_detection(ref, est, n_files, classes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import sed_eval

    def lists(e):
        out = {i: [] for i in range(n_files)}
        for f, lab, a, b in zip(e.file, e.label, e.onset, e.offset):
            out[int(f)].append({"filename": f"f{f}", "event_label": classes[lab], "onset": float(a),
                                "offset": float(b)})
        return out

    rl, el = lists(ref), lists(est)
    ev = sed_eval.sound_event.EventBasedMetrics(classes, t_collar=0.2, percentage_of_length=0.2)
    sg = sed_eval.sound_event.SegmentBasedMetrics(classes, time_resolution=1.0)
    for i in range(n_files):
        ev.evaluate(rl[i], el[i])
        sg.evaluate(rl[i], el[i])
    e, s = ev.results(), sg.results()
    return (e["overall"]["f_measure"]["f_measure"], e["class_wise_average"]["f_measure"]["f_measure"],
            s["overall"]["f_measure"]["f_measure"], s["class_wise_average"]["f_measure"]["f_measure"])


@pytest.mark.benchmark(group="event + segment F1")
def test_bench_detection_wlbench(benchmark, event_data):
    ours = benchmark.pedantic(_wlbench_detection, args=event_data, rounds=20, iterations=1)
    if event_data[2] <= 100:
        np.testing.assert_allclose(ours, _sed_eval_detection(*event_data), rtol=1e-9)


@pytest.mark.benchmark(group="event + segment F1")
def test_bench_detection_sed_eval(benchmark, event_data):
    benchmark.pedantic(_sed_eval_detection, args=event_data, rounds=1, iterations=1)
