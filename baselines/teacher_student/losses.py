"""Binary cross-entropy on probabilities, split into its two terms, and the teacher-student loss of Dinkel et al.

The networks output probabilities (means of frame sigmoids), so the losses take probabilities. Both terms
come from ``torch.nn.functional.binary_cross_entropy`` (logs clamped at -100), and :func:`bce` equals torch's
mean BCE bit for bit in the forward pass (its gradient agrees to float rounding).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def bce_terms(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the per-entry BCE, both >= 0, ``loss = pos + neg``:

    ``pos = -target * max(log p, -100)`` (the positive term) and ``neg = -(1 - target) * max(log(1 - p), -100)``
    (the negative term). Each log is torch's ``binary_cross_entropy`` against a constant target, so the
    gradients stay finite at p = 0 or 1 (torch divides by ``max(p (1 - p), 1e-12)``)."""
    if pred.shape != target.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape")
    pos = target * F.binary_cross_entropy(pred, torch.ones_like(pred), reduction="none")
    neg = (1 - target) * F.binary_cross_entropy(pred, torch.zeros_like(pred), reduction="none")
    return pos, neg


def bce(pred: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Mean BCE over all entries, or over the entries where ``known`` is 1 (0 when none is known)."""
    pos, neg = bce_terms(pred, target)
    per = pos + neg
    if known is None:
        return per.mean()
    known = known.to(per.dtype)
    return (per * known).sum() / known.sum().clamp(min=1.0)


def psl_loss(student: torch.Tensor, y_psl: torch.Tensor, y_weak: torch.Tensor, alpha: float,
             known: torch.Tensor | None = None) -> torch.Tensor:
    """``alpha * BCE(student, y_PSL) + (1 - alpha) * BCE(student, y_weak)`` (Dinkel et al., section 4.2).

    ``alpha = 1``: pseudo strong labels only (PSL); ``0.5``: teacher-student; ``0``: the weak labels copied
    to the chunks (exactly :func:`bce` on the weak labels, gradients included). Both terms are means over
    the batch's entries; ``known`` (optional, 0/1 like the weak labels) restricts the weak term to the
    entries whose weak label may be used (e.g. not the clips of an unlabeled role)."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return float(alpha) * bce(student, y_psl) + (1.0 - float(alpha)) * bce(student, y_weak, known)


def torch_bce(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """torch's own mean BCE (the reference :func:`bce` matches)."""
    return F.binary_cross_entropy(pred, target)
