"""Property tests: permuting classes or clips never changes any metric (ties included)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wlbench.metrics import detection as det
from wlbench.metrics import embedding as emb
from wlbench.metrics import ranking as rk
from wlbench.metrics import tagging as tg


@st.composite
def problems(draw):
    n = draw(st.integers(1, 25))
    c = draw(st.integers(1, 6))
    # few distinct values -> many ties
    scores = draw(arrays(np.float64, (n, c), elements=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])))
    targets = draw(arrays(np.uint8, (n, c), elements=st.integers(0, 1)))
    perm_n = draw(st.permutations(range(n)))
    perm_c = draw(st.permutations(range(c)))
    return scores, targets, np.array(perm_n, dtype=int), np.array(perm_c, dtype=int)


def _same(a, b):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_ranking_and_tagging_metrics_are_permutation_invariant(p):
    s, t, pn, pc = p
    s2, t2 = s[pn][:, pc], t[pn][:, pc]
    r1, r2 = rk.ranking_metrics(s, t), rk.ranking_metrics(s2, t2)
    for name in ("map_macro", "auc_macro", "dprime_mean_of_classes", "dprime_of_mean_auc", "lwlrap", "map_at_k"):
        _same(getattr(r1, name), getattr(r2, name))
    for name in ("ap", "auc", "dprime", "lwlrap_per_class"):
        _same(getattr(r1, name)[pc], getattr(r2, name))
    # both clip-ranking methods agree on tied inputs
    _same(rk.ClipRanking(s, t.astype(bool), "sort").ap_at_k_per_clip(2),
          rk.ClipRanking(s, t.astype(bool), "compare").ap_at_k_per_clip(2))
    d1, d2 = tg.binarize(s, 0.5), tg.binarize(s2, 0.5)
    for fn in (tg.f1_macro, tg.f1_micro, tg.precision_macro, tg.recall_macro):
        _same(fn(d1, t), fn(d2, t2))


@st.composite
def event_problems(draw):
    n_files = draw(st.integers(1, 4))
    n_classes = draw(st.integers(1, 3))

    def events(k):
        f = draw(arrays(np.int64, k, elements=st.integers(0, n_files - 1)))
        lab = draw(arrays(np.int64, k, elements=st.integers(0, n_classes - 1)))
        on = draw(arrays(np.float64, k, elements=st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0, 2.0])))
        ln = draw(arrays(np.float64, k, elements=st.sampled_from([0.1, 0.3, 1.0, 2.0])))
        return det.EventList(f, lab, on, on + ln)

    ref = events(draw(st.integers(0, 8)))
    est = events(draw(st.integers(0, 8)))
    return n_files, n_classes, ref, est, draw(st.randoms(use_true_random=False))


def _permute(ev, fperm, cperm, order):
    return det.EventList(fperm[ev.file][order], cperm[ev.label][order], ev.onset[order], ev.offset[order])


@settings(max_examples=100, deadline=None)
@given(event_problems())
def test_detection_metrics_are_permutation_invariant(p):
    n_files, n_classes, ref, est, rnd = p
    fperm = np.array(rnd.sample(range(n_files), n_files))
    cperm = np.array(rnd.sample(range(n_classes), n_classes))
    ro = np.array(rnd.sample(range(len(ref)), len(ref)), dtype=int)
    eo = np.array(rnd.sample(range(len(est)), len(est)), dtype=int)
    ref2, est2 = _permute(ref, fperm, cperm, ro), _permute(est, fperm, cperm, eo)
    for fn, extra in ((det.event_based_metrics, ()), (det.segment_based_metrics, (3.0,))):
        a = fn(ref, est, n_files, n_classes, *extra)
        b = fn(ref2, est2, n_files, n_classes, *extra)
        for key in ("f1_macro", "f1_micro", "error_rate_micro", "error_rate_macro"):
            _same(a[key], b[key])
        inv = np.argsort(cperm)
        _same(a["f1"], b["f1"][cperm])
        assert inv.size == n_classes


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.integers(1, 4), st.randoms(use_true_random=False))
def test_centroid_metric_is_permutation_invariant(n, c, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**31))
    y = rng.integers(0, c, n)
    x = np.round(rng.normal(size=(n, 3)) + y[:, None], 1)
    pn = np.array(rnd.sample(range(n), n))
    pc = np.array(rnd.sample(range(c), c))
    a = emb.centroid_accuracy_per_class(x, y, c)
    b = emb.centroid_accuracy_per_class(x[pn], pc[y[pn]], c)
    np.testing.assert_allclose(a, b[pc], atol=1e-9, equal_nan=True)
