"""The tagger of the teacher / student baselines: frame-wise (decision-level) pooling.

``ConvTrunk -> [BiGRU] -> MLP on every frame -> sigmoid -> frame probabilities (B, T', C)``; the clip
probability is their mean over time (``Pooling("mean")``), as in the MobileNetV2 of Dinkel et al. (sigmoid per
frame, then mean). A mean of frame decisions stays a valid clip score for any input long enough to leave one
frame after the trunk's time pooling, so one network scores 10 s clips, 2 s chunks and 0.96 s patches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from wlbench_baselines.common.nets import MLP, BiGRU, ConvTrunk, Pooling

DEFAULT_NET: dict = {
    # CPU-sized: 3 conv blocks, time pooled 16x (6 frames for a 1 s chunk or a 0.96 s patch), 64 bands -> 2.
    "filters": [16, 32, 64],
    "pools": [[4, 4], [2, 4], [2, 2]],
    "activation": "relu",
    "conv_dropout": 0.0,
    "batch_norm": True,
    "rnn_hidden": 0,  # 0: no recurrent layer (a pure CNN, like the papers' MobileNets / ResNet-50)
    "hidden": [],  # hidden layers of the frame-wise classifier
    "head_dropout": 0.3,  # dropout before the frame-wise classifier (MobileNetV2 of the PSL code: 0.3)
}


class FramePoolingTagger(nn.Module):
    """Decision-level pooling tagger on standardised log-mel inputs (B, L, F).

    ``forward`` returns ``(clip, frames)``: clip probabilities (B, C) = mean over time of the frame
    probabilities (B, T', C), ``T' = L // time_pool`` (``min_frames = time_pool``: a shorter input raises
    ValueError)."""

    def __init__(self, n_freq: int, n_classes: int, *, filters: Sequence[int], pools: Sequence[Sequence[int]],
                 activation: str = "relu", conv_dropout: float = 0.0, batch_norm: bool = True, rnn_hidden: int = 0,
                 hidden: Sequence[int] = (), head_dropout: float = 0.0, channels_last: bool = False) -> None:
        super().__init__()
        self.trunk = ConvTrunk(n_freq, filters, pools, activation, float(conv_dropout), bool(batch_norm),
                               channels_last=channels_last)
        if self.trunk.out_dim < 1:
            raise ValueError(f"the pools leave no frequency band of {n_freq}")
        self.rnn = BiGRU(self.trunk.out_dim, int(rnn_hidden)) if int(rnn_hidden) > 0 else None
        width = self.rnn.out_dim if self.rnn is not None else self.trunk.out_dim
        self.dropout = nn.Dropout(float(head_dropout)) if float(head_dropout) > 0 else nn.Identity()
        self.head = MLP(width, hidden, n_classes, activation)
        self.pool = Pooling("mean")
        self.min_frames = int(self.trunk.time_pool)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3:
            raise ValueError(f"expected inputs (B, L, F), got shape {tuple(x.shape)}")
        if x.shape[1] < self.min_frames:
            raise ValueError(f"inputs of {x.shape[1]} frames are shorter than the network's time pooling "
                             f"({self.min_frames} frames)")
        h = self.trunk(x)
        if self.rnn is not None:
            h = self.rnn(h)
        frames = torch.sigmoid(self.head(self.dropout(h)))
        return self.pool(frames), frames


def build_tagger(config: dict, n_freq: int, n_classes: int, prefix: str = "") -> FramePoolingTagger:
    """A tagger from config keys ``<prefix>filters``, ``<prefix>pools``, ... (defaults: :data:`DEFAULT_NET`) and the
    shared ``channels_last`` (no prefix; default off)."""
    values = {k: config.get(prefix + k, v) for k, v in DEFAULT_NET.items()}
    return FramePoolingTagger(n_freq, n_classes, filters=values["filters"], pools=values["pools"],
                              activation=values["activation"], conv_dropout=values["conv_dropout"],
                              batch_norm=values["batch_norm"], rnn_hidden=values["rnn_hidden"],
                              hidden=values["hidden"], head_dropout=values["head_dropout"],
                              channels_last=bool(config.get("channels_last", False)))
