"""Park et al. (2019) building blocks: gradient reversal and its schedule, the networks (F, F1, F2, Ft, D),
the losses and their masks, the orthogonality penalty, pseudo-labelling by agreement, role batches."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from wlbench_baselines.park2019.grl import alpha_at, reverse_gradient
from wlbench_baselines.park2019.losses import domain_loss, masked_bce, masked_bce_with_logits, orthogonality_penalty
from wlbench_baselines.park2019.nets import DomainClassifier, Labeler, LabelerOutput, build_networks
from wlbench_baselines.park2019.pseudo import agreement, pseudo_label
from wlbench_baselines.park2019.sampling import role_batches
from wlbench_baselines.park2019.steps import Batch, batch_loss, labeler_loss
from wlbench_baselines.park2019.targets import build_targets, domain_labels, with_pseudo_labels

torch.set_num_threads(1)

ROLE_NAMES = ("strong", "weak", "unlabeled")
DOMAIN_NAMES = ("default", "synthetic", "real")


def small_config(**over) -> dict:
    config = dict(filters=[4, 8], pools=[[1, 4], [1, 4]], activation="relu", dropout=0.0, batch_norm=True,
                  rnn_hidden=6, rnn_layers=2, rnn_dropout=0.0, head_hidden=[], pooling="attention",
                  domain_hidden=[8], adversarial="time", tri_training=True)
    config.update(over)
    return config


# --- gradient reversal ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0, 2.5])
def test_gradient_reversal_is_identity_forward_and_negates_and_scales_backward(alpha):
    x = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 5, 4, dtype=torch.float64)
    y = reverse_gradient(x, alpha)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.allclose(x.grad, -alpha * w)


def test_gradient_reversal_reverses_only_what_lies_before_it():
    """F -> GRL -> D: D gets its ordinary gradient of L_d, F gets -alpha times it (eq. 5 and 7)."""
    torch.manual_seed(0)
    f, d = torch.nn.Linear(4, 3), torch.nn.Linear(3, 1)
    x, target = torch.randn(8, 4), torch.randint(0, 2, (8,)).float()

    def grads(alpha):
        f.zero_grad(), d.zero_grad()
        h = f(x) if alpha is None else reverse_gradient(f(x), alpha)
        torch.nn.functional.binary_cross_entropy_with_logits(d(h).squeeze(1), target).backward()
        return f.weight.grad.clone(), d.weight.grad.clone()

    f_plain, d_plain = grads(None)
    f_rev, d_rev = grads(0.7)
    assert torch.allclose(d_rev, d_plain)
    assert torch.allclose(f_rev, -0.7 * f_plain)
    assert f_plain.abs().sum() > 0


def test_gradient_reversal_refuses_a_non_finite_coefficient():
    with pytest.raises(ValueError, match="finite"):
        reverse_gradient(torch.zeros(2), float("nan"))


def test_alpha_schedules():
    assert alpha_at(0.0, schedule="fixed", alpha=0.4) == 0.4
    assert alpha_at(0.9, schedule="fixed", alpha=0.4) == 0.4
    assert alpha_at(0.0, schedule="dann", alpha=1.0) == 0.0
    assert alpha_at(1.0, schedule="dann", alpha=1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert alpha_at(0.1, schedule="dann", alpha=2.0) == pytest.approx(2 * (2 / (1 + math.exp(-1)) - 1))
    ramp = [alpha_at(p, schedule="dann", alpha=1.0) for p in np.linspace(0, 1, 11)]
    assert all(a < b for a, b in zip(ramp, ramp[1:]))
    assert alpha_at(-1.0, schedule="dann", alpha=1.0) == 0.0  # clamped
    assert alpha_at(3.0, schedule="dann", alpha=1.0) == alpha_at(1.0, schedule="dann", alpha=1.0)
    with pytest.raises(ValueError, match="unknown alpha schedule"):
        alpha_at(0.5, schedule="linear", alpha=1.0)


# --- networks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("adversarial,tri", [("none", False), ("whole", False), ("time", True), ("none", True)])
def test_networks_present_and_shapes(adversarial, tri):
    config = small_config(adversarial=adversarial, tri_training=tri, pools=[[2, 4], [1, 4]])
    modules = build_networks(config, n_freq=32, n_classes=5)
    expected = {"extractor", "final"} | ({"labeler1", "labeler2"} if tri else set()) | (
        {"domain"} if adversarial != "none" else set())
    assert set(modules) == expected
    x = torch.randn(3, 20, 32)
    features = modules["extractor"](x)
    assert modules["extractor"].time_pool == 2
    assert features.shape == (3, 10, 12)  # 2 * rnn_hidden
    for name in ("final", "labeler1", "labeler2"):
        if name in modules:
            out = modules[name](features)
            assert out.frame_logits.shape == (3, 10, 5) and out.clip_scores.shape == (3, 5)
            assert float(out.clip_scores.detach().min()) >= 0 and float(out.clip_scores.detach().max()) <= 1
    if adversarial != "none":
        assert modules["domain"](features).shape == ((3,) if adversarial == "whole" else (3, 10))


def test_labelers_start_different_and_depth_width_follow_the_config():
    torch.manual_seed(0)
    modules = build_networks(small_config(filters=[4, 4, 8], pools=[[1, 2], [1, 2], [1, 2]], rnn_hidden=7,
                                          head_hidden=[9]), n_freq=16, n_classes=3)
    convs = [m for m in modules["extractor"].trunk.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 8]
    assert modules["extractor"].rnn.rnn.num_layers == 2 and modules["extractor"].out_dim == 14
    assert modules["labeler1"].first_layer.weight.shape == (9, 14)
    assert not torch.equal(modules["labeler1"].first_layer.weight, modules["labeler2"].first_layer.weight)


@pytest.mark.parametrize("pooling", ["attention", "mean", "max"])
def test_labeler_clip_score_pools_its_frames(pooling):
    torch.manual_seed(1)
    head = Labeler(6, 4, pooling=pooling)
    out = head(torch.randn(2, 7, 6))
    p = out.frame_scores
    if pooling == "mean":
        assert torch.allclose(out.clip_scores, p.mean(1))
    elif pooling == "max":
        assert torch.allclose(out.clip_scores, p.max(1).values)
    else:  # a convex combination of the frame scores
        assert bool(((out.clip_scores >= p.min(1).values - 1e-6) & (out.clip_scores <= p.max(1).values + 1e-6)).all())


def test_time_domain_classifier_decides_each_frame_from_that_frame_only():
    torch.manual_seed(2)
    d = DomainClassifier(5, mode="time", hidden=[4])
    x = torch.randn(1, 6, 5, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda v: d(v), x)  # (1, 6) x (1, 6, 5)
    per_frame = jac[0, :, 0].abs().sum(-1)  # (6 outputs, 6 input frames)
    assert bool((per_frame.diagonal() > 0).all())
    assert float((per_frame - torch.diag(per_frame.diagonal())).abs().max()) == 0.0
    whole = DomainClassifier(5, mode="whole", hidden=[4])
    assert whole(x).shape == (1,)


# --- losses --------------------------------------------------------------------------------------------

def test_time_domain_loss_is_per_frame():
    """Adv.time: L_d is the mean of one BCE per (clip, frame), each frame carrying its clip's domain."""
    logits = torch.tensor([[4.0, -4.0, 0.0], [1.0, 2.0, -3.0]], requires_grad=True)
    domain = torch.tensor([1.0, 0.0])
    loss = domain_loss(logits, domain)
    target = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    per_frame = -(target * torch.log(torch.sigmoid(logits)) + (1 - target) * torch.log(1 - torch.sigmoid(logits)))
    assert loss.item() == pytest.approx(per_frame.mean().item(), rel=1e-6)
    assert loss.item() != pytest.approx(domain_loss(logits.mean(1), domain).item(), rel=1e-3)  # not per clip
    loss.backward()  # every frame's logit gets its own gradient (sigmoid(l) - d) / (B * T)
    assert torch.allclose(logits.grad, (torch.sigmoid(logits) - target).detach() / 6)


