"""The centroid metric of Turpault et al."""

from __future__ import annotations

import numpy as np
import pytest

from wlbench.metrics import embedding as emb


def _direct(x, y, source=None):
    """The definition written out: clip i against its own class centroid without any row of the same
    source clip (``source``: the original clip of each row; default every row its own), and the full
    centroids of the other classes. NaN when no other clip of its class is left."""
    source = np.arange(len(y)) if source is None else source
    classes = np.unique(y)
    full = {c: x[y == c].mean(0) for c in classes}
    out = []
    for i in range(len(y)):
        keep = (y == y[i]) & (source != source[i])
        if not keep.any():
            out.append(np.nan)
            continue
        d = {c: ((x[i] - (x[keep].mean(0) if c == y[i] else full[c])) ** 2).sum() for c in classes}
        out.append(float(min(d, key=d.get) == y[i]))
    return np.array(out)


def test_centroid_metric_direct_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 80)
    x = rng.normal(size=(80, 6)) + y[:, None] * 0.8
    direct = _direct(x, y)
    np.testing.assert_array_equal(emb.centroid_scores(x, y, 4), direct)
    assert emb.centroid_accuracy_micro(x, y, 4) == pytest.approx(np.mean(direct))
    per = emb.centroid_accuracy_per_class(x, y, 4)
    np.testing.assert_allclose(per, [np.mean(direct[y == c]) for c in range(4)])
    assert emb.centroid_accuracy_macro(x, y, 4) == pytest.approx(per.mean())


