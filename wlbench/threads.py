"""Threads of the evaluation harness: how many, and an ordered map over them.

The harness's heavy steps (parsing score tables, the threshold-free detection statistics) release the GIL in
numpy and Arrow, so a few threads use the cores without the cost of processes. :func:`harness_threads` is
``WLBENCH_THREADS`` when set (a grid worker sets it to its run's ``threads``, so runs side by side do not
oversubscribe the machine), else the cores this process may run on, at most :data:`MAX_THREADS`. Results
never depend on the number of threads (each user of it is tested for that).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from wlbench.errors import WlbenchError

MAX_THREADS = 8  # beyond this the parts of a 1,000-clip evaluation get too small to pay
ENV = "WLBENCH_THREADS"

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; elsewhere the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def harness_threads() -> int:
    """``WLBENCH_THREADS`` (a positive integer), else :func:`available_cores` capped at :data:`MAX_THREADS`."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return min(available_cores(), MAX_THREADS)
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise WlbenchError(f"{ENV}={value!r} is not a positive number of threads", hint=f"unset {ENV} to use every core")
    return threads


def map_in_threads(fn: Callable[[T], R], items: Iterable[T], threads: int) -> list[R]:
    """``[fn(x) for x in items]``, in order, on up to ``threads`` threads (in this thread when 1 or one item)."""
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        return list(pool.map(fn, items))
