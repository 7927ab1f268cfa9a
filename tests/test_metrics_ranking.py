"""Cross-checks of the score-based clip metrics against scikit-learn and the published lwlrap formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, label_ranking_average_precision_score, roc_auc_score

from wlbench.errors import WlbenchError
from wlbench.metrics import ranking as rk


def _random(rng, n, c, p=0.3, decimals=None):
    t = (rng.random((n, c)) < p).astype(np.uint8)
    s = rng.random((n, c)) * 0.7 + 0.3 * t
    if decimals is not None:
        s = np.round(s, decimals)  # many ties
    return s, t


def _sk_ap(s, t):
    return np.array([average_precision_score(t[:, j], s[:, j]) if t[:, j].any() else np.nan
                     for j in range(t.shape[1])])


def _sk_auc(s, t):
    return np.array([roc_auc_score(t[:, j], s[:, j]) if 0 < t[:, j].sum() < len(t) else np.nan
                     for j in range(t.shape[1])])


def _ellis_lwlrap(truth, scores):
    """The published lwlrap (Fonseca et al. / D. Ellis Colab), written from its formula: per (clip,
    positive label), precision at the label's rank; ranks from a sort of the scores."""
    n, c = scores.shape
    precisions = np.zeros((n, c))
    for i in range(n):
        pos = np.flatnonzero(truth[i])
        if not pos.size:
            continue
        order = np.argsort(-scores[i], kind="stable")
        rank = np.empty(c, dtype=int)
        rank[order] = np.arange(c)
        hits = np.zeros(c, dtype=bool)
        hits[rank[pos]] = True
        prec = np.cumsum(hits) / (1.0 + np.arange(c))
        precisions[i, pos] = prec[rank[pos]]
    per_class = precisions.sum(0) / np.maximum(1, truth.sum(0))
    weight = truth.sum(0) / max(1, truth.sum())
    return float((per_class * weight).sum()), per_class, weight


@pytest.mark.parametrize("decimals", [None, 1])
def test_ap_auc_match_sklearn_random_and_ties(decimals):
    rng = np.random.default_rng(1)
    for _ in range(25):
        n, c = int(rng.integers(2, 60)), int(rng.integers(1, 7))
        s, t = _random(rng, n, c, decimals=decimals)
        np.testing.assert_allclose(rk.average_precision_per_class(s, t), _sk_ap(s, t), rtol=0, atol=1e-12)
        np.testing.assert_allclose(rk.roc_auc_per_class(s, t), _sk_auc(s, t), rtol=0, atol=1e-12)


def test_fast_path_equals_sorted_index_path():
    rng = np.random.default_rng(2)
    for decimals in (None, 2, 0):
        s, t = _random(rng, 500, 12, decimals=decimals)
        a = rk.class_rank_stats(s, t.astype(bool))
        b = rk.ClassRanking(s, t.astype(bool), chunk_elems=1000).stats()
        for key in ("ap", "auc", "n_pos", "n_neg"):
            np.testing.assert_allclose(a[key], b[key], atol=1e-12)
        c1 = rk.ClipRanking(s, t.astype(bool), "sort")
        c2 = rk.ClipRanking(s, t.astype(bool), "compare")
        np.testing.assert_allclose(c1.lwlrap_parts()[0], c2.lwlrap_parts()[0], atol=1e-12)
        np.testing.assert_allclose(c1.ap_at_k_per_clip(3), c2.ap_at_k_per_clip(3), atol=1e-12)


def test_sample_weight_equals_repeating_clips():
    rng = np.random.default_rng(3)
    s, t = _random(rng, 40, 5, decimals=1)
    w = rng.integers(0, 4, 40)
    idx = np.repeat(np.arange(40), w)
    for fn in (rk.average_precision_per_class, rk.roc_auc_per_class, rk.dprime_per_class):
        np.testing.assert_allclose(fn(s, t, sample_weight=w), fn(s[idx], t[idx]), atol=1e-12)
    assert rk.lwlrap(s, t, w) == pytest.approx(rk.lwlrap(s[idx], t[idx]), abs=1e-12)
    assert rk.map_at_k(s, t, 3, w) == pytest.approx(rk.map_at_k(s[idx], t[idx], 3), abs=1e-12)


