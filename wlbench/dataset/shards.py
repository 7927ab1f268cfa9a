"""Sharded datasets: N shard files written by the workers themselves, and a small index file that reads as one.

Layout (docs/format.md, "Sharded datasets")::

    <name>.shards/index.h5                    the dataset: root attributes, clip ids, events, every label;
                                              the per-clip members are HDF5 virtual datasets over the shards
    <name>.shards/shard-00000-of-00004.h5     rows [a, b) of each split's jams, features, audio, frame labels

A shard holds a contiguous run of the dataset's clips (splits in recipe order, then clip order); its row
ranges start at multiples of :data:`wlbench.dataset.ids.GROUP_ROWS` inside each split, so the workers hash
what they write and the index combines their digests into the same content id as a single-file render.
Plain h5py reads the index like a single file (virtual datasets are standard HDF5); because a missing
shard would read as zeros, every reader checks the shards when it opens the index (:func:`wlbench.dataset.schema.shard_problems`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wlbench.atomic import atomic_path
from wlbench.dataset.ids import GROUP_ROWS
from wlbench.dataset.layout import SHARD_FORMAT
from wlbench.dataset.writer import ClipLayout, RowWriter, ShardRows, SplitShape
from wlbench.errors import WlbenchError

INDEX_NAME = "index.h5"


def shard_name(index: int, count: int) -> str:
    """``shard-00003-of-00008.h5``."""
    return f"shard-{index:05d}-of-{count:05d}.h5"


def sharded_folder_name(stem: str) -> str:
    """The folder of a sharded dataset: ``<name>.shards``."""
    return f"{stem}.shards"


@dataclasses.dataclass(frozen=True)
class ShardPart:
    """Rows ``[first, stop)`` of split ``split``."""

    split: str
    first: int
    stop: int


def plan_shards(split_sizes: dict[str, int], count: int) -> list[tuple[ShardPart, ...]]:
    """Cut the dataset's clips (splits in order, then clips) into ``count`` contiguous shards of nearly equal
    size, every cut inside a split at a multiple of :data:`GROUP_ROWS`. Raises :class:`WlbenchError` when the
    dataset has fewer groups of rows than ``count``."""
    groups = [ShardPart(split, first, min(first + GROUP_ROWS, n))
              for split, n in split_sizes.items() for first in range(0, n, GROUP_ROWS)]
    if count < 1:
        raise WlbenchError(f"--shards must be at least 1, got {count}")
    if count > len(groups):
        raise WlbenchError(f"--shards {count}: this dataset has {sum(split_sizes.values())} clips, which make "
                           f"at most {len(groups)} shards (a shard holds whole groups of {GROUP_ROWS} clips of a "
                           "split)", hint=f"use --shards {len(groups)} or fewer")
    sizes = np.array([g.stop - g.first for g in groups])
    bounds = np.searchsorted(np.cumsum(sizes), np.arange(1, count) * sizes.sum() / count, side="left") + 1
    # every shard gets at least one group
    cuts = [0]
    for k, bound in enumerate(bounds, start=1):
        cuts.append(int(min(max(bound, cuts[-1] + 1), len(groups) - (count - k))))
    cuts.append(len(groups))
    shards = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        parts: list[ShardPart] = []
        for group in groups[a:b]:
            if parts and parts[-1].split == group.split and parts[-1].stop == group.first:
                parts[-1] = ShardPart(group.split, parts[-1].first, group.stop)
            else:
                parts.append(group)
        shards.append(tuple(parts))
    return shards


class ShardFileWriter:
    """Writes one shard file atomically (a temporary name beside it, renamed at the end): for each part, the
    rows of the split's per-clip members, hashed as they are written. Use as a context manager."""

    def __init__(self, path: Path, *, token: str, layout: ClipLayout, shapes: dict[str, SplitShape]) -> None:
        self.path = Path(path)
        self.token = token
        self.layout = layout
        self.shapes = shapes
        self._rows: dict[str, tuple[ShardPart, RowWriter]] = {}
        self.finished: list[ShardRows] = []

    def __enter__(self) -> ShardFileWriter:
        if not self.path.parent.is_dir():  # the render ended and removed its staging folder: never recreate it
            raise WlbenchError(f"{self.path.parent} is gone (the render this shard belongs to has ended)",
                               hint="nothing to do: the render that needed this shard stopped")
        self._atomic = atomic_path(self.path, suffix=".h5.partial")
        tmp = self._atomic.__enter__()
        try:
            self.handle = h5py.File(tmp, "w")
            self.handle.attrs["format"] = SHARD_FORMAT
            self.handle.attrs["shard_token"] = self.token
        except BaseException as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, *exc_info) -> bool:
        self.handle.close()
        return bool(self._atomic.__exit__(*exc_info))

    def begin(self, part: ShardPart) -> None:
        group = self.handle.create_group(part.split)
        group.attrs["first"] = part.first
        group.attrs["stop"] = part.stop
        members = self.layout.members(self.shapes[part.split], frame_labels=True)
        for member in members:
            member.create(group, part.stop - part.first)
        self._rows[part.split] = (part, RowWriter(group, {m.name: m.dtype for m in members}, first_row=part.first))

    def write(self, split: str, index: int, row: dict[str, Any]) -> None:
        """Row ``index`` (of the split) of every member: ``jams``, and ``features``, ``audio``, ``frame_labels``
        as the layout stores them."""
        part, writer = self._rows[split]
        writer.add(index - part.first, row)

    def end(self, split: str) -> ShardRows:
        part, writer = self._rows.pop(split)
        rows = ShardRows(split=split, first=part.first, stop=part.stop, file=self.path.name, digests=writer.finish())
        self.finished.append(rows)
        return rows
