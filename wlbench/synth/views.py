"""Label views computed from the stored truth after rendering: missing-label corruption (no audio re-render).

A missing-label view drops positives of the true weak labels: entry (i, c) with ``truth[i, c] = 1`` is
dropped when ``u[i, c] < p[i, c]``, where ``p`` is the view's drop probability and ``u`` are uniforms from
the view's own named random stream. The stream is keyed by (recipe seed, split, the view's *stream* name) and
laid out row by row, so

* a view never adds a positive and ``dropped == truth - observed`` exactly;
* clip ``i``'s draws do not depend on the number of clips, on workers or on other views;
* the rungs of one ladder (``rate = [0, 0.1, 0.2, 0.4]``) share a stream, so their drops are nested: every
  positive dropped at 10 % is also dropped at 20 % and 40 %.

Everything here is a pure function of arrays, tested directly on large synthetic truth arrays.
"""

from __future__ import annotations

import numpy as np

from wlbench.recipes import ViewSpec
from wlbench.synth.seeding import split_rng


def view_uniforms(seed: int, split: str, stream: str, n_clips: int, n_classes: int) -> np.ndarray:
    """The (n_clips, n_classes) uniforms of a view stream; row ``i`` is the same for any ``n_clips > i``."""
    return split_rng(seed, f"{split}:view:{stream}", "label_views").random((n_clips, n_classes))


def event_values(clip: np.ndarray, label: np.ndarray, snr: np.ndarray, onset: np.ndarray, offset: np.ndarray,
                 *, n_clips: int, n_classes: int) -> dict[str, np.ndarray]:
    """Per (clip, class) values the class-conditional rules use, each (n_clips, n_classes) float (NaN where
    the class is absent): ``snr`` the loudest event of the class, ``relative_snr`` that minus the loudest event
    of the clip (0 for the loudest class, negative for quieter ones), ``duration`` the summed event duration."""
    clip = np.asarray(clip, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    best = np.full((n_clips, n_classes), -np.inf)
    np.maximum.at(best, (clip, label), np.asarray(snr, dtype=np.float64))
    duration = np.zeros((n_clips, n_classes))
    np.add.at(duration, (clip, label), np.asarray(offset, dtype=np.float64) - np.asarray(onset, dtype=np.float64))
    present = np.isfinite(best)
    loudest = np.where(present.any(axis=1), best.max(axis=1), 0.0)
    snr_value = np.where(present, best, np.nan)
    return {"snr": snr_value, "relative_snr": snr_value - loudest[:, None],
            "duration": np.where(present, duration, np.nan)}


def drop_probabilities(view: ViewSpec, classes: tuple[str, ...] | list[str], n_clips: int,
                       values: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The (n_clips, n_classes) drop probability of every entry under ``view``'s rule.

    Global ``rate``, overridden per class by ``class_rates``; or, with ``by``, linear in the rule's value
    between (``low``, ``rate_low``) and (``high``, ``rate_high``), clamped outside.
    """
    n_classes = len(classes)
    if view.by:
        if values is None:
            raise ValueError(f"view {view.name!r} (by = {view.by!r}) needs the event values")
        x = np.nan_to_num(values[view.by], nan=view.low)
        t = np.clip((x - view.low) / (view.high - view.low), 0.0, 1.0)
        return view.rate_low + t * (view.rate_high - view.rate_low)
    rates = np.full(n_classes, view.rate)
    for name, rate in view.class_rates:
        rates[list(classes).index(name)] = rate
    return np.broadcast_to(rates, (n_clips, n_classes)).copy()


def apply_drops(truth: np.ndarray, probabilities: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(observed, dropped), both uint8 like ``truth``: ``dropped = truth & (u < p)``, ``observed = truth - dropped``."""
    truth = np.asarray(truth, dtype=np.uint8)
    dropped = ((truth == 1) & (uniforms < probabilities)).astype(np.uint8)
    return truth - dropped, dropped


def missing_label_view(view: ViewSpec, truth: np.ndarray, classes, seed: int, split: str,
                       values: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The observed labels and dropped mask of ``view`` for one split (a pure function of its arguments)."""
    n_clips, n_classes = truth.shape
    p = drop_probabilities(view, classes, n_clips, values)
    u = view_uniforms(seed, split, view.stream, n_clips, n_classes)
    return apply_drops(truth, p, u)
