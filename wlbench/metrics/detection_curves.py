"""Collar-based (event-based) and segment-based statistics at every decision threshold, from frame scores.

The threshold-free counterparts of :mod:`wlbench.metrics.detection`, for the F1 at the best threshold
(or at any threshold) from one set of score files; the same numbers as sed_scores_eval's
``collar_based`` and ``segment_based`` modules (tests check it).

- **Collar-based**: at each threshold, the runs of ``score >= threshold`` are the detections; a detection
  hits a reference event of its class when its onset is within ``t_collar`` and its offset within
  ``max(t_collar, percentage_of_length x reference length)`` (compared at ``time_decimals``); true
  positives are a maximum one-to-one matching of hits. Runs never conflict in most clips (each hits at
  most one event, each event is hit by at most one run at a time): there TP is a sum over runs. Clips
  where two runs alive at the same threshold hit one event, or one run hits two events, are matched
  exactly at each of their thresholds.
- **Segment-based**: each clip is cut into segments of ``segment_length`` seconds (boundaries rounded to
  ``time_decimals``); a segment's score is the maximum score of the frames overlapping it (0 if none);
  a segment is active when a reference event of the class overlaps it.
"""

from __future__ import annotations

import numpy as np

from wlbench.errors import WlbenchError, plain
from wlbench.metrics.detection import TIME_DECIMALS, within_collar
from wlbench.metrics.events import equal_key_pairs
from wlbench.metrics.frames import FrameDetections, ScoreIntervals
from wlbench.metrics.operating_points import Deltas, OperatingPoints, tables_in_clip_parts
from wlbench.threads import harness_threads


def _max_matching_size(pairs: list[tuple[int, int]]) -> int:
    """Size of a maximum matching of a small bipartite graph given as (left, right) edges (Kuhn)."""
    adj: dict[int, list[int]] = {}
    for a, b in pairs:
        adj.setdefault(a, []).append(b)
    owner: dict[int, int] = {}

    def augment(a: int, seen: set[int]) -> bool:
        for b in adj[a]:
            if b in seen:
                continue
            seen.add(b)
            if b not in owner or augment(owner[b], seen):
                owner[b] = a
                return True
        return False

    return sum(augment(a, set()) for a in adj)


