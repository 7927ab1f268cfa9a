"""Frame-score test cases shared by the PSDS / threshold-free detection tests and benchmarks: random clips
with reference events, scores that follow them loosely, and the same case in sed_scores_eval's input
format (dict of score DataFrames, ground-truth dict, durations dict)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from wlbench.metrics.events import EventList, merge_overlaps
from wlbench.metrics.frames import FrameDetections, FrameScores


@dataclass
class Case:
    scores: np.ndarray  # (N, T, C)
    hop: float
    reference: EventList  # merged
    classes: list[str]
    ids: list[str]

    @property
    def duration(self) -> float:
        return self.scores.shape[1] * self.hop

    def detections(self) -> FrameDetections:
        return FrameDetections(FrameScores.from_array(self.scores, self.hop), self.reference,
                               np.full(len(self.ids), self.duration))

    def sed_scores_eval_inputs(self):
        """(scores dict, ground truth dict, durations dict) for sed_scores_eval."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sed_scores_eval.base_modules.scores import create_score_dataframe
        stamps = np.arange(self.scores.shape[1] + 1) * self.hop
        scores = {k: create_score_dataframe(self.scores[i], stamps, self.classes) for i, k in enumerate(self.ids)}
        truth: dict[str, list] = {k: [] for k in self.ids}
        for f, lab, a, b in zip(self.reference.file, self.reference.label, self.reference.onset,
                                self.reference.offset):
            truth[self.ids[f]].append([float(a), float(b), self.classes[lab]])
        return scores, truth, {k: self.duration for k in self.ids}


def make_case(rng: np.random.Generator, n: int, t: int, c: int, hop: float, *, quant: float | None = None,
              ties: bool = False, every_class: bool = True, max_events: int = 4, smooth: int = 1) -> Case:
    """``n`` clips of ``t`` frames of ``hop`` s, ``c`` classes, up to ``max_events`` events per clip
    (merged). ``quant``: event times on a grid (boundary cases); ``ties``: scores on a coarse grid (many
    equal scores); ``every_class``: give each class at least one event (sed_scores_eval needs it)."""
    dur = t * hop
    rows = []
    for i in range(n):
        for _ in range(int(rng.integers(0, max_events + 1))):
            on = rng.random() * dur * 0.9
            off = min(on + hop * (1 + rng.random() * t / 3), dur)
            if quant:
                on = float(np.round(on / quant) * quant)
                off = float(min(max(np.round(off / quant) * quant, on + quant), dur))
            if off > on:
                rows.append((i, int(rng.integers(c)), on, off))
    if every_class:
        for cl in range(c):
            if not any(r[1] == cl for r in rows):
                rows.append((int(rng.integers(n)), cl, 0.0, min(2 * hop, dur)))
    arr = np.array(rows, dtype=object).reshape(len(rows), 4)
    ref, _ = merge_overlaps(EventList(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64),
                                      arr[:, 2].astype(np.float64), arr[:, 3].astype(np.float64)))
    s = rng.random((n, t, c)) * 0.5
    if smooth > 1:
        from scipy.ndimage import uniform_filter1d

        s = uniform_filter1d(s, smooth, axis=1)
    centre = (np.arange(t) + 0.5) * hop
    for f, lab, a, b in zip(ref.file, ref.label, ref.onset, ref.offset):
        s[f, :, lab] += 0.5 * ((centre >= a) & (centre < b)) * rng.random()
    if ties:
        s = np.round(s * 4) / 4
    return Case(s, hop, ref, [f"c{i}" for i in range(c)], [f"clip{i:05d}" for i in range(n)])
