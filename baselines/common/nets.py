"""Building blocks: conv trunk, BiGRU, pooling heads, MLP classifier, patch embedder, CRNN."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def activation(name: str) -> nn.Module:
    name = name.lower()
    if name in ("leaky_relu", "leakyrelu"):
        return nn.LeakyReLU(0.2)
    if name == "relu":
        return nn.ReLU()
    if name == "glu":
        raise ValueError("glu is not supported by the conv trunk; use leaky_relu or relu")
    raise ValueError(f"unknown activation {name!r}")


class Dropout(nn.Module):
    """Inverted dropout (drop with probability ``p``, scale the kept values by ``1 / (1 - p)``) whose mask is
    drawn cheaply on CPU.

    torch's CPU dropout draws one Bernoulli variate per element (``bernoulli_``), which cost more than the
    convolutions of the conv trunk (docs/performance.md). On CPU this module draws one 16-bit uniform per
    element with numpy's PCG64, seeded for each call by one draw from torch's global generator (so a run
    stays deterministic per seed: ``torch.manual_seed`` fixes every mask), and drops an element when its
    uniform is below ``round(p * 65536)`` (an effective rate within 2^-17 of ``p``; ``p`` must round below
    65536 / 65536, so at most 1 - 2^-17). The mask follows the
    input's memory order (channels-last or contiguous). On other devices it is ``torch.nn.functional.dropout``.

    The uniforms are the 16-bit quarters of PCG64's 64-bit outputs, lowest first: the stream numpy's
    ``Generator.integers(0, 65536, n, dtype=uint16)`` returns, read four to a draw (``random_raw`` as
    little-endian words); the mask (``0`` or the scale, in the input's dtype) is built in numpy, whose comparison and conversion cost a
    fraction of torch's on a boolean tensor. Masks and outputs are bit-identical to the formulation
    ``x * (uniforms >= threshold).to(dtype).mul_(scale)`` (tested).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= float(p) < 1.0 or round(float(p) * 65536) >= 65536:
            raise ValueError(f"dropout rate must be in [0, 1 - 2^-17), got {p}")
        self.p = float(p)
        self._below = round(self.p * 65536) - 32768  # drop threshold on the uniforms as int16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if not x.dtype.is_floating_point:
            raise TypeError(f"dropout needs a floating-point input, got {x.dtype}")
        if x.device.type != "cpu":
            return F.dropout(x, self.p, True)
        if not (x.is_contiguous() or (x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last))):
            x = x.contiguous()
        seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
        n = x.numel()
        uniforms = np.random.PCG64(seed).random_raw(-(-n // 4)).astype("<u8", copy=False).view("<i2")[:n]
        # the scale rounded to the mask's dtype, as torch's ``mul_`` by a Python float rounds it
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        mask = (uniforms >= self._below).astype(dtype)
        mask *= dtype(1.0 / (1.0 - self.p))
        keep = torch.from_numpy(mask)
        if x.dtype not in (torch.float32, torch.float64):
            keep = keep.to(x.dtype)
        return x * keep.as_strided(x.size(), x.stride())

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ConvTrunk(nn.Module):
    """Conv 3x3 blocks on (B, 1, T, F): conv -> [batch norm] -> max-pool -> activation -> dropout (:class:`Dropout`).

    ``filters`` and ``pools`` (one (time, freq) pool per layer) are lists of the same length.
    Output (B, T', C * F') time-major features.

    The max-pool runs before the activation: both activations are monotone non-decreasing, so
    ``pool(act(h)) == act(pool(h))`` value for value, and the activation (forward and backward) touches a
    quarter of the elements. ``channels_last`` stores the convolution weights in that memory format, so every
    convolution, pool and activation runs channels-last: the input (B, 1, T, F) alone cannot say so (with one
    channel both formats have the same strides, and torch then picks the contiguous kernels). The parameter
    names are those of the former order (activation before pool): older checkpoints load and predict the same.
    """

    def __init__(self, n_freq: int, filters: Sequence[int], pools: Sequence[Sequence[int]],
                 act: str = "leaky_relu", dropout: float = 0.0, batch_norm: bool = False,
                 channels_last: bool = False) -> None:
        super().__init__()
        self.channels_last = bool(channels_last)
        if len(filters) != len(pools):
            raise ValueError(f"{len(filters)} filters but {len(pools)} pools")
        layers: list[nn.Module] = []
        c_in, f = 1, n_freq
        self.time_pool = 1
        for c_out, pool in zip(filters, pools):
            layers.append(nn.Conv2d(c_in, int(c_out), 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(int(c_out)))
            layers.append(nn.MaxPool2d(tuple(int(p) for p in pool)))  # before the activation: see above
            layers.append(activation(act))
            if dropout > 0:
                layers.append(Dropout(dropout))
            c_in, f = int(c_out), f // int(pool[1])
            self.time_pool *= int(pool[0])
        self.net = nn.Sequential(*layers)
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.out_dim = c_in * f

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, F)
        h = x.unsqueeze(1)
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        h = self.net(h)  # (B, C, T', F')
        return h.permute(0, 2, 1, 3).flatten(2)  # (B, T', C*F')


class BiGRU(nn.Module):
    def __init__(self, n_in: int, hidden: int, layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = nn.GRU(n_in, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.out_dim = 2 * hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class Pooling(nn.Module):
    """Frame -> clip pooling of (B, T, D): ``mean``, ``max`` or ``attention`` (softmax over time, per class)."""

    def __init__(self, kind: str, n_in: int = 0, n_out: int = 0) -> None:
        super().__init__()
        self.kind = kind
        if kind == "attention":
            self.cla = nn.Linear(n_in, n_out)
            self.att = nn.Linear(n_in, n_out)
        elif kind not in ("mean", "max"):
            raise ValueError(f"unknown pooling {kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "mean":
            return x.mean(dim=1)
        if self.kind == "max":
            return x.max(dim=1).values
        w = torch.softmax(self.att(x), dim=1)
        return (torch.sigmoid(self.cla(x)) * w).sum(dim=1)


class MLP(nn.Module):
    """Classifier G: hidden FC layers with activation, then the output layer (logits; sigmoid outside)."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, act: str = "leaky_relu",
                 dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(n_in, int(h)), activation(act)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = int(h)
        layers.append(nn.Linear(n_in, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchEmbedder(nn.Module):
    """Embedding network E of Turpault et al.: the conv trunk on fixed patches (``patch`` frames, 20 = 200 ms).

    A patch's embedding is the time mean of the trunk's output frames (optionally projected to ``dim``);
    the embedding of a longer input pools its patch embeddings (``pooling``: ``"mean"``, the paper's choice,
    or ``"max"``). ``normalise`` places the L2 normalisation: ``"none"``; ``"after_mean"`` (the pooled
    embedding is normalised, the paper's eq. 2 wording); ``"per_frame"`` (every output frame of the trunk is
    normalised before any averaging, as walle does; the pooled vector is then not of unit norm).

    A tail shorter than a patch is dropped (an input shorter than one patch is zero-padded to one).
    ``channels_last`` runs the convolutions in that memory format (faster on CPU, same values to ~1e-7).
    """

    NORMALISE = ("none", "after_mean", "per_frame")

    def __init__(self, n_freq: int, patch: int, filters, pools, act="leaky_relu", dropout=0.0,
                 batch_norm=False, dim: int | None = None, normalise: str = "none", pooling: str = "mean",
                 channels_last: bool = False) -> None:
        super().__init__()
        if normalise not in self.NORMALISE:
            raise ValueError(f"normalise must be one of {self.NORMALISE}, got {normalise!r}")
        if pooling not in ("mean", "max"):
            raise ValueError(f"pooling must be mean or max, got {pooling!r}")
        self.patch = int(patch)
        self.trunk = ConvTrunk(n_freq, filters, pools, act, dropout, batch_norm, channels_last=channels_last)
        self.proj = nn.Linear(self.trunk.out_dim, int(dim)) if dim and int(dim) != self.trunk.out_dim else None
        self.normalise = normalise
        self.pooling = pooling
        self.out_dim = int(dim) if self.proj is not None else self.trunk.out_dim

    def patches(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(B, L, F) -> ((B * n, patch, F), n): the input cut into ``n`` whole patches."""
        b, length, f = x.shape
        if length < self.patch:
            x = F.pad(x, (0, 0, 0, self.patch - length))
            length = self.patch
        n = length // self.patch
        return x[:, : n * self.patch].reshape(b * n, self.patch, f), n

    def patch_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, F) -> (B, n, D): one embedding per patch (before pooling over patches)."""
        p, n = self.patches(x)
        h = self.trunk(p)  # (B * n, T', D_trunk)
        if self.proj is not None:
            h = self.proj(h)
        if self.normalise == "per_frame":
            h = F.normalize(h, dim=-1)
        return h.mean(dim=1).reshape(x.shape[0], n, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, F) -> (B, D)
        e = self.patch_embeddings(x)
        e = e.mean(dim=1) if self.pooling == "mean" else e.max(dim=1).values
        return F.normalize(e, dim=-1) if self.normalise == "after_mean" else e


class CRNN(nn.Module):
    """Conv trunk -> BiGRU -> per-frame class scores -> clip scores by pooling over frames.

    ``forward`` returns ``(clip_logits_or_probs, frame_probs)``: frame probabilities (B, T', C) at the trunk's
    time resolution (``time_pool`` input frames per output frame) and clip probabilities (B, C) pooled with
    ``pooling`` (``mean`` = decision-level averaging, ``max``, or ``attention``).
    """

    def __init__(self, n_freq: int, n_classes: int, filters, pools, *, rnn_hidden: int = 64, rnn_layers: int = 1,
                 act: str = "leaky_relu", dropout: float = 0.0, batch_norm: bool = True, pooling: str = "mean",
                 channels_last: bool = False) -> None:
        super().__init__()
        self.trunk = ConvTrunk(n_freq, filters, pools, act, dropout, batch_norm, channels_last=channels_last)
        self.rnn = BiGRU(self.trunk.out_dim, rnn_hidden, rnn_layers) if rnn_hidden > 0 else None
        width = self.rnn.out_dim if self.rnn is not None else self.trunk.out_dim
        self.head = nn.Linear(width, n_classes)
        self.pool = Pooling(pooling, width, n_classes)
        self.time_pool = self.trunk.time_pool

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        if self.rnn is not None:
            h = self.rnn(h)
        frames = torch.sigmoid(self.head(h))
        if self.pool.kind == "attention":
            return self.pool(h), frames
        return self.pool(frames), frames