def test_a_clip_never_joins_its_own_centroid():
    # two classes of two clips; clip 0 sits far out: with itself in its centroid it would be "correct"
    x = np.array([[10.0], [0.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    # leave-one-out: clip 0's own centroid is clip 1 (0.0, distance 10), class 1's is 1.5 (distance 8.5)
    np.testing.assert_array_equal(emb.centroid_scores(x, y, 2), [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("n,n_classes", [(150, 10), (60, 3), (400, 20)])
def test_random_embeddings_score_chance(metric, n, n_classes):
    """Noise has no class structure: the mean over draws is 1 / n_classes (counting each clip in its own
    centroid gave 0.50 on 10 classes)."""
    rng = np.random.default_rng(n + n_classes)
    micro, macro = [], []
    for _ in range(40):
        x = rng.normal(size=(n, 32))
        y = np.arange(n) % n_classes
        micro.append(emb.centroid_accuracy_micro(x, y, n_classes, metric=metric))
        macro.append(emb.centroid_accuracy_macro(x, y, n_classes, metric=metric))
    chance = 1.0 / n_classes
    # the standard error of the mean over 40 draws is below 0.2 * chance for these sizes
    assert abs(np.mean(micro) - chance) < 0.25 * chance
    assert abs(np.mean(macro) - chance) < 0.25 * chance


def test_cosine_and_ties_and_empty_class():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    y = np.array([0, 1, 0, 1])
    per = emb.centroid_accuracy_per_class(x, y, 3, metric="cosine")
    assert np.isnan(per[2])
    assert not np.isnan(per[:2]).any()
    # a clip equidistant from its own (leave-one-out) centroid and another class's gets 1/2
    x3 = np.array([[-1.0], [1.0], [0.0], [0.0], [-2.0], [2.0]])
    y3 = np.array([0, 1, 0, 1, 0, 1])
    # clip 2 (class 0, at 0): own centroid mean(-1, -2) = -1.5, class 1 centroid mean(1, 0, 2) = 1: nearest is 1
    # clip 3 (class 1, at 0): own centroid mean(1, 2) = 1.5, class 0 centroid -1: nearest is class 0
    s = emb.centroid_scores(x3, y3, 2)
    np.testing.assert_array_equal(s[2:4], [0.0, 0.0])
    x4 = np.array([[-1.0], [1.0], [0.0], [-1.0], [1.0]])
    y4 = np.array([0, 1, 0, 0, 1])
    # clip 2 (class 0, at 0): own centroid mean(-1, -1) = -1, class 1 centroid mean(1, 1) = 1: a tie, 1/2
    assert emb.centroid_scores(x4, y4, 2)[2] == 0.5


def test_a_class_of_one_clip_is_left_out():
    x = np.array([[0.0], [0.1], [5.0]])
    y = np.array([0, 0, 1])
    s = emb.centroid_scores(x, y, 2)
    assert np.isnan(s[2]) and (s[:2] == 1.0).all()
    per = emb.centroid_accuracy_per_class(x, y, 2)
    assert per[0] == 1.0 and np.isnan(per[1])
    assert emb.centroid_accuracy_macro(x, y, 2) == 1.0 and emb.centroid_accuracy_micro(x, y, 2) == 1.0
    # nothing scorable at all: NaN, not 0
    assert np.isnan(emb.centroid_accuracy_micro(x[1:], y[1:], 2))
    assert np.isnan(emb.centroid_accuracy_macro(x[1:], y[1:], 2))


def test_weights_equal_repeats_without_own_copies():
    """Counts ``w`` are clip i repeated w_i times, where no copy of clip i joins clip i's centroid (as in a
    bootstrap resample); clips of weight 0 are not in any centroid."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 30)
    x = rng.normal(size=(30, 4)) + y[:, None]
    w = rng.integers(0, 3, 30)
    idx = np.repeat(np.arange(30), w)
    direct = _direct(x[idx], y[idx], source=idx)
    got = emb.centroid_scores(x, y, 3, sample_weight=w)
    np.testing.assert_array_equal(got[np.unique(idx)], [direct[idx == i][0] for i in np.unique(idx)])
    assert emb.centroid_accuracy_micro(x, y, 3, sample_weight=w) == pytest.approx(np.nanmean(direct))


def test_all_copies_of_one_clip_are_not_a_class():
    # a resample that drew one clip of class 0 three times: it has no other clip to compare with
    x = np.array([[0.0], [0.2], [4.0], [4.2]])
    y = np.array([0, 0, 1, 1])
    s = emb.centroid_scores(x, y, 2, sample_weight=np.array([3.0, 0.0, 1.0, 1.0]))
    assert np.isnan(s[0]) and (s[2:] == 1.0).all()


@pytest.mark.parametrize("offset", [1e6, 1e8])
def test_euclidean_metric_is_translation_invariant(offset):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 300)
    x = rng.normal(size=(300, 16)) + 0.6 * np.eye(5, 16)[y]  # overlapping classes: many near decisions
    w = rng.integers(0, 3, 300).astype(float)  # bootstrap-like counts
    shifted = x + offset
    for weights in (None, w):
        base = emb.centroid_scores(x, y, 5, sample_weight=weights)
        assert 0.3 < base.mean() < 0.95  # neither trivial nor hopeless
        np.testing.assert_array_equal(emb.centroid_scores(shifted, y, 5, sample_weight=weights), base)
        np.testing.assert_allclose(emb.centroid_accuracy_per_class(shifted, y, 5, sample_weight=weights),
                                   emb.centroid_accuracy_per_class(x, y, 5, sample_weight=weights))
        assert emb.centroid_accuracy_micro(shifted, y, 5, sample_weight=weights) == pytest.approx(
            emb.centroid_accuracy_micro(x, y, 5, sample_weight=weights))
        assert emb.centroid_accuracy_macro(shifted, y, 5, sample_weight=weights) == pytest.approx(
            emb.centroid_accuracy_macro(x, y, 5, sample_weight=weights))


def test_euclidean_metric_under_a_per_dimension_offset():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 120)
    x = rng.normal(size=(120, 8)) + np.eye(3, 8)[y]
    offset = rng.uniform(-1e8, 1e8, 8)  # a different large offset per dimension
    assert emb.centroid_accuracy_micro(x + offset, y, 3) == pytest.approx(emb.centroid_accuracy_micro(x, y, 3))


def _one_hot(y, n_classes):
    return np.eye(n_classes, dtype=np.uint8)[y]


@pytest.mark.parametrize("case", ["random-150", "random-38", "identical", "separated", "singleton-class"])
def test_bootstrap_interval_contains_the_point_estimate(case):
    """Through the scoring API (resamples as counts): on degenerate inputs the interval holds its own value
    (counting copies of a clip in its own centroid put random embeddings at 0.50 [0.58, 0.73])."""
    from wlbench.scoring import Settings, score_embedding

    rng = np.random.default_rng(7)
    n_classes = 10
    if case.startswith("random"):
        n = int(case.split("-")[1])
        y = np.arange(n) % n_classes
        x = rng.normal(size=(n, 32))
    elif case == "identical":  # every centroid equal: a k-way tie over the k classes present (1/9 on a resample
        # that lost a class)
        y = np.arange(60) % n_classes
        x = np.ones((60, 8))
    elif case == "separated":  # perfect: 1 on every resample
        y = np.arange(60) % n_classes
        x = 100.0 * np.eye(n_classes, 8 + n_classes)[y] + rng.normal(size=(60, 8 + n_classes))
    else:  # one class has a single clip: never scorable, left out of point and resamples alike
        y = np.concatenate([np.arange(59) % (n_classes - 1), [n_classes - 1]])
        x = rng.normal(size=(60, 16)) + 3.0 * np.eye(n_classes, 16)[y]
    classes = [f"c{i}" for i in range(n_classes)]
    report = score_embedding(classes, _one_hot(y, n_classes), x, Settings(n_resamples=300))
    for name in ("centroid_accuracy_macro", "centroid_accuracy_micro"):
        h = report["headline"][name]
        assert h["ci_low"] <= h["value"] <= h["ci_high"], (case, name, h)
        if case.startswith("random"):
            assert h["value"] < 0.25  # chance is 0.1
        if case == "identical":
            # the point value sums 1/10 in another order than most resamples: equal only up to round-off
            assert h["value"] == h["ci_low"] == pytest.approx(0.1) and h["ci_high"] <= 1 / 9 + 1e-12
        if case == "separated":
            assert h["value"] == h["ci_low"] == h["ci_high"] == 1.0
    if case == "singleton-class":
        assert report["per_class"]["c9"] == {"n_clips": 1, "centroid_accuracy": None}  # JSON-safe NaN
