"""Frame scores: the container, every detection a threshold can produce, and decoding into events.

A :class:`FrameScores` holds the score tables of N clips (sed_scores_eval's format: per clip, frames
with an onset and offset time and one score per class), concatenated along frames.

Threshold-free detection metrics (PSDS, F1 at the best threshold) need the detections of *every*
decision threshold. For one clip and class, the detections at threshold ``u`` are the runs of frames
with ``score >= u``; as ``u`` falls, runs appear, grow and merge. :func:`score_intervals` lists every run
that exists at some threshold once (the component tree of the score signal), with the range of
thresholds ``(death, birth]`` over which it exists and the run it grows into (``parent``). Every metric
in :mod:`wlbench.metrics.psds` and :mod:`wlbench.metrics.detection_curves` is a sum over these runs, so
no threshold is ever enumerated. The tree is built with vectorised pointer jumping (nearest smaller
score to the left and right of every frame), for all clips and classes at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.metrics.events import EventList

_MAX_LANES = 1 << 16  # frames processed at once by score_intervals (cache-sized: measured fastest)


@dataclass(frozen=True, eq=False)
class FrameScores:
    """Frame scores of N clips, frames concatenated in clip order.

    ``scores`` (F, C) finite floats; ``onset``/``offset`` (F,) seconds of each frame (within a clip,
    ``offset[f] == onset[f + 1]`` and ``offset > onset``); ``clip_start`` (N + 1,) ints: the frames of
    clip ``i`` are ``clip_start[i]:clip_start[i + 1]`` (every clip has at least one frame).
    """

    scores: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    clip_start: np.ndarray

    def __post_init__(self) -> None:
        s = np.asarray(self.scores)
        if s.ndim != 2 or s.dtype.kind not in "biuf":
            raise WlbenchError(f"FrameScores.scores: expected an (F frames, C classes) numeric array, got {s.shape}")
        f = s.shape[0]
        if np.shape(self.onset) != (f,) or np.shape(self.offset) != (f,):
            raise WlbenchError("FrameScores: onset and offset must have one entry per frame")
        starts = np.asarray(self.clip_start)
        if starts.ndim != 1 or starts.size < 1 or starts[0] != 0 or starts[-1] != f or (np.diff(starts) < 1).any():
            raise WlbenchError("FrameScores.clip_start: expected 0 = start_0 < start_1 < ... = n_frames")
        if not np.isfinite(s).all():
            raise WlbenchError("FrameScores: scores contain NaN or infinite values")
        on, off = np.asarray(self.onset, np.float64), np.asarray(self.offset, np.float64)
        if not (off > on).all():
            raise WlbenchError("FrameScores: every frame must have offset > onset")
        inner = np.ones(f, dtype=bool)
        inner[starts[1:] - 1] = False  # last frame of each clip
        if not (off[:-1][inner[:-1]] == on[1:][inner[:-1]]).all():
            raise WlbenchError("FrameScores: within a clip each frame must start where the previous one ends")

    @staticmethod
    def from_array(frame_scores: np.ndarray, frame_hop: float) -> FrameScores:
        """From an (N clips, T frames, C classes) array; frame ``t`` covers ``[t, t + 1) * frame_hop`` s."""
        s = np.asarray(frame_scores, dtype=np.float64)
        if s.ndim != 3 or s.shape[1] < 1:
            raise WlbenchError(f"frame_scores: expected an (N clips, T >= 1 frames, C classes) array, got {s.shape}")
        hop = float(frame_hop)
        if not np.isfinite(hop) or hop <= 0:
            raise WlbenchError(f"frame_hop must be a positive number of seconds, got {frame_hop!r}")
        n, t, c = s.shape
        edges = np.arange(t + 1) * hop
        return FrameScores(s.reshape(n * t, c), np.tile(edges[:-1], n), np.tile(edges[1:], n),
                           np.arange(n + 1) * t)

    @property
    def n_clips(self) -> int:
        return int(len(self.clip_start) - 1)

    @property
    def n_classes(self) -> int:
        return int(np.shape(self.scores)[1])

    @property
    def n_frames(self) -> int:
        return int(np.shape(self.scores)[0])

    @cached_property
    def frame_clip(self) -> np.ndarray:
        """(F,) clip index of every frame."""
        return np.repeat(np.arange(self.n_clips), np.diff(self.clip_start))

    def clip_end_time(self) -> np.ndarray:
        """(N,) the offset of each clip's last frame."""
        return np.asarray(self.offset, np.float64)[np.asarray(self.clip_start)[1:] - 1]


