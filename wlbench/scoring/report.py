"""The report: one type, built once from its parts, written as JSON.

A report (``Report.to_dict()``, what ``wlbench score --json`` writes)::

    harness_version, task, n_clips, classes, settings {...every metric setting...},
    headline {metric: {value, ci_low, ci_high, n_valid}}, per_class {class: {...}},
    excluded_classes {no_positives: [...], no_negatives: [...]}, notes {...},
    dataset {...}, split, labels, segment, submission {path, sha256, format, notes}   (when scored from files)
    curves {psds1: {efpr, etpr}, psds2: {...}}                                          (frame scores)

NaN values (undefined metrics) are written as JSON ``null``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wlbench import HARNESS_VERSION
from wlbench.atomic import write_text_atomic


def json_safe(x: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars and arrays -> Python, dict keys -> str."""
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return [json_safe(v) for v in x.tolist()]
    return x


@dataclass
class Report:
    """A score report; optional parts are left out of :meth:`to_dict` when None."""

    task: str
    classes: list[str]
    n_clips: int
    settings: dict[str, Any]
    headline: dict[str, dict[str, Any]]
    per_class: dict[str, dict[str, Any]]
    excluded_classes: dict[str, list[str]]
    notes: dict[str, Any]
    dataset: dict[str, Any] | None = None
    split: str | None = None
    labels: str | None = None
    segment: str | None = None
    submission: dict[str, Any] | None = None
    curves: dict[str, Any] | None = None
    harness_version: str = HARNESS_VERSION

    def to_dict(self) -> dict[str, Any]:
        out = {"harness_version": self.harness_version, "task": self.task, "n_clips": self.n_clips,
               "classes": list(self.classes), "settings": self.settings, "headline": self.headline,
               "per_class": self.per_class, "excluded_classes": self.excluded_classes, "notes": self.notes}
        for key in ("dataset", "split", "labels", "segment", "submission", "curves"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return json_safe(out)


def write_report(report: dict[str, Any], path: str | Path) -> None:
    """Write a report (or comparison) as JSON (sorted keys, NaN as null) atomically."""
    write_text_atomic(Path(path), json.dumps(json_safe(report), indent=2, sort_keys=True, allow_nan=False) + "\n")
