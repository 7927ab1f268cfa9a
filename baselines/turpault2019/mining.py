"""Semi-hard negative mining (paper section 2.3, after Schroff et al. 2015) for the triplet loss of eq. 1
(:func:`wlbench_baselines.common.losses.triplet_loss` with squared distances).

Conventions (docs/baselines.md repeats them):

- Distances are **squared** L2 distances between embeddings, as in eq. 1, both in the loss and in mining.
  Mining compares distances only, so it picks the same negative with or without the square.
- The loss of one triplet is ``max(0, ||f(a) - f(p)||^2 - ||f(a) - f(n)||^2 + margin)`` (margin 1 in the paper);
  eq. 1 sums it over the triplets, a training step averages it over the triplets of its batch that have a
  negative (the same minimum, a step size independent of the batch size). The loss does not normalise the
  embeddings (the paper's are not normalised).
- **Semi-hard mining, per anchor**: among the admissible candidates, the negative is the one **closest to
  the anchor among those strictly farther from it than the positive** (``d_an > d_ap``; the paper's words:
  "closest to the anchor in the embedding space while being further away than the positive"). There is no
  upper bound ``d_an < d_ap + margin`` (FaceNet's optional band), so a chosen negative may give zero loss.
- **When no candidate is farther than the positive**: ``fallback = "farthest"`` takes the farthest admissible
  candidate (the largest ``d_an``, still ``<= d_ap``: the triplet violates the margin and trains), as
  TensorFlow's ``triplet_semihard_loss`` does; ``fallback = "skip"`` leaves the anchor without a negative (the
  triplet leaves the loss). An anchor without any admissible candidate never gets a negative. Each case is
  counted in :class:`Mined` (never a silent index 0). Ties go to the lowest candidate index.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SEMI_HARD = 0  # a candidate strictly farther than the positive was found
FALLBACK = 1  # none was: the farthest admissible candidate was taken
SKIPPED = 2  # none was and fallback is "skip"
NO_CANDIDATE = 3  # the anchor had no admissible candidate at all
FALLBACKS = ("farthest", "skip")


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(n, D), (m, D) -> (n, m)`` squared L2 distances, computed as sums of squared differences (exact for
    identical rows, unlike the ``|a|^2 + |b|^2 - 2ab`` expansion)."""
    return (a[:, None, :] - b[None, :, :]).pow(2).sum(dim=-1)


@dataclass(frozen=True)
class Mined:
    """``negative (B,)``: index of the chosen candidate, -1 where none; ``status (B,)``: SEMI_HARD, FALLBACK,
    SKIPPED or NO_CANDIDATE per anchor."""

    negative: torch.Tensor
    status: torch.Tensor

    def counts(self) -> dict[str, int]:
        return {name: int((self.status == code).sum())
                for name, code in (("semi_hard", SEMI_HARD), ("fallback", FALLBACK), ("skipped", SKIPPED),
                                   ("no_candidate", NO_CANDIDATE))}


def _first_arg(values: torch.Tensor, allowed: torch.Tensor, largest: bool) -> torch.Tensor:
    """Per row, the index of the smallest (largest) allowed value; the lowest index among ties."""
    fill = torch.tensor(-torch.inf if largest else torch.inf, dtype=values.dtype, device=values.device)
    masked = torch.where(allowed, values, fill)
    best = masked.max(dim=1, keepdim=True).values if largest else masked.min(dim=1, keepdim=True).values
    hit = allowed & (masked == best)
    ar = torch.arange(values.shape[1], device=values.device).expand_as(values)
    return torch.where(hit, ar, values.shape[1]).min(dim=1).values


def semi_hard_negatives(d_ap: torch.Tensor, d_an: torch.Tensor, admissible: torch.Tensor, *,
                        fallback: str = "farthest") -> Mined:
    """Choose a negative per anchor from ``m`` candidates (see the module docstring).

    ``d_ap (B,)``: squared anchor-positive distances; ``d_an (B, m)``: squared anchor-candidate distances;
    ``admissible (B, m)`` bool: which candidates anchor ``b`` may use."""
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    b = d_an.shape[0]
    admissible = admissible.bool()
    beyond = admissible & (d_an > d_ap[:, None])
    has_beyond = beyond.any(dim=1)
    has_any = admissible.any(dim=1)
    negative = torch.full((b,), -1, dtype=torch.long, device=d_an.device)
    status = torch.full((b,), NO_CANDIDATE, dtype=torch.int8, device=d_an.device)
    if d_an.shape[1] == 0:
        return Mined(negative, status)
    closest = _first_arg(d_an, beyond, largest=False)
    negative = torch.where(has_beyond, closest, negative)
    status = torch.where(has_beyond, torch.tensor(SEMI_HARD, dtype=torch.int8, device=d_an.device), status)
    none_beyond = has_any & ~has_beyond
    if fallback == "farthest":
        farthest = _first_arg(d_an, admissible, largest=True)
        negative = torch.where(none_beyond, farthest, negative)
        status = torch.where(none_beyond, torch.tensor(FALLBACK, dtype=torch.int8, device=d_an.device), status)
    else:
        status = torch.where(none_beyond, torch.tensor(SKIPPED, dtype=torch.int8, device=d_an.device), status)
    return Mined(negative, status)


def mine_in_batch(anchor: torch.Tensor, positive: torch.Tensor, clip: torch.Tensor, rows: torch.Tensor, *,
                  fallback: str = "farthest") -> Mined:
    """Semi-hard negatives for the batch anchors ``rows (R,)``; the candidates are **all anchors of the
    batch from another clip** (``clip (B,)``: the source clip of each anchor; a sub-segment of the anchor's
    own clip shares its labels, so it is never a candidate). Labels are never read.

    ``anchor``, ``positive``: ``(B, D)`` embeddings (detached here: the choice carries no gradient).
    Returns a :class:`Mined` of length ``R`` whose ``negative`` indexes the batch's anchors."""
    with torch.no_grad():
        a = anchor.detach()
        d_ap = (a[rows] - positive.detach()[rows]).pow(2).sum(dim=-1)
        d_an = squared_distances(a[rows], a)
        admissible = clip[rows][:, None] != clip[None, :]
        return semi_hard_negatives(d_ap, d_an, admissible, fallback=fallback)
