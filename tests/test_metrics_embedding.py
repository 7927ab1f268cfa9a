"""The centroid metric of Turpault et al."""

from __future__ import annotations

import numpy as np
import pytest

from wlbench.metrics import embedding as emb


def test_centroid_metric_direct_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 80)
    x = rng.normal(size=(80, 6)) + y[:, None] * 0.8
    cent = np.stack([x[y == c].mean(0) for c in range(4)])
    nearest = np.argmin(((x[:, None, :] - cent[None]) ** 2).sum(-1), axis=1)
    assert emb.centroid_accuracy_micro(x, y, 4) == pytest.approx(np.mean(nearest == y))
    per = emb.centroid_accuracy_per_class(x, y, 4)
    np.testing.assert_allclose(per, [np.mean(nearest[y == c] == c) for c in range(4)])
    assert emb.centroid_accuracy_macro(x, y, 4) == pytest.approx(per.mean())


def test_cosine_and_ties_and_empty_class():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    y = np.array([0, 1, 0, 1])
    per = emb.centroid_accuracy_per_class(x, y, 3, metric="cosine")
    assert np.isnan(per[2])
    # a clip equidistant from two centroids gets 1/2
    x2 = np.array([[0.0], [2.0], [1.0]])
    y2 = np.array([0, 1, 0])  # centroids 0.5 and 2.0; clip 2 at distance 0.5 / 1.0
    assert emb.centroid_scores(x2, y2, 2)[2] == 1.0
    x3 = np.array([[-1.0], [1.0], [0.0], [0.0]])
    y3 = np.array([0, 1, 0, 1])  # centroids -0.5 and 0.5: clips at 0 are tied
    np.testing.assert_allclose(emb.centroid_scores(x3, y3, 2), [1.0, 1.0, 0.5, 0.5])


def test_weights_equal_repeats():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 30)
    x = rng.normal(size=(30, 4)) + y[:, None]
    w = rng.integers(0, 3, 30)
    idx = np.repeat(np.arange(30), w)
    assert emb.centroid_accuracy_macro(x, y, 3, sample_weight=w) == pytest.approx(
        emb.centroid_accuracy_macro(x[idx], y[idx], 3))


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
