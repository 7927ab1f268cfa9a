"""Test datasets derived from rendered ones by editing their arrays, with every id written again.

A dataset edited after rendering is refused by every reader that scores, submits or compares (its truth id
no longer matches). Tests that need a situation no recipe renders (e.g. a segment view unlike the clip
labels) edit a copy here, which stores the ids of the edited content as the writer would have.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import h5py

from wlbench.dataset.ids import compute_content_id, compute_split_truth_id, dataset_truth_id


def restamp(handle: h5py.File) -> None:
    """Write the truth ids and the content id of an open file's current content."""
    splits = {name: compute_split_truth_id(handle, name) for name in handle if isinstance(handle[name], h5py.Group)}
    for name, truth in splits.items():
        handle[name].attrs["truth_id"] = truth
    handle.attrs["truth_id"] = dataset_truth_id(splits)
    handle.attrs["content_id"] = compute_content_id(handle)


@contextlib.contextmanager
def edited_copy(source: Path, target: Path) -> Iterator[h5py.File]:
    """Copy ``source`` to ``target`` and yield it open for writing; its ids are written again on exit."""
    target.write_bytes(Path(source).read_bytes())
    with h5py.File(target, "r+") as handle:
        yield handle
        restamp(handle)
