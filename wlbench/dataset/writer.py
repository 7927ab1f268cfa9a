"""The dataset writer: one file (or the index of a sharded dataset) written atomically, hashed while written.

:class:`DatasetWriter` takes the splits in order (:class:`SplitShape`, per-clip rows through
:class:`RowWriter`, then events, segment, label and resolution views, roles and domains) and commits the
truth ids and the content id (scheme 2, :mod:`wlbench.dataset.ids`) without reading anything back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wlbench import __version__
from wlbench.atomic import atomic_path
from wlbench.dataset import ids
from wlbench.dataset.ids import compute_split_truth_id, content_root_attrs, dataset_truth_id
from wlbench.dataset.labels import segment_name
from wlbench.dataset.layout import EVENT_COLUMNS, FORMAT, FORMAT_VERSION, STR, dtype_kind, split_names
from wlbench.errors import WlbenchError
from wlbench.hashing import canonical_json


@dataclasses.dataclass
class SplitShape:
    """Sizes of a split, known before rendering."""

    name: str
    n_clips: int
    n_frames: int
    n_features: int
    n_samples: int
    part: str


@dataclasses.dataclass(frozen=True)
class ClipMember:
    """A per-clip dataset of a split (one row per clip): its dtype, row shape, storage and attributes. The same
    layout is used by a single file and by shards, so both store the same content."""

    name: str
    dtype: Any
    row_shape: tuple[int, ...]
    chunk_rows: int
    compression: dict[str, Any]
    attrs: dict[str, Any]

    @property
    def kind(self) -> str:
        return dtype_kind(np.dtype(self.dtype))

    def create(self, group: h5py.Group, n_rows: int) -> h5py.Dataset:
        dataset = group.create_dataset(self.name, shape=(n_rows,) + self.row_shape, dtype=self.dtype,
                                       chunks=(max(1, min(n_rows, self.chunk_rows)),) + self.row_shape,
                                       **self.compression)
        for key, value in self.attrs.items():
            dataset.attrs[key] = value
        return dataset


@dataclasses.dataclass(frozen=True)
class ClipLayout:
    """What a dataset stores per clip (from the recipe): see :meth:`members`."""

    n_classes: int
    feature_dtype: str
    feature_attrs: dict[str, Any]
    store_features: bool
    store_audio: bool

    def members(self, shape: SplitShape, *, frame_labels: bool) -> list[ClipMember]:
        """The per-clip datasets besides ``clip_ids``: ``jams``, ``features`` and ``audio`` when stored, and
        (``frame_labels=True``, with features) ``frame_labels``."""
        gzip4 = {"compression": "gzip", "compression_opts": 4}
        out = [ClipMember("jams", STR, (), 256, gzip4, {})]
        if self.store_features:
            out.append(ClipMember("features", self.feature_dtype, (shape.n_frames, shape.n_features), 1, {},
                                  dict(self.feature_attrs)))
        if self.store_audio:
            out.append(ClipMember("audio", "float32", (shape.n_samples,), 1,
                                  {"compression": "gzip", "compression_opts": 1, "shuffle": True}, {}))
        if frame_labels and self.store_features:
            out.append(ClipMember("frame_labels", "uint8", (shape.n_frames, self.n_classes), 64, gzip4, {}))
        return out


class RowWriter:
    """Rows of per-clip datasets of one split group, arriving in clip order, written in blocks of consecutive
    clips (h5py's per-call cost is far larger than the copy: one call per block instead of one per clip and
    dataset) and hashed as they are written (:class:`wlbench.dataset.ids.RowDigests`).

    Numeric rows are copied into a preallocated block at :meth:`add`, so the caller may reuse its buffer
    (shared memory) at once. ``first_row``: the split row of the group's first row (a shard's offset)."""

    BLOCK = 64

    def __init__(self, group: h5py.Group, members: dict[str, Any], first_row: int = 0) -> None:
        """``members``: dataset name -> dtype (``STR`` for strings); the datasets exist in ``group``."""
        self.datasets = {name: group[name] for name in members}
        self.first = 0
        self.count = 0
        self.first_row = first_row
        self.hashers = {name: ids.RowDigests(dtype_kind(np.dtype(dtype)), first_row)
                        for name, dtype in members.items()}
        self.buffers: dict[str, Any] = {}
        for name, dataset in self.datasets.items():
            if self.hashers[name].kind == "str":
                self.buffers[name] = []
            else:
                self.buffers[name] = np.empty((min(self.BLOCK, max(1, dataset.shape[0])),) + dataset.shape[1:],
                                              dtype=dataset.dtype)

    def add(self, index: int, row: dict[str, Any]) -> None:
        """Row ``index`` (relative to the group, in order) of every member."""
        if index != self.first + self.count:
            raise ValueError(f"clip {index} arrived out of order")  # a programming error, not user input
        for name, value in row.items():
            buffer = self.buffers[name]
            if isinstance(buffer, list):
                buffer.append(value)
            else:
                buffer[self.count] = value
        self.count += 1
        if self.count == self.BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.count:
            for name, buffer in self.buffers.items():
                block = np.array(buffer, dtype=object) if isinstance(buffer, list) else buffer[:self.count]
                self.datasets[name][self.first:self.first + self.count] = block
                self.hashers[name].update(buffer if isinstance(buffer, list) else block)
                if isinstance(buffer, list):
                    buffer.clear()
        self.first += self.count
        self.count = 0

    def finish(self) -> dict[str, bytes]:
        """Flush and return each member's group digests (see :class:`wlbench.dataset.ids.RowDigests`)."""
        self.flush()
        for name, dataset in self.datasets.items():
            if self.hashers[name].rows != dataset.shape[0]:
                raise ValueError(f"{dataset.name}: {self.hashers[name].rows} of {dataset.shape[0]} rows written")
        return {name: hasher.finish() for name, hasher in self.hashers.items()}


