"""wlbench metrics: pure functions on arrays, each with its variant in its name.

- :mod:`wlbench.metrics.tagging`: precision / recall / F1 from binary decisions, label coverage.
- :mod:`wlbench.metrics.ranking`: AP, mAP, ROC AUC, d' (two conventions), lwlrap, mAP@k from scores.
- :mod:`wlbench.metrics.events`: event lists, the reference-merging rule.
- :mod:`wlbench.metrics.detection`: event- and segment-based F1 / error rate from event lists.
- :mod:`wlbench.metrics.frames`: frame scores, the detections of every threshold, decoding into events.
- :mod:`wlbench.metrics.operating_points`: statistics at every threshold; F1 at the best threshold.
- :mod:`wlbench.metrics.psds`: intersection-based statistics, PSD-ROC and PSDS (PSDS1 / PSDS2 presets).
- :mod:`wlbench.metrics.detection_curves`: collar- and segment-based statistics from frame scores.
- :mod:`wlbench.metrics.embedding`: the centroid metric of Turpault et al.
- :mod:`wlbench.metrics.bootstrap`: bootstrap intervals over clips and the paired bootstrap test.

The degenerate-case policy shared by all of them is written in docs/metrics.md.
"""

from wlbench.metrics.bootstrap import (
                                       bootstrap_ci,
                                       bootstrap_samples,
                                       paired_bootstrap_test,
                                       percentile_interval,
                                       resample_counts,
)
from wlbench.metrics.detection import (
                                       event_based_counts,
                                       event_based_f1_macro,
                                       event_based_f1_micro,
                                       event_based_metrics,
                                       segment_based_counts,
                                       segment_based_f1_macro,
                                       segment_based_f1_micro,
                                       segment_based_metrics,
)
from wlbench.metrics.detection_curves import CollarStatistics, SegmentStatistics
from wlbench.metrics.embedding import (
                                       centroid_accuracy_macro,
                                       centroid_accuracy_micro,
                                       centroid_accuracy_per_class,
                                       centroid_scores,
)
from wlbench.metrics.events import EventList, events_from_frame, events_to_frame, merge_overlaps
from wlbench.metrics.frames import FrameDetections, FrameScores, frame_scores_to_events, score_intervals
from wlbench.metrics.operating_points import FScores, OperatingPoints, fscores
from wlbench.metrics.psds import PSDROC, PSDS1, PSDS2, IntersectionStatistics, PSDSSettings
from wlbench.metrics.ranking import (
                                       ap_at_k_per_clip,
                                       auc_clip_eps,
                                       average_precision_per_class,
                                       dprime_from_auc,
                                       dprime_mean_of_classes,
                                       dprime_of_mean_auc,
                                       dprime_per_class,
                                       lwlrap,
                                       lwlrap_per_class,
                                       map_at_k,
                                       map_macro,
                                       ranking_metrics,
                                       roc_auc_macro,
                                       roc_auc_per_class,
)
from wlbench.metrics.tagging import (
                                       binarize,
                                       f1_macro,
                                       f1_micro,
                                       label_coverage,
                                       precision_macro,
                                       precision_micro,
                                       prf_per_class,
                                       recall_macro,
                                       recall_micro,
)

__all__ = [
    "CollarStatistics", "EventList", "FScores", "FrameDetections", "FrameScores", "IntersectionStatistics",
    "OperatingPoints", "PSDROC", "PSDS1", "PSDS2", "PSDSSettings", "SegmentStatistics", "events_to_frame",
    "frame_scores_to_events", "fscores", "merge_overlaps", "score_intervals", "ap_at_k_per_clip", "auc_clip_eps", "average_precision_per_class", "binarize",
    "bootstrap_ci", "bootstrap_samples", "centroid_accuracy_macro", "centroid_accuracy_micro",
    "centroid_accuracy_per_class", "centroid_scores", "dprime_from_auc", "dprime_mean_of_classes",
    "dprime_of_mean_auc", "dprime_per_class", "event_based_counts", "event_based_f1_macro",
    "event_based_f1_micro", "event_based_metrics", "events_from_frame", "f1_macro", "f1_micro",
    "label_coverage", "lwlrap", "lwlrap_per_class", "map_at_k", "map_macro", "paired_bootstrap_test",
    "percentile_interval", "precision_macro", "precision_micro", "prf_per_class", "ranking_metrics",
    "recall_macro", "recall_micro", "resample_counts", "roc_auc_macro", "roc_auc_per_class",
    "segment_based_counts", "segment_based_f1_macro", "segment_based_f1_micro", "segment_based_metrics",
]