def test_lwlrap_matches_sklearn_lrap_weighted_and_published_formula():
    rng = np.random.default_rng(4)
    for _ in range(20):
        s, t = _random(rng, int(rng.integers(1, 50)), int(rng.integers(2, 9)))
        keep = t.sum(1) > 0
        if not keep.any():
            continue
        ref = label_ranking_average_precision_score(t[keep], s[keep], sample_weight=t[keep].sum(1))
        assert rk.lwlrap(s, t) == pytest.approx(ref, abs=1e-12)
        overall, per_class, weight = _ellis_lwlrap(t, s)  # no ties here: same as the reference
        assert rk.lwlrap(s, t) == pytest.approx(overall, abs=1e-12)
        ours, w = rk.lwlrap_per_class(s, t)
        np.testing.assert_allclose(np.nan_to_num(ours), per_class, atol=1e-12)
        np.testing.assert_allclose(w, weight, atol=1e-12)


def test_lwlrap_ties_policy_differs_from_ellis_reference():
    # POLICY: the Ellis reference breaks ties by class order; wlbench counts ties pessimistically
    # (like sklearn LRAP), so the value does not change when the classes are permuted.
    s = np.array([[0.5, 0.5, 0.1]])
    t = np.array([[1, 0, 0]])
    ellis_first = _ellis_lwlrap(t, s)[0]  # positive listed first among the tie: precision 1
    ellis_second = _ellis_lwlrap(t[:, [1, 0, 2]], s[:, [1, 0, 2]])[0]  # listed second: precision 1/2
    assert (ellis_first, ellis_second) == (1.0, 0.5)
    assert rk.lwlrap(s, t) == 0.5 == rk.lwlrap(s[:, [1, 0, 2]], t[:, [1, 0, 2]])
    assert rk.lwlrap(s, t) == label_ranking_average_precision_score(t, s)


def test_no_positive_class_policy_differs_from_sklearn():
    # POLICY: sklearn gives AP 0 (with a warning) for a class without positives and averages it in;
    # wlbench reports NaN and leaves the class out of mAP.
    rng = np.random.default_rng(5)
    s, t = _random(rng, 30, 4)
    t[:, 2] = 0
    ap = rk.average_precision_per_class(s, t)
    assert np.isnan(ap[2])
    assert rk.map_macro(s, t) == pytest.approx(np.mean(ap[[0, 1, 3]]))
    with pytest.warns(Warning):
        sk = average_precision_score(t, s, average=None)
    assert sk[2] == 0.0
    assert np.isnan(rk.roc_auc_per_class(s, t)[2]) and np.isnan(rk.dprime_per_class(s, t)[2])


def test_no_negative_class_auc_nan_ap_one():
    s = np.array([[0.2, 0.9], [0.4, 0.1], [0.3, 0.5]])
    t = np.array([[1, 1], [1, 0], [1, 1]])
    assert rk.average_precision_per_class(s, t)[0] == 1.0
    assert np.isnan(rk.roc_auc_per_class(s, t)[0])
    assert rk.roc_auc_macro(s, t) == pytest.approx(roc_auc_score(t[:, 1], s[:, 1]))


def test_constant_scores():
    t = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    s = np.full(t.shape, 0.3)
    np.testing.assert_allclose(rk.average_precision_per_class(s, t), _sk_ap(s, t))
    np.testing.assert_allclose(rk.roc_auc_per_class(s, t), [0.5, 0.5])
    assert rk.dprime_mean_of_classes(s, t) == pytest.approx(0.0)
    keep = t.sum(1) > 0
    assert rk.lwlrap(s, t) == pytest.approx(
        label_ranking_average_precision_score(t[keep], s[keep], sample_weight=t[keep].sum(1)))