@dataclasses.dataclass(frozen=True)
class ShardRows:
    """Rows ``[first, stop)`` of split ``split`` held by shard file ``file`` (a name beside the index), with the
    group digests of each per-clip member written there."""

    split: str
    first: int
    stop: int
    file: str
    digests: dict[str, bytes]


class DatasetWriter:
    """Writes one dataset file atomically. Use as a context manager; call :meth:`commit` at the end.

    Without :meth:`commit`, or on any exception, nothing appears under ``path`` and an existing file there
    is left untouched.

    ``sharded=True`` writes the index of a sharded dataset: the per-clip members (:class:`ClipLayout`) are
    not written here but by shard writers (:mod:`wlbench.dataset.shards`), announced with :meth:`add_shard_rows`,
    and stored as HDF5 virtual datasets that map each row range to its shard file. Everything else (clip
    ids, events, labels, views) is stored in the index itself.

    Every dataset is hashed as it is written (content id scheme 2, :mod:`wlbench.dataset.ids`): committing
    reads nothing back.
    """

    def __init__(self, path: Path, *, name: str, classes: tuple[str, ...], sample_rate: int, clip_duration: float,
                 segment_durations: tuple[float, ...], feature_attrs: dict[str, Any] | None, feature_dtype: str,
                 store_features: bool, store_audio: bool, provenance: dict[str, Any], sharded: bool = False) -> None:
        self.path = Path(path)
        self._root_attrs = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "classes": list(classes),
            "sample_rate": sample_rate, "clip_duration": clip_duration,
            "segment_durations": list(segment_durations),
        }
        self._provenance = provenance
        self.layout = ClipLayout(n_classes=len(classes), feature_dtype=feature_dtype,
                                 feature_attrs=dict(feature_attrs or {}), store_features=store_features,
                                 store_audio=store_audio)
        self.sharded = sharded
        self._classes = classes
        self._events: dict[str, list[tuple]] = {}
        self._pending: dict[str, RowWriter] = {}
        self._shapes: dict[str, SplitShape] = {}
        self._shard_rows: dict[str, list[ShardRows]] = {}
        self._digests: dict[str, bytes] = {}
        self._class_index = {c: i for i, c in enumerate(classes)}
        self._stack: contextlib.ExitStack | None = None
        self._handle: h5py.File | None = None
        self.content_id: str | None = None
        self.truth_id: str | None = None
        self.split_truth_ids: dict[str, str] = {}

    def __enter__(self) -> DatasetWriter:
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path, suffix=".h5.partial"))
        self._handle = h5py.File(tmp, "w")
        self._stack.callback(self._handle.close)
        for key, value in self._root_attrs.items():
            self._handle.attrs[key] = value
        self._handle.attrs["content_id_scheme"] = ids.SCHEME
        return self

    def __exit__(self, *exc_info) -> bool:
        assert self._stack is not None
        if exc_info[0] is None and self.content_id is None:
            exc = WlbenchError(f"internal: dataset {self.path} was not committed")
            self._stack.__exit__(type(exc), exc, None)
            raise exc
        return bool(self._stack.__exit__(*exc_info))

    @property
    def handle(self) -> h5py.File:
        assert self._handle is not None, "use DatasetWriter as a context manager"
        return self._handle

    def _create(self, group: h5py.Group, name: str, data: Any, dtype: Any = None, **options: Any) -> h5py.Dataset:
        """Create a dataset from ``data`` held in memory and hash it as stored."""
        if dtype is STR:
            values = [str(v) for v in data]
            dataset = group.create_dataset(name, data=np.asarray(values, dtype=object), dtype=STR, **options)
            rows: Any = values
        else:
            rows = np.asarray(data, dtype=dtype)
            dataset = group.create_dataset(name, data=rows, **options)
        self._digests[dataset.name.lstrip("/")] = ids.digest_of_rows(dtype_kind(dataset.dtype),
                                                                             rows)
        return dataset

    def begin_split(self, shape: SplitShape) -> None:
        group = self.handle.create_group(shape.name)
        group.attrs["part"] = shape.part
        group.attrs["n_clips"] = shape.n_clips
        self._shapes[shape.name] = shape
        group.create_dataset("clip_ids", shape=(shape.n_clips,), dtype=STR)
        members: dict[str, Any] = {"clip_ids": STR}
        if not self.sharded:
            for member in self.layout.members(shape, frame_labels=False):
                member.create(group, shape.n_clips)
                members[member.name] = member.dtype
        self._events[shape.name] = []
        self._shard_rows[shape.name] = []
        self._pending[shape.name] = RowWriter(group, members)

    def write_clip(self, split: str, index: int, clip_id: str, jams_text: str | None, events: list[tuple],
                   features: np.ndarray | None, audio: np.ndarray | None) -> None:
        """Store clip ``index`` of ``split`` (clips arrive in index order; rows are written in blocks).
        ``events`` rows: (label, onset, offset, snr, source_file, source_time, pitch_shift), label a class.
        In a sharded index the JAMS, features and audio are in the shards: pass None."""
        row: dict[str, Any] = {"clip_ids": clip_id}
        if not self.sharded:
            row["jams"] = jams_text
            if self.layout.store_features:
                row["features"] = features
            if self.layout.store_audio:
                row["audio"] = audio
        self._pending[split].add(index, row)
        for label, onset, offset, snr, source_file, source_time, pitch in events:
            if label not in self._class_index:
                raise WlbenchError(f"clip {clip_id}: event label {label!r} is not a dataset class")
            self._events[split].append((index, self._class_index[label], onset, offset, snr, source_file,
                                        source_time, pitch))

    def add_shard_rows(self, rows: ShardRows) -> None:
        """Announce that shard file ``rows.file`` holds rows ``[rows.first, rows.stop)`` of a split's per-clip
        members (sharded index only; row ranges arrive in order)."""
        assert self.sharded, "add_shard_rows needs DatasetWriter(sharded=True)"
        done = self._shard_rows[rows.split]
        expected = done[-1].stop if done else 0
        if rows.first != expected:
            raise ValueError(f"shard rows of {rows.split!r} start at {rows.first}, expected {expected}")
        done.append(rows)

    def pending_events(self, split: str) -> list[tuple]:
        """Event rows written so far for ``split`` (before :meth:`end_split`): (clip_index, label_index, onset,
        offset, snr, source_file, source_time, pitch_shift)."""
        return list(self._events[split])

    def _link_shards(self, group: h5py.Group, shape: SplitShape) -> None:
        """The per-clip members of a sharded split: virtual datasets over the shards' row ranges."""
        parts = self._shard_rows[shape.name]
        covered = parts[-1].stop if parts else 0
        if covered != shape.n_clips:
            raise ValueError(f"shards hold {covered} of the {shape.n_clips} rows of split {shape.name!r}")
        for member in self.layout.members(shape, frame_labels=True):
            full = (shape.n_clips,) + member.row_shape
            layout = h5py.VirtualLayout(shape=full, dtype=member.dtype)
            for part in parts:
                if part.stop > part.first:
                    layout[part.first:part.stop] = h5py.VirtualSource(
                        part.file, f"{shape.name}/{member.name}", shape=(part.stop - part.first,) + member.row_shape)
            dataset = group.create_virtual_dataset(member.name, layout)
            for key, value in member.attrs.items():
                dataset.attrs[key] = value
            self._digests[dataset.name.lstrip("/")] = ids.dataset_digest(
                part.digests[member.name] for part in parts)

    def end_split(self, split: str, labels: dict[str, np.ndarray],
                  segments: dict[float, tuple[np.ndarray, np.ndarray]]) -> None:
        """Write the split's event table, label arrays (name -> array) and segment views
        (duration -> (start, weak_labels))."""
        group = self.handle[split]
        for name, digests in self._pending.pop(split).finish().items():
            self._digests[f"{split}/{name}"] = ids.dataset_digest([digests])
        if self.sharded:
            self._link_shards(group, self._shapes[split])
        rows = self._events.pop(split)
        columns: list[Any] = list(zip(*rows)) if rows else [[] for _ in EVENT_COLUMNS]
        events = group.create_group("events")
        dtypes = ("int32", "int16", "float64", "float64", "float64", STR, "float64", "float64")
        for name, values, dtype in zip(EVENT_COLUMNS, columns, dtypes):
            self._create(events, name, values, dtype)
        for name, array in labels.items():
            chunks = (min(array.shape[0], 64),) + array.shape[1:] if array.ndim == 3 else None
            self._create(group, name, array, compression="gzip", compression_opts=4, chunks=chunks)
        segment_group = group.create_group("segments")
        for duration, (start, weak) in segments.items():
            seg = segment_group.create_group(segment_name(duration))
            seg.attrs["duration"] = duration
            self._create(seg, "start", start, np.float64)
            self._create(seg, "weak_labels", weak)

    def write_conditions(self, split: str, *, views: dict[str, tuple[np.ndarray, np.ndarray, dict[str, Any]]],
                         resolution: dict[float, tuple[np.ndarray, float]], roles: np.ndarray | None,
                         role_names: tuple[str, ...], domains: np.ndarray | None,
                         domain_names: tuple[str, ...], requested_events: np.ndarray | None) -> None:
        """Write a split's label views (name -> (observed, dropped, rule)), chunk-label views (chunk ->
        (labels, min_overlap)), roles and domains. Only what the recipe asks for is written, so datasets
        without these conditions keep their content id."""
        group = self.handle[split]
        if views:
            views_group = group.create_group("views")
            for name, (observed, dropped, rule) in views.items():
                view = views_group.create_group(name)
                view.attrs["rule"] = canonical_json(rule)
                labels = self._create(view, "labels", observed, np.uint8, compression="gzip", compression_opts=4)
                labels.attrs["rule"] = view.attrs["rule"]  # dataset attributes are part of the content id
                self._create(view, "dropped", dropped, np.uint8, compression="gzip", compression_opts=4)
        if resolution:
            res_group = group.create_group("resolution")
            for chunk, (labels, min_overlap) in resolution.items():
                res = res_group.create_group(segment_name(chunk))
                res.attrs["chunk"] = chunk
                res.attrs["min_overlap"] = min_overlap
                stored = self._create(res, "labels", labels, np.uint8, compression="gzip", compression_opts=4)
                stored.attrs["chunk"] = chunk
                stored.attrs["min_overlap"] = min_overlap
        if roles is not None:
            self._create(group, "roles", roles, np.uint8).attrs["names"] = list(role_names)
        if domains is not None:
            self._create(group, "domain", domains, np.int16).attrs["names"] = list(domain_names)
        if requested_events is not None:
            self._create(group, "requested_events", requested_events, np.int16)

    def commit(self) -> str:
        """Compute the truth ids and the content id (from the digests taken while writing), write the ids and
        provenance attributes; the file appears on exit. Returns the content id (the truth id is in
        :attr:`truth_id`)."""
        split_truths = {name: compute_split_truth_id(self.handle, name) for name in split_names(self.handle)}
        for name, truth in split_truths.items():
            self.handle[name].attrs["truth_id"] = truth  # group attributes are outside the content id
        self.truth_id = dataset_truth_id(split_truths)
        self.split_truth_ids = split_truths
        missing = [name for name in ids.dataset_paths(self.handle) if name not in self._digests]
        if missing:
            raise ValueError(f"datasets written without a digest: {missing}")  # a programming error
        content = ids.compute(self.handle, content_root_attrs(self.handle), self._digests)
        attrs = dict(self._provenance)
        attrs["truth_id"] = self.truth_id
        attrs["content_id"] = content
        attrs["created_utc"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        attrs["wlbench_version"] = __version__
        if self.sharded:
            attrs["shard_files"] = sorted({part.file for parts in self._shard_rows.values() for part in parts})
        for key, value in attrs.items():
            self.handle.attrs[key] = value
        self.content_id = content
        return content
