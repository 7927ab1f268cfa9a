"""Turpault, Serizel, Vincent (ICASSP 2019): transformations, nearest neighbours, semi-hard mining, the
triplet loss, the samplers of Table 1 and the networks (baselines/turpault2019)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tone_bank import render_recipe_text

from wlbench.errors import WlbenchError
from wlbench_baselines.common.losses import masked_bce_probs, triplet_loss
from wlbench_baselines.common.nets import PatchEmbedder
from wlbench_baselines.turpault2019 import mining, sampling, subsegments, transforms
from wlbench_baselines.turpault2019.batches import TransformSettings, batch_loss, build_batch, plan_accuracy, plan_loss
from wlbench_baselines.turpault2019.neighbours import nearest_neighbours
from wlbench_baselines.turpault2019.sampling import (
    LABEL,
    MINE,
    MIXING,
    NEAREST,
    NOISE,
    PROXIMITY,
    SHIFT,
    LabelLeak,
    MaskedLabels,
    PoolIndex,
    plan_triplets,
)

ROOT = Path(__file__).resolve().parents[1]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- sub-segments ---------------------------------------------------------------------------------------

def test_cut_drops_the_tail_and_keeps_clip_major_order():
    x = np.arange(2 * 11 * 3, dtype=np.float32).reshape(2, 11, 3)
    s = subsegments.cut(x, 4)
    assert s.per_clip == 2 and len(s) == 4 and s.features.shape == (4, 4, 3)
    assert s.clip.tolist() == [0, 0, 1, 1] and s.start.tolist() == [0, 4, 0, 4]
    np.testing.assert_array_equal(s.features[3], x[1, 4:8])
    assert subsegments.rows_of_clips(np.array([1, 0]), 2).tolist() == [2, 3, 0, 1]
    np.testing.assert_array_equal(subsegments.clip_sequences(s.features, 2)[1, 0], x[1, 0:4])
    with pytest.raises(WlbenchError, match="fewer than one sub-segment"):
        subsegments.cut(x, 12)


# --- transformations ------------------------------------------------------------------------------------

def test_gaussian_noise_has_the_requested_deviation_and_is_seeded():
    x = torch.zeros(64, 48, 64)
    y = transforms.gaussian_noise(x, 0.5, gen(1))
    assert y.shape == x.shape
    assert abs(float(y.std()) - 0.5) < 0.01 and abs(float(y.mean())) < 0.01
    torch.testing.assert_close(y, transforms.gaussian_noise(x, 0.5, gen(1)))
    assert not torch.equal(y, transforms.gaussian_noise(x, 0.5, gen(2)))


def test_time_frequency_shift_rolls_time_shifts_frequency_and_fills_zeros():
    x = torch.rand(200, 7, 12) + 1.0  # strictly positive: any zero in the output is a fill
    y, t, s = transforms.time_frequency_shift(x, 3, gen(0))
    assert y.shape == x.shape
    assert t.min() == 0 and t.max() == 6 and s.min() == -3 and s.max() == 3  # both ends reached
    xn, yn = x.numpy(), y.numpy()
    for b in range(len(x)):
        ref = np.zeros_like(xn[b])
        rolled = np.roll(xn[b], int(t[b]), axis=0)
        k = int(s[b])
        if k >= 0:
            ref[:, k:] = rolled[:, :12 - k]
        else:
            ref[:, :12 + k] = rolled[:, -k:]
        np.testing.assert_array_equal(yn[b], ref)
        zero_bands = np.flatnonzero((yn[b] == 0).all(axis=0))
        expected = np.arange(k) if k >= 0 else np.arange(12 + k, 12)
        np.testing.assert_array_equal(zero_bands, expected)
        assert (yn[b] != 0).sum() == 7 * (12 - abs(k))


def test_mixing_follows_the_energy_ratio_formula():
    g = gen(3)
    xa, xn = torch.randn(5, 6, 4, generator=g, dtype=torch.float64), 3 * torch.randn(5, 6, 4, generator=g,
                                                                                   dtype=torch.float64)
    xp = transforms.mix_examples(xa, xn, 0.25)
    e_a, e_n = (xa ** 2).sum(dim=(1, 2)), (xn ** 2).sum(dim=(1, 2))
    torch.testing.assert_close(transforms.energy(xa), e_a)
    torch.testing.assert_close(xp - xa, 0.25 * (e_a / e_n)[:, None, None] * xn)
    # the added part's energy relative to the anchor's: alpha^2 E(x_a) / E(x_n)
    torch.testing.assert_close(transforms.energy(xp - xa) / e_a, 0.25 ** 2 * e_a / e_n)
    zero = transforms.mix_examples(xa, torch.zeros_like(xn), 0.25)
    torch.testing.assert_close(zero, xa)


# --- nearest neighbours ---------------------------------------------------------------------------------

def brute_force(pool: np.ndarray, rows: np.ndarray, groups: np.ndarray | None = None):
    flat = pool.reshape(len(pool), -1).astype(np.float64)
    d = ((flat[rows][:, None, :] - flat[None, :, :]) ** 2).sum(axis=-1)
    d[np.arange(len(rows)), rows] = np.inf
    if groups is not None:
        d[groups[rows][:, None] == groups[None, :]] = np.inf
    return d.argmin(axis=1), d.min(axis=1)


def test_nearest_neighbours_match_brute_force_with_ties_and_groups():
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(300, 6, 5)).astype(np.float32)
    pool[200:210] = pool[100:110]  # exact duplicates: distance 0, ties broken by the lowest row
    pool[250] = pool[251]
    rows = np.arange(300)
    for groups in (None, np.repeat(np.arange(60), 5)):
        for block in (7, None):
            idx, dist = nearest_neighbours(pool, rows, groups=groups, block_rows=block)
            ref_idx, ref_dist = brute_force(pool, rows, groups)
            np.testing.assert_array_equal(idx, ref_idx)
            np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)
    idx, _ = nearest_neighbours(pool, rows)
    assert idx[200] == 100 and idx[100] == 200 and idx[250] == 251 and idx[251] == 250


def test_nearest_neighbours_are_exact_where_float32_cannot_tell():
    # rows 1000 + N(0, 1) apart by N(0, 0.05): |x|^2 ~ 2.6e8, so a float32 expanded distance is off by tens
    # while the true distances are ~1: float32 alone picks wrong neighbours, the verified search must not
    rng = np.random.default_rng(0)
    pool = (1000.0 + rng.normal(size=(1, 256)) + rng.normal(scale=0.05, size=(60, 256))).astype(np.float32)
    rows = np.arange(len(pool))
    ref_idx, ref_dist = brute_force(pool, rows)
    p = torch.from_numpy(pool)
    sq = p.pow(2).sum(dim=1)
    screened = sq[:, None] + sq[None, :] - 2 * p @ p.T
    screened.fill_diagonal_(torch.inf)
    assert (screened.argmin(dim=1).numpy() != ref_idx).sum() > 10
    idx, dist = nearest_neighbours(pool, rows)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)


def test_nearest_neighbours_refuse_a_query_without_candidates():
    pool = np.zeros((4, 2, 2), dtype=np.float32)
    with pytest.raises(WlbenchError, match="no other row"):
        nearest_neighbours(pool, np.arange(4), groups=np.zeros(4, dtype=int))
    with pytest.raises(WlbenchError, match="no other row"):
        nearest_neighbours(pool[:1], np.arange(1))


# --- triplet loss and semi-hard mining ------------------------------------------------------------------

def test_triplet_loss_is_the_squared_hinge_of_eq_1():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [0.5, 0.0], [3.0, 0.0]])
    n = torch.tensor([[0.0, 1.0], [0.0, 2.0], [0.0, 1.0]])
    # d_ap = 1, 0.25, 9; d_an = 1, 4, 1 (squared): losses 1 - 1 + 1, max(0, 0.25 - 4 + 1), 9 - 1 + 1; mean
    assert float(triplet_loss(a, p, n, 1.0)) == pytest.approx((1.0 + 0.0 + 9.0) / 3)
    assert float(triplet_loss(a, p, n, 0.5)) == pytest.approx((0.5 + 0.0 + 8.5) / 3)


def test_masked_bce_of_probabilities():
    p = torch.tensor([[0.9, 0.2], [0.0, 1.0]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    known = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    loss = masked_bce_probs(p, y, known)
    assert torch.isfinite(loss)  # exact 0 and 1 are clamped
    expected = -(np.log(0.9) + np.log(1 - 1e-7) + np.log(1 - 1e-7)) / 3
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert p.grad[0, 1] == 0


def test_semi_hard_picks_the_closest_candidate_beyond_the_positive():
    d_ap = torch.tensor([2.0, 2.0, 2.0, 5.0, 1.0])
    d_an = torch.tensor([[1.0, 3.0, 2.5, 9.0],    # beyond 2: 3.0, 2.5, 9.0 -> 2.5 (col 2)
                         [1.0, 2.0, 4.0, 4.0],    # 2.0 is not beyond (strict); tie 4.0 -> lowest col 2
                         [1.0, 3.0, 0.5, 2.5],    # col 3 (2.5) inadmissible -> 3.0 (col 1)
                         [1.0, 3.0, 4.0, 2.0],    # nothing beyond 5 -> fallback
                         [0.0, 0.0, 0.0, 0.0]])   # nothing admissible at all
    admissible = torch.tensor([[True] * 4, [True] * 4, [True, True, True, False], [True, True, False, True],
                               [False] * 4])
    m = mining.semi_hard_negatives(d_ap, d_an, admissible, fallback="farthest")
    assert m.negative.tolist() == [2, 2, 1, 1, -1]  # fallback: farthest admissible (3.0, col 1)
    assert m.status.tolist() == [mining.SEMI_HARD] * 3 + [mining.FALLBACK, mining.NO_CANDIDATE]
    assert m.counts() == {"semi_hard": 3, "fallback": 1, "skipped": 0, "no_candidate": 1}
    s = mining.semi_hard_negatives(d_ap, d_an, admissible, fallback="skip")
    assert s.negative.tolist() == [2, 2, 1, -1, -1]
    assert s.status.tolist()[3:] == [mining.SKIPPED, mining.NO_CANDIDATE]
    with pytest.raises(ValueError, match="fallback"):
        mining.semi_hard_negatives(d_ap, d_an, admissible, fallback="first")


def test_mining_in_a_batch_uses_other_clips_anchors_only():
    # anchors on a line at 0, 1, 3, 10 (clips 0, 0, 1, 2); positives at distance 0.5 from each anchor
    anchor = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    positive = anchor + 0.5
    clip = torch.tensor([0, 0, 1, 2])
    m = mining.mine_in_batch(anchor, positive, clip, torch.tensor([0, 1, 2, 3]))
    # anchor 0: row 1 is its own clip; beyond d_ap = 0.25: row 2 (d 9), row 3 (d 100) -> row 2
    # anchor 1: row 2 (d 4) ; anchor 2: rows 0 (9), 1 (4), 3 (49) -> row 1 ; anchor 3: row 2 (49)
    assert m.negative.tolist() == [2, 2, 1, 2]
    # the positive far away: no candidate beyond it -> fallback to the farthest other-clip anchor
    far = positive.clone()
    far[0] = 100.0
    m = mining.mine_in_batch(anchor, far, clip, torch.tensor([0]))
    assert m.negative.tolist() == [3] and m.status.tolist() == [mining.FALLBACK]
    alone = mining.mine_in_batch(anchor[:2], positive[:2], clip[:2], torch.tensor([0, 1]))
    assert alone.negative.tolist() == [-1, -1] and alone.counts()["no_candidate"] == 2


# --- samplers -------------------------------------------------------------------------------------------

N_CLIPS, PER_CLIP, N_CLASSES = 24, 4, 5


def toy_pool(seed: int = 0):
    """24 clips x 4 sub-segments (0.96 s apart), clips 0-7 labeled, multi-label truth for every clip."""
    rng = np.random.default_rng(seed)
    y_clip = (rng.random((N_CLIPS, N_CLASSES)) < 0.3).astype(np.uint8)
    y_clip[np.arange(N_CLIPS), rng.integers(0, N_CLASSES, N_CLIPS)] = 1
    y_clip[0] = [1, 0, 0, 0, 0]
    y_clip[1] = [1, 1, 0, 0, 0]
    y_clip[2] = [0, 0, 1, 0, 0]
    y_clip[7] = 0  # a labeled clip without any label: never a label anchor
    labeled_clip = np.arange(N_CLIPS) < 8
    clip = np.repeat(np.arange(N_CLIPS), PER_CLIP)
    start = np.tile(np.arange(PER_CLIP) * 0.96, N_CLIPS)
    pool = PoolIndex(clip, start, PER_CLIP, labeled_clip)
    return pool, np.repeat(y_clip, PER_CLIP, axis=0)


def masked(pool: PoolIndex, y: np.ndarray) -> MaskedLabels:
    return MaskedLabels(y, pool.labeled)


def make_plan(strategy, seed=0, labels=None, pool=None, y=None, **kw):
    if pool is None:
        pool, y = toy_pool()
    labels = masked(pool, y) if labels is None else labels
    kw.setdefault("labeled", 28)
    kw.setdefault("unlabeled", 40)
    return plan_triplets(strategy, pool, labels, rng=np.random.default_rng(seed),
                         nearest=lambda rows: (rows + PER_CLIP) % len(pool.clip), **kw)


@pytest.mark.parametrize("strategy", sampling.STRATEGIES)
def test_plans_follow_table_1(strategy):
    pool, y = toy_pool()
    plan = make_plan(strategy, pool=pool, y=y)
    lab = plan.labeled_anchor
    assert (pool.labeled[plan.anchor] == lab).all()
    transformed = np.isin(plan.positive_kind, (NOISE, SHIFT, MIXING, PROXIMITY))
    if strategy in ("S4", "S5"):
        assert lab.all() and len(plan) == 68  # the whole budget on labeled anchors
    else:
        assert lab.sum() == 28 and (~lab).sum() == 40
    expected = {  # (labeled positive, labeled negative, unlabeled positive, unlabeled negative)
        "S1": ("transform", "mine", "transform", "mine"), "S2": ("label", "label", "transform", "mine"),
        "S3": ("label", "label", "nearest", "mine"), "S4": ("label", "mine", None, None),
        "S5": ("label", "label", None, None)}[strategy]
    for part, pos, neg in ((lab, *expected[:2]), (~lab, *expected[2:])):
        if pos is None:
            assert not part.any()
            continue
        kinds = plan.positive_kind[part]
        assert {"transform": transformed[part].all(), "label": (kinds == LABEL).all(),
                "nearest": (kinds == NEAREST).all()}[pos]
        assert ((plan.negative[part] == MINE) == (neg == "mine")).all()
    # multi-label rules: a label positive shares >= 1 label and comes from another clip; a label negative none
    is_label = plan.positive_kind == LABEL
    a, p = plan.anchor[is_label], plan.positive[is_label]
    assert ((y[a] & y[p]).any(axis=1)).all() and (pool.clip[a] != pool.clip[p]).all() and pool.labeled[p].all()
    has_neg = plan.negative != MINE
    a, n = plan.anchor[has_neg], plan.negative[has_neg]
    assert not (y[a] & y[n]).any() and pool.labeled[n].all()
    # clip 7 has no label: never a label anchor
    assert not np.isin(pool.clip[plan.anchor[is_label]], [7]).any()


def test_transformed_positives_proximity_mixing_and_nearest():
    pool, y = toy_pool()
    plan = make_plan("S1", labeled=400, unlabeled=400, proximity_dt=1.0)
    kinds = plan.positive_kind
    assert set(np.unique(kinds)) == {NOISE, SHIFT, MIXING, PROXIMITY}
    assert (plan.positive[np.isin(kinds, (NOISE, SHIFT))] == -1).all()
    prox = kinds == PROXIMITY
    a, p = plan.anchor[prox], plan.positive[prox]
    assert (pool.clip[a] == pool.clip[p]).all() and (a != p).all()
    assert (np.abs(pool.start_s[a] - pool.start_s[p]) < 1.0).all()  # dt = 1 s: neighbours only
    mix = kinds == MIXING
    assert (pool.clip[plan.anchor[mix]] != pool.clip[plan.positive[mix]]).all()
    assert len(np.unique(plan.positive[mix])) > 70  # ~200 draws spread over the 96 pool rows
    only = make_plan("S2", transformations=["noise"])
    assert set(only.positive_kind[~only.labeled_anchor]) == {NOISE}
    s3 = make_plan("S3")
    u = ~s3.labeled_anchor
    np.testing.assert_array_equal(s3.positive[u], (s3.anchor[u] + PER_CLIP) % len(pool.clip))
    with pytest.raises(WlbenchError, match="proximity_dt"):
        make_plan("S1", transformations=["proximity"], proximity_dt=0.5)


def test_anchor_draw_uses_each_row_once_per_pass():
    rng = np.random.default_rng(0)
    rows = np.arange(10, 20)
    once = sampling.draw_anchors(rows, 10, rng)
    assert sorted(once) == list(rows)
    twice_and_half = sampling.draw_anchors(rows, 25, rng)
    counts = np.bincount(twice_and_half - 10, minlength=10)
    assert counts.min() == 2 and counts.max() == 3 and counts.sum() == 25
    pool, y = toy_pool()
    plan = make_plan("S2", labeled=28, unlabeled=64)  # 28 eligible labeled rows, 64 unlabeled rows
    assert sorted(plan.anchor[~plan.labeled_anchor]) == list(np.flatnonzero(~pool.labeled))
    assert plan.info["labeled_clips_without_triplet"] == 1  # clip 7
    assert sorted(plan.anchor[plan.labeled_anchor]) == [r for r in np.flatnonzero(pool.labeled) if r // 4 != 7]


class Recording(MaskedLabels):
    """MaskedLabels that also counts the calls."""

    calls = 0

    def rows(self, index):
        self.calls += 1
        return super().rows(index)


def test_s1_reads_no_label_and_s2_s3_read_only_labeled_clips():
    pool, y = toy_pool()
    for strategy in ("S1", "S2", "S3"):
        rec = Recording(y, pool.labeled)
        make_plan(strategy, labels=rec, pool=pool, y=y)
        if strategy == "S1":
            assert rec.calls == 0 and not rec.read.any()
        else:
            assert rec.read.any() and not rec.read[~pool.labeled].any()
    # S1 runs without any labels at all
    plan = plan_triplets("S1", pool, None, labeled=8, unlabeled=8, rng=np.random.default_rng(0))
    assert len(plan) == 16
    # a sampler that tried to read an unknown row would be stopped
    with pytest.raises(LabelLeak):
        masked(pool, y).rows(np.array([0, 8 * PER_CLIP]))


@pytest.mark.parametrize("strategy", ["S1", "S2", "S3"])
def test_plans_do_not_depend_on_labels_they_may_not_read(strategy):
    pool, y = toy_pool()
    scrambled = y.copy()
    rng = np.random.default_rng(5)
    hidden = ~pool.labeled if strategy != "S1" else np.ones(len(y), dtype=bool)
    scrambled[hidden] = rng.integers(0, 2, size=scrambled[hidden].shape)
    known = pool.labeled
    a = make_plan(strategy, labels=MaskedLabels(y, known), pool=pool, y=y)
    b = make_plan(strategy, labels=MaskedLabels(scrambled, np.ones(len(y), bool) if strategy == "S1" else known),
                  pool=pool, y=scrambled)
    for field in ("anchor", "positive_kind", "positive", "negative", "labeled_anchor"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_plan_errors_name_the_problem():
    pool, y = toy_pool()
    with pytest.raises(WlbenchError, match="unknown strategy"):
        make_plan("S6")
    with pytest.raises(WlbenchError, match="transformations"):
        make_plan("S1", transformations=["reverb"])
    all_labeled = PoolIndex(pool.clip, pool.start_s, PER_CLIP, np.ones(N_CLIPS, dtype=bool))
    with pytest.raises(WlbenchError, match="no unlabeled sub-segment"):
        make_plan("S2", pool=all_labeled, y=y)
    assert len(make_plan("S5", pool=all_labeled, y=y)) == 68


# --- batches --------------------------------------------------------------------------------------------

def test_batch_inputs_follow_the_plan_and_the_loss_matches_a_hand_computation():
    pool, y = toy_pool()
    feats = torch.randn(len(pool.clip), 6, 16, generator=gen(0))
    plan = make_plan("S2", labeled=28, unlabeled=60)
    settings = TransformSettings(noise_sigma=0.5, max_freq_shift=2, mixing_alpha=0.25)
    idx = np.arange(len(plan))
    batch = build_batch(feats, pool.clip, plan, idx, settings, gen(1))
    kinds = plan.positive_kind
    for i in np.flatnonzero(kinds == LABEL):
        torch.testing.assert_close(batch.positive[i], feats[plan.positive[i]])
    for i in np.flatnonzero(kinds == MIXING)[:3]:
        torch.testing.assert_close(batch.positive[i], transforms.mix_examples(
            feats[plan.anchor[i]][None], feats[plan.positive[i]][None], 0.25)[0])
    noise = np.flatnonzero(kinds == NOISE)
    assert noise.size and not torch.equal(batch.positive[noise[0]], feats[plan.anchor[noise[0]]])
    assert len(batch.negative_rows) == 28 and len(batch.mine_rows) == 60

    def embed(x):  # a fixed "network": the time mean
        return x.mean(dim=1)

    loss, stats = batch_loss(embed, batch, margin=1.0)
    e_a, e_p = embed(batch.anchor), embed(batch.positive)
    e_n = torch.zeros_like(e_a)
    e_n[batch.negative_rows] = embed(batch.negative)
    mined = mining.mine_in_batch(e_a, e_p, batch.clip, batch.mine_rows)
    assert mined.counts()["no_candidate"] == 0
    e_n[batch.mine_rows] = e_a[mined.negative]
    expected = triplet_loss(e_a, e_p, e_n, 1.0)
    torch.testing.assert_close(loss, expected)
    assert stats["triplets"] == len(plan) and stats["semi_hard"] + stats["fallback"] == 60


def test_batch_loss_trains_an_embedding():
    torch.manual_seed(0)
    pool, y = toy_pool()
    feats = torch.randn(len(pool.clip), 8, 16, generator=gen(0))
    plan = make_plan("S5", labeled=40, unlabeled=0)
    net = PatchEmbedder(16, 8, [4, 4], [[1, 2], [1, 2]], "relu")
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    batch = build_batch(feats, pool.clip, plan, np.arange(len(plan)), TransformSettings(), gen(0))
    first = None
    for _ in range(30):
        loss, _ = batch_loss(net, batch)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(batch_loss(net, batch)[0].detach()) < 0.5 * first


# --- networks -------------------------------------------------------------------------------------------

def test_networks_have_the_paper_shapes():
    from wlbench_baselines.turpault2019.methods import CRNN_METHOD, LOGMEL, TRIPLET

    x = torch.randn(3, 480, 64)
    cfg = TRIPLET.config_schema().defaults() | {"patch_frames": 48}
    nets = TRIPLET.build(cfg, 64, 10)
    e, g = nets["embedder"], nets["classifier"]
    assert [m.out_channels for m in e.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 64, 64]
    assert e.out_dim == 64 and e(x[:, :48]).shape == (3, 64)
    seq = e.patch_embeddings(x)
    assert seq.shape == (3, 10, 64)
    torch.testing.assert_close(seq[1, 3], e(x[1:2, 144:192])[0], rtol=1e-5, atol=1e-6)
    assert g.rnn.rnn.num_layers == 2 and g.rnn.rnn.hidden_size == 64
    clip, frames = TRIPLET.forward(nets, x)
    assert clip.shape == (3, 10) and frames.shape == (3, 10, 10) and TRIPLET.frame_pool(cfg) == 48
    torch.testing.assert_close(clip, frames.mean(dim=1))
    crnn = CRNN_METHOD.build(CRNN_METHOD.config_schema().defaults(), 64, 10)["classifier"]
    clip, frames = crnn(x)
    assert clip.shape == (3, 10) and frames.shape == (3, 480, 10)
    torch.testing.assert_close(clip, frames.mean(dim=1))
    assert crnn.rnn.rnn.num_layers == 1 and crnn.rnn.rnn.hidden_size == 64
    assert [m.out_channels for m in crnn.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 64, 64]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in crnn.modules())
    logmel = LOGMEL.build(LOGMEL.config_schema().defaults(), 64, 10)["classifier"]
    assert logmel.rnn.rnn.num_layers == 2 and logmel(x)[0].shape == (3, 10)
    with pytest.raises(WlbenchError, match="frequency only"):
        CRNN_METHOD.build(CRNN_METHOD.config_schema().defaults() | {"pools": [[2, 4], [1, 4], [1, 4]]}, 64, 10)


def test_l2_embedding_is_unit_norm():
    from wlbench_baselines.turpault2019.methods import TRIPLET

    cfg = TRIPLET.config_schema().defaults() | {"patch_frames": 48, "filters": [8, 8, 8], "l2_normalize": True}
    e = TRIPLET.build(cfg, 64, 10)["embedder"]
    torch.testing.assert_close(e(torch.randn(4, 48, 64)).norm(dim=1), torch.ones(4))


# --- the recipe -----------------------------------------------------------------------------------------

def test_recipe_is_the_paper_setting():
    from wlbench.recipes import load_recipe

    r = load_recipe(ROOT / "datasets" / "dcase2018-like.toml")
    train = next(s for s in r.splits if s.name == "train")
    assert r.clip_duration == 10.0 and len(r.classes) == 10
    assert dict(train.roles) == {"weak": pytest.approx(0.1), "unlabeled": pytest.approx(0.9)}
    hop_s = r.features.hop_length / r.features.sample_rate
    assert round(0.96 / hop_s) == 48


# --- on a rendered dataset ------------------------------------------------------------------------------

SEMISUP_RECIPE = """
[dataset]
name = "semisup"
seed = 11

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
events_per_clip = { dist = "choose", values = [1, 2] }
onset = { dist = "uniform", min = 0.0, max = 9.0 }