def test_single_clip():
    s = np.array([[0.9, 0.1, 0.4]])
    t = np.array([[1, 0, 1]])
    np.testing.assert_allclose(rk.average_precision_per_class(s, t), [1.0, np.nan, 1.0])
    assert np.isnan(rk.roc_auc_per_class(s, t)).all()
    assert np.isnan(rk.dprime_mean_of_classes(s, t))
    assert rk.lwlrap(s, t) == pytest.approx(label_ranking_average_precision_score(t, s))
    assert rk.map_at_k(s, t, 3) == 1.0


def test_dprime_both_conventions_and_clipping():
    rng = np.random.default_rng(6)
    s, t = _random(rng, 200, 5)
    auc = _sk_auc(s, t)
    assert rk.dprime_mean_of_classes(s, t) == pytest.approx(np.mean(np.sqrt(2) * norm.ppf(auc)))
    assert rk.dprime_of_mean_auc(s, t) == pytest.approx(np.sqrt(2) * norm.ppf(np.mean(auc)))
    # the REFERENCES example: AUCs [.99, .90] -> 2.55 (PANNs: d' of the mean) vs 2.26 (mean of d')
    d_mean = np.mean(np.sqrt(2) * norm.ppf([0.99, 0.90]))
    d_of_mean = np.sqrt(2) * norm.ppf(0.945)
    assert round(d_of_mean, 2) == 2.26 and round(d_mean, 2) == 2.55
    # AUC of exactly 1: HEAR's formula gives inf; wlbench clips by half a pair: 1 - 1/(2 n_pos n_neg)
    s1 = np.array([[0.9], [0.8], [0.1], [0.2]])
    t1 = np.array([[1], [1], [0], [0]])
    d, clipped = rk.dprime_from_auc(np.array([1.0]), rk.auc_clip_eps(2, 2))
    assert clipped[0] and np.isfinite(d[0])
    assert d[0] == pytest.approx(np.sqrt(2) * norm.ppf(1 - 1 / 8))
    assert rk.dprime_per_class(s1, t1)[0] == pytest.approx(d[0])
    assert rk.dprime_per_class(s1, 1 - t1)[0] == pytest.approx(-d[0])


def test_map_at_k_against_direct_definition():
    rng = np.random.default_rng(7)
    s, t = _random(rng, 60, 8, p=0.25)  # no ties
    for k in (1, 3, 5):
        vals = []
        for i in range(60):
            if not t[i].any():
                continue
            top = np.argsort(-s[i])[:k]
            hits, score = 0, 0.0
            for r, j in enumerate(top):
                if t[i, j]:
                    hits += 1
                    score += hits / (r + 1)
            vals.append(score / min(t[i].sum(), k))
        assert rk.map_at_k(s, t, k) == pytest.approx(np.mean(vals))


def test_map_at_k_tie_across_cut_is_pessimistic():
    s = np.array([[0.9, 0.5, 0.5, 0.5]])
    t = np.array([[0, 0, 0, 1]])
    # the positive ties with two negatives at ranks 2-4: its pessimistic rank is 4 > 3
    assert rk.map_at_k(s, t, 3) == 0.0
    assert rk.map_at_k(s, t, 4) == pytest.approx(0.25)


def test_refuses_nan_inf_and_bad_shapes():
    t = np.array([[1, 0], [0, 1]])
    for bad in (np.nan, np.inf, -np.inf):
        s = np.array([[0.1, bad], [0.3, 0.4]])
        with pytest.raises(WlbenchError, match="NaN or infinite"):
            rk.map_macro(s, t)
    with pytest.raises(WlbenchError, match="shape"):
        rk.map_macro(np.zeros((2, 3)), t)
    with pytest.raises(WlbenchError, match="0 and 1"):
        rk.map_macro(np.zeros((2, 2)), np.array([[2, 0], [0, 1]]))