@dataclass(frozen=True)
class ScoreIntervals:
    """Every run of frames some threshold detects, once: (I,) arrays.

    ``cls``, ``clip``; ``first``/``end``: frame range ``[first, end)`` (indices into the FrameScores);
    ``onset``/``offset``: its time span in seconds; the run is a detection for every threshold ``u`` with
    ``death < u <= birth`` (``birth`` = its lowest score, ``death`` = the higher of its two neighbouring
    frames' scores, ``-inf`` at both clip edges); ``parent``: the run it grows into when the threshold
    reaches ``death`` (-1: none). Runs of one (clip, class) at one threshold are disjoint.
    """

    cls: np.ndarray
    clip: np.ndarray
    first: np.ndarray
    end: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    birth: np.ndarray
    death: np.ndarray
    parent: np.ndarray

    def __len__(self) -> int:
        return len(self.cls)

    def children_count(self) -> np.ndarray:
        """(I,) how many runs grow into each run."""
        has = self.parent >= 0
        return np.bincount(self.parent[has], minlength=len(self)).astype(np.int64)

    def net_at_birth(self, value: np.ndarray) -> np.ndarray:
        """(I,) ``value[i] - sum of value over the children of i``: the change of a per-run quantity summed
        over the runs alive, when the threshold falls to ``birth[i]`` (children die as run i is born)."""
        v = np.asarray(value, dtype=np.float64)
        has = self.parent >= 0
        return v - np.bincount(self.parent[has], weights=v[has], minlength=len(self))


_NEAR = 6  # neighbours checked by contiguous comparisons before pointer jumping takes over