def test_whole_domain_loss_is_per_clip():
    logits = torch.tensor([2.0, -1.0])
    expected = -(math.log(1 / (1 + math.exp(-2.0))) + math.log(1 - 1 / (1 + math.exp(1.0)))) / 2
    assert float(domain_loss(logits, torch.tensor([1.0, 0.0]))) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        domain_loss(torch.zeros(3, 2, 2), torch.zeros(3))


def test_masked_losses_ignore_masked_entries_even_nan():
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True)
    targets = torch.tensor([[1.0, float("nan")], [0.0, float("nan")]])
    known = torch.tensor([[True, False], [True, False]])
    loss = masked_bce_with_logits(logits, targets, known)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], torch.tensor([1.0, 0.0]))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(ref.item())
    loss.backward()
    assert float(logits.grad[:, 1].abs().sum()) == 0.0
    none = masked_bce(torch.full((2, 2), 0.3, requires_grad=True), targets, torch.zeros(2, 2, dtype=torch.bool))
    assert none.item() == 0.0 and none.requires_grad


def test_orthogonality_penalty_zero_for_orthogonal_one_for_parallel():
    q, _ = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64))
    w1, w2 = q[:3].clone(), q[3:7].clone()  # rows of F1 orthogonal to every row of F2
    assert float(orthogonality_penalty(w1 * 5.0, w2 * 0.1)) == pytest.approx(0.0, abs=1e-12)
    direction = torch.randn(1, 8, dtype=torch.float64)
    parallel1 = direction.repeat(3, 1) * torch.tensor([[1.0], [2.0], [-3.0]], dtype=torch.float64)
    parallel2 = direction.repeat(4, 1) * 7.0
    assert float(orthogonality_penalty(parallel1, parallel2)) == pytest.approx(1.0)  # the maximum
    rand = float(orthogonality_penalty(torch.randn(3, 8), torch.randn(4, 8)))
    assert 0.0 < rand < 1.0
    w = torch.randn(3, 8, requires_grad=True)
    orthogonality_penalty(w, torch.randn(3, 8)).backward()
    assert float(w.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="equal inputs"):
        orthogonality_penalty(torch.zeros(2, 3), torch.zeros(2, 4))


def test_orthogonality_penalty_value_by_hand():
    w1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    w2 = torch.tensor([[1.0, 1.0]])  # cos 45 deg with both rows of w1
    assert float(orthogonality_penalty(w1, w2)) == pytest.approx(math.sqrt(0.5))


# --- targets: what may enter a loss -------------------------------------------------------------------

def roles_and_arrays(t=4, c=3, nan=True):
    """Clips 0-1 strong (synthetic), 2-3 weak (real), 4-5 unlabeled (real); whatever the store would never
    pass (frame labels of W/U, labels of U) is NaN, so any use of it in a loss would show."""
    roles = np.array([0, 0, 1, 1, 2, 2])
    domains = np.array([1, 1, 2, 2, 2, 2])
    labels = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]], dtype=np.float32)
    known = np.array([[1] * c] * 4 + [[0] * c] * 2, dtype=np.uint8)
    frames = np.zeros((6, t, c), dtype=np.float32)
    frames[0, 1:3, 0] = 1
    frames[0, :, 2] = 1
    frames[1, 0, 1] = 1
    if nan:
        labels[4:] = np.nan
        frames[2:] = np.nan
    return dict(labels=labels, known=known, roles=roles, role_names=ROLE_NAMES, frame_labels=frames,
                frame_known=roles == 0, domains=domains, domain_names=DOMAIN_NAMES)


def test_targets_use_strong_labels_only_for_s_and_never_u_labels():
    arrays = roles_and_arrays()
    arrays["known"][4, 0] = 1  # even a wrong known flag on an unlabeled clip is overridden
    arrays["frame_known"][2] = True  # and a wrong frame flag on a weak clip
    targets = build_targets(**arrays)
    assert targets.frame_known[:2].all() and not targets.frame_known[2:].any()
    assert targets.clip_known[:4].all() and not targets.clip_known[4:].any()
    for a in (targets.clip, targets.frame):
        assert np.isfinite(a).all()
    assert np.array_equal(targets.domain, [0, 0, 1, 1, 1, 1])

    # One head's output with leaf tensors: the gradient shows exactly which entries reach a loss.
    frame_logits = torch.randn(6, 4, 3, requires_grad=True)
    clip_scores = torch.rand(6, 3).clamp(0.05, 0.95).requires_grad_(True)
    batch = Batch.from_arrays(np.zeros((6, 4, 2), np.float32), targets)
    l_frame, l_clip = labeler_loss(LabelerOutput(frame_logits, clip_scores), batch)
    (l_frame + l_clip).backward()
    assert torch.isfinite(l_frame) and torch.isfinite(l_clip)
    assert bool((frame_logits.grad[:2] != 0).all()) and float(frame_logits.grad[2:].abs().sum()) == 0.0
    assert bool((clip_scores.grad[:4] != 0).all()) and float(clip_scores.grad[4:].abs().sum()) == 0.0


