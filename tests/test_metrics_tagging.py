"""Threshold metrics vs scikit-learn, and the wlbench policy where it deliberately differs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from wlbench.errors import WlbenchError
from wlbench.metrics import tagging as tg


def test_prf_match_sklearn_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n, c = int(rng.integers(5, 80)), int(rng.integers(2, 6))  # c=1 is "binary" to sklearn
        t = (rng.random((n, c)) < 0.4).astype(int)
        t[0] = 1  # every class has a positive
        d = (rng.random((n, c)) < 0.4).astype(int)
        d[1] = 1  # and is predicted at least once
        r = tg.prf_per_class(d, t)
        kw = dict(average=None, zero_division=0)
        np.testing.assert_allclose(r["f1"], f1_score(t, d, **kw))
        np.testing.assert_allclose(r["precision"], precision_score(t, d, **kw))
        np.testing.assert_allclose(r["recall"], recall_score(t, d, **kw))
        assert tg.f1_macro(d, t) == pytest.approx(f1_score(t, d, average="macro"))
        assert tg.f1_micro(d, t) == pytest.approx(f1_score(t, d, average="micro"))
        assert tg.precision_micro(d, t) == pytest.approx(precision_score(t, d, average="micro"))
        assert tg.recall_macro(d, t) == pytest.approx(recall_score(t, d, average="macro"))


def test_never_predicted_class_is_zero_and_kept():
    t = np.array([[1, 0], [0, 1], [1, 1]])
    d = np.array([[1, 0], [0, 0], [1, 0]])
    r = tg.prf_per_class(d, t)
    assert r["precision"][1] == 0 and r["f1"][1] == 0
    assert tg.f1_macro(d, t) == pytest.approx(0.5)
    assert tg.f1_macro(d, t) == pytest.approx(f1_score(t, d, average="macro", zero_division=0))


def test_class_without_positives_excluded_from_macro_policy():
    # POLICY: sklearn counts a class without positives as F1 0 in the macro average; wlbench leaves it
    # out (and the report lists it). Its false positives still count in the micro average.
    t = np.array([[1, 0], [0, 0], [1, 0]])
    d = np.array([[1, 1], [0, 0], [1, 0]])
    assert np.isnan(tg.prf_per_class(d, t)["f1"][1])
    assert tg.f1_macro(d, t) == 1.0
    assert f1_score(t, d, average="macro", zero_division=0) == 0.5
    assert tg.f1_micro(d, t) == pytest.approx(f1_score(t, d, average="micro"))


def test_empty_output_scores_zero():
    t = np.array([[1, 0], [0, 1]])
    d = np.zeros_like(t)
    assert tg.f1_macro(d, t) == 0.0 and tg.f1_micro(d, t) == 0.0 and tg.precision_micro(d, t) == 0.0


def test_binarize_threshold_scalar_and_per_class():
    s = np.array([[0.5, 0.2], [0.49, 0.9]])
    np.testing.assert_array_equal(tg.binarize(s), [[True, False], [False, True]])
    np.testing.assert_array_equal(tg.binarize(s, [0.6, 0.1]), [[False, True], [False, True]])
    with pytest.raises(WlbenchError, match="threshold"):
        tg.binarize(s, [0.1, 0.2, 0.3])


def test_label_coverage():
    s = np.array([[0.9, 0.2, 0.6], [0.1, 0.7, 0.3]])
    t = np.array([[1, 1, 0], [0, 1, 1]])
    assert tg.label_coverage(s, t, 0.5) == pytest.approx(2 / 4)
    assert tg.label_coverage(s, t, 0.0) == 1.0


def test_weights_equal_repeats():
    rng = np.random.default_rng(1)
    t = (rng.random((30, 4)) < 0.5).astype(int)
    d = (rng.random((30, 4)) < 0.5).astype(int)
    w = rng.integers(0, 3, 30)
    idx = np.repeat(np.arange(30), w)
    assert tg.f1_macro(d, t, w) == pytest.approx(tg.f1_macro(d[idx], t[idx]))
    assert tg.f1_micro(d, t, w) == pytest.approx(tg.f1_micro(d[idx], t[idx]))
