"""Analysis functions of the pseudo-strong-label baseline (Dinkel et al. 2022, section 4.3)."""

from __future__ import annotations

import numpy as np
import pytest

from wlbench_baselines.dinkel2022.analysis import count_shares, label_coverage, labels_per_item
from wlbench_baselines.teacher_student.windows import chunk_windows


def test_labels_per_item_thresholds_at_one_half():
    soft = np.array([[0.5, 0.49, 0.9], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]])
    assert labels_per_item(soft).tolist() == [2, 0, 3]
    assert count_shares(labels_per_item(soft), 2).tolist() == pytest.approx([1 / 3, 0, 2 / 3])
    with pytest.raises(ValueError, match="no item"):
        count_shares(np.array([], dtype=int), 3)


def test_label_coverage_of_chunk_labels_against_propagated_weak_labels():
    weak = np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0]])
    w = chunk_windows(3, clip_duration=4.0, frame_rate=100.0, chunk=2.0)
    chunk_soft = np.array([[0.9, 0.1, 0.8], [0.2, 0.7, 0.1],  # clip 0: each chunk covers one of two labels
                           [0.9, 0.0, 0.0], [0.0, 0.0, 0.0],  # clip 1: no weak label -> undefined
                           [0.0, 0.0, 0.6], [0.51, 0.0, 0.0]])  # clip 2: 0 then 1
    coverage = label_coverage(chunk_soft >= 0.5, w.expand(weak))
    assert coverage[[0, 1, 4, 5]].tolist() == [0.5, 0.5, 0.0, 1.0] and np.isnan(coverage[[2, 3]]).all()
    clip_union = w.pool((chunk_soft >= 0.5).astype(np.uint8), "max")  # labels of any chunk of the clip
    assert clip_union.tolist() == [[1, 1, 1], [1, 0, 0], [1, 0, 1]]
    assert label_coverage(clip_union, weak)[[0, 2]].tolist() == [1.0, 1.0]
