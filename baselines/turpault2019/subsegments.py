"""Cutting clips into the paper's fixed sub-segments (0.96 s; section 4.3) and back.

Every clip of ``T`` frames gives ``K = T // frames`` consecutive, non-overlapping sub-segments starting at
frames ``0, frames, 2 * frames, ...``; the ``T - K * frames`` trailing frames are dropped (the paper cuts a
10 s clip into ten 0.96 s sub-segments: 10 x 0.96 s = 9.6 s are used). Sub-segment ``k`` of clip ``i`` is row
``i * K + k`` of the pool: clip-major, so a clip's sub-segments are contiguous and in time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wlbench.errors import WlbenchError


@dataclass(frozen=True)
class SubSegments:
    """A pool of sub-segments cut from ``n_clips`` clips.

    ``features (N, frames, F)``: a view (no copy) of the clip features when they are contiguous;
    ``clip (N,)``: the clip row of each sub-segment; ``start (N,)``: its first frame in the clip;
    ``per_clip``: sub-segments per clip (``K``)."""

    features: np.ndarray
    clip: np.ndarray
    start: np.ndarray
    per_clip: int

    def __len__(self) -> int:
        return int(self.clip.shape[0])

    @property
    def n_clips(self) -> int:
        return len(self) // self.per_clip if self.per_clip else 0



def rows_of_clips(clips: np.ndarray, per_clip: int) -> np.ndarray:
    """Pool rows of every sub-segment of ``clips`` (clip order kept, each clip's sub-segments in time order)."""
    clips = np.asarray(clips, dtype=np.int64)
    return (clips[:, None] * int(per_clip) + np.arange(int(per_clip))[None, :]).reshape(-1)


def cut(features: np.ndarray, frames: int) -> SubSegments:
    """Cut ``features (n_clips, T, F)`` into sub-segments of ``frames`` frames (see the module docstring).

    Raises :class:`WlbenchError` when a clip is shorter than one sub-segment."""
    if features.ndim != 3:
        raise WlbenchError(f"features must be (clips, frames, bands), got shape {features.shape}")
    frames = int(frames)
    if frames < 1:
        raise WlbenchError(f"subsegment_frames must be >= 1, got {frames}")
    n, t, f = features.shape
    k = t // frames
    if k < 1:
        raise WlbenchError(f"clips have {t} frames, fewer than one sub-segment of {frames} frames",
                           hint="lower subsegment_frames")
    x = features[:, : k * frames].reshape(n * k, frames, f)
    clip = np.repeat(np.arange(n, dtype=np.int64), k)
    start = np.tile(np.arange(k, dtype=np.int64) * frames, n)
    return SubSegments(x, clip, start, k)


def clip_sequences(values: np.ndarray, per_clip: int) -> np.ndarray:
    """Regroup per-sub-segment rows ``(n_clips * per_clip, ...)`` (clip-major) into ``(n_clips, per_clip, ...)``."""
    if values.shape[0] % per_clip:
        raise ValueError(f"{values.shape[0]} rows are not a whole number of clips of {per_clip} sub-segments")
    return values.reshape(values.shape[0] // per_clip, per_clip, *values.shape[1:])