class CollarStatistics:
    """Collar-based TP and FP counts at every decision threshold (``points``, tables ``"main"``)."""

    def __init__(self, det: FrameDetections, *, t_collar: float = 0.2, percentage_of_length: float = 0.2,
                 time_decimals: int | None = TIME_DECIMALS, threads: int | None = None) -> None:
        """``threads``: the statistics are built on runs of whole clips in parallel (default
        :func:`~wlbench.threads.harness_threads`); the result does not depend on it."""
        if t_collar < 0 or percentage_of_length < 0:
            raise WlbenchError("t_collar and percentage_of_length must be >= 0")
        self.det = det
        self.t_collar, self.percentage_of_length, self.time_decimals = t_collar, percentage_of_length, time_decimals
        tables = tables_in_clip_parts(det, self._tables, threads=harness_threads() if threads is None else threads)
        self.points = OperatingPoints(tables, det.n_classes, det.n_clips)

    def _tables(self, det: FrameDetections) -> dict[str, Deltas]:
        """TP and FP changes of ``det`` (all clips, or one part of them)."""
        t_collar, percentage_of_length, time_decimals = self.t_collar, self.percentage_of_length, self.time_decimals
        ref = det.reference
        n = det.n_clips
        iv = det.intervals("target")
        r_on, r_off = np.asarray(ref.onset, np.float64), np.asarray(ref.offset, np.float64)
        ii, gg = equal_key_pairs(iv.cls * n + iv.clip, np.asarray(ref.label, np.int64) * n + np.asarray(ref.file, np.int64))
        hit = within_collar(np.abs(iv.onset[ii] - r_on[gg]), t_collar, time_decimals)
        hit &= within_collar(np.abs(iv.offset[ii] - r_off[gg]),
                             np.maximum(t_collar, percentage_of_length * (r_off[gg] - r_on[gg])), time_decimals)
        ii, gg = ii[hit], gg[hit]
        hits = np.bincount(ii, minlength=len(iv)).astype(np.float64)
        conflict_row = self._conflicting_rows(iv, ii, gg, hits, (n, det.n_classes))
        in_conflict = conflict_row[iv.clip, iv.cls]
        simple_tp = np.where(in_conflict, 0.0, hits)
        alive = iv.net_at_birth(np.ones(len(iv)))
        tp = iv.net_at_birth(simple_tp)
        tp[in_conflict] = 0.0
        parts = [Deltas(iv.cls, iv.clip, iv.birth, {"tp": tp, "fp": alive - tp})]
        parts.append(self._exact_rows(iv, ii, gg, conflict_row))
        tree = Deltas.concat(parts).merged_per_clip()
        cls, clip, level, delta = det.free_run_deltas()
        free = Deltas(cls, clip, level, {"tp": np.zeros(level.size), "fp": delta})
        return {"main": Deltas.concat([tree, free])}

    @staticmethod
    def _conflicting_rows(iv: ScoreIntervals, ii: np.ndarray, gg: np.ndarray, hits: np.ndarray,
                          shape: tuple[int, int]) -> np.ndarray:
        """(N, C) rows where hits cannot simply be added up: a run hitting two events, or two runs alive at
        a common threshold hitting one event."""
        out = np.zeros(shape, dtype=bool)
        many = hits > 1
        out[iv.clip[many], iv.cls[many]] = True
        if gg.size:
            a, b = equal_key_pairs(gg, gg)
            a, b = ii[a], ii[b]
            keep = a < b
            a, b = a[keep], b[keep]
            together = np.maximum(iv.death[a], iv.death[b]) < np.minimum(iv.birth[a], iv.birth[b])
            out[iv.clip[a[together]], iv.cls[a[together]]] = True
        return out

    @staticmethod
    def _exact_rows(iv: ScoreIntervals, ii: np.ndarray, gg: np.ndarray, conflict_row: np.ndarray) -> Deltas:
        """TP changes of the conflicting rows, from a maximum matching at each threshold where the set of
        alive hitting runs changes (FP changes are the negatives: FP = alive runs - TP)."""
        cls_out, clip_out, level_out, tp_out = [], [], [], []
        if gg.size and conflict_row.any():
            row_of_pair = iv.clip[ii] * conflict_row.shape[1] + iv.cls[ii]
            in_c = conflict_row[iv.clip[ii], iv.cls[ii]]
            for key in np.unique(row_of_pair[in_c]):
                sel = np.flatnonzero(row_of_pair == key)
                runs, events = ii[sel], gg[sel]
                levels = np.unique(np.r_[iv.birth[runs], iv.death[runs][np.isfinite(iv.death[runs])]])[::-1]
                previous = 0
                for u in levels:
                    alive = (iv.death[runs] < u) & (u <= iv.birth[runs])
                    size = _max_matching_size(list(zip(runs[alive].tolist(), events[alive].tolist())))
                    if size != previous:
                        cls_out.append(int(iv.cls[runs[0]]))
                        clip_out.append(int(iv.clip[runs[0]]))
                        level_out.append(float(u))
                        tp_out.append(float(size - previous))
                        previous = size
        tp = np.asarray(tp_out, dtype=np.float64)
        return Deltas(np.asarray(cls_out, np.int64), np.asarray(clip_out, np.int64), np.asarray(level_out),
                      {"tp": tp, "fp": -tp})


