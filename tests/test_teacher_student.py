"""The teacher / student core shared by the pseudo-strong-label and loss-masking baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from wlbench_baselines.teacher_student.augment import SpecAugment, mixup
from wlbench_baselines.teacher_student.averaging import TopK, average_states
from wlbench_baselines.teacher_student.losses import bce, psl_loss, torch_bce
from wlbench_baselines.teacher_student.nets import DEFAULT_NET, FramePoolingTagger, build_tagger
from wlbench_baselines.teacher_student.relabel import freeze, relabel, window_scores
from wlbench_baselines.teacher_student.windows import chunk_windows, clip_frames, patch_windows

# --- windows --------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [10.0, 5.0, 2.0, 1.0, 3.0, 2.5, 0.96, 4.0])
@pytest.mark.parametrize("frame_rate", [100.0, 62.5])
def test_chunks_cover_each_clip_exactly_once(chunk, frame_rate):
    n_clips, duration = 3, 10.0
    n_frames = 1 + int(duration * frame_rate)  # centred framing: one frame more than the clip owns
    w = chunk_windows(n_clips, clip_duration=duration, frame_rate=frame_rate, chunk=chunk, n_frames=n_frames)
    owned = clip_frames(duration, frame_rate, n_frames)
    assert owned == int(np.ceil(duration * frame_rate))
    k = int(np.ceil(duration / chunk - 1e-9))
    assert len(w) == n_clips * k and w.per_clip == k
    for c in range(n_clips):
        hits = np.zeros(n_frames, dtype=int)
        for s, e in zip(w.start[w.clip == c], w.stop[w.clip == c]):
            hits[s:e] += 1
        assert np.array_equal(hits[:owned], np.ones(owned, dtype=int))  # every frame once
        assert hits[owned:].sum() == 0  # the frame centred on the clip's end is in no chunk
    # chunk k spans the frames centred in [k chunk, (k + 1) chunk): its first frame's time is >= k chunk
    t_first = w.start / frame_rate
    assert np.all(t_first >= w.position * chunk - 1e-9)
    assert np.all((w.start - 1) / frame_rate < w.position * chunk)
    lengths = w.lengths[w.clip == 0]
    full = chunk * frame_rate  # frames of a full chunk: whole, or within one frame of it (62.5 frames/s)
    assert np.all(np.abs(lengths[:-1] - full) < 1) and lengths[-1] < full + 1  # only the last may be shorter
    if abs(duration / chunk - round(duration / chunk)) < 1e-9 and float(chunk * frame_rate).is_integer():
        assert np.all(w.lengths == int(chunk * frame_rate))


def test_chunk_lengths_at_100_frames_per_second():
    w = chunk_windows(1, clip_duration=10.0, frame_rate=100.0, chunk=3.0, n_frames=1001)
    assert w.start.tolist() == [0, 300, 600, 900] and w.stop.tolist() == [300, 600, 900, 1000]
    w2 = chunk_windows(1, clip_duration=10.0, frame_rate=100.0, chunk=2.0, n_frames=1001)
    assert w2.lengths.tolist() == [200] * 5


def test_patches_of_096_s_with_half_overlap():
    w = patch_windows(2, n_frames=1000, length=96, hop=48)
    assert w.per_clip == 20 and np.all(w.lengths == 96)
    starts = w.start[w.clip == 0]
    assert starts[:19].tolist() == list(range(0, 865, 48)) and starts[-1] == 1000 - 96  # end-aligned last
    hits = np.zeros(1000, int)
    for s in starts:
        hits[s:s + 96] += 1
    assert hits.min() >= 1
    exact = patch_windows(1, n_frames=96 + 48 * 3, length=96, hop=48)  # grid ends on the last frame
    assert exact.start.tolist() == [0, 48, 96, 144]
    short = patch_windows(1, n_frames=50, length=96, hop=48)
    assert short.start.tolist() == [0] and short.stop.tolist() == [50]


def test_gather_batches_and_pooling():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 1001, 3)).astype(np.float32)
    w = chunk_windows(4, clip_duration=10.0, frame_rate=100.0, chunk=3.0, n_frames=1001)
    for index in w.batches(5):
        g = w.gather(x, index)
        for row, m in enumerate(index):
            assert np.array_equal(g[row], x[w.clip[m], w.start[m]:w.stop[m]])
    with pytest.raises(ValueError, match="cannot be stacked"):
        w.gather(x, np.array([0, 3]))  # a 300-frame and a 100-frame chunk
    for seed in (0, 1):
        batches = w.batches(5, np.random.default_rng(seed))
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(len(w)))  # each window once per epoch
        assert all(len(b) <= 5 and np.unique(w.lengths[b]).size == 1 for b in batches)
    again = w.batches(5, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(again, w.batches(5, np.random.default_rng(1))))
    scores = rng.random((len(w), 2))
    pooled = w.pool(scores)
    lengths = w.lengths[:4].astype(float)
    assert np.allclose(pooled[1], (scores[4:8] * lengths[:, None]).sum(0) / lengths.sum())
    assert np.allclose(w.pool(scores, "max")[2], scores[8:12].max(0))
    even = chunk_windows(4, clip_duration=10.0, frame_rate=100.0, chunk=2.0, n_frames=1001)
    s2 = rng.random((len(even), 2))
    assert np.allclose(even.pool(s2), s2.reshape(4, 5, 2).mean(1))  # equal chunks: the plain mean
    labels = rng.integers(0, 2, (4, 2))
    assert np.array_equal(even.expand(labels), np.repeat(labels, 5, axis=0))


# --- network --------------------------------------------------------------------------------------

def test_tagger_pools_frame_decisions_and_accepts_short_chunks():
    torch.manual_seed(0)
    net = build_tagger(DEFAULT_NET, 64, 5).eval()
    for length in (net.min_frames, 96, 100, 200, 1001):
        clip, frames = net(torch.randn(3, length, 64))
        assert clip.shape == (3, 5) and frames.shape == (3, length // net.min_frames, 5)
        assert torch.allclose(clip, frames.mean(1)) and bool(((clip >= 0) & (clip <= 1)).all())
    with pytest.raises(ValueError, match="shorter than the network's time pooling"):
        net(torch.randn(1, net.min_frames - 1, 64))
    rnn = FramePoolingTagger(64, 4, filters=[4], pools=[[2, 4]], rnn_hidden=3, hidden=[6]).eval()
    assert rnn(torch.randn(2, 10, 64))[1].shape == (2, 5, 4)


# --- relabelling by a frozen teacher ----------------------------------------------------------------

def test_relabelling_uses_a_frozen_teacher_in_eval_mode():
    torch.manual_seed(0)
    teacher = build_tagger({**DEFAULT_NET, "filters": [4, 8, 8], "head_dropout": 0.5}, 32, 3)
    teacher.train()  # as left by its training loop
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    seen = []

    def record(module, inputs, output):
        seen.append((module.training, torch.is_grad_enabled(), any(p.requires_grad for p in module.parameters())))

    hooks = [m.register_forward_hook(record) for m in teacher.modules()]
    x = np.random.default_rng(0).normal(size=(5, 401, 32)).astype(np.float32)
    w = chunk_windows(5, clip_duration=4.0, frame_rate=100.0, chunk=1.0, n_frames=401)
    soft = relabel(teacher, x, w, batch_size=7)
    for h in hooks:
        h.remove()
    assert seen and all(not training and not grad and not trainable for training, grad, trainable in seen)
    after = teacher.state_dict()
    for k, v in before.items():  # weights and batch-norm buffers untouched
        assert torch.equal(v, after[k]), k
    assert soft.shape == (20, 3) and soft.dtype == np.float32 and np.all((soft >= 0) & (soft <= 1))
    # eval mode: a window's label does not depend on its batch, and relabelling twice gives the same labels
    one = window_scores(teacher, x, w, batch_size=1)
    assert np.allclose(one, soft, atol=1e-6) and np.array_equal(relabel(teacher, x, w, batch_size=7), soft)


def test_freeze():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert freeze(net) is net and not net.training and not any(p.requires_grad for p in net.parameters())


# --- losses ------------------------------------------------------------------------------------------

def _batch(seed=0, shape=(16, 6)):
    g = torch.Generator().manual_seed(seed)
    student = torch.rand(shape, generator=g)
    student[0, 0], student[0, 1] = 0.0, 1.0  # saturated outputs
    return student, torch.rand(shape, generator=g), (torch.rand(shape, generator=g) < 0.3).float()


def test_bce_is_torch_bce():
    student, soft, weak = _batch()
    assert torch.equal(bce(student, weak), torch_bce(student, weak))
    assert torch.equal(bce(student, soft), torch_bce(student, soft))
    p = student.clone().requires_grad_(True)
    bce(p, weak).backward()
    assert torch.isfinite(p.grad).all()


def test_alpha_zero_is_exactly_the_weak_label_loss():
    student, y_psl, y_weak = _batch(1)
    a = student.clone().requires_grad_(True)
    b = student.clone().requires_grad_(True)
    la, lb = psl_loss(a, y_psl, y_weak, alpha=0.0), bce(b, y_weak)
    assert torch.equal(la, lb)
    la.backward()
    lb.backward()
    assert torch.equal(a.grad, b.grad)
    assert torch.equal(psl_loss(student, y_psl, y_weak, alpha=1.0), bce(student, y_psl))
    half = psl_loss(student, y_psl, y_weak, alpha=0.5)
    assert torch.allclose(half, 0.5 * bce(student, y_psl) + 0.5 * bce(student, y_weak))
    known = torch.ones_like(y_weak)
    known[:4] = 0
    masked = psl_loss(student, y_psl, y_weak, alpha=0.0, known=known)
    assert torch.allclose(masked, torch_bce(student[4:], y_weak[4:]))
    with pytest.raises(ValueError, match="alpha"):
        psl_loss(student, y_psl, y_weak, alpha=1.5)


# --- checkpoint averaging --------------------------------------------------------------------------

def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = FramePoolingTagger(8, 3, filters=[4, 4], pools=[[2, 2], [2, 2]], batch_norm=True)
    with torch.no_grad():
        for p in net.parameters():  # batch-norm weights start at 1 and biases at 0 in every network
            p.add_(torch.randn_like(p))
    net.train()
    net(torch.randn(6, 16, 8) * (seed + 1))  # moves the batch-norm running statistics and counters
    if seed:
        net(torch.randn(6, 16, 8))
    return net


def test_averaging_identical_checkpoints_returns_the_same_weights():
    state = _net(0).state_dict()
    avg = average_states([state, state, state, state])
    assert list(avg) == list(state)
    for k, v in state.items():
        assert torch.equal(avg[k], v) and avg[k].dtype == v.dtype, k


def test_averaging_two_checkpoints_gives_their_mean_buffers_included():
    a, b = _net(0).state_dict(), _net(1).state_dict()
    avg = average_states([a, b])
    floats = [k for k, v in a.items() if v.is_floating_point()]
    assert any("running_mean" in k for k in floats) and any("running_var" in k for k in floats)
    for k in floats:
        assert not torch.equal(a[k], b[k]), k
        assert torch.equal(avg[k], ((a[k].double() + b[k].double()) / 2).float()), k
        assert torch.allclose(avg[k], (a[k] + b[k]) / 2)
    counters = [k for k in a if k.endswith("num_batches_tracked")]
    assert counters and all(a[k].item() != b[k].item() for k in counters)
    for k in counters:  # integer buffers: the first (best) checkpoint's, never a mean or a sum
        assert torch.equal(avg[k], a[k]) and avg[k].dtype == torch.int64
    model = _net(2)
    model.load_state_dict(avg)  # loads strictly into the same architecture


def test_averaging_refuses_mismatched_checkpoints():
    a = _net(0).state_dict()
    other = FramePoolingTagger(8, 3, filters=[4, 5], pools=[[2, 2], [2, 2]]).state_dict()
    with pytest.raises(ValueError, match="checkpoint 1"):
        average_states([a, other])
    with pytest.raises(ValueError, match="no checkpoint"):
        average_states([])


def test_top_k_keeps_the_best_states_best_first():
    top = TopK(3)
    values = [0.1, 0.5, 0.3, float("nan"), 0.5, 0.2, 0.4]
    for epoch, v in enumerate(values):
        top.offer(v, epoch, {"w": torch.tensor([float(epoch)])})
    assert top.values() == [0.5, 0.5, 0.4] and top.epochs() == [1, 4, 6]
    assert [s["w"].item() for s in top.states()] == [1.0, 4.0, 6.0]
    state = {"w": torch.zeros(1)}
    top2 = TopK(1)
    top2.offer(1.0, 0, state)
    state["w"] += 1  # kept states are copies
    assert top2.states()[0]["w"].item() == 0.0


# --- teacher augmentation ----------------------------------------------------------------------------

def test_specaugment_masks_in_training_only():
    torch.manual_seed(0)
    aug = SpecAugment(time_masks=2, time_width=30, freq_masks=2, freq_width=6)
    x = torch.ones(8, 200, 64)
    y = aug(x)
    masked_frames = (y == 0).all(dim=2).sum(dim=1)
    masked_bands = (y == 0).all(dim=1).sum(dim=1)
    assert masked_frames.max() <= 60 and masked_bands.max() <= 12
    assert masked_frames.sum() > 0 and masked_bands.sum() > 0
    assert len(set(masked_frames.tolist())) > 1  # masks drawn per example
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
    aug.eval()
    assert torch.equal(aug(x), x)


def test_mixup_mixes_inputs_and_labels_with_the_same_weights():
    x = torch.arange(6, dtype=torch.float32).view(6, 1, 1).repeat(1, 4, 2)
    y = torch.eye(6)[:, :3]
    xm, ym = mixup(x, y, alpha=0.4, rng=np.random.default_rng(3))
    rng = np.random.default_rng(3)
    lam, partner = rng.beta(0.4, 0.4, size=6), rng.permutation(6)
    for i in range(6):
        assert torch.allclose(xm[i], lam[i] * x[i] + (1 - lam[i]) * x[partner[i]])
        assert torch.allclose(ym[i], torch.as_tensor(lam[i] * y[i] + (1 - lam[i]) * y[partner[i]], dtype=y.dtype))
    assert not torch.equal(xm, x)
    with pytest.raises(ValueError, match="alpha"):
        mixup(x, y, alpha=0.0, rng=rng)


def test_mixup_keeps_inputs_and_labels_on_their_own_devices():
    """Dinkel's teacher mixes the known mask with a CPU placeholder input while the labels live on the run's
    device: on CUDA this raised (found by scripts/gpu_check.py on an H100). The meta device reproduces it here."""
    y = torch.rand(4, 3, device="meta")
    xm, ym = mixup(torch.zeros(4, 1), y, alpha=0.5, rng=np.random.default_rng(0))
    assert xm.device.type == "cpu" and ym.device.type == "meta" and ym.shape == (4, 3)


def test_nested_subsets():
    from wlbench_baselines.teacher_student.subsets import nested_subset

    small, large = nested_subset(1000, 200, seed=0), nested_subset(1000, 500, seed=0)
    assert small.size == 200 and np.all(np.diff(small) > 0) and np.isin(small, large).all()
    assert np.array_equal(small, nested_subset(1000, 200, seed=0))
    assert not np.array_equal(small, nested_subset(1000, 200, seed=1))
    assert np.array_equal(nested_subset(10, 0), np.arange(10)) and np.array_equal(nested_subset(10, 20), np.arange(10))