def test_labels_outside_the_masks_cannot_change_the_loss():
    torch.manual_seed(3)
    modules = build_networks(small_config(), n_freq=16, n_classes=3)
    for m in modules.values():
        m.eval()
    x = np.random.default_rng(0).normal(size=(6, 4, 16)).astype(np.float32)
    losses = []
    for fill in (0.0, 1.0):
        arrays = roles_and_arrays(nan=False)
        arrays["frame_labels"][2:] = fill  # frames of W and U
        arrays["labels"][4:] = fill  # labels of U
        batch = Batch.from_arrays(x, build_targets(**arrays))
        with torch.no_grad():
            losses.append(batch_loss(modules, batch, heads=("final", "labeler1", "labeler2"), alpha=1.0,
                                     penalty_weight=1.0)[1])
    assert losses[0] == losses[1]


def test_domain_labels_need_one_source_domain():
    roles = np.array([0, 0, 1, 2])
    assert domain_labels(np.array([1, 1, 2, 2]), DOMAIN_NAMES, roles, ROLE_NAMES) == (
        pytest.approx(np.array([0, 0, 1, 1], np.float32)), "synthetic")
    with pytest.raises(ValueError, match="several domains"):
        domain_labels(np.array([1, 2, 2, 2]), DOMAIN_NAMES, roles, ROLE_NAMES)
    with pytest.raises(ValueError, match="no clip of role 'strong'"):
        domain_labels(np.array([1, 1, 2, 2]), DOMAIN_NAMES, np.array([1, 1, 2, 2]), ROLE_NAMES)


# --- pseudo-labelling ----------------------------------------------------------------------------------

def test_agreement_rule():
    p1 = np.array([0.9, 0.6, 0.4, 0.1, 0.5, 0.7])
    p2 = np.array([0.8, 0.4, 0.3, 0.2, 0.9, 0.95])
    labels, known = agreement(p1, p2, 0.5)
    assert known.tolist() == [True, False, True, True, False, True]
    assert labels.tolist() == [1, 0, 0, 0, 0, 1]
    labels, known = agreement(p1, p2, 0.75)
    assert known.tolist() == [True, False, False, True, False, False]
    with pytest.raises(ValueError, match=r"\[0.5, 1\)"):
        agreement(p1, p2, 0.4)


def test_pseudo_labels_on_hand_made_labeler_outputs():
    """Two clips, 3 classes, 4 frames. Clip 0 is weak (labels [1, 0, 1] known); clip 1 is unlabeled."""
    hi, lo = 0.9, 0.1
    clip1 = np.array([[hi, hi, hi], [hi, lo, 0.6]])
    clip2 = np.array([[hi, hi, lo], [hi, lo, 0.4]])
    f1 = np.full((2, 4, 3), lo)
    f2 = np.full((2, 4, 3), lo)
    # clip 0, class 0 (weak positive): frames 1-2 agreed positive, frame 3 disagrees
    f1[0, 1:4, 0] = hi
    f2[0, 1:3, 0] = hi
    # clip 0, class 1 (weak negative): the labelers' positive frames are overruled
    f1[0, :, 1] = f2[0, :, 1] = hi
    # clip 0, class 2 (weak positive): no agreed positive frame -> contradiction -> no frame labels
    f1[0, 0, 2] = hi
    # clip 1, class 0: clip-level agreement positive; frame 0 agreed positive, frame 2 disagrees
    f1[1, 0, 0] = f2[1, 0, 0] = hi
    f1[1, 2, 0] = hi
    # clip 1, class 2: clip scores disagree -> no clip and no frame label, whatever the frames say
    f1[1, :, 2] = f2[1, :, 2] = hi
    pl = pseudo_label(clip1=clip1, clip2=clip2, frame1=f1, frame2=f2,
                      labels=np.array([[1, 0, 1], [0, 0, 0]]), known=np.array([[1, 1, 1], [0, 0, 0]]))
    assert pl.clip.tolist() == [[1, 0, 1], [1, 0, 0]]
    assert pl.clip_known.tolist() == [[True, True, True], [True, True, False]]
    assert pl.clip_pseudo.tolist() == [[False, False, False], [True, True, False]]
    expected_known = np.zeros((2, 4, 3), bool)
    expected = np.zeros((2, 4, 3), np.uint8)
    expected_known[0, :3, 0] = True
    expected[0, 1:3, 0] = 1
    expected_known[0, :, 1] = True
    expected_known[1, [0, 1, 3], 0] = True
    expected[1, 0, 0] = 1
    expected_known[1, :, 1] = True
    assert np.array_equal(pl.frame_known, expected_known)
    assert np.array_equal(pl.frame, expected)
    assert pl.counts() == {"clip": 2, "clip_positive": 1, "frame": 3 + 4 + 3 + 4, "frame_positive": 3,
                           "clips_with_any": 2}


def test_pseudo_labels_enter_phase_two_targets_for_w_and_u_rows_only():
    targets = build_targets(**roles_and_arrays())
    rows = np.array([2, 3, 4, 5])
    pl = pseudo_label(clip1=np.full((4, 3), 0.9), clip2=np.full((4, 3), 0.8), frame1=np.full((4, 4, 3), 0.9),
                      frame2=np.full((4, 4, 3), 0.7), labels=targets.clip[rows], known=targets.clip_known[rows])
    phase2 = with_pseudo_labels(targets, rows, pl)
    assert np.array_equal(phase2.frame[:2], targets.frame[:2]) and phase2.frame_known[:2].all()
    assert np.array_equal(phase2.clip[2:4], targets.clip[2:4])  # W keeps its weak labels
    assert phase2.clip_known[4:].all() and (phase2.clip[4:] == 1).all()  # U gets clip pseudo-labels
    # W's frames: positive where its weak label is 1 (all agreed), negative where 0
    assert np.array_equal(phase2.frame[2:4], np.broadcast_to(targets.clip[2:4, None, :], (2, 4, 3)))
    assert not targets.frame_known[2:].any()  # the input is not modified


