"""Task ``frame_scores``: sed_scores_eval score files against the merged reference (PSDS1, PSDS2, and
collar- and segment-based F1 at the best threshold and at the decision threshold)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.metrics.detection import TIME_DECIMALS
from wlbench.metrics.detection_curves import CollarStatistics, SegmentStatistics
from wlbench.metrics.events import EventList
from wlbench.metrics.frames import FrameDetections, FrameScores
from wlbench.metrics.operating_points import best_f1_batch, f1_at_batch, fscores
from wlbench.metrics.psds import PRESETS, IntersectionStatistics
from wlbench.scoring.settings import Settings
from wlbench.scoring.truth import Truth

HEADLINE = ("psds1", "psds2", "event_f1_best_macro", "segment_f1_best_macro", "event_f1_macro", "segment_f1_macro")


def _macro(f: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok.any(axis=1), np.where(ok, f, 0.0).sum(axis=1) / np.maximum(ok.sum(axis=1), 1), np.nan)


class FrameScoreStat:
    """Every threshold-free detection metric of one system; clips re-weighted by bootstrap counts
    (``stat(W)`` with W (B, N): B resamples at once)."""

    batched = True
    batch_size = 4

    def __init__(self, frames: FrameScores, truth: Truth, settings: Settings) -> None:
        ref = truth.reference
        positive = np.asarray(ref.offset) > np.asarray(ref.onset)
        # a zero-length reference event has no coverage ratio (0 / 0): left out of frame-score metrics, counted
        self.zero_length_left_out = int((~positive).sum())
        if self.zero_length_left_out:
            ref = EventList(ref.file[positive], ref.label[positive], ref.onset[positive], ref.offset[positive])
        self.det = FrameDetections(frames, ref, truth.durations)
        self.psds = {name: IntersectionStatistics(self.det, preset, TIME_DECIMALS) for name, preset in PRESETS.items()}
        self.collar = CollarStatistics(self.det, t_collar=settings.t_collar,
                                       percentage_of_length=settings.percentage_of_length, time_decimals=TIME_DECIMALS)
        self.segment = SegmentStatistics(self.det, segment_length=settings.time_resolution, time_decimals=TIME_DECIMALS)
        self.thresholds = settings.thresholds(truth.classes)
        self.n = truth.n_clips
        self._starts: dict[str, np.ndarray] = {}

    def f_scores(self, w: np.ndarray | None):
        n_ref, _, _ = self.det.weighted_reference(w)
        seg_ref = self.segment.active.sum(axis=0) if w is None else w @ self.segment.active
        out = {}
        for name, stats, ref in (("event", self.collar, n_ref), ("segment", self.segment, seg_ref)):
            tp = stats.points.cumulative("main", "tp", w)
            fp = stats.points.cumulative("main", "fp", w)
            out[name] = (fscores(stats.points, tp, fp, ref), fscores(stats.points, tp, fp, ref, threshold=self.thresholds))
        return out

    def __call__(self, w: np.ndarray | None) -> dict[str, Any]:
        if w is not None:
            w = np.asarray(w, dtype=np.float64)
            out = self._batch(np.atleast_2d(w))
            return {k: float(v[0]) for k, v in out.items()} if w.ndim == 1 else out
        out = {name: st.roc(w).psds for name, st in self.psds.items()}
        f = self.f_scores(w)
        for name in ("event", "segment"):
            best, at = f[name]
            out[f"{name}_f1_best_macro"] = best.macro
        for name in ("event", "segment"):
            out[f"{name}_f1_macro"] = f[name][1].macro
        return out


    def _batch(self, w: np.ndarray) -> dict[str, np.ndarray]:
        out = {name: st.psds_batch(w) for name, st in self.psds.items()}
        refs = {"event": (self.collar, w @ self.det.ref_count), "segment": (self.segment, w @ self.segment.active)}
        at = {}
        for name, (stats, n_ref) in refs.items():
            if name not in self._starts:
                self._starts[name] = stats.points.segment_starts("main", "tp")
            tp = stats.points.cumulative_batch("main", "tp", w)
            fp = stats.points.cumulative_batch("main", "fp", w)
            out[f"{name}_f1_best_macro"] = _macro(best_f1_batch(stats.points, tp, fp, n_ref, self._starts[name]))
            at[f"{name}_f1_macro"] = _macro(f1_at_batch(stats.points, tp, fp, n_ref, self.thresholds))
        return out | at


def build(truth: Truth, parsed: Any, settings: Settings) -> FrameScoreStat:
    frames = getattr(parsed, "frames", parsed)
    if not isinstance(frames, FrameScores):
        raise WlbenchError("frame_scores: expected FrameScores (read a directory of score tables)")
    if frames.n_clips != truth.n_clips or frames.n_classes != len(truth.classes):
        raise WlbenchError(f"frame scores of {frames.n_clips} clips x {frames.n_classes} classes for "
                           f"{truth.n_clips} clips x {len(truth.classes)} classes")
    return FrameScoreStat(frames, truth, settings)


def describe(stat: FrameScoreStat, truth: Truth, settings: Settings) -> dict[str, Any]:
    rocs = {name: st.roc(None) for name, st in stat.psds.items()}
    f = stat.f_scores(None)
    (ev_best, ev_at), (sg_best, sg_at) = f["event"], f["segment"]
    n_ref = stat.det.ref_count.sum(axis=0)
    per_class = {}
    for j, c in enumerate(truth.classes):
        per_class[c] = {"n_ref_events": int(n_ref[j]), "psds1": rocs["psds1"].class_psds[j],
                        "psds2": rocs["psds2"].class_psds[j], "event_f1_best": ev_best.f1[j],
                        "event_threshold_best": ev_best.threshold[j], "segment_f1_best": sg_best.f1[j],
                        "segment_threshold_best": sg_best.threshold[j], "event_f1": ev_at.f1[j],
                        "segment_f1": sg_at.f1[j]}
    notes = {"n_ref_events": int(n_ref.sum()), "reference_events_merged": truth.n_merged,
             "reference_zero_length_left_out": stat.zero_length_left_out,
             "event_f1_best_micro": ev_best.micro, "segment_f1_best_micro": sg_best.micro,
             "event_f1_micro": ev_at.micro, "segment_f1_micro": sg_at.micro,
             "best_threshold": "per class, the F1-maximising threshold of these scores (an oracle: report it "
                               "beside, never instead of, a threshold chosen on other data)"}
    curves = {name: {"efpr": roc.efpr, "etpr": roc.etpr,
                     "classes": {c: {"efpr": e, "tpr": t} for c, t, e in zip(truth.classes, roc.class_tpr, roc.class_efpr)
                                 if t is not None}} for name, roc in rocs.items()}
    extra = {name: preset.to_dict() for name, preset in PRESETS.items()}
    extra["time_decimals"] = TIME_DECIMALS
    excluded = {"no_positives": [c for j, c in enumerate(truth.classes) if n_ref[j] == 0], "no_negatives": []}
    return {"per_class": per_class, "excluded": excluded, "notes": notes, "curves": curves, "settings": extra}
