"""The loss of one mini-batch in each phase of Algorithm 1 (Park et al. 2019), with eq. 5-8.

Phase 1 (``heads = ("final", "labeler1", "labeler2")`` with tri-training, ``("final",)`` without):
    L = sum over heads of [L_frame + L_clip] + lambda * penalty(F1, F2) + L_d
Phase 2 (``heads = ("final",)``): L = L_frame + L_clip of Ft + L_d, on targets that include the
pseudo-labels. L_d is present only when the configuration has a domain classifier; it reaches F through
the gradient reversal layer with coefficient ``alpha`` (so one backward pass of L gives eq. 5-7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wlbench_baselines.park2019.grl import reverse_gradient
from wlbench_baselines.park2019.losses import domain_loss, masked_bce, masked_bce_with_logits, orthogonality_penalty
from wlbench_baselines.park2019.targets import Targets

LABELERS = ("labeler1", "labeler2")


@dataclass
class Batch:
    """One mini-batch as tensors: ``x`` (B, L, F) standardised log-mel, and the :class:`Targets` fields."""

    x: torch.Tensor
    clip: torch.Tensor
    clip_known: torch.Tensor
    frame: torch.Tensor
    frame_known: torch.Tensor
    domain: torch.Tensor

    @classmethod
    def from_arrays(cls, x: np.ndarray, targets: Targets, device: torch.device | str = "cpu") -> Batch:
        def t(a):
            return torch.from_numpy(np.ascontiguousarray(a)).to(device)

        return cls(t(x), t(targets.clip), t(targets.clip_known), t(targets.frame), t(targets.frame_known),
                   t(targets.domain))

    def __len__(self) -> int:
        return int(self.x.shape[0])


def labeler_loss(out, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_frame, L_clip) of one head's output on the batch's known frame and clip entries."""
    if out.frame_logits.shape != batch.frame.shape:
        raise ValueError(f"the network gives {out.frame_logits.shape[1]} frames, the targets have "
                         f"{batch.frame.shape[1]}: build the targets at the network's frame rate")
    return (masked_bce_with_logits(out.frame_logits, batch.frame, batch.frame_known),
            masked_bce(out.clip_scores, batch.clip, batch.clip_known))


def batch_loss(modules: dict[str, torch.nn.Module], batch: Batch, *, heads: tuple[str, ...], alpha: float,
               penalty_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The total loss of ``batch`` and its parts (floats, for the learning curves).

    ``heads``: the labelers trained in this phase; the orthogonality penalty is added when both F1 and F2
    are among them; the domain loss when ``modules`` has ``"domain"``."""
    features = modules["extractor"](batch.x)
    total = features.new_zeros(())
    parts: dict[str, float] = {}
    for name in heads:
        frame, clip = labeler_loss(modules[name](features), batch)
        total = total + frame + clip
        parts[f"{name}_frame"], parts[f"{name}_clip"] = float(frame.detach()), float(clip.detach())
    if all(h in heads for h in LABELERS):
        pen = orthogonality_penalty(modules["labeler1"].first_layer.weight, modules["labeler2"].first_layer.weight)
        total = total + float(penalty_weight) * pen
        parts["penalty"] = float(pen.detach())
    if "domain" in modules:
        ld = domain_loss(modules["domain"](reverse_gradient(features, alpha)), batch.domain)
        total = total + ld
        parts["domain"], parts["alpha"] = float(ld.detach()), float(alpha)
    parts["loss"] = float(total.detach())
    return total, parts