# --- batches and the loss of a batch ------------------------------------------------------------------

def test_role_batches_compose_and_cover_the_epoch_group():
    groups = {"strong": np.arange(0, 10), "weak": np.arange(10, 14), "unlabeled": np.arange(14, 40)}
    per = {"strong": 3, "weak": 2, "unlabeled": 4}
    batches = role_batches(groups, per, np.random.default_rng(0), epoch_group="strong")
    assert len(batches) == 4 and all(len(b) == 9 for b in batches)
    strong = np.concatenate([b[:3] for b in batches])
    assert set(strong[:10].tolist()) == set(range(10))  # each strong clip once before any repeats
    for b in batches:
        assert set(b[3:5]) <= set(range(10, 14)) and set(b[5:]) <= set(range(14, 40))
    again = role_batches(groups, per, np.random.default_rng(0), epoch_group="strong")
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    no_u = role_batches(groups, {**per, "unlabeled": 0}, np.random.default_rng(0), epoch_group="strong")
    assert all(len(b) == 5 for b in no_u)
    with pytest.raises(ValueError, match="empty"):
        role_batches({**groups, "weak": np.array([], int)}, per, np.random.default_rng(0), epoch_group="strong")


def test_batch_loss_parts_follow_the_configuration():
    torch.manual_seed(4)
    arrays = roles_and_arrays(nan=False)
    x = np.random.default_rng(1).normal(size=(6, 4, 16)).astype(np.float32)
    batch = Batch.from_arrays(x, build_targets(**arrays))
    modules = build_networks(small_config(), n_freq=16, n_classes=3)
    _, parts = batch_loss(modules, batch, heads=("final", "labeler1", "labeler2"), alpha=0.5, penalty_weight=1.0)
    assert {"penalty", "domain", "labeler1_frame", "final_clip"} <= set(parts) and parts["alpha"] == 0.5
    _, parts = batch_loss(modules, batch, heads=("final",), alpha=0.5, penalty_weight=1.0)
    assert "penalty" not in parts and "labeler1_frame" not in parts
    plain = build_networks(small_config(adversarial="none", tri_training=False), n_freq=16, n_classes=3)
    _, parts = batch_loss(plain, batch, heads=("final",), alpha=0.5, penalty_weight=1.0)
    assert set(parts) == {"final_frame", "final_clip", "loss"}
    with pytest.raises(ValueError, match="frame rate"):
        bad = build_networks(small_config(pools=[[2, 4], [1, 4]]), n_freq=16, n_classes=3)
        batch_loss(bad, batch, heads=("final",), alpha=0.0, penalty_weight=1.0)


def test_domain_loss_reaches_the_extractor_reversed():
    torch.manual_seed(5)
    batch = Batch.from_arrays(np.random.default_rng(2).normal(size=(6, 4, 16)).astype(np.float32),
                              build_targets(**roles_and_arrays(nan=False)))
    modules = build_networks(small_config(adversarial="whole", tri_training=False), n_freq=16, n_classes=3)
    for m in modules.values():
        m.eval()

    def grads(alpha):
        for m in modules.values():
            m.zero_grad()
        loss, _ = batch_loss({k: modules[k] for k in ("extractor", "domain")}, batch, heads=(), alpha=alpha,
                             penalty_weight=1.0)
        loss.backward()
        return ([p.grad.clone() for p in modules["extractor"].parameters()],
                [p.grad.clone() for p in modules["domain"].parameters()])

    f_a, d_a = grads(1.0)
    f_b, d_b = grads(0.25)
    assert all(torch.allclose(a, b) for a, b in zip(d_a, d_b))  # D's gradient ignores alpha
    assert all(torch.allclose(0.25 * a, b, atol=1e-7) for a, b in zip(f_a, f_b))  # F's scales with it
    f_0, _ = grads(0.0)
    assert all(float(g.abs().sum()) == 0.0 for g in f_0)


def test_a_few_steps_reduce_the_phase_one_loss():
    torch.manual_seed(6)
    batch = Batch.from_arrays(np.random.default_rng(3).normal(size=(6, 4, 16)).astype(np.float32),
                              build_targets(**roles_and_arrays(nan=False)))
    modules = build_networks(small_config(adversarial="none"), n_freq=16, n_classes=3)
    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    history = []
    for _ in range(40):
        opt.zero_grad()
        loss, parts = batch_loss(modules, batch, heads=("final", "labeler1", "labeler2"), alpha=0.0,
                                 penalty_weight=1.0)
        loss.backward()
        opt.step()
        history.append(parts)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["penalty"] < history[0]["penalty"]


# --- the domain-gap probe ------------------------------------------------------------------------------

GAP_RECIPE = """
[dataset]
name = "gap"
seed = 5

[audio]
clip_duration = 4.0

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
events_per_clip = {{ dist = "choose", values = [1, 2] }}
onset = {{ dist = "uniform", min = 0.0, max = 3.0 }}

[domains.synthetic]
backgrounds = ["noise0"]

[domains.real]
backgrounds = ["noise1"]
{real}

[splits.train]
clips = 24
roles = {{ strong = 10, weak = 4, unlabeled = 10 }}
domain = {{ strong = "synthetic", weak = "real", unlabeled = "real" }}

[splits.validation]
clips = 6
part = "train"
domain = "real"

[splits.eval]
clips = 8
part = "eval"
domain = "real"

[segments]
durations = [1.0]

[features]
hop_length = 640
"""


@pytest.fixture(scope="module")
def gap_dataset(tone_bank, tmp_path_factory):
    """38 clips of 4 s, 100 frames each: train S 10 / W 4 / U 10 (synthetic vs band-limited real), validation 6
    and eval 8 (real, strongly labeled)."""
    from wlbench.recipes import parse_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    return synthesize(parse_recipe(GAP_RECIPE.format(real="lowpass_hz = 1000.0\ngain_db = -12.0")),
                      load_soundbank(tone_bank), tmp_path_factory.mktemp("gap"), workers=1, progress=False).path


