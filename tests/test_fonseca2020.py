"""Loss masking of Fonseca et al. (2020): flags of top-scored implicit negatives and the masked BCE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from wlbench_baselines.fonseca2020.masking import flag_count, flag_top_negatives, implicit_negatives, masked_bce

PERCENTS = [0, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50, 100]


def _data(seed: int, n: int = 300, c: int = 4, ties: bool = False):
    rng = np.random.default_rng(seed)
    scores = rng.random((n, c))
    if ties:
        scores = np.round(scores * 4) / 4  # five distinct values: ties everywhere
    labels = (rng.random((n, c)) < 0.3).astype(np.uint8)
    return scores, labels


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("percent", PERCENTS)
def test_flags_exactly_the_top_percent_of_each_class(percent, ties):
    scores, labels = _data(int(percent * 10) + ties, ties=ties)
    implicit = implicit_negatives(labels)
    flags = flag_top_negatives(scores, implicit, percent)
    for c in range(scores.shape[1]):
        n_c = int(implicit[:, c].sum())
        k = int(np.floor(round(percent * n_c, 9) / 100))
        assert flags.candidates[c] == n_c and flags.counts[c] == k == flags.flagged[:, c].sum()
        if k == 0:
            assert flags.thresholds[c] == np.inf
            continue
        on, off = scores[flags.flagged[:, c], c], scores[implicit[:, c] & ~flags.flagged[:, c], c]
        assert on.min() == flags.thresholds[c]
        if off.size:
            assert on.min() >= off.max()  # the flagged ones are the top-scored ones
            tied_off = np.flatnonzero(implicit[:, c] & ~flags.flagged[:, c] & (scores[:, c] == on.min()))
            tied_on = np.flatnonzero(flags.flagged[:, c] & (scores[:, c] == on.min()))
            if tied_off.size:  # a tie across the threshold: the lower rows are flagged
                assert tied_on.max() < tied_off.min()


def test_flag_count_is_exact_decimal_arithmetic():
    assert flag_count(70, 10) == 7 and flag_count(1000, 0.3) == 3 and flag_count(505064, 0.1) == 505
    assert flag_count(999, 0.1) == 0 and flag_count(42459, 0.1) == 42 and flag_count(5, 100) == 5


def test_positives_and_explicit_labels_are_never_flagged():
    scores, labels = _data(3)
    scores[labels == 1] = 2.0  # positives score highest of all
    explicit = np.zeros_like(labels)
    explicit[:40] = 1  # rated entries (positive or negative) of the first 40 clips
    scores[:40] = 3.0
    known = np.ones_like(labels)
    known[40:60] = 0  # entries outside the loss
    scores[40:60] = 4.0
    implicit = implicit_negatives(labels, known=known, explicit=explicit)
    assert not implicit[labels == 1].any() and not implicit[:60].any()
    for percent in (1, 20, 100):
        flags = flag_top_negatives(scores, implicit, percent)
        assert not flags.flagged[labels == 1].any() and not flags.flagged[:60].any()
        assert np.array_equal(flags.mask == 0, flags.flagged)
    assert np.array_equal(flag_top_negatives(scores, implicit, 100).flagged, implicit)


def test_all_tied_scores_flag_the_lowest_rows():
    implicit = np.ones((10, 2), dtype=bool)
    implicit[0, 1] = False
    flags = flag_top_negatives(np.full((10, 2), 0.5), implicit, 30)
    assert np.flatnonzero(flags.flagged[:, 0]).tolist() == [0, 1, 2]
    assert np.flatnonzero(flags.flagged[:, 1]).tolist() == [1, 2]  # floor(0.3 * 9) = 2


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 4), st.floats(0, 100), st.integers(0, 2**16))
def test_flags_property(n, c, percent, seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((n, c)) * 3) / 3
    implicit = rng.random((n, c)) < 0.7
    flags = flag_top_negatives(scores, implicit, percent)
    assert not (flags.flagged & ~implicit).any()
    assert np.array_equal(flags.counts, flags.flagged.sum(0))
    assert np.all(flags.counts <= percent / 100 * implicit.sum(0) + 1e-9)
    assert np.all(flags.counts > percent / 100 * implicit.sum(0) - 1 - 1e-9)


def test_bad_inputs():
    with pytest.raises(ValueError, match="percent"):
        flag_top_negatives(np.zeros((2, 2)), np.ones((2, 2), bool), 101)
    with pytest.raises(ValueError, match="NaN"):
        flag_top_negatives(np.full((2, 2), np.nan), np.ones((2, 2), bool), 10)
    with pytest.raises(ValueError, match="shape"):
        implicit_negatives(np.zeros((2, 2)), known=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="normalise"):
        masked_bce(torch.rand(2, 2), torch.zeros(2, 2), normalise="mean")


def test_p_zero_is_plain_bce_exactly():
    scores, labels = _data(5, n=64, c=10)
    flags = flag_top_negatives(scores, implicit_negatives(labels), 0)
    assert not flags.flagged.any()
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(64, 10, generator=g)
    target = torch.from_numpy(labels.astype(np.float32))
    mask = torch.from_numpy(flags.mask)
    reference = F.binary_cross_entropy(pred, target)
    for normalise in ("all", "unmasked"):
        assert torch.equal(masked_bce(pred, target, mask, normalise=normalise), reference)
        assert torch.equal(masked_bce(pred, target, None, normalise=normalise), reference)


@pytest.mark.parametrize("normalise, denominator", [("all", 6.0), ("unmasked", 5.0)])
def test_mask_touches_only_the_negative_term(normalise, denominator):
    pred = torch.tensor([[0.2, 0.7, 0.9], [0.4, 0.1, 0.6]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)  # zero on a positive, a negative
    loss = masked_bce(pred, target, mask, normalise=normalise)
    loss.backward()
    p, y, m = pred.detach(), target, mask
    expected_loss = -(y * torch.log(p) + m * (1 - y) * torch.log(1 - p)).sum() / denominator
    expected_grad = (-y / p + m * (1 - y) / (1 - p)) / denominator
    assert torch.allclose(loss, expected_loss, rtol=1e-12)
    assert torch.allclose(pred.grad, expected_grad, rtol=1e-10)
    assert pred.grad[0, 2] == 0  # the masked negative: no gradient at all
    assert pred.grad[0, 0] == pytest.approx(-1 / 0.2 / denominator)  # a zero on a positive changes nothing
    known = torch.ones_like(mask)
    known[1] = 0
    sub = masked_bce(pred.detach(), target, mask, known=known, normalise=normalise)
    top = -(torch.log(p[0, 0]) + torch.log(1 - p[0, 1]))
    assert torch.allclose(sub, top / (3.0 if normalise == "all" else 2.0))
