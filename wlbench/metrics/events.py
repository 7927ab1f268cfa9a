"""Event lists: the array container, DataFrame conversion and the reference-merging rule.

An :class:`EventList` holds events as parallel arrays: ``file`` (clip index in ``[0, n_files)``),
``label`` (class index), ``onset`` and ``offset`` in seconds.

The reference-merging rule (:func:`merge_overlaps`) is the DCASE convention for a reference annotation:
same-class events of one clip that overlap or touch are one reference event (their union). wlbench keeps
every source event in the dataset's event table; the merged list is what detection scoring and
``wlbench export`` use as the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wlbench.errors import WlbenchError


@dataclass(frozen=True)
class EventList:
    """Events as parallel arrays (E,): ``file`` and ``label`` ints, ``onset`` <= ``offset`` seconds."""

    file: np.ndarray
    label: np.ndarray
    onset: np.ndarray
    offset: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.file)
        for name in ("label", "onset", "offset"):
            if len(getattr(self, name)) != n:
                raise WlbenchError(f"EventList.{name}: length {len(getattr(self, name))} != {n}")
        on = np.asarray(self.onset, dtype=np.float64)
        off = np.asarray(self.offset, dtype=np.float64)
        if not (np.isfinite(on).all() and np.isfinite(off).all()):
            raise WlbenchError("EventList: onset/offset contain NaN or infinite values")
        if (off < on).any():
            raise WlbenchError("EventList: an event has offset < onset")

    def __len__(self) -> int:
        return len(self.file)

    @staticmethod
    def empty() -> EventList:
        z = np.zeros(0)
        return EventList(z.astype(np.int64), z.astype(np.int64), z, z)

    def take(self, index: np.ndarray) -> EventList:
        """The events at ``index`` (an index array or a boolean mask)."""
        return EventList(np.asarray(self.file)[index], np.asarray(self.label)[index],
                         np.asarray(self.onset, np.float64)[index], np.asarray(self.offset, np.float64)[index])


def events_from_frame(frame: pd.DataFrame, clip_ids: Sequence[str] | np.ndarray,
                      classes: Sequence[str]) -> EventList:
    """Convert a DataFrame (filename, event_label, onset, offset) to an :class:`EventList`.

    Rows whose filename or label is missing (DCASE's "clip without detections" rows) are dropped.
    Unknown filenames or labels raise :class:`WlbenchError` (validate submissions first).
    """
    f = frame.dropna(subset=["filename", "event_label", "onset", "offset"])
    file_index = {str(c): i for i, c in enumerate(clip_ids)}
    class_index = {c: i for i, c in enumerate(classes)}
    try:
        files = np.array([file_index[str(x)] for x in f["filename"]], dtype=np.int64)
    except KeyError as exc:
        raise WlbenchError(f"events: unknown clip id {exc.args[0]!r}") from None
    try:
        labels = np.array([class_index[str(x)] for x in f["event_label"]], dtype=np.int64)
    except KeyError as exc:
        raise WlbenchError(f"events: unknown label {exc.args[0]!r}") from None
    return EventList(files, labels, f["onset"].to_numpy(np.float64), f["offset"].to_numpy(np.float64))


def events_to_frame(events: EventList, clip_ids: Sequence[str] | np.ndarray,
                    classes: Sequence[str]) -> pd.DataFrame:
    """The inverse of :func:`events_from_frame`: columns filename (clip id), event_label, onset, offset,
    rows sorted by clip, onset, label."""
    ids = np.asarray(clip_ids, dtype=object)
    names = np.asarray(classes, dtype=object)
    order = np.lexsort((np.asarray(events.label), np.asarray(events.onset, np.float64), np.asarray(events.file)))
    return pd.DataFrame({"filename": ids[np.asarray(events.file, np.int64)[order]] if len(events) else [],
                         "event_label": names[np.asarray(events.label, np.int64)[order]] if len(events) else [],
                         "onset": np.asarray(events.onset, np.float64)[order],
                         "offset": np.asarray(events.offset, np.float64)[order]})


def equal_key_pairs(key_a: np.ndarray, key_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every index pair ``(i, j)`` with ``key_a[i] == key_b[j]`` (integer keys), vectorised: a sort of
    ``key_b`` and two binary searches, then one repeat per match (no quadratic table)."""
    key_a, key_b = np.asarray(key_a), np.asarray(key_b)
    if key_a.size == 0 or key_b.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    order_b = np.argsort(key_b, kind="stable")
    kb = key_b[order_b]
    lo = np.searchsorted(kb, key_a, "left")
    cnt = np.searchsorted(kb, key_a, "right") - lo
    ai = np.repeat(np.arange(key_a.size, dtype=np.int64), cnt)
    start = np.repeat(lo - np.concatenate(([0], np.cumsum(cnt)[:-1])), cnt)
    bj = order_b[np.arange(int(cnt.sum())) + start]
    return ai, bj


def merge_overlaps(events: EventList) -> tuple[EventList, int]:
    """The reference-merging rule: same-class events of a clip that overlap or touch become one event.

    Two events of the same clip and class are merged when the later one starts at or before the end of
    the earlier one (``onset <= offset``, exact comparison); chains merge transitively, and the merged
    event spans from the first onset to the latest offset. Returns ``(merged, n_merged)`` where
    ``n_merged`` is how many source events were absorbed (``len(events) - len(merged)``). The merged
    list is sorted by clip, class and onset. This is the DCASE convention (DESED's post-processing,
    psds_eval and sed_scores_eval refuse overlapping same-class reference events).
    """
    n = len(events)
    if n == 0:
        return events, 0
    file = np.asarray(events.file, np.int64)
    label = np.asarray(events.label, np.int64)
    on = np.asarray(events.onset, np.float64)
    off = np.asarray(events.offset, np.float64)
    order = np.lexsort((off, on, label, file))
    file, label, on, off = file[order], label[order], on[order], off[order]
    group = np.r_[0, np.cumsum((file[1:] != file[:-1]) | (label[1:] != label[:-1]))]
    # exact order-preserving integer codes of all times, shifted so that groups never mix, make the
    # running maximum of offsets within a group one vectorised accumulate
    values, codes = np.unique(np.r_[on, off], return_inverse=True)
    on_code, off_code = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    span = np.int64(values.size + 1)
    shifted = off_code + group * span
    running = np.maximum.accumulate(shifted)
    previous = np.r_[np.int64(-1), running[:-1]]
    new_group = np.r_[True, group[1:] != group[:-1]]
    starts = new_group | (on_code + group * span > previous)
    first = np.flatnonzero(starts)
    last_off = np.maximum.reduceat(off_code, first)  # segments are contiguous and inside one group
    merged = EventList(file[first], label[first], on[first], values[last_off])
    return merged, int(n - first.size)