@pytest.mark.slow
def test_gap_probe_sees_a_band_limited_domain(gap_dataset):
    from wlbench_baselines.park2019.gap import fit_logistic, measure_gap

    gap = gap_dataset
    result = measure_gap(gap)
    assert result["strong"] == 10 and result["domain_accuracy"] >= 0.9
    for key in ("map_trained_on_strong", "map_trained_on_real"):
        assert 0.0 <= result[key] <= 1.0
    with pytest.raises(ValueError, match="too few"):
        measure_gap(gap, folds=11)
    # the probe itself: a separable problem is separated
    x = np.concatenate([np.random.default_rng(0).normal(size=(20, 3)) + 3, np.random.default_rng(1).normal(size=(20, 3))])
    y = np.r_[np.ones(20), np.zeros(20)]
    assert ((fit_logistic(x, y)(x) > 0.5) == (y == 1)).all()


# --- the method on the framework ------------------------------------------------------------------------

TINY = {"filters": [4, 8], "pools": [[2, 4], [1, 4]], "rnn_hidden": 4, "domain_hidden": [8], "max_epochs": 1,
        "batch_roles": [4, 2, 4], "threads": 1, "lr": 3e-3}


def train_park(name, dataset, run_dir, **over):
    import json

    from wlbench.methods import Audit, TrainContext, resolve_config
    from wlbench_baselines.park2019 import METHODS

    schema = METHODS[name].config_schema()  # a preset refuses the options it does not use (domain_hidden...)
    config = resolve_config(METHODS[name], None, {**{k: v for k, v in TINY.items() if k in schema}, **over})
    run_dir.mkdir(parents=True, exist_ok=True)

    def log(row):
        with open(run_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")

    ctx = TrainContext(dataset=dataset, run_dir=run_dir, config=config, seed=0, progress=False, log=log,
                       audit=Audit(dataset, "true", run_dir / "audit.jsonl"), echo=print)
    return METHODS[name].train(ctx), config


def predict_park(name, run_dir, dataset, config):
    from wlbench.methods import PredictContext
    from wlbench_baselines.park2019 import METHODS

    ctx = PredictContext(run_dir=run_dir, dataset=dataset, requests=(("eval", "clip"),), config=config)
    return METHODS[name].predict(ctx)[("eval", "clip")]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["park-baseline", "park-adv-whole", "park-adv-time-tri"])
def test_variants_train_and_predict_frame_scores(gap_dataset, tmp_path, name):
    import json

    from wlbench_baselines.park2019 import METHODS

    summary, config = train_park(name, gap_dataset, tmp_path / name)
    method = METHODS[name]
    _, modules, _, _ = method.load(tmp_path / name)
    expected = {"extractor", "final"} | ({"domain"} if method.adversarial != "none" else set()) | (
        {"labeler1", "labeler2"} if method.tri_training else set())
    assert set(modules) == expected
    stages = [s["stage"] for s in summary["stages"]]
    assert stages == (["phase1", "pseudo-labels", "phase2"] if method.tri_training else ["phase1"])
    pred = predict_park(name, tmp_path / name, gap_dataset, config)
    assert pred.frame_scores.shape == (8, 50, 3)  # 100 feature frames, time pool 2
    assert pred.frame_hop == pytest.approx(2 * 640 / 16000)
    assert np.all((pred.frame_scores >= 0) & (pred.frame_scores <= 1)) and pred.clip_scores.shape == (8, 3)
    rows = [json.loads(line) for line in (tmp_path / name / "log.jsonl").read_text().splitlines()]
    parts = [r["loss_parts"] for r in rows if "loss_parts" in r]
    assert parts and ("domain" in parts[0]) == (method.adversarial != "none")
    assert ("penalty" in parts[0]) == method.tri_training
    if method.tri_training:
        pseudo = summary["stages"][1]
        assert pseudo["used"] and pseudo["clips_pseudo_labelled"] == {"weak": 4, "unlabeled": 10}
        audits = {json.loads(line)["audit"] for line in (tmp_path / name / "audit.jsonl").read_text().splitlines()}
        assert audits == {"pseudo-clip-U", "pseudo-frame-W", "pseudo-frame-U"}


@pytest.mark.slow
def test_runs_are_reproducible_and_the_control_drops_only_the_pseudo_labels(gap_dataset, tmp_path):
    a, config = train_park("park-tri", gap_dataset, tmp_path / "a")
    b, _ = train_park("park-tri", gap_dataset, tmp_path / "b")
    assert np.array_equal(predict_park("park-tri", tmp_path / "a", gap_dataset, config).frame_scores,
                          predict_park("park-tri", tmp_path / "b", gap_dataset, config).frame_scores)
    control, _ = train_park("park-tri", gap_dataset, tmp_path / "c", **TRI_CONTROL)
    assert not control["stages"][1]["used"] and a["stages"][1]["used"]
    assert control["stages"][1]["clip"] == a["stages"][1]["clip"]  # same phase 1, same pseudo-labels, unused


TRI_CONTROL = {"pseudo_labels": False, "pseudo_threshold": 0.5}
ORACLE_CONTROL = {"pseudo_oracle": True, "pseudo_threshold": 0.5}


def test_the_oracle_control_replaces_the_pseudo_labels_by_the_truth(gap_dataset, tmp_path):
    """Same phase 1 and pseudo-label audit as the method's run; phase 2 learns from the true labels of every W
    and U clip (a different model), and the summary says so."""
    a, config = train_park("park-tri", gap_dataset, tmp_path / "a")
    oracle, oracle_config = train_park("park-tri", gap_dataset, tmp_path / "o", **ORACLE_CONTROL)
    pl, pl_oracle = a["stages"][1], oracle["stages"][1]
    assert pl_oracle["replaced_by_truth"] and not pl_oracle["used"] and not pl["replaced_by_truth"]
    assert pl_oracle["clip"] == pl["clip"] and pl_oracle["clip_U"] == pl["clip_U"]
    assert not np.array_equal(predict_park("park-tri", tmp_path / "a", gap_dataset, config).frame_scores,
                              predict_park("park-tri", tmp_path / "o", gap_dataset, oracle_config).frame_scores)


