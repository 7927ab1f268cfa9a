"""Bootstrap intervals and the paired test."""

from __future__ import annotations

import numpy as np
import pytest

from wlbench.errors import WlbenchError
from wlbench.metrics import bootstrap as bs
from wlbench.metrics import ranking as rk


def test_counts_are_seeded_and_sum_to_n():
    a = list(bs.resample_counts(50, 5, seed=3))
    b = list(bs.resample_counts(50, 5, seed=3))
    assert all((x == y).all() for x, y in zip(a, b))
    assert all(x.sum() == 50 for x in a)
    assert not (a[0] == list(bs.resample_counts(50, 1, seed=4))[0]).all()


def test_ci_of_mean_contains_value_and_matches_index_resampling():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)

    def stat(w):
        return {"mean": float(np.average(x, weights=w)) if w is not None else float(x.mean())}

    res = bs.bootstrap_ci(stat, 200, n_resamples=300, seed=1)
    assert res["mean"]["ci_low"] < res["mean"]["value"] < res["mean"]["ci_high"]
    # the same draws as resampling indices with default_rng(seed).integers(0, n, n)
    g = np.random.default_rng(1)
    means = [x[g.integers(0, 200, 200)].mean() for _ in range(300)]
    lo, hi = np.quantile(means, [0.025, 0.975])
    assert res["mean"]["ci_low"] == pytest.approx(lo) and res["mean"]["ci_high"] == pytest.approx(hi)
    assert res["mean"]["n_valid"] == 300


def test_weighted_map_equals_map_of_resampled_clips():
    rng = np.random.default_rng(2)
    t = (rng.random((60, 5)) < 0.2).astype(np.uint8)
    s = np.round(rng.random((60, 5)) + 0.3 * t, 1)
    cr = rk.ClassRanking(s, t.astype(bool))
    g = np.random.default_rng(5)
    for w in bs.resample_counts(60, 10, seed=5):
        idx = g.integers(0, 60, 60)
        assert (np.bincount(idx, minlength=60) == w).all()
        ap = cr.stats(w)["ap"]
        np.testing.assert_allclose(ap, rk.average_precision_per_class(s[idx], t[idx]), atol=1e-12)


def test_paired_test_identical_and_different_systems():
    rng = np.random.default_rng(3)
    t = (rng.random((150, 4)) < 0.3).astype(np.uint8)
    good = rng.random((150, 4)) * 0.5 + 0.5 * t
    bad = rng.random((150, 4))

    def stat_of(s):
        return lambda w: {"map": rk.map_macro(s, t, w)}

    same = bs.paired_bootstrap_test(stat_of(good), stat_of(good), 150, 200, seed=0)["map"]
    assert same["diff"] == 0.0 and same["p_value"] == 1.0
    diff = bs.paired_bootstrap_test(stat_of(good), stat_of(bad), 150, 200, seed=0)["map"]
    assert diff["diff"] > 0 and diff["ci_low"] > 0 and diff["p_value"] < 0.01


def test_undefined_resamples_are_left_out():
    # one positive clip for the class: resamples without it give NaN and are not counted
    x = np.zeros(20)
    x[0] = 1

    def stat(w):
        w = np.ones(20) if w is None else w
        return {"share": float(w[0] / w.sum()) if w[0] > 0 else float("nan")}

    res = bs.bootstrap_ci(stat, 20, 200, seed=0)
    assert 0 < res["share"]["n_valid"] < 200


def test_bad_arguments():
    with pytest.raises(WlbenchError):
        bs.bootstrap_ci(lambda w: {"x": 1.0}, 10, n_resamples=10, ci=1.5)
    with pytest.raises(WlbenchError):
        list(bs.resample_counts(0, 1, 0))