class SegmentStatistics:
    """Segment-based TP and FP counts at every decision threshold (``points``, tables ``"main"``) and the
    number of active segments per clip and class (``active``, (N, C)) for weighting ``n_ref``."""

    def __init__(self, det: FrameDetections, *, segment_length: float = 1.0,
                 time_decimals: int | None = TIME_DECIMALS) -> None:
        if not segment_length > 0:
            raise WlbenchError(f"segment_length must be > 0, got {plain(segment_length)}")
        self.det = det
        fs = det.scores
        n, c = det.n_clips, det.n_classes
        td = TIME_DECIMALS if time_decimals is None else time_decimals
        scale = 10.0 ** td
        n_seg = np.ceil(det.durations / segment_length).astype(np.int64)
        seg_clip = np.repeat(np.arange(n), n_seg)
        seg_index = np.arange(int(n_seg.sum())) - np.repeat(np.r_[0, np.cumsum(n_seg)[:-1]], n_seg)
        seg_on = np.rint(np.round(seg_index * segment_length, td) * scale).astype(np.int64)
        seg_off = np.rint(np.round((seg_index + 1) * segment_length, td) * scale).astype(np.int64)
        # frame timestamps of each clip (onsets, then the last offset), rounded, as integers per clip
        starts = np.asarray(fs.clip_start, np.int64)
        on = np.asarray(fs.onset, np.float64)
        pos = np.arange(fs.n_frames) + fs.frame_clip  # clip i's stamps start at starts[i] + i
        stamps = np.empty(fs.n_frames + n)
        stamp_clip = np.empty(fs.n_frames + n, dtype=np.int64)
        stamps[pos] = on
        stamp_clip[pos] = fs.frame_clip
        last = starts[1:] + np.arange(n)
        stamps[last] = fs.clip_end_time()
        stamp_clip[last] = np.arange(n)
        stamp_us = np.rint(np.round(stamps, td) * scale).astype(np.int64)
        span = np.int64(max(int(stamp_us.max(initial=0)), int(seg_off.max(initial=0))) + 2)
        key = stamp_clip * span + stamp_us
        first_stamp = starts[:-1] + np.arange(n)  # global position of clip i's first stamp
        n_stamps = np.diff(starts) + 1
        lo_k = seg_clip * span + seg_on
        hi_k = seg_clip * span + seg_off
        idx_on = np.searchsorted(key, lo_k, "right") - 1 - first_stamp[seg_clip]
        idx_on = np.maximum(idx_on, 0)
        idx_off = np.searchsorted(key, hi_k, "left") - first_stamp[seg_clip]
        idx_off = np.minimum(idx_off, n_stamps[seg_clip] - 1)
        has_frames = idx_off > idx_on
        # maximum score over frames [idx_on, idx_off) of each segment
        x = np.asarray(fs.scores, np.float64)
        seg_score = np.zeros((seg_clip.size, c))
        width = np.where(has_frames, idx_off - idx_on, 0)
        base = starts[seg_clip] + idx_on
        if has_frames.any():
            seg_score[has_frames] = -np.inf
            for k in range(int(width.max())):
                use = width > k
                seg_score[use] = np.maximum(seg_score[use], x[base[use] + k])
        # activity: a reference event overlaps a segment (onset < segment end, offset > segment start)
        ref = det.reference
        active = np.zeros((seg_clip.size, c), dtype=bool)
        if len(ref):
            f = np.asarray(ref.file, np.int64)
            b_on = np.round(np.arange(int(n_seg.max()) + 1) * segment_length, td)
            first_seg = np.searchsorted(b_on[1:], np.asarray(ref.onset, np.float64), "right")
            last_seg = np.searchsorted(b_on[:-1], np.asarray(ref.offset, np.float64), "left") - 1
            last_seg = np.minimum(last_seg, n_seg[f] - 1)
            count = np.maximum(last_seg - first_seg + 1, 0)
            seg_base = np.r_[0, np.cumsum(n_seg)[:-1]][f] + first_seg
            rows = np.repeat(seg_base, count) + (np.arange(int(count.sum()))
                                                 - np.repeat(np.r_[0, np.cumsum(count)[:-1]], count))
            active[rows, np.repeat(np.asarray(ref.label, np.int64), count)] = True
        self.active = np.zeros((n, c))
        np.add.at(self.active, seg_clip, active.astype(np.float64))
        sc, cc = np.nonzero(np.ones_like(active))
        a = active.ravel().astype(np.float64)
        deltas = Deltas(cc, seg_clip[sc], seg_score.ravel(), {"tp": a, "fp": 1.0 - a})
        self.points = OperatingPoints({"main": deltas}, c, n)