def test_the_oracle_pseudo_labels_are_the_truth_of_w_and_u_by_clip_id(gap_dataset):
    """Each W and U row gets its own clip's true labels and true frames (pooled to the model's rate), matched
    by clip id against the store's truth; W's given labels are kept."""
    from types import SimpleNamespace

    from wlbench.dataset.reader import open_dataset
    from wlbench_baselines.park2019 import TRI
    from wlbench_baselines.park2019.methods import true_labels_as_pseudo

    config = {**TRI.config_schema().defaults(), **TINY}
    train = TRI.load_train(SimpleNamespace(dataset=gap_dataset, config=config))
    pool, n_out = 2, 50
    targets = build_targets(labels=train.labels, known=train.known, roles=train.roles, role_names=train.role_names,
                            frame_labels=train.frame_labels_at(pool)[:, :n_out], frame_known=train.frame_known,
                            domains=train.domains, domain_names=train.domain_names)
    rows = np.flatnonzero(~train.role_mask("strong"))[::-1]  # any order: rows are followed, not positions
    run = SimpleNamespace(ctx=SimpleNamespace(dataset=gap_dataset), config={"train_split": "train"})
    pl = true_labels_as_pseudo(run, train, rows, targets, pool, n_out)
    with open_dataset(gap_dataset) as ds:
        split = ds.split("train")
        where = {cid: i for i, cid in enumerate(np.asarray(split.clip_ids).astype(str))}
        store = np.array([where[c] for c in np.asarray(train.clip_ids).astype(str)[rows]])
        truth = split.label_audit("true")[0][store]
        frames = split.frame_labels()[store]
    t = frames.shape[1]
    pooled = np.pad(frames, ((0, 0), (0, -t % pool), (0, 0))).reshape(len(rows), -1, pool, frames.shape[2]).max(2)
    assert np.array_equal(pl.clip, truth) and pl.clip_known.all() and pl.frame_known.all()
    assert np.array_equal(pl.frame, pooled[:, :n_out]) and pl.frame.any()
    weak = train.role_mask("weak")[rows]
    assert np.array_equal(pl.clip[weak], targets.clip[rows][weak]) and not pl.clip_pseudo[weak].any()
    assert pl.clip_pseudo[~weak].all() and pl.clip[~weak].any()
    # a training clip the truth does not hold (the file changed under the run) is one error naming it
    import dataclasses

    from wlbench.errors import WlbenchError

    renamed = np.asarray(train.clip_ids).astype(str).astype(object)
    renamed[rows[0]] = "not-a-clip"
    with pytest.raises(WlbenchError, match="not in the split's truth .first: not-a-clip"):
        true_labels_as_pseudo(run, dataclasses.replace(train, clip_ids=renamed), rows, targets, pool, n_out)


def test_the_oracle_truth_covers_every_clip_whatever_its_role(gap_dataset):
    from wlbench.training import data

    view = data.load_training(gap_dataset, "train", frames=True)
    truth = data.load_training(gap_dataset, "train", oracle="roles", frames=True, features=False)
    unlabeled, strong = view.role_mask("unlabeled"), view.role_mask("strong")
    assert truth.features is None and truth.frame_known.all() and truth.known.all()
    assert not view.labels[unlabeled].any() and truth.labels[unlabeled].any()
    assert np.array_equal(truth.labels[~unlabeled], view.labels[~unlabeled])
    assert np.array_equal(truth.frame_labels[strong], view.frame_labels[strong])
    assert truth.frame_labels[~strong].any() and not view.frame_labels[~strong].any()
    # a clip's frames hold exactly its classes
    assert np.array_equal(truth.frame_labels.any(axis=1), truth.labels.astype(bool))


def test_the_tri_training_presets_declare_their_controls():
    from wlbench_baselines.park2019 import METHODS

    assert METHODS["park-tri"].controls == {"no-pseudo": TRI_CONTROL, "oracle-pseudo": ORACLE_CONTROL}
    assert METHODS["park-adv-time"].controls == {}


@pytest.mark.slow
def test_method_errors_name_the_problem(gap_dataset, tmp_path, tiny_dataset):
    from wlbench.errors import WlbenchError

    with pytest.raises(WlbenchError, match="filters has 2 blocks but pools has 1"):
        train_park("park-baseline", gap_dataset, tmp_path / "a", pools=[[2, 4]])
    with pytest.raises(WlbenchError, match="reduce the 64 mel bands to none"):
        train_park("park-baseline", gap_dataset, tmp_path / "b", pools=[[1, 16], [1, 16]])
    with pytest.raises(WlbenchError, match="needs clips of another domain"):
        train_park("park-adv-time", tiny_dataset, tmp_path / "c")
    with pytest.raises(WlbenchError, match="no weak or unlabeled clip"):
        train_park("park-tri", tiny_dataset, tmp_path / "d")
    with pytest.raises(WlbenchError, match="leave train_clips at 0"):
        train_park("park-baseline", gap_dataset, tmp_path / "e", train_clips=10)
    with pytest.raises(WlbenchError, match="pseudo_oracle = true with pseudo_labels = false"):
        train_park("park-tri", gap_dataset, tmp_path / "f", pseudo_oracle=True, pseudo_labels=False)


@pytest.mark.slow
def test_store_training_data_gives_frame_labels_to_strong_clips_only(gap_dataset):
    """The store's side of "strong labels only for S, U's labels never in a loss", through the method's loader."""
    from types import SimpleNamespace

    from wlbench_baselines.park2019 import BASELINE

    config = {**BASELINE.config_schema().defaults(), **TINY}
    train = BASELINE.load_train(SimpleNamespace(dataset=gap_dataset, config=config))
    targets = build_targets(labels=train.labels, known=train.known, roles=train.roles, role_names=train.role_names,
                            frame_labels=train.frame_labels_at(2)[:, :50], frame_known=train.frame_known,
                            domains=train.domains, domain_names=train.domain_names)
    strong, unlabeled = train.role_mask("strong"), train.role_mask("unlabeled")
    assert np.array_equal(targets.frame_known.any(axis=(1, 2)), strong)
    assert not targets.clip_known[unlabeled].any() and targets.clip_known[~unlabeled].all()
    assert targets.frame[strong].sum() > 0 and targets.frame[~strong].sum() == 0
    assert np.array_equal(targets.domain, (~strong).astype(np.float32))


