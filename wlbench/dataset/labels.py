"""Strong events -> weak, frame and segment labels.

Events are given as parallel arrays: ``clip`` (int, clip row), ``label`` (int, class column), ``onset``
and ``offset`` (float seconds, onset < offset). Times are compared with a 1e-9 s tolerance so that a
boundary that is a whole number of frames (e.g. 0.25 s at 100 frames/s) lands on that frame.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-9


def weak_labels(clip: np.ndarray, label: np.ndarray, n_clips: int, n_classes: int) -> np.ndarray:
    """Clip-level labels, shape ``(n_clips, n_classes)`` uint8: 1 where the clip holds an event of the class."""
    out = np.zeros((n_clips, n_classes), dtype=np.uint8)
    out[np.asarray(clip, dtype=np.int64), np.asarray(label, dtype=np.int64)] = 1
    return out


def frame_labels(clip: np.ndarray, label: np.ndarray, onset: np.ndarray, offset: np.ndarray, *, n_clips: int,
                 n_classes: int, n_frames: int, frame_rate: float) -> np.ndarray:
    """Frame labels, shape ``(n_clips, n_frames, n_classes)`` uint8.

    Frame ``t`` stands for time ``t / frame_rate`` (the centre of the analysis window, see
    :mod:`wlbench.features`) and is active for an event when ``onset <= t / frame_rate < offset``.
    """
    out = np.zeros((n_clips, n_frames, n_classes), dtype=np.uint8)
    first = np.clip(np.ceil(np.asarray(onset) * frame_rate - _EPS).astype(np.int64), 0, n_frames)
    stop = np.clip(np.ceil(np.asarray(offset) * frame_rate - _EPS).astype(np.int64), 0, n_frames)
    for c, k, a, b in zip(np.asarray(clip), np.asarray(label), first, stop):
        out[c, a:b, k] = 1
    return out


def window_labels(clip: np.ndarray, label: np.ndarray, onset: np.ndarray, offset: np.ndarray,
                  *, window_start: np.ndarray, window_length: float, n_classes: int,
                  min_overlap: float = 0.0) -> np.ndarray:
    """Weak labels of one window per clip, shape ``(n_clips, n_classes)`` uint8.

    ``window_start[i]`` is the start (s) of clip ``i``'s window of ``window_length`` s. A class is present
    when one of its events overlaps the window by more than ``min_overlap`` seconds (``0``: any overlap).
    """
    window_start = np.asarray(window_start, dtype=np.float64)
    clip = np.asarray(clip, dtype=np.int64)
    start = window_start[clip]
    overlap = np.minimum(np.asarray(offset), start + window_length) - np.maximum(np.asarray(onset), start)
    keep = overlap > min_overlap + _EPS
    out = np.zeros((window_start.shape[0], n_classes), dtype=np.uint8)
    out[clip[keep], np.asarray(label, dtype=np.int64)[keep]] = 1
    return out


def segment_name(duration: float) -> str:
    """Name of a segment view in the store: ``"200ms"``, ``"1s"``, ``"10s"``, ``"2.5s"``."""
    if duration < 1.0:
        return f"{round(duration * 1000):d}ms"
    return f"{duration:g}s"


def window_frames(start: float, length: float, frame_rate: float) -> tuple[int, int]:
    """Frame range ``[first, first + count)`` of a window: ``count = round(length * frame_rate)``."""
    first = int(np.ceil(start * frame_rate - _EPS))
    return first, int(round(length * frame_rate))


def chunk_labels(clip: np.ndarray, label: np.ndarray, onset: np.ndarray, offset: np.ndarray, *, n_clips: int,
                 n_classes: int, clip_duration: float, chunk: float, min_overlap: float = 0.0) -> np.ndarray:
    """Weak labels of consecutive chunks, shape ``(n_clips, n_chunks, n_classes)`` uint8.

    Chunk ``k`` covers ``[k * chunk, min((k + 1) * chunk, clip_duration))``; ``n_chunks = ceil(clip_duration /
    chunk)`` (the last chunk is shorter when ``chunk`` does not divide the clip). A chunk's label is the union of
    the classes of the events overlapping it by more than ``min_overlap`` seconds (0: any overlap).
    """
    n_chunks = n_chunk_count(clip_duration, chunk)
    out = np.zeros((n_clips, n_chunks, n_classes), dtype=np.uint8)
    for k in range(n_chunks):
        start = k * chunk
        length = min(chunk, clip_duration - start)
        out[:, k, :] = window_labels(clip, label, onset, offset, window_start=np.full(n_clips, start), window_length=length, n_classes=n_classes,
                                     min_overlap=min_overlap)
    return out


def n_chunk_count(clip_duration: float, chunk: float) -> int:
    """Number of chunks of ``chunk`` s in a clip (the last one may be shorter)."""
    return max(1, int(np.ceil(clip_duration / chunk - 1e-9)))


def polyphony(clip: np.ndarray, onset: np.ndarray, offset: np.ndarray, n_clips: int) -> np.ndarray:
    """Largest number of simultaneously active events in each clip, shape ``(n_clips,)`` int."""
    clip = np.asarray(clip, dtype=np.int64)
    times = np.concatenate([np.asarray(onset, dtype=np.float64), np.asarray(offset, dtype=np.float64)])
    steps = np.concatenate([np.ones(clip.size, dtype=np.int64), -np.ones(clip.size, dtype=np.int64)])
    clips = np.concatenate([clip, clip])
    order = np.lexsort((steps, times, clips))  # by clip, then time, ends (-1) before starts at equal times
    out = np.zeros(n_clips, dtype=np.int64)
    active = 0
    previous = -1
    for c, step in zip(clips[order], steps[order]):
        if c != previous:
            active, previous = 0, c
        active += step
        out[c] = max(out[c], active)
    return out
