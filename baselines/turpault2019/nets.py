"""The recurrent classifier of the paper (section 4.4); the CNNs are baselines/common/nets.py's.

- The **embedding CNN** is :class:`~wlbench_baselines.common.nets.PatchEmbedder` with a patch of one sub-segment
  (48 frames = 0.96 s here): a sub-segment's embedding ``f(x)`` is the time mean of the conv trunk's frames,
  and ``patch_embeddings`` gives a clip's sequence of sub-segment embeddings.
- The **baseline CRNN** is :class:`~wlbench_baselines.common.nets.CRNN` (trunk, one BiGRU, FC + sigmoid per frame,
  mean of the frame probabilities).
- :class:`SequenceClassifier` here: BiGRU layers, FC to C classes with a sigmoid per frame, the clip
  probability being the mean of the frame probabilities ("the final prediction is the average over the
  frames"). With 2 layers of 64 it is the classifier on frozen embeddings (its frames are the clip's
  sub-segment embeddings) and the classifier on log-mel spectrograms (its frames are log-mel frames).
"""

from __future__ import annotations

import torch
from torch import nn

from wlbench_baselines.common.nets import BiGRU, Pooling


class SequenceClassifier(nn.Module):
    """``(B, T, n_in) -> (clip probabilities (B, C), frame probabilities (B, T, C))``."""

    def __init__(self, n_in: int, n_classes: int, *, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.rnn = BiGRU(n_in, hidden, layers)
        self.fc = nn.Linear(self.rnn.out_dim, n_classes)
        self.pool = Pooling("mean")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = torch.sigmoid(self.fc(self.rnn(x)))
        return self.pool(frames), frames