def test_ranking_metrics_bundle_matches_single_functions():
    rng = np.random.default_rng(8)
    s, t = _random(rng, 120, 6, decimals=2)
    r = rk.ranking_metrics(s, t, k=3)
    assert r.map_macro == pytest.approx(rk.map_macro(s, t))
    assert r.auc_macro == pytest.approx(rk.roc_auc_macro(s, t))
    assert r.lwlrap == pytest.approx(rk.lwlrap(s, t))
    assert r.map_at_k == pytest.approx(rk.map_at_k(s, t, 3))
    assert r.dprime_mean_of_classes == pytest.approx(rk.dprime_mean_of_classes(s, t))
    assert r.dprime_of_mean_auc == pytest.approx(rk.dprime_of_mean_auc(s, t))


def test_grouped_comparison_gives_the_sorted_ranks_exactly():
    """The comparison path of ClipRanking (clips grouped by their number of positive labels, compared in
    chunks) gives every (clip, label) pair the rank and precision of the sorted path, bit for bit (the
    comparison path lists pairs in np.nonzero's order, the sorted one clip by clip in rank order)."""
    rng = np.random.default_rng(9)
    for decimals in (None, 1):
        s, t = _random(rng, 300, 9, p=0.25, decimals=decimals)
        t[0], t[1], t[2] = 1, 0, 0
        t[2, 4] = 1  # one clip with a single positive, one with none, one with all
        t = t.astype(bool)
        by_sort = rk.ClipRanking(s, t, "sort")
        by_compare = rk.ClipRanking(s, t, "compare")
        clip, label = np.nonzero(t)
        assert np.array_equal(rk.positive_pairs(t)[0], clip) and np.array_equal(rk.positive_pairs(t)[1], label)
        assert np.array_equal(by_compare.clip, clip) and np.array_equal(by_compare.label, label)
        order = np.lexsort((by_sort.label, by_sort.clip))
        assert np.array_equal(by_sort.clip[order], clip) and np.array_equal(by_sort.label[order], label)
        want_rank, want_prec = by_sort.rank[order], by_sort.prec[order]
        assert np.array_equal(by_compare.rank, want_rank) and np.array_equal(by_compare.prec, want_prec)
        for chunk in (1, 40):
            rank, prec = rk._compare_ranks(s, clip, label, len(s), chunk_elems=chunk)
            assert np.array_equal(rank, want_rank) and np.array_equal(prec, want_prec)
        a, b = rk.class_rank_stats(s, t), rk.ClassRanking(s, t, chunk_elems=1000).stats()
        for key in ("ap", "auc", "n_pos", "n_neg"):
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-15)


@pytest.mark.parametrize("decimals", [None, 1])
def test_batched_statistics_are_those_of_each_resample(decimals):
    """stats_batch (B resamples at once; without ties, each run one positive) gives each resample the
    counts and AUC of stats(w) exactly (whole counts: exact sums) and its AP to round-off; a class without
    positives and one with all clips positive included."""
    from wlbench.metrics.bootstrap import resample_counts

    rng = np.random.default_rng(11)
    s, t = _random(rng, 300, 7, p=0.1, decimals=decimals)
    t[:, 3], t[:, 5] = 0, 1
    t = t.astype(bool)
    weights = np.stack(list(resample_counts(300, 6, seed=2)))
    ranking = rk.ClassRanking(s, t, chunk_elems=900)
    assert [index.single_positive_runs for _, index in ranking.chunks] == [decimals is None] * len(ranking.chunks)
    batch = ranking.stats_batch(weights)
    for b, w in enumerate(weights):
        one = ranking.stats(w)
        for key in ("auc", "n_pos", "n_neg"):
            assert np.array_equal(batch[key][b], one[key], equal_nan=True), key
        np.testing.assert_allclose(batch["ap"][b], one["ap"], rtol=1e-13, atol=0)
