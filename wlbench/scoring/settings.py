"""Every metric setting of a report, and the named conventions for detection scoring."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from wlbench.errors import WlbenchError, plain
from wlbench.metrics.detection import TIME_DECIMALS


@dataclass(frozen=True)
class Convention:
    """How detection lists are scored: the collar comparison's resolution (``time_decimals``, None =
    exact floats) and what the segment-based macro average does with classes the system never output."""

    time_decimals: int | None
    segment_never_output: str
    description: str


CONVENTIONS = {
    "wlbench": Convention(TIME_DECIMALS, "zero",
                          "collars compared at 1 us; a class never output scores F1 0 in every macro average"),
    "dcase": Convention(None, "exclude",
                        "as DESED_task's sed_eval wrapper: collars compared as exact floats (sed_eval); in the "
                        "segment-based macro average a class never output is left out (sed_eval's default); "
                        "the event-based macro scores it 0 (empty_system_output_handling='zero_score'); the "
                        "reference is scored as given, overlapping same-class events not merged"),
}


def _is_finite_number(value: Any) -> bool:
    """A real number (not a bool, not a string) that is neither NaN nor infinite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(float(value))


@dataclass
class Settings:
    """Every metric setting; recorded verbatim in each report."""

    threshold: float | dict[str, float] = 0.5  # decision threshold, or one per class name
    k: int = 3  # mAP@k
    t_collar: float = 0.2  # event-based onset collar (s)
    percentage_of_length: float = 0.2  # offset collar = max(t_collar, this x reference length)
    time_resolution: float = 1.0  # segment-based segment length (s)
    embedding_metric: str = "euclidean"  # centroid distance
    probabilities: bool = True  # clip scores must lie in [0, 1]
    n_resamples: int = 1000  # bootstrap resamples over clips (0: no intervals)
    seed: int = 0
    ci: float = 0.95
    convention: str = "wlbench"  # detection-list scoring: "wlbench" or "dcase" (see CONVENTIONS)
    strict: bool = False  # refuse times outside a clip instead of clipping them (wlbench.submissions.tolerance)

    def __post_init__(self) -> None:
        thr = self.threshold
        if isinstance(thr, dict):
            for cls, value in thr.items():
                if not _is_finite_number(value):
                    raise WlbenchError(f"threshold for class {cls!r} is {plain(value)}, not a finite number",
                                       hint="give every class a finite decision threshold, e.g. 0.5")
        elif not _is_finite_number(thr):
            raise WlbenchError(f"threshold {plain(thr)} is not a finite number",
                               hint="give a finite decision threshold such as 0.5, or a JSON file "
                                    "{class: threshold} of finite numbers")
        if self.probabilities:
            values = thr.items() if isinstance(thr, dict) else [(None, thr)]
            for cls, value in values:
                if not 0.0 <= float(value) <= 1.0:
                    where = "threshold" if cls is None else f"threshold for class {cls!r}"
                    raise WlbenchError(f"{where} is {plain(value)}, outside [0, 1] where probabilities lie",
                                       hint="give a threshold in [0, 1], or --raw-scores for scores that are "
                                            "not probabilities")
        for name, value, low, low_open in (("t_collar", self.t_collar, 0.0, False),
                                           ("percentage_of_length", self.percentage_of_length, 0.0, False),
                                           ("time_resolution (segment length)", self.time_resolution, 0.0, True)):
            if not _is_finite_number(value) or value < low or (low_open and value == low):
                raise WlbenchError(f"{name} is {plain(value)}: expected a finite number "
                                   f"{'>' if low_open else '>='} {plain(low)}", hint="e.g. 0.2 (1.0 for a segment)")
        if not _is_finite_number(self.ci) or not 0.0 < self.ci < 1.0:
            raise WlbenchError(f"ci is {plain(self.ci)}: expected a level strictly between 0 and 1, e.g. 0.95")
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise WlbenchError(f"k (of mAP@k) is {plain(self.k)}: expected an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2 ** 63:
            raise WlbenchError(f"seed is {plain(self.seed)}: expected an integer in [0, 2**63)")
        if self.convention not in CONVENTIONS:
            raise WlbenchError(f"unknown convention {self.convention!r}", hint="use " + " or ".join(CONVENTIONS))
        if int(self.n_resamples) < 0:
            raise WlbenchError(f"n_resamples must be >= 0, got {plain(self.n_resamples)}")

    @property
    def rules(self) -> Convention:
        return CONVENTIONS[self.convention]

    def to_dict(self) -> dict[str, Any]:
        """The settings as recorded in a report. ``convention`` is recorded only when it is not the default
        ``"wlbench"``, ``strict`` only when True (so that reports of earlier harness versions keep the same
        settings, and leaderboard tables keep their settings ids)."""
        d = asdict(self)
        if d["convention"] == "wlbench":
            del d["convention"]
        if not d["strict"]:
            del d["strict"]
        d["matching"] = "optimal one-to-one (maximum bipartite matching)"
        d["ties"] = "tied scores enter together (precision at the end of a tie run; AUC ties count 1/2)"
        d["dprime_auc_clip"] = "AUC clipped into [e, 1-e], e = 1/(2 n_pos n_neg)"
        d["bootstrap"] = "percentile interval over clips resampled with replacement"
        d["decision_rule"] = "score >= threshold"
        return d

    def thresholds(self, classes: Sequence[str]) -> np.ndarray:
        if isinstance(self.threshold, dict):
            missing = [c for c in classes if c not in self.threshold]
            extra = [c for c in self.threshold if c not in classes]
            if missing or extra:
                raise WlbenchError(f"per-class thresholds: missing {missing[:5]}, unknown {extra[:5]}",
                                   hint="give exactly one threshold per dataset class")
            return np.array([float(self.threshold[c]) for c in classes])
        return np.full(len(classes), float(self.threshold))
