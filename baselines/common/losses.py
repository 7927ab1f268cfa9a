"""Losses shared by the baselines, each with its normalisation stated."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of ``logits`` against ``targets`` (same shape), averaged over the entries whose
    ``known`` is 1 (all entries when ``known`` is None). Entries with ``known`` 0 contribute nothing, not even
    to the denominator; a batch without any known entry gives 0 (with a gradient of 0)."""
    return _masked_mean(F.binary_cross_entropy_with_logits(logits, targets, reduction="none"), known)


def masked_bce_probs(probs: torch.Tensor, targets: torch.Tensor, known: torch.Tensor | None = None,
                     eps: float = 1e-7) -> torch.Tensor:
    """:func:`masked_bce` of probabilities instead of logits (for outputs that are not a sigmoid of one
    logit, e.g. the mean of frame probabilities of a CRNN with decision-level mean pooling); ``probs`` are
    clamped to ``[eps, 1 - eps]`` so the loss stays finite."""
    loss = F.binary_cross_entropy(probs.clamp(eps, 1.0 - eps), targets, reduction="none")
    return _masked_mean(loss, known)


def _masked_mean(loss: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
    if known is None:
        return loss.mean()
    known = known.to(loss.dtype)
    return (loss * known).sum() / known.sum().clamp_min(1.0)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float,
                 squared: bool = True) -> torch.Tensor:
    """Hinge triplet loss ``[d(a, p) - d(a, n) + margin]_+`` averaged over the triplets (B, D) each, with
    ``d`` the squared Euclidean distance (``squared``, Turpault et al. 2020 eq. 2 and 2019 eq. 1) or the
    Euclidean distance. Normalise the embeddings before, if the method does (the distances are taken as
    given)."""
    d_ap = (anchor - positive).pow(2).sum(dim=-1)
    d_an = (anchor - negative).pow(2).sum(dim=-1)
    if not squared:
        d_ap, d_an = d_ap.clamp_min(1e-12).sqrt(), d_an.clamp_min(1e-12).sqrt()
    return F.relu(d_ap - d_an + margin).mean()


def prototypical_loss(emb: torch.Tensor, n_classes: int, n_support: int, n_query: int) -> torch.Tensor:
    """Cross-entropy of each query over negative squared Euclidean distances to the prototypes (support means),
    averaged over the queries; ``emb`` is support-major (see :func:`wlbench.training.sampling.episode`)."""
    k = n_classes * n_support
    protos = emb[:k].reshape(n_classes, n_support, -1).mean(dim=1)
    queries = emb[k:]
    d2 = (queries.pow(2).sum(-1, keepdim=True) - 2 * queries @ protos.T + protos.pow(2).sum(-1)[None, :])
    target = torch.arange(n_classes, device=emb.device).repeat_interleave(n_query)
    return F.cross_entropy(-d2, target)
