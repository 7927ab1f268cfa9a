"""Detection metrics from event lists: event-based and segment-based F1 / error rate (macro and micro).

Event lists are :class:`EventList` arrays: ``file`` (int clip index in ``[0, n_files)``), ``label`` (int
class index), ``onset`` and ``offset`` in seconds. Build them from DataFrames with
:func:`events_from_frame`.

Event-based (sed_eval ``EventBasedMetrics`` semantics, DCASE Task 4 collars by default): an output event
matches a reference event of the same file and class when ``|onset diff| <= t_collar`` and
``|offset diff| <= max(t_collar, percentage_of_length * reference length)``; matching is an optimal
one-to-one (maximum cardinality) bipartite matching. **Collar boundary**: times are compared at a
resolution of 1 microsecond (``time_decimals=6``, as sed_scores_eval): ``round(|diff| - collar, 6) <= 0``,
so an output exactly one collar away counts as a hit whatever the binary round-off of the subtraction;
``time_decimals=None`` compares the floats exactly, as sed_eval does (0.20000000000000007 > 0.2 is then a
miss). Substitutions (for the micro error rate) pair an unmatched output with an unmatched reference
event of another class that it hits in time. wlbench counts the most substitutions any maximum matching
allows (true positives first, then substitutions: a lexicographic optimum), so the count never depends on
the order of the events or on which of several equally good matchings was found -- sed_eval uses a greedy
first-fit pass there, which depends on event order; wlbench's count is >= sed_eval's, so its micro ER is <=
sed_eval's, and equal whenever first-fit is optimal.

Segment-based (sed_eval ``SegmentBasedMetrics``): each clip is cut into segments of ``time_resolution``
seconds; a class is active in a segment when an event covers any part of it (``floor(onset/res)`` to
``ceil(offset/res)``); counts pool over segments and clips.

Degenerate cases: a class with no reference events is left out of the macro averages (its false
positives count in the micro numbers); a class never output has precision 0 and F1 0 (kept; or left out
with ``never_output="exclude"``, sed_eval's default); empty output gives F1 0 -- never 1.0 as sed_eval's
default NaN-dropping macro average can.

The reference list should be merged first (:func:`wlbench.metrics.events.merge_overlaps`, the DCASE
convention); these functions score whatever lists they are given.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from wlbench.errors import WlbenchError
from wlbench.metrics.events import EventList, equal_key_pairs, events_from_frame  # noqa: F401 - API
from wlbench.metrics.tagging import prf_from_counts

TIME_DECIMALS = 6  # times are compared at a resolution of 1 microsecond (see module doc)
NEVER_OUTPUT = ("zero", "exclude")


def _pairs(ref: EventList, est: EventList, key_ref: np.ndarray, key_est: np.ndarray):
    """All (ref i, est j) index pairs with equal keys, vectorised."""
    return equal_key_pairs(key_ref, key_est)


def within_collar(distance: np.ndarray, collar: np.ndarray | float, time_decimals: int | None) -> np.ndarray:
    """``distance <= collar``, compared at ``time_decimals`` decimals of a second (None: exact floats).

    With 6 decimals (wlbench's default, as sed_scores_eval), ``round(distance - collar, 6) <= 0``: an
    output 0.2 s away from the reference is a hit for a 0.2 s collar whatever binary round-off the
    subtraction of two decimal times produced (|1.2 - 1.0| = 0.19999999999999996, |1.4 - 1.2| =
    0.19999999999999996 but |5.3 - 5.1| = 0.20000000000000018). ``None`` compares the floats exactly as
    sed_eval does.
    """
    if time_decimals is None:
        return distance <= collar
    return np.round(distance - collar, time_decimals) <= 0


def _hits(ref: EventList, est: EventList, ri, ej, t_collar: float, percentage_of_length: float,
          time_decimals: int | None = TIME_DECIMALS):
    ron, roff = np.asarray(ref.onset, float)[ri], np.asarray(ref.offset, float)[ri]
    eon, eoff = np.asarray(est.onset, float)[ej], np.asarray(est.offset, float)[ej]
    ok = within_collar(np.abs(ron - eon), t_collar, time_decimals)
    ok &= within_collar(np.abs(roff - eoff), np.maximum(t_collar, percentage_of_length * (roff - ron)),
                        time_decimals)
    return ri[ok], ej[ok]


def _max_matching(n_ref: int, n_est: int, ri: np.ndarray, ej: np.ndarray) -> np.ndarray:
    """Maximum one-to-one matching on candidate pairs; returns est index matched to each ref (-1 if none).

    Components where no ref or est has two candidates are matched directly; only conflicting candidates
    go to Hopcroft-Karp.
    """
    match = np.full(n_ref, -1, dtype=np.int64)
    if ri.size == 0:
        return match
    deg_r = np.bincount(ri, minlength=n_ref)
    deg_e = np.bincount(ej, minlength=n_est)
    simple = (deg_r[ri] == 1) & (deg_e[ej] == 1)
    match[ri[simple]] = ej[simple]
    rest = ~simple
    if rest.any():
        r2, e2 = ri[rest], ej[rest]
        ur, r_inv = np.unique(r2, return_inverse=True)
        ue, e_inv = np.unique(e2, return_inverse=True)
        graph = csr_matrix((np.ones(r2.size, dtype=np.int8), (r_inv, e_inv)), shape=(ur.size, ue.size))
        m = maximum_bipartite_matching(graph, perm_type="column")
        ok = m >= 0
        match[ur[ok]] = ue[m[ok]]
    return match


def event_based_counts(ref: EventList, est: EventList, n_files: int, n_classes: int,
                       t_collar: float = 0.2, percentage_of_length: float = 0.2, *,
                       time_decimals: int | None = TIME_DECIMALS) -> dict[str, np.ndarray]:
    """Per (file, class) counts: ``tp``, ``n_ref``, ``n_sys`` (n_files, n_classes), and per-file
    ``subs`` (n_files,) substitutions. Counts add over files, so the bootstrap just re-weights them.
    ``time_decimals``: resolution of the collar tests (see :func:`within_collar`)."""
    if t_collar < 0 or percentage_of_length < 0:
        raise WlbenchError("t_collar and percentage_of_length must be >= 0")
    rf, rl = np.asarray(ref.file, np.int64), np.asarray(ref.label, np.int64)
    ef, el = np.asarray(est.file, np.int64), np.asarray(est.label, np.int64)
    # every (reference, output) pair of one file that hits in time: of one class, a candidate true positive;
    # of two classes, a candidate substitution
    ci, cj = _pairs(ref, est, rf, ef)
    ci, cj = _hits(ref, est, ci, cj, t_collar, percentage_of_length, time_decimals)
    same = rl[ci] == el[cj]
    ri, ej = ci[same], cj[same]
    match = _max_matching(len(ref), len(est), ri, ej)
    matched_r = match >= 0
    size = n_files * n_classes
    shape = (n_files, n_classes)
    tp = np.bincount(rf[matched_r] * n_classes + rl[matched_r], minlength=size).astype(np.float64).reshape(shape)
    n_ref = np.bincount(rf * n_classes + rl, minlength=size).astype(np.float64).reshape(shape)
    n_sys = np.bincount(ef * n_classes + el, minlength=size).astype(np.float64).reshape(shape)
    subs = _substitutions(ref, est, n_files, ri, ej, ci[~same], cj[~same], t_collar, percentage_of_length,
                          time_decimals)
    return {"tp": tp, "n_ref": n_ref, "n_sys": n_sys, "subs": subs}


def _substitutions(ref: EventList, est: EventList, n_files: int, ri: np.ndarray, ej: np.ndarray, si: np.ndarray,
                   sj: np.ndarray, t_collar: float, percentage_of_length: float, time_decimals: int | None
                   ) -> np.ndarray:
    """Substitutions per file under the lexicographic optimum (most true positives, then most
    substitutions), from the candidate true positives (``ri``, ``ej``: same class, hit in time) and the
    candidate substitutions (``si``, ``sj``: other class, hit in time).

    A file whose candidate true positives share no event has one maximum true-positive matching: all of
    them; its substitutions are then a maximum matching of the candidate substitutions between the events
    they leave free, found for all such files at once (files are separate components of one graph). Only
    a file where candidate true positives compete for an event and that has a candidate substitution is
    solved jointly, as a weighted assignment (:func:`_joint_substitutions`): there the choice of true
    positives can change how many substitutions remain.
    """
    subs = np.zeros(n_files)
    if si.size == 0:
        return subs
    rf, ef = np.asarray(ref.file, np.int64), np.asarray(est.file, np.int64)
    deg_r = np.bincount(ri, minlength=len(ref))
    deg_e = np.bincount(ej, minlength=len(est))
    shared = np.zeros(n_files, dtype=bool)  # files where candidate true positives share an event
    shared[rf[ri[(deg_r[ri] > 1) | (deg_e[ej] > 1)]]] = True
    free = ~shared[rf[si]] & (deg_r[si] == 0) & (deg_e[sj] == 0)
    if free.any():
        match = _max_matching(len(ref), len(est), si[free], sj[free])
        subs += np.bincount(rf[match >= 0], minlength=n_files)
    for f in np.unique(rf[si[shared[rf[si]]]]):
        subs[f] = _joint_substitutions(ref, est, rf == f, ef == f, t_collar, percentage_of_length, time_decimals)
    return subs


def _joint_substitutions(ref: EventList, est: EventList, in_ref: np.ndarray, in_est: np.ndarray, t_collar: float,
                         percentage_of_length: float, time_decimals: int | None) -> float:
    """Substitutions of one file under the lexicographic optimum: among the matchings with the most true
    positives (same class, hit in time), the one with the most substitutions (other class, hit in time).
    A maximum-weight assignment with weight ``n + 1`` per true positive and 1 per substitution."""
    from scipy.optimize import linear_sum_assignment

    r_idx, e_idx = np.flatnonzero(in_ref), np.flatnonzero(in_est)
    ri = np.repeat(r_idx, e_idx.size)
    ej = np.tile(e_idx, r_idx.size)
    hi, hj = _hits(ref, est, ri, ej, t_collar, percentage_of_length, time_decimals)
    weight = np.zeros((r_idx.size, e_idx.size))
    same = np.asarray(ref.label)[hi] == np.asarray(est.label)[hj]
    big = float(min(r_idx.size, e_idx.size) + 1)
    weight[np.searchsorted(r_idx, hi), np.searchsorted(e_idx, hj)] = np.where(same, big, 1.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return float(np.count_nonzero(weight[rows, cols] == 1.0))


def segment_based_counts(ref: EventList, est: EventList, n_files: int, n_classes: int,
                         clip_duration: float | np.ndarray, time_resolution: float = 1.0) -> dict[str, np.ndarray]:
    """Per (file, class) segment counts ``tp``, ``n_ref``, ``n_sys`` and per-file ``subs``, ``dels``,
    ``ins`` (segment-wise S = min(Nref, Nsys) - Ntp, D = max(0, Nref - Nsys), I = max(0, Nsys - Nref)).

    ``clip_duration``: seconds, scalar or per file; events are evaluated up to the longer of the clip and
    the last event (as sed_eval does when no length is given; extra segments only add true negatives).
    """
    if time_resolution <= 0:
        raise WlbenchError(f"time_resolution must be > 0, got {time_resolution}")
    dur = np.broadcast_to(np.asarray(clip_duration, dtype=np.float64), (n_files,))
    ends = [dur]
    for ev in (ref, est):
        if len(ev):
            m = np.zeros(n_files)
            np.maximum.at(m, np.asarray(ev.file, np.int64), np.asarray(ev.offset, float))
            ends.append(m)
    n_seg = int(np.ceil(np.max(np.maximum.reduce(ends)) / time_resolution)) if n_files else 0
    n_seg = max(n_seg, 1)

    width = n_files * n_classes

    def roll(ev: EventList) -> np.ndarray:
        """(segments, files, classes): whether an event of the class covers part of the segment. Event starts
        and ends counted per segment, then summed segment by segment (whole rows: numpy's cumulative sum
        along the first axis of a wide array is several times slower)."""
        if not len(ev):
            return np.zeros((n_seg, n_files, n_classes), dtype=bool)
        on = np.floor(np.asarray(ev.onset, float) / time_resolution).astype(np.int64)
        off = np.ceil(np.asarray(ev.offset, float) / time_resolution).astype(np.int64)
        on = np.clip(on, 0, n_seg)
        off = np.clip(off, 0, n_seg)
        col = np.asarray(ev.file, np.int64) * n_classes + np.asarray(ev.label, np.int64)
        size = (n_seg + 1) * width
        running = (np.bincount(on * width + col, minlength=size)
                   - np.bincount(off * width + col, minlength=size)).reshape(n_seg + 1, width)
        for k in range(1, n_seg):
            running[k] += running[k - 1]
        return (running[:n_seg] > 0).reshape(n_seg, n_files, n_classes)

    def per_segment(active: np.ndarray) -> np.ndarray:
        """(segments, files): how many classes are active (a float32 product: exact for these counts)."""
        counts = active.reshape(-1, n_classes).astype(np.float32) @ np.ones(n_classes, dtype=np.float32)
        return counts.astype(np.int64).reshape(n_seg, n_files)

    r = roll(ref)
    e = roll(est)
    both = r & e
    tp = np.count_nonzero(both, axis=0).astype(np.float64)
    n_ref = np.count_nonzero(r, axis=0).astype(np.float64)
    n_sys = np.count_nonzero(e, axis=0).astype(np.float64)
    seg_ref, seg_sys, seg_tp = per_segment(r), per_segment(e), per_segment(both)
    subs = (np.minimum(seg_ref, seg_sys) - seg_tp).sum(axis=0).astype(np.float64)
    dels = np.maximum(0, seg_ref - seg_sys).sum(axis=0).astype(np.float64)
    ins = np.maximum(0, seg_sys - seg_ref).sum(axis=0).astype(np.float64)
    return {"tp": tp, "n_ref": n_ref, "n_sys": n_sys, "subs": subs, "dels": dels, "ins": ins}


def detection_summary(counts: dict[str, np.ndarray], kind: str,
                      weight: np.ndarray | None = None, *, never_output: str = "zero") -> dict[str, object]:
    """Metrics from (possibly clip-weighted) per-file counts.

    Returns per-class ``precision``, ``recall``, ``f1``, ``error_rate`` (C,) arrays (ER = (FN + FP) / Nref,
    NaN without reference events) and scalars ``f1_macro``, ``error_rate_macro``, ``f1_micro``,
    ``precision_micro``, ``recall_micro``, ``error_rate_micro`` (S + D + I) / Nref.

    ``never_output``: a class with reference events that the system never output has precision 0 and
    F1 0, kept in the macro average (``"zero"``, wlbench's policy), or precision and F1 NaN, left out of
    the macro average (``"exclude"``: sed_eval's default, which DCASE's segment-based numbers use).
    """
    if never_output not in NEVER_OUTPUT:
        raise WlbenchError(f"never_output must be one of {NEVER_OUTPUT}, got {never_output!r}")
    w = None if weight is None else np.asarray(weight, dtype=np.float64)

    def total(a):
        return a.sum(axis=0) if w is None else w @ a

    tp, n_ref, n_sys = total(counts["tp"]), total(counts["n_ref"]), total(counts["n_sys"])
    fp, fn = n_sys - tp, n_ref - tp
    p, r, f = prf_from_counts(tp, fp, fn)
    if never_output == "exclude":
        silent = n_sys <= 0
        p, f = np.where(silent, np.nan, p), np.where(silent, np.nan, f)
    with np.errstate(invalid="ignore", divide="ignore"):
        er = np.where(n_ref > 0, (fn + fp) / np.where(n_ref > 0, n_ref, 1), np.nan)
    keep = (n_ref > 0) & ~np.isnan(f)
    T, R, S = tp.sum(), n_ref.sum(), n_sys.sum()
    mp, mr, mf = (float(v[0]) for v in prf_from_counts(np.array([T]), np.array([S - T]), np.array([R - T])))
    subs = float(total(counts["subs"]))
    if kind == "event":
        dels, ins = R - T - subs, S - T - subs
    else:
        dels, ins = float(total(counts["dels"])), float(total(counts["ins"]))
    er_micro = (subs + dels + ins) / R if R > 0 else float("nan")
    return {
        "precision": p, "recall": r, "f1": f, "error_rate": er, "n_ref": n_ref, "n_sys": n_sys,
        "f1_macro": float(f[keep].mean()) if keep.any() else float("nan"),
        "error_rate_macro": float(er[n_ref > 0].mean()) if (n_ref > 0).any() else float("nan"),
        "f1_micro": mf, "precision_micro": mp, "recall_micro": mr, "error_rate_micro": er_micro,
        "substitutions": subs, "deletions": dels, "insertions": ins,
    }


def event_based_metrics(ref: EventList, est: EventList, n_files: int, n_classes: int,
                        t_collar: float = 0.2, percentage_of_length: float = 0.2, *,
                        time_decimals: int | None = TIME_DECIMALS) -> dict[str, object]:
    """Event-based per-class and macro/micro F1, precision, recall and error rate (see module doc)."""
    return detection_summary(event_based_counts(ref, est, n_files, n_classes, t_collar, percentage_of_length,
                                                time_decimals=time_decimals), "event")


def event_based_f1_macro(ref: EventList, est: EventList, n_files: int, n_classes: int,
                         t_collar: float = 0.2, percentage_of_length: float = 0.2) -> float:
    """Mean event-based F1 over classes with reference events."""
    return cast(float, event_based_metrics(ref, est, n_files, n_classes, t_collar, percentage_of_length)["f1_macro"])


def event_based_f1_micro(ref: EventList, est: EventList, n_files: int, n_classes: int,
                         t_collar: float = 0.2, percentage_of_length: float = 0.2) -> float:
    """Event-based F1 of the pooled counts."""
    return cast(float, event_based_metrics(ref, est, n_files, n_classes, t_collar, percentage_of_length)["f1_micro"])


def segment_based_metrics(ref: EventList, est: EventList, n_files: int, n_classes: int,
                          clip_duration: float | np.ndarray, time_resolution: float = 1.0, *,
                          never_output: str = "zero") -> dict[str, object]:
    """Segment-based per-class and macro/micro F1, precision, recall and error rate (see module doc)."""
    return detection_summary(segment_based_counts(ref, est, n_files, n_classes, clip_duration, time_resolution),
                             "segment", never_output=never_output)


def segment_based_f1_macro(ref: EventList, est: EventList, n_files: int, n_classes: int,
                           clip_duration: float | np.ndarray, time_resolution: float = 1.0) -> float:
    """Mean segment-based F1 over classes with reference activity."""
    return cast(float, segment_based_metrics(ref, est, n_files, n_classes, clip_duration, time_resolution)["f1_macro"])


def segment_based_f1_micro(ref: EventList, est: EventList, n_files: int, n_classes: int,
                           clip_duration: float | np.ndarray, time_resolution: float = 1.0) -> float:
    """Segment-based F1 of the pooled counts."""
    return cast(float, segment_based_metrics(ref, est, n_files, n_classes, clip_duration, time_resolution)["f1_micro"])
