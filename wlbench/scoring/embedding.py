"""Task ``embedding``: the centroid metric on clips with exactly one true label."""

from __future__ import annotations

from typing import Any

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.metrics import embedding as emb
from wlbench.metrics.checks import as_binary, as_scores
from wlbench.scoring.settings import Settings
from wlbench.scoring.truth import Truth

HEADLINE = ("centroid_accuracy_macro", "centroid_accuracy_micro")


class EmbeddingStat:
    """Centroid accuracy (macro over classes, micro over clips) of the single-label clips."""

    def __init__(self, embeddings: np.ndarray, weak_labels: np.ndarray, n_classes: int, metric: str) -> None:
        t = as_binary(weak_labels, "weak_labels")
        e = as_scores(embeddings, "embeddings")
        if e.shape[0] != t.shape[0]:
            raise WlbenchError(f"{e.shape[0]} embeddings for {t.shape[0]} clips")
        self.single = t.sum(axis=1) == 1
        if not self.single.any():
            raise WlbenchError("no clip has exactly one true label; the centroid metric needs single-label clips")
        self.y = np.argmax(t[self.single], axis=1)
        self.x = e[self.single]
        self.n_classes, self.metric = n_classes, metric

    @property
    def n(self) -> int:
        return int(self.single.sum())

    def __call__(self, w: np.ndarray | None) -> dict[str, float]:
        args = (self.x, self.y, self.n_classes, self.metric, w)
        return {"centroid_accuracy_macro": emb.centroid_accuracy_macro(*args),
                "centroid_accuracy_micro": emb.centroid_accuracy_micro(*args)}


def build(truth: Truth, parsed: Any, settings: Settings) -> EmbeddingStat:
    return EmbeddingStat(getattr(parsed, "embeddings", parsed), truth.weak_labels, len(truth.classes),
                         settings.embedding_metric)


def describe(stat: EmbeddingStat, truth: Truth, settings: Settings) -> dict[str, Any]:
    per = emb.centroid_accuracy_per_class(stat.x, stat.y, stat.n_classes, stat.metric)
    counts = np.bincount(stat.y, minlength=stat.n_classes)
    per_class = {c: {"n_clips": counts[j], "centroid_accuracy": per[j]} for j, c in enumerate(truth.classes)}
    notes = {"clips_left_out_not_single_label": int((~stat.single).sum()), "n_clips_scored": stat.n}
    excluded = {"no_positives": [c for j, c in enumerate(truth.classes) if counts[j] == 0], "no_negatives": []}
    return {"per_class": per_class, "excluded": excluded, "notes": notes}