def _cell(dataset, method, seeds, controls=None, prior_verdict="learned"):
    res = {"seeds": {str(s): v for s, v in seeds.items()},
           "controls": {n: {"seeds": {str(s): v for s, v in c.items()}} for n, c in (controls or {}).items()},
           "verdicts": {"prior": prior_verdict}}
    return {"dataset": dataset, "method": method, "axes": {}, "results": {"event_f1_macro": {"clip": res}}}


def test_findings_read_claims_and_pseudo_label_audits(gap_dataset, tmp_path):
    from wlbench.dataset.reader import open_dataset
    from wlbench_baselines.park2019.findings import render

    gap, nogap = "gapset", "nogapset"
    base = {0: 0.30, 1: 0.32, 2: 0.31, 3: 0.33, 4: 0.30}  # 5 seeds: a claim needs 5
    prior = {"prior": {s: 0.0 for s in base}}
    cells = [_cell(gap, "park-baseline", base, prior),
             _cell(gap, "park-adv-time", {s: v + 0.05 + 0.001 * s for s, v in base.items()}, prior),  # +5 pts
             _cell(gap, "park-tri", {s: v - 0.04 + 0.002 * s for s, v in base.items()},  # -4 pts
                   {**prior, "no-pseudo": {s: v + 0.01 for s, v in base.items()}}),
             _cell(gap, "park-adv-whole", {0: 0.0, 1: 0.01, 2: 0.0, 3: 0.0, 4: 0.01}, prior, prior_verdict="not learned")]
    nogap_cells = [_cell(nogap, "park-baseline", {0: 0.40, 1: 0.41, 2: 0.39, 3: 0.40, 4: 0.41}),
                   _cell(nogap, "park-adv-time", {0: 0.40, 1: 0.42, 2: 0.39, 3: 0.41, 4: 0.41})]  # +0.4 pts
    strict = _cell(gap, "park-tri", {s: v + 0.02 for s, v in base.items()}, prior)
    strict.update(axes={"pseudo_threshold": 0.9}, label="pseudo_threshold=0.9")
    for grid, cs in (("park2019", cells), ("park2019-nogap", nogap_cells), ("park2019-tau", [strict])):
        (tmp_path / grid).mkdir()
        (tmp_path / grid / "table.json").write_text(json.dumps({"metrics": ["event_f1_macro"], "cells": cs}))
    with open_dataset(gap_dataset) as ds:
        train = ds.split("train")
        weak_clips = set(train.clip_ids[train.roles() == train.role_names.index("weak")])
        frame_rate = train.frame_rate
        # W's truly positive (clip, class) pairs, counted from the event table
        pairs = len({(f, c) for f, c in train.events()[["filename", "event_label"]].itertuples(index=False)
                     if f in weak_clips})
    windows = 50  # per clip: 100 frames, windows of 2
    for seed, (pred, correct) in enumerate([(100, 80), (120, 90), (110, 88)]):
        run = tmp_path / "runs" / gap / "park-tri" / "default" / f"seed-{seed}"
        run.mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps({"dataset": {"path": str(gap_dataset)}}))
        clip_row = {"audit": "pseudo-clip-U", "n_clips": 50, "predicted": pred, "correct": correct, "true": 125,
                    "precision": correct / pred, "recall": correct / 125, "n_pseudo": 450,
                    "per_class": {"true": [25] * 10}}
        frame_row = {"audit": "pseudo-frame-W", "split": "train", "n_windows": len(weak_clips) * windows,
                     "window_frames": 2, "hop_frames": 2, "predicted": 30, "correct": 24, "true": 40 + seed,
                     "precision": 0.8, "recall": 24 / (40 + seed), "n_pseudo": 600,
                     "per_class": {"true": [20, 20 + seed, 0]}}
        (run / "audit.jsonl").write_text(json.dumps(clip_row) + "\n" + json.dumps(frame_row) + "\n")
    text = render(tmp_path)
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "+5.2 ±0.2" in lines["Adv.time beats the baseline"] and "holds" in lines["Adv.time beats the baseline"]
    assert "reversed" in lines["Tri-training beats the baseline"]
    pseudo = lines["pseudo-labels help: park-tri - the same two phases without them"]
    assert "-4.6" in pseudo and "reversed" in pseudo
    assert "holds" in lines["Adv.time's gain shrinks without the gap: gain(gap) - gain(no gap)"]
    assert "not resolved" in lines["Adv.time beats the baseline without the gap"]
    assert lines["the gap costs the baseline: no gap - gap"].endswith("| resolved |")  # a headroom row
    # the tau-0.9 cell is told apart from the tau-0.5 one: +5.6 points over it, +1 over no-pseudo
    assert "+5.6 ±0.4" in lines["stricter agreement helps: tri-training at tau 0.9 - at 0.5"]
    assert "+1.0 ±" in lines["pseudo-labels at tau 0.9 help: park-tri [pseudo_threshold=0.9] - the same two phases without them"]
    # a cell that does not beat the prior makes no finding, whatever the sign ("reversed" here)
    assert lines["Adv.whole beats the baseline"].endswith("| below controls |")
    assert lines["Adv.time beats Adv.whole"].endswith("| below controls |")
    # rows whose runs are missing say so instead of inventing a number
    assert "no runs" in lines["Adv.whole + Tri beats Adv.whole"]
    # pseudo-labels: 3 seeds, mean positives 110, precision mean of 0.8 / 0.75 / 0.8, base rate 125 / 500
    rows = {r.split("|")[2].strip(): [c.strip() for c in r.strip("|").split("|")]
            for r in text.splitlines() if r.startswith("| park-tri |")}
    cols = rows["U, clip level"]
    assert cols[2] == "3" and cols[3] == "450 ±0" and cols[4].startswith("110 ±")
    assert cols[5].startswith(f"{np.mean([0.8, 0.75, 0.8]):.3f}") and cols[7] == "0.250 ±0.000"
    # frame level: active windows (41 on average) among the windows of W's truly positive pairs
    cols = rows[f"W, frame level ({1000 * 2 / frame_rate:.0f} ms windows)"]
    assert cols[7].startswith(f"{41 / (pairs * windows):.3f} ±")
    # the figure: one PNG from the same tables (the command's --figure)
    from wlbench_baselines.park2019.findings import main as findings_main

    assert findings_main([str(tmp_path), "--figure", str(tmp_path / "rows.png")]) == 0
    assert (tmp_path / "rows.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert findings_main([str(tmp_path), "--figures"]) == 2


def test_findings_without_the_main_table_is_one_error(tmp_path, capsys):
    from wlbench_baselines.park2019.findings import main

    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "park2019/table.json nor" in err and "park2019-tri/table.json nor" in err and "park2019-converged/table.json found" in err
    assert "wlbench experiment" in err
    assert len(err.splitlines()) == 1



def test_each_preset_refuses_the_options_it_does_not_use():
    """park-baseline has no pseudo-labels and no domain classifier: setting their options is an error naming
    the options it does use, not a value recorded and ignored."""
    from wlbench.errors import WlbenchError
    from wlbench.methods import get_method, resolve_config

    for name, key, value in (("park-baseline", "pseudo_threshold", 0.9), ("park-baseline", "penalty_weight", 5.0),
                             ("park-baseline", "alpha", 0.3), ("park-tri", "alpha", 0.3),
                             ("park-adv-time", "pseudo_labels", False)):
        with pytest.raises(WlbenchError, match=f"unknown config key '{key}'.*valid keys: .*batch_roles"):
            resolve_config(get_method(name), None, {key: value})
    assert resolve_config(get_method("park-adv-time-tri"), None, {"alpha": 0.3, "pseudo_threshold": 0.9})["alpha"] == 0.3


def _curve_rows(run_dir):
    import json

    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if "second" not in k and "time" not in k} for r in rows]


