"""From a triplet plan to a training step: the batch's inputs, one forward pass, mining, the loss.

A batch of ``B`` planned triplets is embedded in **one** forward pass of ``[anchors; positives; label
negatives]``. Mined negatives are other anchors of the same batch (:func:`mining.mine_in_batch`), so they
cost no extra forward pass and carry their gradient like any negative. Random transformation parameters are
drawn here, per use, from the run's ``torch.Generator`` in a fixed order (noise, then shifts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from wlbench_baselines.common.losses import triplet_loss
from wlbench_baselines.turpault2019 import mining, transforms
from wlbench_baselines.turpault2019.sampling import LABEL, MINE, MIXING, NEAREST, NOISE, PROXIMITY, SHIFT, TripletPlan


@dataclass(frozen=True)
class TransformSettings:
    """The paper's section 4.3 values: sigma 0.5, S = 10 bins, alpha 0.25 (dt lives in the plan)."""

    noise_sigma: float = 0.5
    max_freq_shift: int = 10
    mixing_alpha: float = 0.25


@dataclass(frozen=True)
class TripletBatch:
    """``anchor``, ``positive (B, T, F)``; ``negative (R, T, F)`` the label negatives of rows
    ``negative_rows (R,)``; ``mine_rows (Q,)`` the rows whose negative is mined; ``clip (B,)`` the anchors'
    clips (mining never takes a candidate of the anchor's own clip)."""

    anchor: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    negative_rows: torch.Tensor
    mine_rows: torch.Tensor
    clip: torch.Tensor

    def __len__(self) -> int:
        return int(self.anchor.shape[0])


def build_batch(features: torch.Tensor, clip_of_row: np.ndarray, plan: TripletPlan, index: np.ndarray,
                settings: TransformSettings, generator: torch.Generator) -> TripletBatch:
    """Inputs of the planned triplets ``index`` from the pool's ``features (N, T, F)`` (standardised)."""
    index = np.asarray(index, dtype=np.int64)
    dev = features.device
    anchors = plan.anchor[index]
    kind = plan.positive_kind[index]
    partner = plan.positive[index]
    xa = features[torch.from_numpy(anchors).to(dev)]
    xp = torch.empty_like(xa)
    copied = np.isin(kind, (LABEL, NEAREST, PROXIMITY))
    if copied.any():
        xp[torch.from_numpy(np.flatnonzero(copied)).to(dev)] = features[torch.from_numpy(partner[copied]).to(dev)]
    for code in (NOISE, SHIFT, MIXING):
        rows = np.flatnonzero(kind == code)
        if not rows.size:
            continue
        r = torch.from_numpy(rows).to(dev)
        if code == NOISE:
            xp[r] = transforms.gaussian_noise(xa[r], settings.noise_sigma, generator)
        elif code == SHIFT:
            xp[r] = transforms.time_frequency_shift(xa[r], settings.max_freq_shift, generator)[0]
        else:
            xn = features[torch.from_numpy(partner[rows]).to(dev)]
            xp[r] = transforms.mix_examples(xa[r], xn, settings.mixing_alpha)
    neg = plan.negative[index]
    labeled_neg = np.flatnonzero(neg != MINE)
    return TripletBatch(
        anchor=xa, positive=xp,
        negative=features[torch.from_numpy(neg[labeled_neg]).to(dev)],
        negative_rows=torch.from_numpy(labeled_neg).to(dev),
        mine_rows=torch.from_numpy(np.flatnonzero(neg == MINE)).to(dev),
        clip=torch.from_numpy(np.asarray(clip_of_row)[anchors]).to(dev))


def batch_loss(embed: Callable[[torch.Tensor], torch.Tensor], batch: TripletBatch, *, margin: float = 1.0,
               fallback: str = "farthest") -> tuple[torch.Tensor | None, dict]:
    """Mean triplet loss (eq. 1) over the batch's triplets that have a negative, and step statistics:
    ``triplets`` (in the loss), ``active`` (loss > 0), mining counts (see :class:`mining.Mined`).
    Returns ``(None, stats)`` when no triplet has a negative."""
    b, r = len(batch), len(batch.negative_rows)
    emb = embed(torch.cat([batch.anchor, batch.positive, batch.negative]))
    f_a, f_p, f_ln = emb[:b], emb[b:2 * b], emb[2 * b:]
    mined = mining.mine_in_batch(f_a, f_p, batch.clip, batch.mine_rows, fallback=fallback)
    source = torch.full((b,), -1, dtype=torch.long, device=emb.device)  # row of [label negatives; anchors]
    source[batch.negative_rows] = torch.arange(r, device=emb.device)
    found = mined.negative >= 0
    source[batch.mine_rows[found]] = r + mined.negative[found]
    used = source >= 0
    stats = {"triplets": int(used.sum()), **mined.counts()}
    if not bool(used.any()):
        stats["active"] = 0
        return None, stats
    f_a, f_p, f_n = f_a[used], f_p[used], torch.cat([f_ln, f_a])[source[used]]
    with torch.no_grad():
        violation = (f_a - f_p).pow(2).sum(dim=-1) - (f_a - f_n).pow(2).sum(dim=-1) + float(margin)
    stats["active"] = int((violation > 0).sum())
    return triplet_loss(f_a, f_p, f_n, float(margin), squared=True), stats


def _plan_distances(embeddings: torch.Tensor, plan: TripletPlan) -> tuple[torch.Tensor, torch.Tensor]:
    if (plan.negative == MINE).any() or not np.isin(plan.positive_kind, (LABEL, NEAREST, PROXIMITY)).all():
        raise ValueError("a fixed plan needs pool-row positives and label negatives")
    a, p, n = (embeddings[torch.from_numpy(v).to(embeddings.device)]
               for v in (plan.anchor, plan.positive, plan.negative))
    return (a - p).pow(2).sum(dim=-1), (a - n).pow(2).sum(dim=-1)


def plan_loss(embeddings: torch.Tensor, plan: TripletPlan, margin: float = 1.0) -> float:
    """Mean triplet loss (eq. 1) of a fixed plan (pool-row positives, label negatives: e.g. the label/label
    validation triplets) from the pool's precomputed ``embeddings (N, D)``."""
    d_ap, d_an = _plan_distances(embeddings, plan)
    return float(torch.relu(d_ap - d_an + float(margin)).mean())


def plan_accuracy(embeddings: torch.Tensor, plan: TripletPlan) -> float:
    """Share of a fixed plan's triplets whose negative is farther from the anchor than the positive (a tie
    counts one half): threshold-free and, unlike the loss, blind to the embedding's scale."""
    d_ap, d_an = _plan_distances(embeddings, plan)
    return float(((d_an > d_ap).double() + 0.5 * (d_an == d_ap).double()).mean())
