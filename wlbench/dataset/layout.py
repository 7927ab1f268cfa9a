"""The dataset file's layout: format constants, the members every split stores, and how attributes read.

Layout (docs/format.md has the full table; plain h5py reads everything)::

    /                      attrs: format, format_version, name, classes, spec_id, content_id, recipe, ...
    /<split>/clip_ids      (N,) str
    /<split>/features      (N, T, F) float32|float16, attrs: log-mel parameters
    /<split>/weak_labels   (N, C) uint8
    /<split>/frame_labels  (N, T, C) uint8
    /<split>/events/{clip_index,label_index,onset,offset,snr,source_file,source_time,pitch_shift}
    /<split>/jams          (N,) str: scaper JAMS, paths relative to the soundbank root
    /<split>/segments/<name>/{start,weak_labels}   attrs: duration
    /<split>/audio         (N, S) float32 (only when the recipe stores audio)
    /<split>/views/<name>/{labels,dropped}        (N, C) uint8 missing-label views, attrs: rule
    /<split>/resolution/<name>/labels             (N, K, C) uint8 chunk labels, attrs: chunk, min_overlap
    /<split>/roles         (N,) uint8, attrs: names ("strong", "weak", "unlabeled")
    /<split>/domain        (N,) int16, attrs: names

The ids over this layout: :mod:`wlbench.dataset.ids`; the structure check: :mod:`wlbench.dataset.schema`.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

FORMAT = "wlbench-dataset"
FORMAT_VERSION = 1
STR = h5py.string_dtype("utf-8")
# Root attributes that describe the content (hashed); everything else at the root is provenance.
CONTENT_ATTRS = ("format", "format_version", "classes", "sample_rate", "clip_duration", "segment_durations")
SHARD_FORMAT = "wlbench-shard"  # the format attribute of a shard file (wlbench.dataset.shards)
EVENT_COLUMNS = ("clip_index", "label_index", "onset", "offset", "snr", "source_file", "source_time", "pitch_shift")


def attr_value(value: Any) -> Any:
    """An HDF5 attribute value as plain Python (str, int, float, lists), as hashed in headers."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [attr_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [attr_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def dtype_kind(dtype: np.dtype) -> str:
    """``"str"`` for HDF5 strings, else numpy's dtype string (``"<f4"``)."""
    return "str" if h5py.check_string_dtype(dtype) else np.dtype(dtype).str


def split_names(handle: h5py.File) -> list[str]:
    """The splits of an open dataset file: its top-level groups."""
    return [name for name in handle if isinstance(handle[name], h5py.Group)]
