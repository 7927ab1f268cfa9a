"""Cutting clips of feature frames into windows (chunks, patches), batching them, pooling their scores back.

A clip's features are ``(T, F)`` frames; frame ``t`` is centred at ``t / frame_rate`` seconds (see
:mod:`wlbench.features`). A clip of ``D`` seconds owns the frames centred inside ``[0, D)``:
:func:`clip_frames` of them (1000 for 10 s at 100 frames/s). The feature array holds one more frame, the one
centred exactly on the clip's end (its analysis window is half reflect padding); windows never use it, so
a window of ``n`` s is ``n * frame_rate`` frames exactly whenever that is a whole number.

* :func:`chunk_windows` (pseudo strong labels, Dinkel et al. 2022): consecutive chunks of ``n`` s with hop
  ``n``: chunk ``k`` holds the frames centred in ``[k n, (k + 1) n)``, the same time span as chunk ``k`` of
  the store's resolution views (:func:`wlbench.dataset.labels.chunk_labels`). ``ceil(D / n)`` chunks; the last one
  is shorter when ``n`` does not divide ``D``. Every frame of the clip lies in exactly one chunk.
* :func:`patch_windows` (Fonseca et al. 2020): fixed patches of ``length`` frames every ``hop`` frames
  (96 and 48: 0.96 s with 50 % overlap). When the hop grid does not end on the clip's last frame, one more
  patch is aligned to the clip's end, so every frame is seen and every patch is full length. A clip
  shorter than one patch gives one shorter patch.

Batching (:meth:`Windows.batches`): windows of unequal length are never padded. The windows are grouped
by length, each group shuffled and cut into batches, and the batches of all groups shuffled together;
every batch therefore holds windows of one length. Decision-level pooling makes a window's score
independent of its batch (no padded frame enters its mean), at the cost that a shorter last chunk is only
ever batched with other last chunks. With chunk lengths that divide the clip (10, 5, 2, 1 s of 10 s clips)
all windows have one length and batches are plain random batches.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wlbench.dataset.labels import n_chunk_count

_EPS = 1e-9


def clip_frames(clip_duration: float, frame_rate: float, n_frames: int | None = None) -> int:
    """Frames centred inside ``[0, clip_duration)``: ``ceil(clip_duration * frame_rate)`` (at most ``n_frames``)."""
    count = int(np.ceil(float(clip_duration) * float(frame_rate) - _EPS))
    if n_frames is not None:
        count = min(count, int(n_frames))
    if count < 1:
        raise ValueError(f"a clip of {clip_duration} s at {frame_rate} frames/s has no frame")
    return count


@dataclasses.dataclass(frozen=True)
class Windows:
    """Windows over ``n_clips`` clips: window ``m`` is frames ``[start[m], stop[m])`` of clip ``clip[m]``.

    ``position[m]`` is the window's index within its clip (0, 1, ...). Windows are ordered clip by clip,
    then by position.
    """

    clip: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    position: np.ndarray
    n_clips: int

    def __len__(self) -> int:
        return int(self.clip.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        """(M,) frames per window."""
        return self.stop - self.start

    @property
    def per_clip(self) -> int:
        """Windows per clip (the same for every clip)."""
        return len(self) // self.n_clips if self.n_clips else 0

    def gather(self, x: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Frames of windows ``index`` from ``x`` (N, T, F) as one (B, L, F) array; the windows must share
        one length (batches from :meth:`batches` do)."""
        index = np.asarray(index, dtype=np.int64)
        lengths = np.unique(self.lengths[index])
        if lengths.size != 1:
            raise ValueError(f"windows of lengths {lengths.tolist()} cannot be stacked; batch them by length")
        frames = self.start[index, None] + np.arange(int(lengths[0]))[None, :]
        return x[self.clip[index, None], frames]

    def batches(self, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Index batches of at most ``batch_size`` windows of one length (see the module docstring).

        Without ``rng``: windows in order, a new batch wherever the length changes or the batch is full
        (for inference). With ``rng``: length groups shuffled, cut, and all batches shuffled."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        lengths = self.lengths
        if rng is None:
            out: list[np.ndarray] = []
            begin = 0
            for end in range(1, len(self) + 1):
                if end == len(self) or lengths[end] != lengths[begin] or end - begin == batch_size:
                    out.append(np.arange(begin, end))
                    begin = end
            return out
        out = []
        for value in np.unique(lengths):
            members = rng.permutation(np.flatnonzero(lengths == value))
            out += [members[i:i + batch_size] for i in range(0, members.size, batch_size)]
        return [out[i] for i in rng.permutation(len(out))]

    def pool(self, scores: np.ndarray, how: str = "mean") -> np.ndarray:
        """Window scores (M, C) -> clip scores (N, C).

        ``mean``: mean over the clip's windows weighted by their length in frames (the plain mean when all
        windows are equally long: chunk scores averaged over the clip, Dinkel et al.; patch scores averaged,
        Fonseca et al.). ``max``: maximum over the clip's windows (e.g. the union of binary chunk labels)."""
        scores = np.asarray(scores)
        if scores.ndim != 2 or scores.shape[0] != len(self):
            raise ValueError(f"expected ({len(self)}, C) window scores, got {scores.shape}")
        if how == "max":
            out = np.full((self.n_clips, scores.shape[1]), -np.inf)
            np.maximum.at(out, self.clip, scores)
            return out.astype(scores.dtype)
        if how != "mean":
            raise ValueError(f"unknown pooling {how!r}; use mean or max")
        w = self.lengths.astype(np.float64)[:, None]
        total = np.zeros((self.n_clips, scores.shape[1]))
        np.add.at(total, self.clip, scores * w)
        norm = np.bincount(self.clip, weights=self.lengths.astype(np.float64), minlength=self.n_clips)
        return total / norm[:, None]

    def expand(self, clip_values: np.ndarray) -> np.ndarray:
        """Per-clip rows (N, ...) repeated for each window (M, ...), e.g. weak labels propagated to chunks."""
        clip_values = np.asarray(clip_values)
        if clip_values.shape[0] != self.n_clips:
            raise ValueError(f"expected {self.n_clips} clip rows, got {clip_values.shape[0]}")
        return clip_values[self.clip]


def _tile(n_clips: int, starts: np.ndarray, stops: np.ndarray) -> Windows:
    k = starts.size
    return Windows(clip=np.repeat(np.arange(n_clips, dtype=np.int64), k),
                   start=np.tile(starts.astype(np.int64), n_clips), stop=np.tile(stops.astype(np.int64), n_clips),
                   position=np.tile(np.arange(k, dtype=np.int64), n_clips), n_clips=int(n_clips))


def chunk_windows(n_clips: int, *, clip_duration: float, frame_rate: float, chunk: float,
                  n_frames: int | None = None) -> Windows:
    """Consecutive chunks of ``chunk`` s, hop ``chunk``, covering each clip's frames exactly once.

    Chunk ``k`` (``0 <= k < ceil(clip_duration / chunk)``) holds the frames centred in
    ``[k chunk, min((k + 1) chunk, clip_duration))``; ``n_frames`` (the feature array's frame count) only
    caps the clip's frames. Raises ValueError for a chunk shorter than one frame."""
    if not chunk > 0:
        raise ValueError(f"chunk must be > 0 s, got {chunk}")
    total = clip_frames(clip_duration, frame_rate, n_frames)
    k = n_chunk_count(float(clip_duration), float(chunk))
    starts = np.ceil(np.arange(k) * float(chunk) * float(frame_rate) - _EPS).astype(np.int64)
    stops = np.append(starts[1:], total)
    if np.any(stops <= starts):
        raise ValueError(f"chunks of {chunk} s at {frame_rate} frames/s leave a chunk without frames")
    return _tile(n_clips, starts, stops)


def patch_windows(n_clips: int, *, n_frames: int, length: int, hop: int) -> Windows:
    """Patches of ``length`` frames every ``hop`` frames over the first ``n_frames`` frames of each clip,
    plus one patch aligned to the clip's end when the hop grid misses the last frames (see the module
    docstring). A clip shorter than ``length`` gives one patch of ``n_frames`` frames."""
    if length < 1 or hop < 1:
        raise ValueError(f"patch length and hop must be >= 1 frame, got {length} and {hop}")
    if n_frames < 1:
        raise ValueError(f"clips need at least one frame, got {n_frames}")
    if n_frames <= length:
        return _tile(n_clips, np.array([0]), np.array([n_frames]))
    starts = np.arange(0, n_frames - length + 1, hop, dtype=np.int64)
    if starts[-1] + length < n_frames:
        starts = np.append(starts, n_frames - length)
    return _tile(n_clips, starts, starts + length)
