"""Bootstrap confidence intervals over evaluation clips, and the paired bootstrap test.

A resample draws N clips with replacement from the N evaluation clips (``numpy.random.default_rng(seed)``,
``integers(0, N, N)``); it is represented by its count vector ``w`` (how often each clip was drawn), and
every wlbench metric accepts such counts as ``sample_weight`` -- so sorts and matchings are done once
and each resample only re-weights. A metric undefined on a resample (NaN, e.g. no positive drawn at all)
is left out of that metric's interval; a class without positives in a resample is left out of that
resample's macro average (the metric functions do this themselves).

A statistic is called with ``None`` for its point values and with count vectors for resamples. A
statistic with the attribute ``batched = True`` receives a (B, n) matrix of B resamples at once and
returns (B,) arrays (wlbench's tagging statistic does: one sparse product serves a whole batch); any
other is called once per resample with an (n,) vector. Both see the same resamples in the same order.

Intervals are percentile intervals: ``[q((1-ci)/2), q((1+ci)/2)]`` of the resampled values. On a degenerate
input every resample can give the point value itself, computed in another order (a sum of ``1/10`` over 6
clips is ``0.0999...``, over 60 clips ``0.1``): a bound that misses the point value by round-off only
(:data:`ROUND_OFF`, relative) is moved onto it, so such an interval holds its own value.
The paired test uses the *same* resamples for both systems and reports the observed difference A - B,
the percentile interval of the resampled differences and a two-sided p-value
``min(1, 2 * min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (B + 1))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np

from wlbench.errors import WlbenchError

StatFn = Callable[[np.ndarray | None], Mapping[str, float]]
# relative distance below which an interval bound and the point value are the same number up to round-off
ROUND_OFF = 1e-9


def resample_counts(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``n_resamples`` count vectors (n,) float64, each a draw of n clips with replacement."""
    if n <= 0:
        raise WlbenchError("cannot bootstrap an empty set of clips")
    rng = np.random.default_rng(seed)
    for _ in range(int(n_resamples)):
        yield np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)


def resample_batches(n: int, n_resamples: int, seed: int, batch: int) -> Iterator[np.ndarray]:
    """The resamples of :func:`resample_counts`, stacked ``batch`` at a time into (B, n) matrices."""
    rows: list[np.ndarray] = []
    for w in resample_counts(n, n_resamples, seed):
        rows.append(w)
        if len(rows) == batch:
            yield np.stack(rows)
            rows = []
    if rows:
        yield np.stack(rows)


def _batch_size(stat: StatFn, n: int) -> int:
    if not getattr(stat, "batched", False):
        return 1
    return int(getattr(stat, "batch_size", max(1, min(64, (1 << 22) // max(n, 1)))))


def evaluate(stat: StatFn, weights: np.ndarray) -> dict[str, np.ndarray]:
    """``stat`` on each row of ``weights`` (B, n): {name: (B,) values}, batched when the statistic is."""
    if getattr(stat, "batched", False):
        return {k: np.asarray(v, dtype=np.float64).reshape(weights.shape[0]) for k, v in stat(weights).items()}
    rows = [stat(w) for w in weights]
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]} if rows else {}


def _check(n_resamples: int, ci: float) -> None:
    if int(n_resamples) < 0:
        raise WlbenchError(f"n_resamples must be >= 0, got {n_resamples}")
    if not 0.0 < ci < 1.0:
        raise WlbenchError(f"ci must lie strictly between 0 and 1, got {ci}")


def bootstrap_samples(stat: StatFn, n: int, n_resamples: int = 1000, seed: int = 0,
                      progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Evaluate ``stat(counts)`` on each resample; returns {name: (n_resamples,) values}."""
    out: dict[str, list[np.ndarray]] = {}
    done = 0
    for weights in resample_batches(n, n_resamples, seed, _batch_size(stat, n)):
        for key, values in evaluate(stat, weights).items():
            out.setdefault(key, []).append(values)
        done += weights.shape[0]
        if progress is not None:
            progress(done)
    return {k: np.concatenate(v) for k, v in out.items()}


def percentile_interval(samples: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite samples; (nan, nan) if there are none."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(s, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0])
    return float(lo), float(hi)


def hold_point(value: float, lo: float, hi: float) -> tuple[float, float]:
    """``(lo, hi)`` with a bound that differs from ``value`` by round-off only moved onto ``value``."""
    if not (np.isfinite(value) and np.isfinite(lo) and np.isfinite(hi)):
        return lo, hi
    tol = ROUND_OFF * max(1.0, abs(value))
    if value < lo <= value + tol:
        lo = value
    if value - tol <= hi < value:
        hi = value
    return lo, hi


def bootstrap_ci(stat: StatFn, n: int, n_resamples: int = 1000, seed: int = 0, ci: float = 0.95,
                 progress: Callable[[int], None] | None = None) -> dict[str, dict[str, float]]:
    """Point value and percentile interval of every metric ``stat`` returns.

    ``stat(None)`` must give the point values (all clips once); ``stat(counts)`` the value on a resample.
    Returns ``{name: {"value", "ci_low", "ci_high", "n_valid"}}`` (n_valid = resamples where it was defined).
    With ``n_resamples == 0`` the interval is (nan, nan). A bound off the value by round-off only is moved
    onto it (:func:`hold_point`).
    """
    _check(n_resamples, ci)
    point = dict(stat(None))
    samples = bootstrap_samples(stat, n, n_resamples, seed, progress) if n_resamples else {}
    out = {}
    for key, value in point.items():
        s = samples.get(key, np.zeros(0))
        lo, hi = hold_point(float(value), *percentile_interval(s, ci))
        out[key] = {"value": float(value), "ci_low": lo, "ci_high": hi, "n_valid": int(np.isfinite(s).sum())}
    return out


def paired_bootstrap_test(stat_a: StatFn, stat_b: StatFn, n: int, n_resamples: int = 1000, seed: int = 0,
                          ci: float = 0.95,
                          progress: Callable[[int], None] | None = None) -> dict[str, dict[str, float]]:
    """Paired bootstrap of A - B on the same clips: ``{name: {"a", "b", "diff", "ci_low", "ci_high",
    "p_value", "n_valid"}}`` for every metric both ``stat_a`` and ``stat_b`` return."""
    _check(n_resamples, ci)
    if int(n_resamples) < 1:
        raise WlbenchError("the paired test needs at least one bootstrap resample: its interval and p-value "
                           "come from the resamples", hint="use e.g. 1000 resamples")
    pa, pb = dict(stat_a(None)), dict(stat_b(None))
    keys = [k for k in pa if k in pb]
    diffs: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    done = 0
    for weights in resample_batches(n, n_resamples, seed, min(_batch_size(stat_a, n), _batch_size(stat_b, n))):
        ra, rb = evaluate(stat_a, weights), evaluate(stat_b, weights)
        for k in keys:
            diffs[k].append(ra[k] - rb[k])
        done += weights.shape[0]
        if progress is not None:
            progress(done)
    out = {}
    for k in keys:
        d = np.concatenate(diffs[k])
        d = d[np.isfinite(d)]
        lo, hi = percentile_interval(d, ci)
        if d.size:
            p = min(1.0, 2.0 * min(1 + np.count_nonzero(d <= 0), 1 + np.count_nonzero(d >= 0)) / (d.size + 1))
        else:
            p = float("nan")
        out[k] = {"a": float(pa[k]), "b": float(pb[k]), "diff": float(pa[k]) - float(pb[k]),
                  "ci_low": lo, "ci_high": hi, "p_value": float(p), "n_valid": int(d.size)}
    return out