@pytest.mark.slow
def test_a_cached_phase_one_gives_the_same_runs_bit_for_bit(gap_dataset, tmp_path):
    """phase1_cache: the first run trains and saves phase 1, a run differing only in phase 2 (here the no-pseudo
    control) loads it; both equal their runs without the cache: weights, predictions, learning curves (with
    dropout, the alpha schedule and several epochs, so the restored generators and step count matter)."""
    import torch

    from wlbench_baselines.park2019 import METHODS

    name, cache = "park-adv-time-tri", str(tmp_path / "phase1")
    over = {"max_epochs": 3, "dropout": 0.3, "warmup": 0}
    runs = {}
    for tag, extra in (("plain", {}), ("plain-control", TRI_CONTROL), ("first", {"phase1_cache": cache}),
                       ("control", {**TRI_CONTROL, "phase1_cache": cache}), ("again", {"phase1_cache": cache})):
        runs[tag] = train_park(name, gap_dataset, tmp_path / tag, **over, **extra)
    assert runs["first"][0]["stages"][0]["cached"] is None and "cached" not in runs["plain"][0]["stages"][0]
    key = runs["control"][0]["stages"][0]["cached"]
    assert key and runs["again"][0]["stages"][0]["cached"] == key and len(list(Path(cache).glob("*.pt"))) == 1
    for cached, plain in (("first", "plain"), ("again", "plain"), ("control", "plain-control")):
        a = predict_park(name, tmp_path / cached, gap_dataset, runs[cached][1]).frame_scores
        b = predict_park(name, tmp_path / plain, gap_dataset, runs[plain][1]).frame_scores
        assert np.array_equal(a, b), (cached, plain)
        wa, wb = METHODS[name].load(tmp_path / cached)[1], METHODS[name].load(tmp_path / plain)[1]
        for module in wb:
            for (k, x), (_, y) in zip(wa[module].state_dict().items(), wb[module].state_dict().items(), strict=True):
                assert torch.equal(x, y), (cached, module, k)
        assert _curve_rows(tmp_path / cached) == _curve_rows(tmp_path / plain)
    assert not np.array_equal(predict_park(name, tmp_path / "first", gap_dataset, runs["first"][1]).frame_scores,
                              predict_park(name, tmp_path / "control", gap_dataset, runs["control"][1]).frame_scores)


@pytest.mark.slow
def test_records_made_with_another_phase1_cache_folder_are_the_same_runs(gap_dataset, tmp_path):
    """A cache folder is not a setting (Option.identity = False): a grid whose phase1_cache differs adopts the
    records of the first grid instead of training again; a real setting still differs."""
    from click.testing import CliRunner

    from wlbench.cli import main

    def grid(name: str, extra: str) -> Path:
        cfg = "\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items() if k != "domain_hidden")
        path = tmp_path / f"{name}.toml"
        path.write_text(f'[experiment]\nname = "g"\nmethods = ["park-tri"]\nseeds = [0]\nmetrics = ["map"]\n'
                        f'test_segments = ["clip"]\ncontrols = []\nbootstrap = 0\n[config]\n{cfg}\n{extra}\n'
                        f'[[datasets]]\nname = "gap"\npath = "{gap_dataset}"\n')
        return path

    def run(path: Path, out: str) -> str:
        res = CliRunner().invoke(main, ["experiment", str(path), "--out", str(tmp_path / out), "--records",
                                        str(tmp_path / "records"), "--jobs", "1"])
        assert res.exit_code == 0, res.output
        return res.output

    run(grid("a", f'phase1_cache = "{tmp_path / "cache-a"}"'), "a")
    out = run(grid("b", f'phase1_cache = "{tmp_path / "cache-b"}"'), "b")
    assert "1 of 1 run records adopted" in out and not (tmp_path / "cache-b").exists(), out
    out = run(grid("c", f'phase1_cache = "{tmp_path / "cache-b"}"\npseudo_threshold = 0.7'), "c")
    assert "0 of 1 run records adopted" in out and "pseudo_threshold" in out, out


@pytest.mark.slow
def test_a_damaged_phase1_cache_file_is_one_error_naming_it(gap_dataset, tmp_path):
    from wlbench.errors import WlbenchError

    cache = tmp_path / "phase1"
    train_park("park-tri", gap_dataset, tmp_path / "a", phase1_cache=str(cache))
    (saved,) = cache.glob("*.pt")
    saved.write_bytes(saved.read_bytes()[:1000])
    with pytest.raises(WlbenchError, match=f"phase-1 cache file {saved} cannot be read") as info:
        train_park("park-tri", gap_dataset, tmp_path / "b", phase1_cache=str(cache))
    assert "delete it" in (info.value.hint or "")
