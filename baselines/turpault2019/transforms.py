"""The anchor transformations that make a positive sample (paper section 2.3, after Jansen et al. 2017).

Every function acts on a batch ``x (B, T, F)`` of the network's input representation: the log-mel
sub-segments after the run's per-band standardisation. The paper defines its samples ``x`` as "a
time-frequency representation of the input data" (section 2), its features as log-mel spectrograms
(section 4.3), and writes every transformation directly on ``x``; so noise, shifts and mixing all happen
on (standardised) log-mel, never on linear mel or audio. Zero, the fill value of the shifts, is therefore the
band's training mean.

Randomness comes only from the ``torch.Generator`` passed in (drawn on the CPU, then moved to ``x``'s device),
so a seeded run gives the same positives on any device.
"""

from __future__ import annotations

import torch


def _draw_normal(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


def _draw_int(low: int, high: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` integers uniform on ``{low, ..., high}`` (both ends included)."""
    return torch.randint(low, high + 1, (n,), generator=generator).to(device)


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """``x + sigma * N(0, 1)`` i.i.d. on every bin (paper: sigma = 0.5)."""
    return x + float(sigma) * _draw_normal(tuple(x.shape), generator, x)


def time_frequency_shift(x: torch.Tensor, max_freq_shift: int, generator: torch.Generator,
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Circular time shift, then frequency translation with zero fill (paper section 2.3).

    Each example ``b`` draws ``t_b`` uniform on ``{0, ..., T - 1}`` and ``s_b`` uniform on
    ``{-S, ..., S}`` (``S = max_freq_shift``; the paper: 10). The output is
    ``y[b, tau, phi] = x[b, (tau - t_b) mod T, phi - s_b]`` where ``0 <= phi - s_b < F``, else 0: a positive
    ``s_b`` moves energy to higher bands and zeroes the ``s_b`` lowest bands. Returns ``(y, t, s)``."""
    b, t_len, f_len = x.shape
    shifts_t = _draw_int(0, t_len - 1, b, generator, x.device)
    shifts_f = _draw_int(-int(max_freq_shift), int(max_freq_shift), b, generator, x.device)
    tau = torch.arange(t_len, device=x.device)
    src_t = (tau[None, :] - shifts_t[:, None]) % t_len  # (B, T)
    rolled = torch.gather(x, 1, src_t[:, :, None].expand(b, t_len, f_len))
    phi = torch.arange(f_len, device=x.device)
    src_f = phi[None, :] - shifts_f[:, None]  # (B, F)
    inside = (src_f >= 0) & (src_f < f_len)
    moved = torch.gather(rolled, 2, src_f.clamp(0, f_len - 1)[:, None, :].expand(b, t_len, f_len))
    return moved * inside[:, None, :].to(x.dtype), shifts_t, shifts_f


def energy(x: torch.Tensor) -> torch.Tensor:
    """E(x): the sum of squares of every bin of each example, ``(B, T, F) -> (B,)`` (the squared L2 norm,
    the same norm the paper uses for distances in the input space)."""
    return x.pow(2).flatten(1).sum(dim=1)


def mix_examples(x_a: torch.Tensor, x_n: torch.Tensor, alpha: float) -> torch.Tensor:
    """Example mixing: ``x_p = x_a + alpha * (E(x_a) / E(x_n)) * x_n`` with :func:`energy` (paper: alpha = 0.25).

    The ratio is of energies, as written (not of their square roots). An all-zero ``x_n`` (``E = 0``) adds
    nothing (``x_p = x_a``) instead of dividing by zero."""
    e_a, e_n = energy(x_a), energy(x_n)
    scale = torch.where(e_n > 0, float(alpha) * e_a / torch.where(e_n > 0, e_n, torch.ones_like(e_n)),
                        torch.zeros_like(e_n))
    return x_a + scale[:, None, None] * x_n