[splits.train]
clips = 20
roles = { weak = 0.2, unlabeled = 0.8 }

[splits.validation]
clips = 4
part = "train"

[splits.eval]
clips = 3
part = "eval"

[segments]
durations = []

[features]
hop_length = 320
"""


@pytest.fixture(scope="module")
def semisup_dataset(tone_bank, tmp_path_factory) -> Path:
    """20 multi-event tone clips for training, 4 labeled (weak) and 16 unlabeled; 4 validation and 3 eval
    clips; 20 ms hop."""
    return render_recipe_text(SEMISUP_RECIPE, tone_bank, tmp_path_factory.mktemp("semisup"), "semisup")


@pytest.mark.slow
def test_plans_on_a_rendered_semi_supervised_split(semisup_dataset):
    from wlbench.dataset.reader import open_dataset

    with open_dataset(semisup_dataset) as ds:
        sp = ds.split("train")
        feats, y, roles = sp.features(), sp.weak_labels(), sp.roles()
        hop_s = 1.0 / sp.frame_rate
        unlabeled_code = sp.role_names.index("unlabeled")
    labeled_clip = roles != unlabeled_code
    assert labeled_clip.sum() == 4
    segs = subsegments.cut(feats, round(0.96 / hop_s))
    assert segs.per_clip == 10 and segs.features.shape[1:] == (48, 64)
    pool = PoolIndex.of(segs, labeled_clip, hop_s)
    labels = MaskedLabels(np.repeat(y, segs.per_clip, axis=0), pool.labeled)
    rows = np.flatnonzero(~pool.labeled)
    nn_idx, _ = nearest_neighbours(segs.features, rows)
    ref_idx, _ = brute_force(segs.features, rows)
    np.testing.assert_array_equal(nn_idx, ref_idx)
    lookup = np.full(len(segs), -1)
    lookup[rows] = nn_idx
    plan = plan_triplets("S3", pool, labels, labeled=40, unlabeled=40, rng=np.random.default_rng(0),
                         nearest=lambda r: lookup[r])
    assert not labels.read[~pool.labeled].any()
    u = ~plan.labeled_anchor
    assert (plan.positive_kind[u] == NEAREST).all() and (plan.positive[u] >= 0).all()
    feats_t = torch.from_numpy(np.ascontiguousarray(segs.features))
    batch = build_batch(feats_t, pool.clip, plan, np.arange(len(plan)), TransformSettings(), gen(0))
    loss, stats = batch_loss(PatchEmbedder(64, 48, [4, 4, 4], [[1, 4]] * 3, "relu"), batch)
    assert torch.isfinite(loss) and stats["triplets"] + stats["skipped"] + stats["no_candidate"] == len(plan)


def test_plan_loss_scores_fixed_label_triplets():
    pool, y = toy_pool()
    plan = make_plan("S5", labeled=30, unlabeled=0)
    emb = torch.from_numpy(y.astype(np.float32)) * 3.0  # one axis per class
    a, p, n = emb[plan.anchor], emb[plan.positive], emb[plan.negative]
    hand = torch.clamp(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 1.0, min=0).mean()
    assert plan_loss(emb, plan) == pytest.approx(float(hand))
    d_ap, d_an = ((a - p) ** 2).sum(1), ((a - n) ** 2).sum(1)
    assert plan_accuracy(emb, plan) == pytest.approx(float(((d_an > d_ap) + 0.5 * (d_an == d_ap)).mean()))
    assert plan_accuracy(emb * 100.0, plan) == pytest.approx(plan_accuracy(emb, plan))  # scale-blind
    assert plan_accuracy(torch.zeros_like(emb), plan) == 0.5  # all ties
    with pytest.raises(ValueError, match="label negatives"):
        plan_loss(emb, make_plan("S4", labeled=30, unlabeled=0))


# --- the methods, trained on a rendered dataset ------------------------------------------------------------

def tiny(**more):
    cfg = {"threads": 1, "filters": [4, 4, 4], "rnn_hidden": 4, "max_epochs": 2, "patience": 2, "warmup": 0,
           "batch_size": 16}
    return {**cfg, **more}


def tiny_triplet(**more):
    return tiny(classifier_max_epochs=3, classifier_patience=3, classifier_warmup=0, validation_triplets=50,
                **more)


def read_jsonl(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["S1", "S3", "S5"])
def test_triplet_method_trains_each_strategy(strategy, semisup_dataset, tmp_path):
    from test_baselines import predict

    from wlbench.methods import train_run

    run = tmp_path / "run"
    summary = train_run("turpault2019-triplet", semisup_dataset, run, seed=1, bootstrap=0,
                        overrides=tiny_triplet(strategy=strategy, triplets=[2.0, 1.0]))
    assert set(summary["map"]) == {"validation", "eval"}
    stages = {s["stage"]: s for s in summary["train"]["stages"]}
    assert list(stages) == ["embedding", "classifier", "audit"]
    plan = stages["embedding"]["plan"]
    n_l = plan["labeled_subsegments"]
    assert n_l == 40  # 4 labeled clips x 10 sub-segments of 0.96 s
    if strategy == "S5":
        assert plan["labeled_anchors"] == plan["triplets"] == 120 and plan["mined_negatives"] == 0
    else:
        assert plan["labeled_anchors"] == 80 and plan["triplets"] == 120 and plan["mined_negatives"] > 0
    if strategy == "S3":
        assert plan["positives"]["nearest"] == 40 and 0 <= plan["nearest_same_clip"] <= 1
        assert "labeled_nearest_sharing_a_label" in plan
    detail = stages["embedding"]["epochs_detail"]
    assert len(detail) == 2 and all(d["triplets"] + d["skipped"] + d["no_candidate"] == 120 for d in detail)
    rows = read_jsonl(run / "log.jsonl")
    emb = [r for r in rows if r["stage"] == "embedding"]
    assert [r["epoch"] for r in emb] == [0, 1, 2] and all(0 <= r["val_triplet_accuracy"] <= 1 for r in emb)
    assert {r["selection"] for r in rows} == {"triplet_accuracy", "map"}
    audit = read_jsonl(run / "audit.jsonl")
    assert audit[0]["audit"] == "inherited_subsegment_labels" and audit[0]["n_windows"] == 40
    assert 0 < audit[0]["precision"] <= 1  # some inherited labels are absent from their sub-segment
    pred = predict("turpault2019-triplet", run, semisup_dataset)
    assert pred.clip_scores.shape == (3, 3) and pred.frame_scores.shape == (3, 10, 3)
    assert pred.frame_hop == pytest.approx(0.96)
    pred.check(3, "test")


@pytest.mark.slow
def test_untrained_control_and_determinism(semisup_dataset, tmp_path):
    from test_baselines import make_ctx

    from wlbench.methods import get_method

    method = get_method("turpault2019-triplet")
    assert method.controls["untrained"]["train_embedding"] is False
    states = {}
    for tag, extra in (("a", {}), ("b", {}), ("control", method.controls["untrained"])):
        summary = method.train(make_ctx(method, semisup_dataset, tmp_path / tag, tiny_triplet(**extra), seed=4))
        states[tag] = torch.load(tmp_path / tag / "checkpoint.pt", weights_only=True)["state"]
        stages = [s["stage"] for s in summary["stages"]]
        assert stages[:-1] == (["embedding", "classifier"] if tag != "control" else ["classifier"])
        if tag != "control":
            assert summary["stages"][0]["steps"] == 10  # 2 passes x 80 triplets / 16
    for part in ("embedder", "classifier"):  # the same seed trains the same weights
        assert all(torch.equal(states["a"][part][k], v) for k, v in states["b"][part].items())
    torch.manual_seed(4)
    cfg = method.config_schema().defaults() | tiny_triplet() | {"patch_frames": 48}
    fresh = method.build(cfg, 64, 3)["embedder"]
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in states["control"]["embedder"].items())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["turpault2019-crnn", "turpault2019-logmel"])
def test_reference_classifiers_train_on_labeled_clips(name, semisup_dataset, tmp_path):
    from test_baselines import predict

    from wlbench.methods import train_run

    cfg = tiny(max_epochs=3, lr=1e-2)
    if name == "turpault2019-logmel":
        del cfg["filters"]  # no CNN
    summary = train_run(name, semisup_dataset, tmp_path / "run", overrides=cfg, bootstrap=0)
    assert summary["train"]["n_train"] == 4  # the labeled clips only
    assert [s["stage"] for s in summary["train"]["stages"]] == ["classifier"]
    pred = predict(name, tmp_path / "run", semisup_dataset)
    assert pred.clip_scores.shape == (3, 3)
    if name == "turpault2019-crnn":
        assert pred.frame_scores.shape[1] == 501 and pred.frame_hop == pytest.approx(0.02)


def test_triplet_method_refuses_what_it_cannot_honour(semisup_dataset, tmp_path):
    from test_baselines import make_ctx

    from wlbench.methods import get_method

    method = get_method("turpault2019-triplet")
    with pytest.raises(WlbenchError, match="train_clips"):
        method.train(make_ctx(method, semisup_dataset, tmp_path / "a", tiny_triplet(train_clips=2)))
    with pytest.raises(WlbenchError, match="shorter than one frame"):
        method.train(make_ctx(method, semisup_dataset, tmp_path / "b", tiny_triplet(subsegment_seconds=0.005)))
    with pytest.raises(WlbenchError, match="strategy"):
        make_ctx(method, semisup_dataset, tmp_path / "c", tiny_triplet(strategy="S9"))


# --- the grids ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, cells, runs", [("turpault2019-table2", 17, 57), ("turpault2019-table3", 8, 30)])
def test_grids_plan_their_cells_and_share_the_untrained_control(name, cells, runs, tmp_path):
    from wlbench.experiments.grid import load_experiment
    from wlbench.experiments.planning import all_runs, plan_cells

    exp = load_experiment(ROOT / "baselines" / "experiments" / f"{name}.toml")
    planned = plan_cells(exp, tmp_path)
    assert len(planned) == cells and len(all_runs(planned)) == runs
    triplet = [c for c in planned if c.method == "turpault2019-triplet"]
    # the untrained control ignores strategy and budget: one run per seed for every cell of the grid
    shared = {r.run_dir for c in triplet for r in c.controls["untrained"]}
    assert len(shared) == len(exp.seeds)
    assert all(r.overrides["train_embedding"] is False for c in triplet for r in c.controls["untrained"])
    assert all("prior" in c.controls for c in planned)


def test_findings_are_paired_contrasts_of_the_tables():
    from wlbench_baselines.turpault2019.findings import render

    def cell(method, strategy, budget, seeds, untrained):
        res = {"seeds": {str(k): v for k, v in seeds.items()},
               "controls": {"untrained": {"seeds": {str(k): v for k, v in untrained.items()}}}}
        axes = {} if strategy is None else {"strategy": strategy, "triplets": budget}
        return {"method": method, "axes": axes, "results": {"map": {"clip": res}}}

    base = {s: 0.30 + 0.02 * s for s in range(5)}  # 5 seeds: a claim needs 5
    cells = [cell("turpault2019-triplet", s, b, {k: v + (0.1 if s == "S2" else 0.0) + 0.001 * k * (s == "S2")
                                                for k, v in base.items()}, base)
             for s in ("S1", "S2", "S3", "S4", "S5") for b in ([1.0, 1.0], [1.0, 4.44], [1.0, 9.0])]
    text = render({"metrics": ["map"], "cells": cells})
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): line for line in text.splitlines()[4:]}
    s2_s1 = rows[("S2 beats S1 (labels help)", "map", "[1, 1]")]
    assert "+10.2 ±0.2" in s2_s1 and s2_s1.endswith("| holds |")  # differences 0.100 ... 0.104
    assert rows[("beats the untrained CNN (S1)", "map", "[1, 1]")].endswith("| not resolved |")  # all zero
    assert rows[("beats the untrained CNN (S2)", "map", "[1, 1]")].endswith("| resolved |")
    # S1 never beats the untrained CNN: a claim that S1 is better than anything has no headroom
    assert rows[("adding unlabeled triplets helps (S1)", "map", "[1, 4.44] - [1, 1]")].endswith("| no headroom |")
    assert rows[("S4 is worst: S2 - S4", "map", "[1, 1]")].endswith("| holds |")
    assert not any(k[0].startswith("the baseline CRNN") for k in rows)  # no such cells: no row
