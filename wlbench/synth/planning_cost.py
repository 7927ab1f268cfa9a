"""What planning costs as a dataset grows (``wlbench plan``): time and memory per clip, nothing rendered.

A render plans in two parts (:mod:`wlbench.synth.plan`): the *split-level draws* (source files of each
split, class and file sequences, roles: small arrays, vectorised) in the parent, and each clip's *spec*
in the worker that renders it. :func:`measure_planning` times both on every clip of a recipe, keeping no
spec, and measures the memory the parent keeps (traced Python allocations, and the process's peak RSS).
"""

from __future__ import annotations

import dataclasses
import resource
import time
import tracemalloc
from collections.abc import Callable

from tqdm import tqdm

from wlbench.recipes import Recipe
from wlbench.soundbank import Soundbank
from wlbench.synth.plan import plan_splits


@dataclasses.dataclass(frozen=True)
class PlanningCost:
    """Planning ``clips`` clips: seconds and bytes, totals (see :func:`measure_planning`)."""

    clips: int
    split_seconds: float     # split-level draws, in the parent
    split_bytes: int         # memory the split-level draws keep (traced), what the parent holds while rendering
    split_peak_bytes: int    # peak traced memory while drawing them
    spec_seconds: float      # every clip's spec, one process (the workers share this during a render)
    peak_rss_bytes: int      # the process's peak resident memory, interpreter and libraries included

    def per_clip(self) -> dict[str, float]:
        n = max(1, self.clips)
        return {"split_us": self.split_seconds / n * 1e6, "split_bytes": self.split_bytes / n,
                "spec_us": self.spec_seconds / n * 1e6}

    def to_dict(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "per_clip": self.per_clip()}


def with_total_clips(recipe: Recipe, clips: int) -> Recipe:
    """``recipe`` with its splits resized in proportion to ``clips`` clips in all (each at least 1): the
    same dataset definition at another size, for planning only (``wlbench plan --clips``)."""
    total = sum(split.clips for split in recipe.splits)
    splits = tuple(dataclasses.replace(s, clips=max(1, round(s.clips * clips / total))) for s in recipe.splits)
    return dataclasses.replace(recipe, splits=splits)


# clips of each split planned first, to estimate the whole cost before paying it
ESTIMATE_SAMPLE = 200

SAMPLE_CLIPS = 2000
"""Clips planned to estimate the memory of a larger plan (:func:`estimate_split_bytes`)."""


def estimate_split_bytes(recipe: Recipe, bank: Soundbank) -> int:
    """The peak memory the split-level draws of ``recipe`` need, extrapolated (with a margin of 2) from
    planning :data:`SAMPLE_CLIPS` clips of the same recipe: checked before a large plan is drawn."""
    total = sum(split.clips for split in recipe.splits)
    if total <= SAMPLE_CLIPS:
        return 0
    sample = with_total_clips(recipe, SAMPLE_CLIPS)
    tracemalloc.start()
    try:
        plan_splits(sample, bank)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(2 * peak * total / sum(split.clips for split in sample.splits))


def measure_planning(recipe: Recipe, bank: Soundbank, *, progress: bool = False,
                     on_estimate: Callable[[float, int], None] | None = None) -> PlanningCost:
    """Plan every clip of ``recipe`` (the specs are made and dropped one by one) and measure the cost.

    ``on_estimate(seconds, clips)`` is called once the split-level draws and the first
    :data:`ESTIMATE_SAMPLE` clip specs of each split are done: the measured time so far plus each split's
    remaining clips at its sampled time per clip, before the rest is planned."""
    tracemalloc.start()
    try:
        started = time.perf_counter()
        planners = plan_splits(recipe, bank)
        split_seconds = time.perf_counter() - started
        split_bytes, split_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    clips = sum(len(p) for p in planners.values())
    started = time.perf_counter()
    sampled = {}
    for name, planner in planners.items():  # a sample of each split first: the estimate
        n = min(ESTIMATE_SAMPLE, len(planner))
        t0 = time.perf_counter()
        for index in range(n):
            planner.clip(index)
        sampled[name] = (n, time.perf_counter() - t0)
    if on_estimate is not None:
        rest = sum((len(planners[k]) - n) * (dt / max(n, 1)) for k, (n, dt) in sampled.items())
        on_estimate(split_seconds + (time.perf_counter() - started) + rest, clips)
    with tqdm(total=clips, initial=sum(n for n, _ in sampled.values()), unit="clip", desc=f"planning {recipe.name}",
              disable=not progress, dynamic_ncols=True, mininterval=1.0) as bar:
        for name, planner in planners.items():
            step = 10_000
            for first in range(sampled[name][0], len(planner), step):
                for index in range(first, min(first + step, len(planner))):
                    planner.clip(index)
                bar.update(min(step, len(planner) - first))
    spec_seconds = time.perf_counter() - started
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
    return PlanningCost(clips=clips, split_seconds=split_seconds, split_bytes=split_bytes,
                        split_peak_bytes=split_peak, spec_seconds=spec_seconds, peak_rss_bytes=peak_rss)
