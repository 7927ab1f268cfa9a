"""Teacher augmentation of Dinkel et al.'s machine annotator: SpecAugment masking and mixup.

* :class:`SpecAugment`: ``time_masks`` time masks of up to ``time_width`` frames and ``freq_masks``
  frequency masks of up to ``freq_width`` bands, drawn independently for every example (torchaudio's
  ``TimeMasking`` / ``FrequencyMasking`` with ``iid_masks=True``), filled with 0 (the mean of standardised
  features). Active in training mode only; identity in eval mode. Its draws come from torch's global
  generator (seeded by the run).
* :func:`mixup` (Zhang et al. 2018): every example is mixed with a partner drawn by a random permutation of
  the batch, ``x = lam x_i + (1 - lam) x_j`` and the same for the labels, ``lam ~ Beta(alpha, alpha)`` per
  example, drawn from the run's numpy generator. The batch keeps its size. (The public PSL code mixes the
  first half of a batch with the second, and never applies it: its config key is ``mixup`` but the code reads
  ``mixup_alpha``.)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchaudio import transforms as audio_transforms


class SpecAugment(nn.Module):
    """Time and frequency masking of (B, T, F) inputs in training mode (see the module docstring)."""

    def __init__(self, *, time_masks: int = 2, time_width: int = 64, freq_masks: int = 2, freq_width: int = 8) -> None:
        super().__init__()
        for name, value in (("time_masks", time_masks), ("time_width", time_width), ("freq_masks", freq_masks),
                            ("freq_width", freq_width)):
            if int(value) < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.time_masks, self.freq_masks = int(time_masks), int(freq_masks)
        self.time = audio_transforms.TimeMasking(int(time_width), iid_masks=True)
        self.freq = audio_transforms.FrequencyMasking(int(freq_width), iid_masks=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or (self.time_masks == 0 and self.freq_masks == 0):
            return x
        spec = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): torchaudio's (..., freq, time), iid per example
        for _ in range(self.time_masks):
            spec = self.time(spec)
        for _ in range(self.freq_masks):
            spec = self.freq(spec)
        return spec.squeeze(1).transpose(1, 2)


def mixup(x: torch.Tensor, y: torch.Tensor, *, alpha: float, rng: np.random.Generator
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix every example of (x, y) with a random partner of the batch (see the module docstring).

    ``alpha > 0``: the Beta parameter; returns new tensors of the same shapes (labels become soft)."""
    if not alpha > 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{x.shape[0]} inputs but {y.shape[0]} label rows")
    n = x.shape[0]
    lam_np = rng.beta(float(alpha), float(alpha), size=n)
    partner = torch.from_numpy(rng.permutation(n))
    lam = torch.from_numpy(lam_np)
    lam_x = lam.to(device=x.device, dtype=x.dtype).view(n, *([1] * (x.dim() - 1)))
    lam_y = lam.to(device=y.device, dtype=y.dtype).view(n, *([1] * (y.dim() - 1)))  # x, y may live apart
    return (lam_x * x + (1 - lam_x) * x[partner.to(x.device)],
            lam_y * y + (1 - lam_y) * y[partner.to(y.device)])