def _next_smaller(x: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For every lane ``i``, the first index ``j > i`` (``j < hi[i]``) with ``x[j] < x[i]``, else ``hi[i]``.

    The nearest ``_NEAR`` neighbours are compared with contiguous slices; the rest by pointer jumping
    (a pointer only ever skips a stretch known to be >= the lane's value)."""
    n = x.size
    out = np.full(n, -1, dtype=np.int64)
    lanes = np.arange(n, dtype=np.int64)
    for k in range(1, min(_NEAR, n - 1) + 1):
        ok = (out[:-k] < 0) & (lanes[:-k] + k < hi[:-k]) & (x[k:] < x[:-k])
        idx = np.flatnonzero(ok)
        out[idx] = idx + k
    open_ = np.flatnonzero(out < 0)
    out[open_] = np.minimum(open_ + _NEAR + 1, hi[open_])
    act = open_[out[open_] < hi[open_]]
    while act.size:
        act = act[x[out[act]] >= x[act]]
        if not act.size:
            break
        out[act] = out[out[act]]
        act = act[out[act] < hi[act]]
    return out


def _previous_not_greater(x: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """For every lane ``i``, the last index ``j < i`` (``j >= lo[i]``) with ``x[j] <= x[i]``, else
    ``lo[i] - 1`` (the mirror image of :func:`_next_smaller`, ties included)."""
    n = x.size
    out = np.full(n, -2, dtype=np.int64)
    lanes = np.arange(n, dtype=np.int64)
    for k in range(1, min(_NEAR, n - 1) + 1):
        ok = (out[k:] == -2) & (lanes[k:] - k >= lo[k:]) & (x[:-k] <= x[k:])
        idx = np.flatnonzero(ok) + k
        out[idx] = idx - k
    open_ = np.flatnonzero(out == -2)
    out[open_] = np.maximum(open_ - _NEAR - 1, lo[open_] - 1)
    act = open_[out[open_] >= lo[open_]]
    while act.size:
        act = act[x[out[act]] > x[act]]
        if not act.size:
            break
        out[act] = out[out[act]]
        act = act[out[act] >= lo[act]]
    return out


def _intervals_of_rows(fs: FrameScores, row_clip: np.ndarray, row_cls: np.ndarray,
                       keep: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
                       ) -> ScoreIntervals:
    """The runs of the given (clip, class) rows; rows are laid out one after another as lanes."""
    starts = np.asarray(fs.clip_start, np.int64)
    length = starts[row_clip + 1] - starts[row_clip]
    row_lo = np.r_[0, np.cumsum(length)[:-1]].astype(np.int64)
    n = int(length.sum())
    row = np.repeat(np.arange(row_clip.size), length)
    lanes = np.arange(n, dtype=np.int64)
    frame = starts[row_clip][row] + (lanes - row_lo[row])
    x = np.asarray(fs.scores, np.float64)[frame, row_cls[row]]
    lo = row_lo[row]
    hi = lo + length[row]
    right = _next_smaller(x, hi)
    left_le = _previous_not_greater(x, lo)
    # runs are listed once, by their leftmost frame of lowest score: follow equal-score pointers to it;
    # the frame before that representative is the previous strictly smaller one
    rep = lanes.copy()
    tie = np.flatnonzero(left_le >= lo)
    tie = tie[x[left_le[tie]] == x[tie]]
    rep[tie] = left_le[tie]
    todo = tie
    while todo.size:
        rep[todo] = rep[rep[todo]]
        todo = todo[rep[rep[todo]] != rep[todo]]
    reps = np.flatnonzero(rep == lanes)
    first, end = left_le[reps] + 1, right[reps]
    if keep is not None:
        kept = keep(row_cls[row[reps]], row_clip[row[reps]], frame[first], frame[end - 1] + 1)
        reps, first, end = reps[kept], first[kept], end[kept]
    index = np.full(n, -1, dtype=np.int64)
    index[reps] = np.arange(reps.size)
    lo_r, hi_r = lo[reps], hi[reps]
    x_left = np.where(first > lo_r, x[np.maximum(first - 1, 0)], -np.inf)
    x_right = np.where(end < hi_r, x[np.minimum(end, n - 1)], -np.inf)
    death = np.maximum(x_left, x_right)
    neighbour = np.clip(np.where(x_left >= x_right, first - 1, end), 0, max(n - 1, 0))
    parent = np.where(np.isfinite(death), index[rep[neighbour]], -1) if n else np.zeros(0, np.int64)
    first_f, end_f = frame[first], frame[end - 1] + 1
    return ScoreIntervals(cls=row_cls[row[reps]], clip=row_clip[row[reps]], first=first_f, end=end_f,
                          onset=np.asarray(fs.onset, np.float64)[first_f],
                          offset=np.asarray(fs.offset, np.float64)[end_f - 1],
                          birth=x[reps], death=death, parent=parent)


def score_intervals(fs: FrameScores, rows: np.ndarray | None = None, *,
                    keep: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
                    ) -> ScoreIntervals:
    """Every detection of every threshold, for the (clip, class) rows selected by ``rows`` (an (N, C)
    boolean mask; default: all), as :class:`ScoreIntervals` ordered by class, then clip and frame.
    Rows are processed in cache-sized chunks (~65,000 frames), which bounds memory as well.

    ``keep(cls, clip, first, end)`` (optional) selects the runs to list, by class, clip and frame range
    ``[first, end)``; it must keep a run's parent (the run containing it) whenever it keeps the run (e.g.
    "overlaps some reference event"), so that every listed run's parent is listed."""
    mask = np.ones((fs.n_clips, fs.n_classes), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    if mask.shape != (fs.n_clips, fs.n_classes):
        raise WlbenchError(f"rows: expected an ({fs.n_clips}, {fs.n_classes}) mask, got {mask.shape}")
    row_cls, row_clip = np.nonzero(mask.T)
    length = np.diff(np.asarray(fs.clip_start, np.int64))[row_clip]
    chunk = np.r_[0, np.cumsum(length)[:-1]] // _MAX_LANES  # rows never split across chunks
    bounds = np.r_[0, np.flatnonzero(np.diff(chunk)) + 1, row_clip.size].tolist()
    parts = []
    shift = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b <= a:
            continue
        part = _intervals_of_rows(fs, row_clip[a:b], row_cls[a:b], keep)
        parts.append(ScoreIntervals(**{**part.__dict__, "parent": np.where(part.parent >= 0, part.parent + shift, -1)}))
        shift += len(part)
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        zf = np.zeros(0)
        return ScoreIntervals(z, z, z, z, zf, zf, zf, zf, z)
    return ScoreIntervals(*(np.concatenate([getattr(p, name) for p in parts])
                            for name in ScoreIntervals.__dataclass_fields__))


class FrameDetections:
    """Frame scores with their reference events and clip durations: the input of every threshold-free
    detection metric (:mod:`wlbench.metrics.psds`, :mod:`wlbench.metrics.detection_curves`).

    ``reference``: an :class:`~wlbench.metrics.events.EventList` (``file`` = clip index into the frame
    scores) of non-overlapping same-class events (merge them first with
    :func:`~wlbench.metrics.events.merge_overlaps`); ``durations`` (N,) seconds of each clip. The runs of
    :func:`score_intervals` are computed on first use and kept: for the rows with reference events of
    their own class (``"target"``) and for the other rows of clips with any reference event
    (``"other"``, needed for cross-triggers only).
    """

    def __init__(self, scores: FrameScores, reference: EventList, durations: np.ndarray) -> None:
        self.scores = scores
        n, c = scores.n_clips, scores.n_classes
        file = np.asarray(reference.file, np.int64)
        label = np.asarray(reference.label, np.int64)
        if len(reference) and (file.min() < 0 or file.max() >= n or label.min() < 0 or label.max() >= c):
            raise WlbenchError("reference events: clip or class index out of range of the frame scores")
        self.reference = reference
        dur = np.broadcast_to(np.asarray(durations, np.float64), (n,)).copy()
        if not (np.isfinite(dur).all() and (dur > 0).all()):
            raise WlbenchError("durations: expected a positive number of seconds for every clip")
        self.durations = dur
        on, off = np.asarray(reference.onset, np.float64), np.asarray(reference.offset, np.float64)
        self.ref_count = np.zeros((n, c))
        np.add.at(self.ref_count, (file, label), 1.0)
        self.ref_length = np.zeros((n, c))
        np.add.at(self.ref_length, (file, label), off - on)
        self._intervals: dict[str, ScoreIntervals] = {}
        self._shared: dict[str, Any] = {}

    @property
    def n_clips(self) -> int:
        return self.scores.n_clips

    @property
    def n_classes(self) -> int:
        return self.scores.n_classes

    def rows(self, kind: str) -> np.ndarray:
        """(N, C) mask: ``"target"`` rows (reference events of the row's class), ``"other"`` rows (no
        event of the row's class, but some event of another class in the clip), ``"silent"`` (no event
        in the clip)."""
        target = self.ref_count > 0
        if kind == "target":
            return target
        any_ref = target.any(axis=1, keepdims=True)
        if kind == "other":
            return any_ref & ~target
        if kind == "silent":
            return np.broadcast_to(~any_ref, target.shape)
        raise WlbenchError(f"unknown row kind {kind!r}")

    def intervals(self, kind: str) -> ScoreIntervals:
        if kind not in self._intervals:
            self._intervals[kind] = score_intervals(self.scores, self.rows(kind))
        return self._intervals[kind]

    def free_run_deltas(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:func:`onset_deltas` of the rows without a reference event of their class, computed once: every
        run there is a false positive, whatever the metric (PSDS1, PSDS2, collar-based F1)."""
        return self.shared("free_run_deltas", lambda: onset_deltas(self.scores, ~self.rows("target")))

    def clip_parts(self, parts: int) -> list[tuple[int, FrameDetections]]:
        """These detections cut into at most ``parts`` runs of whole clips holding about as many frames each:
        ``(first clip, detections of those clips)``, reference events renumbered from 0 in each part. Kept,
        so that the metrics computed part by part share each part's runs and overlaps."""
        def cut() -> list[tuple[int, FrameDetections]]:
            starts = np.asarray(self.scores.clip_start, np.int64)
            n = self.n_clips
            bounds = np.unique(np.r_[0, np.searchsorted(starts[1:], starts[-1] * np.arange(1, parts) / parts,
                                                         "right"), n])
            file = np.asarray(self.reference.file, np.int64)
            ref = (np.asarray(self.reference.label), np.asarray(self.reference.onset),
                   np.asarray(self.reference.offset))
            scores = np.asarray(self.scores.scores)
            on, off = np.asarray(self.scores.onset), np.asarray(self.scores.offset)
            out = []
            for a, b in zip(bounds[:-1], bounds[1:]):
                f0, f1 = starts[a], starts[b]
                keep = (file >= a) & (file < b)
                frames = FrameScores(scores[f0:f1], on[f0:f1], off[f0:f1], starts[a:b + 1] - f0)
                events = EventList(file[keep] - a, *(r[keep] for r in ref))
                out.append((int(a), FrameDetections(frames, events, self.durations[a:b])))
            return out

        return self.shared(("clip_parts", int(parts)), cut)

    def shared(self, name: Any, build: Callable[[], Any]) -> Any:
        """``build()``, computed once for these detections and kept: work the metrics share (e.g. the
        overlaps of runs with reference events, the same for PSDS1 and PSDS2)."""
        if name not in self._shared:
            self._shared[name] = build()
        return self._shared[name]

    def weighted_reference(self, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """(n_ref (C,), reference duration (C,), total clip duration) with clips weighted by ``weight``."""
        if weight is None:
            return self.ref_count.sum(axis=0), self.ref_length.sum(axis=0), float(self.durations.sum())
        w = np.asarray(weight, np.float64)
        return w @ self.ref_count, w @ self.ref_length, float(w @ self.durations)


def onset_deltas(fs: FrameScores, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """How the number of runs changes as the threshold falls to each frame's score, for the (clip, class)
    rows of the mask: +1 at a frame above its left neighbour and not below its right one (a run appears),
    -1 at a frame below its right neighbour and not above its left one (two runs merge); clip edges
    count as -inf. Returns ``(cls, clip, level, delta)`` of the nonzero changes (sed_scores_eval's
    ``onset_deltas``), without building any run."""
    x = np.asarray(fs.scores, np.float64)
    starts = np.asarray(fs.clip_start, np.int64)
    rises = x[1:] > x[:-1]  # frame above the previous one (within a clip: its left neighbour)
    up = np.empty(x.shape, dtype=np.int8)
    up[1:] = rises
    up[starts[:-1]] = 1  # -inf before a clip's first frame
    down = np.empty(x.shape, dtype=np.int8)
    down[:-1] = rises
    down[starts[1:] - 1] = 0  # -inf after a clip's last frame
    up -= down
    up[~np.asarray(rows, dtype=bool)[fs.frame_clip]] = 0
    flat = np.flatnonzero(up)
    c = x.shape[1]
    frame, cls = flat // c, flat % c
    return cls, fs.frame_clip[frame], x.ravel()[flat], up.ravel()[flat].astype(np.float64)


def frame_scores_to_events(frame_scores: np.ndarray, *, frame_hop: float,
                           threshold: float | np.ndarray = 0.5, median_frames: int | None = None,
                           median_seconds: float | None = None, clip_duration: float | None = None
                           ) -> EventList:
    """Decode frame scores into events: threshold, optional median filter, runs of active frames.

    ``frame_scores``: (N clips, T frames, C classes) array of finite scores; frame ``t`` covers
    ``[t * frame_hop, (t + 1) * frame_hop)`` seconds. A frame is active when ``score >= threshold``
    (scalar, or one threshold per class, shape (C,)). The median filter (the DCASE baselines' post-
    processing) is applied to the binary decisions along time, per clip and class, with a window of
    ``median_frames`` frames (odd, >= 1) or ``median_seconds`` (converted to the nearest odd number of
    frames, at least 1); edges are reflected (``scipy.ndimage.median_filter``'s default). Each run of
    active frames ``[a, b)`` becomes one event ``[a * frame_hop, b * frame_hop]``.

    Returns an :class:`~wlbench.metrics.events.EventList` (``file`` = clip index, ``label`` = class
    index) sorted by clip, class and onset; :func:`~wlbench.metrics.events.events_to_frame` turns it into
    a DataFrame with clip ids and class names (e.g. for a DCASE detection TSV).

    ``clip_duration`` (seconds, optional): frames may reach past the clip's end (e.g. 501 frames of 20 ms
    for a 10 s clip, the last one centred on the end); offsets are then cut at the clip's end, and a run
    that starts at or after it is dropped.
    """
    s = np.asarray(frame_scores)
    if s.ndim != 3:
        raise WlbenchError(f"frame_scores: expected an (N clips, T frames, C classes) array, got shape {s.shape}")
    if s.dtype.kind not in "biuf":
        raise WlbenchError(f"frame_scores: expected numbers, got dtype {s.dtype}")
    if not np.isfinite(s).all():
        raise WlbenchError("frame_scores: contains NaN or infinite values", hint="give finite scores")
    hop = float(frame_hop)
    if not np.isfinite(hop) or hop <= 0:
        raise WlbenchError(f"frame_hop must be a positive number of seconds, got {frame_hop!r}")
    n, t, c = s.shape
    thr = np.asarray(threshold, dtype=np.float64)
    if thr.ndim == 0:
        thr = np.full(c, float(thr))
    if thr.shape != (c,) or not np.isfinite(thr).all():
        raise WlbenchError(f"threshold: expected a finite scalar or {c} per-class values, got shape {thr.shape}")
    window = median_window(frame_hop=hop, median_frames=median_frames, median_seconds=median_seconds)
    active = s >= thr
    if window > 1 and t > 0:
        from scipy.ndimage import median_filter

        active = median_filter(active.astype(np.uint8), size=(1, window, 1)).astype(bool)
    # runs along time, per (clip, class): transpose to (N, C, T) so that each row is one clip and class
    rows = np.ascontiguousarray(active.transpose(0, 2, 1)).reshape(n * c, t)
    padded = np.zeros((n * c, t + 2), dtype=np.int8)
    padded[:, 1:-1] = rows
    change = np.diff(padded, axis=1)
    row_on, t_on = np.nonzero(change == 1)
    _, t_off = np.nonzero(change == -1)  # nonzero walks row-major: onsets and offsets pair up in order
    onset, offset = t_on * hop, t_off * hop
    if clip_duration is not None:
        end = float(clip_duration)
        if not np.isfinite(end) or end <= 0:
            raise WlbenchError(f"clip_duration must be a positive number of seconds, got {clip_duration!r}")
        keep = onset < end
        row_on, onset, offset = row_on[keep], onset[keep], np.minimum(offset[keep], end)
    return EventList(row_on // c, row_on % c, onset, offset)


def median_window(*, frame_hop: float, median_frames: int | None = None,
                  median_seconds: float | None = None) -> int:
    """The median filter window in frames (1: no filter) from ``median_frames`` or ``median_seconds``."""
    if median_frames is not None and median_seconds is not None:
        raise WlbenchError("give the median filter window in frames or in seconds, not both")
    if median_frames is not None:
        k = int(median_frames)
        if k != median_frames or k < 1 or k % 2 == 0:
            raise WlbenchError(f"median filter window {median_frames!r} frames: expected an odd whole number >= 1")
        return k
    if median_seconds is not None:
        sec = float(median_seconds)
        if not np.isfinite(sec) or sec < 0:
            raise WlbenchError(f"median filter window {median_seconds!r} s: expected a number >= 0")
        frames = round(sec / frame_hop, 9)  # 0.6 / 0.1 is 5.999999999999999
        return max(1, 2 * int(np.floor((frames - 1.0) / 2.0 + 0.5)) + 1)  # nearest odd count, ties up
    return 1
