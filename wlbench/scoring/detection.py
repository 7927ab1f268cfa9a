"""Task ``detection``: event lists against the reference (event- and segment-based F1, ER); the reference is
merged by the DCASE rule, except under ``convention="dcase"`` (sed_eval scores the raw reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wlbench.metrics import detection as det
from wlbench.metrics.events import events_from_frame
from wlbench.scoring.settings import Settings
from wlbench.scoring.truth import Truth

HEADLINE = ("event_f1_macro", "event_f1_micro", "event_error_rate_micro", "segment_f1_macro", "segment_f1_micro",
            "segment_error_rate_micro")


class DetectionStat:
    """Event- and segment-based headline metrics from per-file counts (clip weights re-weight them)."""

    def __init__(self, ref: det.EventList, est: det.EventList, n_files: int, n_classes: int,
                 durations: float | np.ndarray, settings: Settings) -> None:
        rules = settings.rules
        self.never_output = rules.segment_never_output
        self.event = det.event_based_counts(ref, est, n_files, n_classes, settings.t_collar,
                                            settings.percentage_of_length, time_decimals=rules.time_decimals)
        self.segment = det.segment_based_counts(ref, est, n_files, n_classes, durations, settings.time_resolution)
        self.n_ref, self.n_sys = len(ref), len(est)

    def summaries(self, w: np.ndarray | None):
        return (det.detection_summary(self.event, "event", w),
                det.detection_summary(self.segment, "segment", w, never_output=self.never_output))

    def __call__(self, w: np.ndarray | None) -> dict[str, float]:
        ev, sg = self.summaries(w)
        return {"event_f1_macro": ev["f1_macro"], "event_f1_micro": ev["f1_micro"],
                "event_error_rate_micro": ev["error_rate_micro"],
                "segment_f1_macro": sg["f1_macro"], "segment_f1_micro": sg["f1_micro"],
                "segment_error_rate_micro": sg["error_rate_micro"]}


def build(truth: Truth, parsed: Any, settings: Settings) -> DetectionStat:
    detections = getattr(parsed, "events", parsed)
    est = events_from_frame(detections, truth.clip_ids, truth.classes)
    return DetectionStat(truth.reference_for(settings.convention), est, truth.n_clips, len(truth.classes),
                         truth.durations, settings)


def describe(stat: DetectionStat, truth: Truth, settings: Settings) -> dict[str, Any]:
    ev, sg = stat.summaries(None)
    per_class = {}
    for j, c in enumerate(truth.classes):
        per_class[c] = {
            "n_ref_events": int(ev["n_ref"][j]), "n_sys_events": int(ev["n_sys"][j]),
            "event_f1": ev["f1"][j], "event_precision": ev["precision"][j], "event_recall": ev["recall"][j],
            "event_error_rate": ev["error_rate"][j],
            "segment_f1": sg["f1"][j], "segment_precision": sg["precision"][j],
            "segment_recall": sg["recall"][j], "segment_error_rate": sg["error_rate"][j]}
    notes = {"event_substitutions": ev["substitutions"], "event_deletions": ev["deletions"],
             "event_insertions": ev["insertions"], "n_ref_events": stat.n_ref, "n_sys_events": stat.n_sys,
             "reference_events_merged": 0 if settings.convention == "dcase" else truth.n_merged,
             "never_output_classes": [c for j, c in enumerate(truth.classes) if ev["n_sys"][j] == 0],
             "psds": "needs frame scores: submit sed_scores_eval score files (task frame_scores)"}
    excluded = {"no_positives": [c for j, c in enumerate(truth.classes) if ev["n_ref"][j] == 0], "no_negatives": []}
    return {"per_class": per_class, "excluded": excluded, "notes": notes}
