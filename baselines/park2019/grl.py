"""Gradient reversal layer (Ganin & Lempitsky 2015) and the schedule of its coefficient alpha.

Park et al. (2019), eq. 5-7: the feature extractor F descends ``dL_y - alpha * dL_d`` while the domain
classifier D descends ``dL_d``. Putting :func:`reverse_gradient` between F's features and D does exactly
this with one ordinary backward pass of ``L_y + L_d``: the forward pass is the identity, the backward pass
multiplies the incoming gradient by ``-alpha``.
"""

from __future__ import annotations

import math

import torch

ALPHA_SCHEDULES = ("fixed", "dann")


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.alpha * grad, None


def reverse_gradient(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Identity in the forward pass; the gradient flowing back through it is multiplied by ``-alpha``.

    ``alpha`` is a plain float (no gradient); ``alpha = 0`` blocks the domain loss from reaching F while
    D still learns (the value the DANN ramp starts from)."""
    alpha = float(alpha)
    if not math.isfinite(alpha):
        raise ValueError(f"gradient reversal coefficient must be finite, got {alpha}")
    return _ReverseGradient.apply(x, alpha)


def alpha_at(progress: float, *, schedule: str, alpha: float) -> float:
    """The GRL coefficient at training progress ``progress`` in [0, 1].

    ``schedule="fixed"``: ``alpha`` throughout. ``schedule="dann"`` (Ganin & Lempitsky 2015):
    ``alpha * (2 / (1 + exp(-10 p)) - 1)``, rising from 0 at p = 0 to 0.987 * alpha at p = 0.5 and
    ~alpha at p = 1. ``progress`` is clamped to [0, 1] (a run may stop early or be resumed past its budget).
    """
    if schedule not in ALPHA_SCHEDULES:
        raise ValueError(f"unknown alpha schedule {schedule!r}; use one of {', '.join(ALPHA_SCHEDULES)}")
    if schedule == "fixed":
        return float(alpha)
    p = min(max(float(progress), 0.0), 1.0)
    return float(alpha) * (2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0)
