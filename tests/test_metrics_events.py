"""Event lists: the reference-merging rule, decoding frame scores into events, key joins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import median_filter

from wlbench.errors import WlbenchError
from wlbench.metrics.events import EventList, equal_key_pairs, events_to_frame, merge_overlaps
from wlbench.metrics.frames import frame_scores_to_events, median_window


def _brute_merge(file, label, on, off):
    out = []
    for key in sorted(set(zip(file, label))):
        spans = sorted((a, b) for f, lab, a, b in zip(file, label, on, off) if (f, lab) == key)
        cur = list(spans[0])
        for a, b in spans[1:]:
            if a <= cur[1]:
                cur[1] = max(cur[1], b)
            else:
                out.append((*key, *cur))
                cur = [a, b]
        out.append((*key, *cur))
    return sorted(out)


def test_merge_rule_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        f, lab = rng.integers(0, 3, n), rng.integers(0, 2, n)
        on = np.round(rng.random(n) * 8, 1)
        off = on + np.round(rng.random(n) * 2 + 0.1, 1)
        merged, absorbed = merge_overlaps(EventList(f, lab, on, off))
        got = sorted(zip(merged.file.tolist(), merged.label.tolist(), merged.onset.tolist(), merged.offset.tolist()))
        assert got == _brute_merge(f.tolist(), lab.tolist(), on.tolist(), off.tolist())
        assert absorbed == n - len(merged)


def test_merge_rule_cases():
    # the desed-like example: Dog [4.97, 6.28] and [5.29, 5.79] are one reference event
    ev = EventList(np.array([0, 0, 0, 0, 1]), np.array([1, 1, 1, 0, 1]), np.array([4.97, 5.29, 6.28, 5.0, 5.0]),
                   np.array([6.28, 5.79, 7.0, 5.5, 5.5]))
    merged, absorbed = merge_overlaps(ev)
    frame = events_to_frame(merged, ["a", "b"], ["Cat", "Dog"])
    assert frame.to_dict("records") == [
        {"filename": "a", "event_label": "Dog", "onset": 4.97, "offset": 7.0},  # touching at 6.28 merges too
        {"filename": "a", "event_label": "Cat", "onset": 5.0, "offset": 5.5},  # another class: kept apart
        {"filename": "b", "event_label": "Dog", "onset": 5.0, "offset": 5.5}]  # another clip: kept apart
    assert absorbed == 2
    empty, n = merge_overlaps(EventList.empty())
    assert len(empty) == 0 and n == 0


def test_frame_scores_to_events_thresholds_and_runs():
    s = np.zeros((2, 8, 2))
    s[0, 1:3, 0] = 0.5  # exactly at the threshold: active (score >= threshold)
    s[0, 5:, 0] = 0.9  # a run reaching the clip end
    s[1, :, 1] = 0.7  # the whole clip
    ev = frame_scores_to_events(s, frame_hop=0.25, threshold=0.5)
    rows = list(zip(ev.file.tolist(), ev.label.tolist(), ev.onset.tolist(), ev.offset.tolist()))
    assert rows == [(0, 0, 0.25, 0.75), (0, 0, 1.25, 2.0), (1, 1, 0.0, 2.0)]
    per_class = frame_scores_to_events(s, frame_hop=0.25, threshold=np.array([0.6, 0.8]))
    assert list(zip(per_class.file.tolist(), per_class.label.tolist())) == [(0, 0)]


def test_frames_past_the_clip_end_are_cut_at_it():
    """501 frames of 20 ms for a 10 s clip: the last frame reaches 10.02 s; events end at 10 s, and a run
    that starts at the end is dropped."""
    s = np.zeros((1, 501, 2))
    s[0, 450:, 0] = 0.9  # 9.0 s to the last frame
    s[0, 500, 1] = 0.9  # only the frame that starts at 10.0 s
    ev = frame_scores_to_events(s, frame_hop=0.02, threshold=0.5, clip_duration=10.0)
    assert list(zip(ev.label.tolist(), ev.onset.tolist(), ev.offset.tolist())) == [(0, 9.0, 10.0)]
    with pytest.raises(WlbenchError, match="clip_duration"):
        frame_scores_to_events(s, frame_hop=0.02, clip_duration=0.0)


def test_median_filter_matches_scipy_on_decisions():
    rng = np.random.default_rng(1)
    s = rng.random((3, 40, 2))
    for k in (1, 3, 7):
        active = median_filter((s >= 0.5).astype(np.uint8), size=(1, k, 1)).astype(bool)
        ev = frame_scores_to_events(s, frame_hop=0.1, threshold=0.5, median_frames=k)
        rebuilt = np.zeros_like(active)
        for f, lab, a, b in zip(ev.file, ev.label, np.rint(ev.onset / 0.1).astype(int), np.rint(ev.offset / 0.1).astype(int)):
            rebuilt[f, a:b, lab] = True
        assert (rebuilt == active).all()
    assert median_window(frame_hop=0.1, median_seconds=0.7) == 7
    assert median_window(frame_hop=0.1, median_seconds=0.6) == 7  # nearest odd count, rounding up at a tie
    assert median_window(frame_hop=0.1, median_seconds=0.0) == 1
    with pytest.raises(WlbenchError, match="odd"):
        frame_scores_to_events(s, frame_hop=0.1, median_frames=4)
    with pytest.raises(WlbenchError, match="not both"):
        median_window(frame_hop=0.1, median_frames=3, median_seconds=0.3)
    with pytest.raises(WlbenchError, match="NaN"):
        frame_scores_to_events(np.full((1, 2, 1), np.nan), frame_hop=0.1)


def test_equal_key_pairs():
    a = np.array([3, 1, 3, 7])
    b = np.array([1, 3, 3, 2])
    i, j = equal_key_pairs(a, b)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (0, 2), (1, 0), (2, 1), (2, 2)]
    assert equal_key_pairs(np.zeros(0, int), b)[0].size == 0


@pytest.mark.parametrize("span", [3, 40, 10**12])
def test_equal_key_pairs_lists_every_equal_pair_in_order(span):
    """Every (i, j) with equal keys, ordered by i then j, against the quadratic definition (narrow and wide
    key ranges, negative keys)."""
    rng = np.random.default_rng(span % 97)
    for _ in range(40):
        a = rng.integers(-span, span, rng.integers(0, 30))
        b = rng.integers(-span, span, rng.integers(0, 30))
        if a.size and b.size:
            a[: a.size // 2] = rng.choice(b, a.size // 2)
        want = [(i, j) for i in range(a.size) for j in range(b.size) if a[i] == b[j]]
        ai, bj = equal_key_pairs(a, b)
        assert list(zip(ai.tolist(), bj.tolist())) == want
