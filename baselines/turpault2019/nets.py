"""The paper's networks (section 4.4), built from baselines/common/nets.py; every size is a config value.

- :class:`EmbeddingCNN`: the baseline's CNN (conv 3x3 layers, pooling in frequency only) trained with the
  triplet loss. A sub-segment's embedding ``f(x)`` is the time mean of the CNN's frame outputs
  (``filters[-1] * remaining bands`` values: 64 x 1 with the paper's 64 filters and three frequency pools of
  4 on 64 mel bands). Optionally L2-normalised (off in the paper).
- :class:`SequenceClassifier`: BiGRU layers, a fully connected layer to C classes with a sigmoid per frame,
  the clip probability being the mean of the frame probabilities ("the final prediction is the average over
  the frames"). With 2 layers of 64 it is the classifier on frozen embeddings (its frames are the clip's
  sub-segment embeddings) and the classifier on log-mel spectrograms (its frames are log-mel frames).
- :class:`BaselineCRNN`: the CNN followed by a :class:`SequenceClassifier` of one BiGRU layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from baselines.common.nets import BiGRU, ConvTrunk, EmbeddingHead, Pooling


class EmbeddingCNN(nn.Module):
    """``(B, T, F) -> (B, D)`` sub-segment embeddings; :meth:`frames` gives the ``(B, T, D)`` frame outputs."""

    def __init__(self, n_freq: int, *, filters: Sequence[int] = (64, 64, 64),
                 pools: Sequence[Sequence[int]] = ((1, 4), (1, 4), (1, 4)), activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, l2: bool = False) -> None:
        super().__init__()
        self.trunk = ConvTrunk(n_freq, filters, pools, activation, dropout, batch_norm)
        self.head = EmbeddingHead(self.trunk.out_dim, None, l2=l2)
        self.out_dim = self.trunk.out_dim

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


class SequenceClassifier(nn.Module):
    """``(B, T, n_in) -> (clip probabilities (B, C), frame probabilities (B, T, C))``."""

    def __init__(self, n_in: int, n_classes: int, *, hidden: int = 64, layers: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = BiGRU(n_in, hidden, layers, dropout)
        self.fc = nn.Linear(self.rnn.out_dim, n_classes)
        self.pool = Pooling("mean")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = torch.sigmoid(self.fc(self.rnn(x)))
        return self.pool(frames), frames


class BaselineCRNN(nn.Module):
    """The baseline: CNN (no time pooling) + one BiGRU layer + FC, mean of the frame probabilities."""

    def __init__(self, n_freq: int, n_classes: int, *, filters: Sequence[int] = (64, 64, 64),
                 pools: Sequence[Sequence[int]] = ((1, 4), (1, 4), (1, 4)), activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, rnn_hidden: int = 64, rnn_layers: int = 1) -> None:
        super().__init__()
        self.trunk = ConvTrunk(n_freq, filters, pools, activation, dropout, batch_norm)
        if self.trunk.time_pool != 1:
            raise ValueError("the baseline CRNN pools in frequency only: every pool must be (1, k)")
        self.classifier = SequenceClassifier(self.trunk.out_dim, n_classes, hidden=rnn_hidden, layers=rnn_layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.classifier(self.trunk(x))


@torch.no_grad()
def embedding_sequences(embedder: EmbeddingCNN, x: torch.Tensor, frames: int, batch_size: int = 256) -> torch.Tensor:
    """The classifier's input for whole clips: ``x (n, T, F) -> (n, K, D)``, the embeddings of each clip's
    ``K = T // frames`` consecutive sub-segments (trailing frames dropped, as in :mod:`subsegments`)."""
    n, t, f = x.shape
    k = t // int(frames)
    if k < 1:
        raise ValueError(f"clips of {t} frames are shorter than one sub-segment of {frames} frames")
    segs = x[:, : k * frames].reshape(n * k, frames, f)
    out = [embedder(segs[i:i + batch_size]) for i in range(0, n * k, batch_size)]
    return torch.cat(out).reshape(n, k, -1)
