"""Building blocks: conv trunk, BiGRU, pooling heads, embedding head, MLP classifier, patch embedder."""

from __future__ import annotations

from collections.abc import Sequence

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


class ConvTrunk(nn.Module):
    """Conv 3x3 blocks on (B, 1, T, F): conv -> [batch norm] -> activation -> pool -> dropout.

    ``filters`` and ``pools`` (one (time, freq) pool per layer) are lists of the same length.
    Output (B, T', C * F') time-major features.
    """

    def __init__(self, n_freq: int, filters: Sequence[int], pools: Sequence[Sequence[int]],
                 act: str = "leaky_relu", dropout: float = 0.0, batch_norm: bool = False) -> None:
        super().__init__()
        if len(filters) != len(pools):
            raise ValueError(f"{len(filters)} filters but {len(pools)} pools")
        layers: list[nn.Module] = []
        c_in, f = 1, n_freq
        self.time_pool = 1
        for c_out, pool in zip(filters, pools):
            layers.append(nn.Conv2d(c_in, int(c_out), 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(int(c_out)))
            layers.append(activation(act))
            layers.append(nn.MaxPool2d(tuple(int(p) for p in pool)))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            c_in, f = int(c_out), f // int(pool[1])
            self.time_pool *= int(pool[0])
        self.net = nn.Sequential(*layers)
        self.out_dim = c_in * f

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, F)
        h = self.net(x.unsqueeze(1))  # (B, C, T', F')
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


class EmbeddingHead(nn.Module):
    """(B, T, D) -> (B, E): time mean, optional projection to ``dim``, optional L2 normalisation."""

    def __init__(self, n_in: int, dim: int | None = None, l2: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(n_in, dim) if dim and dim != n_in else None
        self.l2 = l2
        self.out_dim = dim or n_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = x.mean(dim=1)
        if self.proj is not None:
            e = self.proj(e)
        return F.normalize(e, dim=-1) if self.l2 else e


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
    """Embedding network E of Turpault et al.: the conv trunk on fixed patches (``patch`` frames, 20 = 200 ms),
    embedding of each patch = time mean; embedding of a longer input = mean over its patches.

    A tail shorter than a patch is dropped (an input shorter than one patch is zero-padded to one)."""

    def __init__(self, n_freq: int, patch: int, filters, pools, act="leaky_relu", dropout=0.0,
                 batch_norm=False, dim: int | None = None, l2: bool = False) -> None:
        super().__init__()
        self.patch = int(patch)
        self.trunk = ConvTrunk(n_freq, filters, pools, act, dropout, batch_norm)
        self.head = EmbeddingHead(self.trunk.out_dim, dim, l2=False)
        self.l2 = l2
        self.out_dim = self.head.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, F)
        b, length, f = x.shape
        if length < self.patch:
            x = F.pad(x, (0, 0, 0, self.patch - length))
            length = self.patch
        n = length // self.patch
        p = x[:, : n * self.patch].reshape(b * n, self.patch, f)
        e = self.head(self.trunk(p)).reshape(b, n, -1).mean(dim=1)
        return F.normalize(e, dim=-1) if self.l2 else e
