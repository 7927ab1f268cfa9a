"""Statistics of grids: intervals over seeds, paired contrasts, p-values and Holm's correction.

Every number a grid reports over seeds comes from here, so tables, findings and verdicts agree:

- :func:`t_interval`: mean and 95 % Student-t half-width (ddof 1) of per-seed values;
- :func:`paired_difference`: the same for ``a - b`` over the seeds both have (paired by seed);
- :func:`paired_p_value`: two-sided paired t-test p-value of ``a - b`` (H0: mean difference 0);
- :func:`holm`: Holm's step-down adjusted p-values of one family of tests;
- :func:`contrast_text`, :func:`verdict`: the text and word of a single contrast.

Edge cases: fewer than two common seeds gives None (no interval, no p-value); identical differences
(zero spread) give a p-value of 0 when the mean is not 0 and 1 when it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ALPHA = 0.05


def t_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float] | None:
    """(mean, 95 % Student-t half-width) of ``values`` (ddof 1); None for fewer than 2 values."""
    a = np.asarray(values, dtype=float)
    if len(a) < 2:
        return None
    from scipy.stats import t as student

    return float(a.mean()), float(student.ppf(0.975, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a)))


def _paired(a: dict[int, float], b: dict[int, float]) -> np.ndarray | None:
    seeds = sorted(set(a) & set(b))
    return np.array([a[s] - b[s] for s in seeds], dtype=float) if len(seeds) >= 2 else None


def paired_difference(a: dict[int, float], b: dict[int, float]) -> tuple[float, float] | None:
    """(mean, 95 % Student-t half-width) of ``a - b`` over the seeds both have; None with fewer than two."""
    d = _paired(a, b)
    return None if d is None else t_interval(d)


def paired_p_value(a: dict[int, float], b: dict[int, float]) -> float | None:
    """Two-sided paired t-test p-value of ``a - b`` over the seeds both have; None with fewer than two."""
    d = _paired(a, b)
    if d is None:
        return None
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() != 0 else 1.0
    from scipy.stats import t as student

    stat = d.mean() / (sd / math.sqrt(len(d)))
    return float(2 * student.sf(abs(stat), len(d) - 1))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values of one family (None entries are not tests and stay None): the
    i-th smallest p times (m - i), made monotone, capped at 1. A test is significant at level alpha after
    the correction when its adjusted p-value is below alpha."""
    tested = [(p, i) for i, p in enumerate(p_values) if p is not None]
    m = len(tested)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def contrast_text(a: dict[int, float], b: dict[int, float]) -> tuple[str, str]:
    """A finding ``a > b`` read off seed values: (``"+12.3 ±4.5"`` in points of %, verdict), the verdict
    ``holds`` when the paired 95 % interval of ``a - b`` lies above 0, ``reversed`` below, ``not resolved``
    across it, ``too few seeds`` with fewer than two common seeds (text ``-``). Uncorrected: a findings
    table of several contrasts corrects the family with :func:`holm`."""
    diff = paired_difference(a, b)
    if diff is None:
        return "-", "too few seeds"
    mean, half = diff
    verdict_ = "holds" if mean - half > 0 else ("reversed" if mean + half < 0 else "not resolved")
    return f"{100 * mean:+.1f} ±{100 * half:.1f}", verdict_


def verdict(cell: dict[int, float], control: dict[int, float]) -> str:
    """``learned`` when the 95 % t-interval of the per-seed differences cell - control (paired by seed) lies
    above 0; ``not learned`` otherwise; ``n/a`` with fewer than 2 paired seeds."""
    diff = paired_difference(cell, control)
    if diff is None:
        return "n/a"
    mean, half = diff
    return "learned" if mean - half > 0 else "not learned"
