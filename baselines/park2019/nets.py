"""The networks of Park et al. (2019), Fig. 2: feature extractor F, labelers F1 and F2, final classifier Ft,
domain classifier D. Built from the shared blocks of :mod:`wlbench_baselines.common.nets`.

Shapes: input log-mel (B, L, n_freq) -> F -> features (B, T, D) with T = L // time_pool -> each of F1, F2,
Ft -> frame logits (B, T, C) and clip scores (B, C) in [0, 1]; D -> one logit per clip (B,) (Adv.whole)
or per frame (B, T) (Adv.time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from wlbench_baselines.common.nets import MLP, BiGRU, ConvTrunk, Pooling, activation

ADVERSARIAL = ("none", "whole", "time")
POOLINGS = ("attention", "mean", "max")


class FeatureExtractor(nn.Module):
    """F: conv blocks (3x3 conv -> [batch norm] -> activation -> (time, freq) max-pool -> [dropout]) then a
    ``rnn_layers``-layer BiGRU. (B, L, n_freq) -> (B, L // time_pool, 2 * rnn_hidden)."""

    def __init__(self, n_freq: int, *, filters: Sequence[int], pools: Sequence[Sequence[int]],
                 act: str = "relu", dropout: float = 0.0, batch_norm: bool = True, rnn_hidden: int = 32,
                 rnn_layers: int = 2, rnn_dropout: float = 0.0, channels_last: bool = False) -> None:
        super().__init__()
        self.trunk = ConvTrunk(n_freq, filters, pools, act, dropout, batch_norm, channels_last=channels_last)
        if self.trunk.out_dim < 1:
            raise ValueError(f"the frequency pools reduce {n_freq} bands to nothing; pool less")
        self.rnn = BiGRU(self.trunk.out_dim, int(rnn_hidden), int(rnn_layers), float(rnn_dropout))
        self.time_pool = self.trunk.time_pool
        self.out_dim = self.rnn.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(self.trunk(x))


class LabelerOutput(NamedTuple):
    frame_logits: torch.Tensor  # (B, T, C)
    clip_scores: torch.Tensor  # (B, C) in [0, 1]

    @property
    def frame_scores(self) -> torch.Tensor:
        return torch.sigmoid(self.frame_logits)


class Labeler(nn.Module):
    """F1, F2 or Ft: frame-wise hidden layers (Linear -> activation), then frame logits and a clip score
    pooled over frames.

    ``pooling="attention"`` (the CRNN of JiaKai 2018 / the DCASE 2019 baseline): clip score =
    sum_t sigmoid(frame logit) * softmax_t(attention logit); ``"mean"`` / ``"max"`` pool the frame
    probabilities. :attr:`first_layer` is the layer the orthogonality penalty (eq. 8) acts on: the first
    hidden layer, or the frame classifier itself when ``hidden`` is empty.
    """

    def __init__(self, n_in: int, n_classes: int, *, hidden: Sequence[int] = (), act: str = "relu",
                 pooling: str = "attention") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(n_in, int(h)), activation(act)]
            n_in = int(h)
        self.hidden = nn.Sequential(*layers)
        self.pooling = pooling
        if pooling == "attention":
            self.pool = Pooling("attention", n_in, n_classes)
            self.frame = self.pool.cla
        else:
            self.frame = nn.Linear(n_in, n_classes)
            self.pool = Pooling(pooling)

    @property
    def first_layer(self) -> nn.Linear:
        return self.hidden[0] if len(self.hidden) else self.frame

    def forward(self, features: torch.Tensor) -> LabelerOutput:
        h = self.hidden(features)
        logits = self.frame(h)
        clip = self.pool(h) if self.pooling == "attention" else self.pool(torch.sigmoid(logits))
        return LabelerOutput(logits, clip.clamp(0.0, 1.0))


class DomainClassifier(nn.Module):
    """D: real-vs-synthetic logits from F's features (B, T, D).

    ``mode="whole"`` (Adv.whole): one decision per clip from the time average of the features -> (B,).
    ``mode="time"`` (Adv.time): the same MLP applied to every frame -> (B, T)."""

    def __init__(self, n_in: int, *, mode: str, hidden: Sequence[int] = (64,), act: str = "relu") -> None:
        super().__init__()
        if mode not in ("whole", "time"):
            raise ValueError(f"unknown domain classifier mode {mode!r}; use whole or time")
        self.mode = mode
        self.mlp = MLP(n_in, hidden, 1, act)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.mode == "whole":
            features = features.mean(dim=1)
        return self.mlp(features).squeeze(-1)


def build_networks(config: dict, n_freq: int, n_classes: int) -> dict[str, nn.Module]:
    """The modules a configuration needs: ``extractor`` (F) and ``final`` (Ft) always; ``labeler1`` and
    ``labeler2`` (F1, F2) when ``tri_training``; ``domain`` (D) when ``adversarial`` is ``whole`` or ``time``.

    Keys read: filters, pools, activation, dropout, batch_norm, rnn_hidden, rnn_layers, rnn_dropout,
    head_hidden, pooling, domain_hidden, adversarial, tri_training, channels_last (optional)."""
    if config["adversarial"] not in ADVERSARIAL:
        raise ValueError(f"unknown adversarial variant {config['adversarial']!r}; use one of {', '.join(ADVERSARIAL)}")
    act = config["activation"]
    extractor = FeatureExtractor(n_freq, filters=config["filters"], pools=config["pools"], act=act,
                                 dropout=float(config["dropout"]), batch_norm=bool(config["batch_norm"]),
                                 rnn_hidden=int(config["rnn_hidden"]), rnn_layers=int(config["rnn_layers"]),
                                 rnn_dropout=float(config["rnn_dropout"]),
                                 channels_last=bool(config.get("channels_last", False)))

    def labeler() -> Labeler:
        return Labeler(extractor.out_dim, n_classes, hidden=config["head_hidden"], act=act, pooling=config["pooling"])

    modules: dict[str, nn.Module] = {"extractor": extractor, "final": labeler()}
    if config["tri_training"]:
        modules["labeler1"] = labeler()
        modules["labeler2"] = labeler()
    if config["adversarial"] != "none":
        modules["domain"] = DomainClassifier(extractor.out_dim, mode=config["adversarial"],
                                             hidden=config["domain_hidden"], act=act)
    return modules
