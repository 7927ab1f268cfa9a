"""Losses of Park et al. (2019): L_frame, L_clip (eq. 1-3), L_d (eq. 4) and the labelers' orthogonality
penalty (eq. 8).

Conventions (the paper writes unnormalised sums; these are the per-element means of the DCASE 2019
baseline and of JiaKai's CRNN, which keep L_frame and L_clip on one scale whatever T and the batch size):

* every classification loss is the mean binary cross-entropy over the entries its *known mask* marks,
  and exactly 0 (still in the graph) when the batch has none. Masked entries never enter the computation
  (they are selected out, not multiplied by 0), so a masked label may even be NaN;
* ``L_frame`` averages over known (clip, frame, class) entries: the synthetic strong clips S (and, in
  phase 2, the pseudo-labelled frames of W and U); ``L_clip`` over known (clip, class) entries: S and W
  (and, in phase 2, the clip pseudo-labels of U). The masks come from :mod:`wlbench_baselines.park2019.targets`;
* ``L_d`` is the mean BCE over clips (Adv.whole: one logit per clip) or over (clip, frame) pairs
  (Adv.time: one logit per frame, every frame of a clip carrying the clip's domain).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

_EPS = 1e-7


def _select(values: torch.Tensor, targets: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if values.shape != targets.shape or values.shape != known.shape:
        raise ValueError(f"shapes differ: predictions {tuple(values.shape)}, targets {tuple(targets.shape)}, "
                         f"known {tuple(known.shape)}")
    keep = known.bool()
    return values[keep], targets[keep]


def masked_bce_with_logits(logits: torch.Tensor, targets: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Mean BCE of ``sigmoid(logits)`` against ``targets`` over the entries where ``known`` is true."""
    v, t = _select(logits, targets, known)
    if v.numel() == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(v, t.to(v.dtype))


def masked_bce(probs: torch.Tensor, targets: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Mean BCE of probabilities ``probs`` (clamped to [1e-7, 1 - 1e-7]) over the ``known`` entries."""
    v, t = _select(probs, targets, known)
    if v.numel() == 0:
        return probs.sum() * 0.0
    return F.binary_cross_entropy(v.clamp(_EPS, 1.0 - _EPS), t.to(v.dtype))


def domain_loss(logits: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """L_d: mean BCE of D's logits against the clips' domain labels ``domain`` (B,) (0 = synthetic/source,
    1 = real/target).

    ``logits`` (B,) (Adv.whole) or (B, T) (Adv.time: every frame is one decision with its clip's label, so
    the loss is the mean over the B * T frame decisions)."""
    if logits.shape[0] != domain.shape[0] or logits.dim() not in (1, 2):
        raise ValueError(f"domain logits {tuple(logits.shape)} do not fit domain labels {tuple(domain.shape)}")
    target = domain.to(logits.dtype)
    if logits.dim() == 2:
        target = target[:, None].expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def orthogonality_penalty(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    """Eq. 8's ``|(W1/|W1|)^T (W2/|W2|)|`` for first-layer weights ``w1`` (H1, D), ``w2`` (H2, D) (torch's
    (out, in) layout: one row per unit).

    Exactly: every row (one unit's input weights) is divided by its L2 norm, ``M = W1n @ W2n.T`` (H1, H2)
    holds the cosine similarity of every unit of F1 with every unit of F2, and the penalty is the mean of
    ``|M|`` over all H1 * H2 entries. It lies in [0, 1]: 0 when every unit of F1 is orthogonal to every unit
    of F2 (possible when rank W1 + rank W2 <= D), 1 when all units of both are parallel (or anti-parallel).
    Asymmetric tri-training (Saito et al. 2017) uses the unnormalised sum of ``|W1 W2^T|``; the paper's
    normalisation makes the penalty scale-free, and the mean keeps lambda = 1 on the scale of the BCE
    losses whatever the layer sizes."""
    if w1.dim() != 2 or w2.dim() != 2 or w1.shape[1] != w2.shape[1]:
        raise ValueError(f"first-layer weights must be (units, inputs) with equal inputs, got {tuple(w1.shape)} "
                         f"and {tuple(w2.shape)}")
    m = F.normalize(w1, dim=1, eps=1e-12) @ F.normalize(w2, dim=1, eps=1e-12).T
    return m.abs().mean()
