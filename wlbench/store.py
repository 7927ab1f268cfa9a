"""The HDF5 dataset store: an atomic writer, a reader, ids and schema checks.

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

Three ids (docs/format.md says which changes when what changes):

* *spec id*: what was asked (canonical recipe, soundbank fingerprint, format version).
* *truth id*: what scoring depends on, per split (group attribute ``truth_id``: clip ids and every reference
  label, see :func:`split_truth_members`) and for the dataset (root ``truth_id``: over the split truth ids).
  Exact data only (integers, strings, the planner's float64 times), so it is the same on every machine. The
  reader recomputes a split's truth id the first time the split is opened and refuses a file whose labels
  changed after it was written (:meth:`Dataset.split`): every command that scores, submits or compares is
  guarded by that one check.
* *content id*: a SHA-256 over every stored dataset (path, dtype, shape, attributes, bytes, in sorted path
  order) and the content attributes (classes, segment durations, sample rate, clip duration), features and
  JAMS included; the features are bit-identical across x86-64 CPUs (wlbench.features), so this id is too.

Provenance (creation time, versions, recipe text, soundbank path) is stored beside them, outside the hashes.
"""

from __future__ import annotations

import collections
import contextlib
import os
import dataclasses
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from wlbench import __version__
from wlbench import content_id as content_hash
from wlbench.atomic import atomic_path
from wlbench.content_id import attr_value, member_header
from wlbench.errors import WlbenchError
from wlbench.hashing import canonical_json, hash_json
from wlbench.labels import segment_name, window_frames
from wlbench.paths import require_input_file
from wlbench.recipes import ROLE_NAMES

FORMAT = "wlbench-dataset"
FORMAT_VERSION = 1
STR = h5py.string_dtype("utf-8")
# Root attributes that describe the content (hashed); everything else at the root is provenance.
CONTENT_ATTRS = ("format", "format_version", "classes", "sample_rate", "clip_duration", "segment_durations")
EVENT_COLUMNS = ("clip_index", "label_index", "onset", "offset", "snr", "source_file", "source_time", "pitch_shift")
TRUTH_FORMAT = "wlbench-truth/1"
# Event columns that scoring reads (detection: which clip, which class, when). snr, source_file, source_time and
# pitch_shift describe how the clip was made; they are in the content id only.
TRUTH_EVENT_COLUMNS = ("clip_index", "label_index", "onset", "offset")
# Grouped label members of the truth: group -> members of each of its views.
TRUTH_VIEW_MEMBERS = (("segments", ("start", "weak_labels")), ("views", ("labels", "dropped")),
                      ("resolution", ("labels",)))
_BLOCK_BYTES = 64 << 20
FEATURE_CACHE_BYTES = 2 << 30
"""Features a process keeps in memory (the most recently read splits, oldest dropped first): a grid worker
that trains run after run on one dataset, and a run that reads a split for its scaler, its training data and
its predictions, read each split's features from disk once."""
_feature_cache: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()


def spec_id(recipe_canonical: dict[str, Any], soundbank_fingerprint: str) -> str:
    """What was asked: the canonical recipe, the soundbank fingerprint and the format version."""
    return hash_json({"format_version": FORMAT_VERSION, "recipe": recipe_canonical,
                      "soundbank": soundbank_fingerprint})


_attr_value = attr_value  # the name other modules import


def _hash_member(digest, name: str, dataset: h5py.Dataset, context: dict[str, Any] | None = None) -> None:
    """Feed one dataset to ``digest`` as one stream (truth ids, and content ids of scheme 1): a header (path,
    dtype, shape, its attributes and ``context``), then its bytes (little-endian, row blocks; strings
    length-prefixed UTF-8)."""
    header = member_header(name, dataset, context)
    kind = header["dtype"]
    digest.update(canonical_json(header).encode("ascii"))
    if dataset.shape == () or dataset.size == 0:
        if dataset.shape == ():
            digest.update(repr(_attr_value(dataset[()])).encode("utf-8"))
        return
    if kind == "str":
        for first in range(0, dataset.shape[0], 4096):
            for item in dataset.asstr()[first:first + 4096]:
                encoded = item.encode("utf-8")
                digest.update(len(encoded).to_bytes(8, "little") + encoded)
        return
    row_bytes = max(1, int(np.prod(dataset.shape[1:], dtype=np.int64)) * dataset.dtype.itemsize)
    step = max(1, _BLOCK_BYTES // row_bytes)
    little = np.dtype(kind).newbyteorder("<")
    for first in range(0, dataset.shape[0], step):
        block = np.ascontiguousarray(dataset[first:first + step])
        digest.update(block.astype(little, copy=False).tobytes())


def content_root_attrs(handle: h5py.File) -> dict[str, Any]:
    """The hashed root attributes of an open store (:data:`CONTENT_ATTRS` present in it)."""
    return {key: _attr_value(handle.attrs[key]) for key in CONTENT_ATTRS if key in handle.attrs}


def compute_content_id(handle: h5py.File) -> str:
    """Content id of an open store, recomputed from the stored bytes with the scheme the file names (root
    attribute ``content_id_scheme``: 2, see :mod:`wlbench.content_id`; absent: 1, one SHA-256 stream over
    every dataset in sorted path order, as files written before scheme 2 were hashed)."""
    import hashlib

    scheme = int(_attr_value(handle.attrs.get("content_id_scheme", 1)))
    if scheme == content_hash.SCHEME:
        return content_hash.compute(handle, content_root_attrs(handle))
    if scheme != 1:
        raise WlbenchError(f"{handle.filename}: content id scheme {scheme} is unknown to this wlbench",
                           hint="upgrade wlbench")
    digest = hashlib.sha256()
    digest.update(canonical_json(content_root_attrs(handle)).encode("ascii"))
    for name in content_hash.dataset_paths(handle):
        _hash_member(digest, name, handle[name])
    return digest.hexdigest()


def split_truth_members(group: h5py.Group) -> list[str]:
    """Paths (relative to the split group) of the split's truth, in hashing order: ``clip_ids``,
    ``weak_labels``, the events' ``clip_index``, ``label_index``, ``onset``, ``offset``, each segment view's
    ``start`` and ``weak_labels``, each label view's ``labels`` and ``dropped``, each resolution view's
    ``labels``, and ``roles`` / ``domain`` when stored. Frame labels are left out (derived from the events at
    the feature hop, read by no metric, absent without features), as are the JAMS, features and audio."""
    names = ["clip_ids", "weak_labels"] + [f"events/{column}" for column in TRUTH_EVENT_COLUMNS]
    for kind, members in TRUTH_VIEW_MEMBERS:
        for view in sorted(group.get(kind, {})):
            names += [f"{kind}/{view}/{member}" for member in members]
    return names + [name for name in ("roles", "domain") if name in group]


def compute_split_truth_id(handle: h5py.File, split: str) -> str:
    """Truth id of one split of an open store: its name, the dataset's classes and clip duration, then every
    member of :func:`split_truth_members` (header with the member's own and its view group's attributes,
    then its bytes). Raises ``KeyError`` when a required member is missing."""
    import hashlib

    group = handle[split]
    digest = hashlib.sha256()
    digest.update(canonical_json({"truth": TRUTH_FORMAT, "split": split,
                                  "classes": _attr_value(handle.attrs["classes"]),
                                  "clip_duration": _attr_value(handle.attrs["clip_duration"])}).encode("ascii"))
    for name in split_truth_members(group):
        parent = group[name].parent
        context = {key: _attr_value(parent.attrs[key]) for key in sorted(parent.attrs)} if "/" in name else None
        _hash_member(digest, name, group[name], context)
    return digest.hexdigest()


def dataset_truth_id(split_truth_ids: dict[str, str]) -> str:
    """Truth id of a dataset: the hash of its splits' truth ids (name -> id)."""
    return hash_json({"truth": TRUTH_FORMAT, "splits": dict(sorted(split_truth_ids.items()))})


def _split_names(handle: h5py.File) -> list[str]:
    return [name for name in handle if isinstance(handle[name], h5py.Group)]


# ---------------------------------------------------------------------------------------------- writer

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
        return content_hash.dtype_kind(np.dtype(self.dtype))

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
    dataset) and hashed as they are written (:class:`wlbench.content_id.RowDigests`).

    Numeric rows are copied into a preallocated block at :meth:`add`, so the caller may reuse its buffer
    (shared memory) at once. ``first_row``: the split row of the group's first row (a shard's offset)."""

    BLOCK = 64

    def __init__(self, group: h5py.Group, members: dict[str, Any], first_row: int = 0) -> None:
        """``members``: dataset name -> dtype (``STR`` for strings); the datasets exist in ``group``."""
        self.datasets = {name: group[name] for name in members}
        self.first = 0
        self.count = 0
        self.first_row = first_row
        self.hashers = {name: content_hash.RowDigests(content_hash.dtype_kind(np.dtype(dtype)), first_row)
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
        """Flush and return each member's group digests (see :class:`wlbench.content_id.RowDigests`)."""
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
    not written here but by shard writers (:mod:`wlbench.shards`), announced with :meth:`add_shard_rows`,
    and stored as HDF5 virtual datasets that map each row range to its shard file. Everything else (clip
    ids, events, labels, views) is stored in the index itself.

    Every dataset is hashed as it is written (content id scheme 2, :mod:`wlbench.content_id`): committing
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
        self._handle.attrs["content_id_scheme"] = content_hash.SCHEME
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
        self._digests[dataset.name.lstrip("/")] = content_hash.digest_of_rows(content_hash.dtype_kind(dataset.dtype),
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
            self._digests[dataset.name.lstrip("/")] = content_hash.dataset_digest(
                part.digests[member.name] for part in parts)

    def end_split(self, split: str, labels: dict[str, np.ndarray],
                  segments: dict[float, tuple[np.ndarray, np.ndarray]]) -> None:
        """Write the split's event table, label arrays (name -> array) and segment views
        (duration -> (start, weak_labels))."""
        group = self.handle[split]
        for name, digests in self._pending.pop(split).finish().items():
            self._digests[f"{split}/{name}"] = content_hash.dataset_digest([digests])
        if self.sharded:
            self._link_shards(group, self._shapes[split])
        rows = self._events.pop(split)
        columns = list(zip(*rows)) if rows else [[] for _ in EVENT_COLUMNS]
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

    def write_conditions(self, split: str, views: dict[str, tuple[np.ndarray, np.ndarray, dict[str, Any]]],
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
        split_truths = {name: compute_split_truth_id(self.handle, name) for name in _split_names(self.handle)}
        for name, truth in split_truths.items():
            self.handle[name].attrs["truth_id"] = truth  # group attributes are outside the content id
        self.truth_id = dataset_truth_id(split_truths)
        self.split_truth_ids = split_truths
        missing = [name for name in content_hash.dataset_paths(self.handle) if name not in self._digests]
        if missing:
            raise ValueError(f"datasets written without a digest: {missing}")  # a programming error
        content = content_hash.compute(self.handle, content_root_attrs(self.handle), self._digests)
        attrs = dict(self._provenance)
        attrs["truth_id"] = self.truth_id
        attrs["content_id"] = content
        attrs["created_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        attrs["wlbench_version"] = __version__
        if self.sharded:
            attrs["shard_files"] = sorted({part.file for parts in self._shard_rows.values() for part in parts})
        for key, value in attrs.items():
            self.handle.attrs[key] = value
        self.content_id = content
        return content


# ---------------------------------------------------------------------------------------------- reader

class SegmentView:
    """One fixed-length window per clip (a view over the split's features)."""

    def __init__(self, split: Split, name: str) -> None:
        group = split.group["segments"][name]
        self.name = name
        self.duration = float(group.attrs["duration"])
        self.start = group["start"][:]
        self._weak = group["weak_labels"]
        self._split = split

    def weak_labels(self) -> np.ndarray:
        """(N, C) uint8: classes present in each clip's window."""
        return self._weak[:]

    def frame_index(self) -> np.ndarray:
        """(N, L) feature-frame indices of each clip's window, L = round(duration * frame rate); a window
        reaching past the clip's end is moved back inside it."""
        first, count = zip(*(window_frames(s, self.duration, self._split.frame_rate) for s in self.start))
        first = np.minimum(np.asarray(first), self._split.n_frames - count[0])
        return first[:, None] + np.arange(count[0])[None, :]

    def features(self) -> np.ndarray:
        """(N, L, F): each clip's feature frames inside its window (see :meth:`frame_index`)."""
        return np.take_along_axis(self._split.features(), self.frame_index()[:, :, None], axis=1)


class LabelView:
    """A missing-label view: observed weak labels and the positives that were dropped from the truth."""

    def __init__(self, split: Split, name: str) -> None:
        group = split.group["views"][name]
        self.name = name
        self.rule: dict[str, Any] = json.loads(_attr_value(group.attrs["rule"]))
        self._group = group

    def labels(self) -> np.ndarray:
        """(N, C) uint8 observed labels (never a positive the truth lacks)."""
        return self._group["labels"][:]

    def dropped(self) -> np.ndarray:
        """(N, C) uint8: 1 where a true positive was dropped (an 'implicit negative' really present)."""
        return self._group["dropped"][:]


class ResolutionView:
    """Weak labels of consecutive chunks of each clip (pseudo-strong-label studies)."""

    def __init__(self, split: Split, name: str) -> None:
        group = split.group["resolution"][name]
        self.name = name
        self.chunk = float(group.attrs["chunk"])
        self.min_overlap = float(group.attrs["min_overlap"])
        self._labels = group["labels"]
        self._split = split

    def labels(self) -> np.ndarray:
        """(N, K, C) uint8: classes of the events overlapping chunk k by more than ``min_overlap`` s."""
        return self._labels[:]

    def features(self) -> np.ndarray:
        """(N, K, L, F): the feature frames of each chunk, L = round(chunk * frame rate); a shorter last chunk
        is padded by repeating the clip's last frame."""
        frame_rate = self._split.frame_rate
        feats = self._split.features()
        n_chunks = self._labels.shape[1]
        length = int(round(self.chunk * frame_rate))
        index = (np.arange(n_chunks)[:, None] * length + np.arange(length)[None, :]).clip(0, feats.shape[1] - 1)
        return feats[:, index, :]


def _file_version(path: Path) -> tuple:
    """What tells one version of a file from another: its real path, device, inode, size and change time."""
    st = os.stat(path)
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Split:
    """One split of a dataset. Arrays are read on demand."""

    def __init__(self, dataset: Dataset, name: str) -> None:
        self.dataset = dataset
        self.name = name
        self.group = dataset.handle[name]
        self.clip_ids = self.group["clip_ids"].asstr()[:].astype(str)
        self.clip_duration = float(dataset.handle.attrs["clip_duration"])
        self.part = str(_attr_value(self.group.attrs.get("part", "")))

    def __len__(self) -> int:
        return int(self.clip_ids.shape[0])

    @property
    def truth_id(self) -> str:
        """The split's truth id, recomputed and checked (:meth:`Dataset.split_truth_id`)."""
        return self.dataset.split_truth_id(self.name)

    @property
    def feature_params(self) -> dict[str, Any]:
        return {k: _attr_value(v) for k, v in self._features_dataset().attrs.items()}

    def _features_dataset(self) -> h5py.Dataset:
        if "features" not in self.group:
            raise WlbenchError(f"{self.dataset.path}: split {self.name!r} stores no features "
                               f"(the recipe had features.store = false)", hint="render it with features")
        return self.group["features"]

    @property
    def n_frames(self) -> int:
        """Feature frames per clip."""
        return int(self._features_dataset().shape[1])

    @property
    def frame_rate(self) -> float:
        params = self.feature_params
        return params["sample_rate"] / params["hop_length"]

    def features(self) -> np.ndarray:
        """(N, T, F) log-mel features, read-only: a split's features are read from disk once per process and
        file version (:data:`FEATURE_CACHE_BYTES`; a sharded split is read every time)."""
        stored = self._features_dataset()
        key = None if stored.is_virtual else _file_version(self.dataset.path) + (self.name,)
        if key is not None and key in _feature_cache:
            _feature_cache.move_to_end(key)
            return _feature_cache[key]
        features = stored[:]
        if key is not None and features.nbytes <= FEATURE_CACHE_BYTES:
            features.flags.writeable = False
            _feature_cache[key] = features
            while sum(a.nbytes for a in _feature_cache.values()) > FEATURE_CACHE_BYTES:
                _feature_cache.popitem(last=False)
        return features

    def weak_labels(self) -> np.ndarray:
        """(N, C) uint8 true clip labels."""
        return self.group["weak_labels"][:]

    def frame_labels(self) -> np.ndarray:
        """(N, T, C) uint8 true frame labels at the feature hop."""
        self._features_dataset()  # frame labels exist exactly when features do
        return self.group["frame_labels"][:]

    def jams(self, index: int) -> str:
        return self.group["jams"].asstr()[index]

    def audio(self) -> np.ndarray:
        if "audio" not in self.group:
            raise WlbenchError(f"{self.dataset.path}: split {self.name!r} stores no audio "
                               f"(render with audio.store_audio = true)")
        return self.group["audio"][:]

    def event_arrays(self) -> dict[str, np.ndarray]:
        """The strong event table as columns (see ``EVENT_COLUMNS``); ``source_file`` as str."""
        events = self.group["events"]
        out = {name: events[name][:] for name in EVENT_COLUMNS if name != "source_file"}
        out["source_file"] = events["source_file"].asstr()[:].astype(str)
        return out

    def events(self) -> pd.DataFrame:
        """Strong events: filename (clip id), event_label, onset, offset (s), snr (dB), source_file,
        source_time (s), pitch_shift (semitones, NaN if none); sorted by clip then onset."""
        cols = self.event_arrays()
        classes = np.asarray(self.dataset.classes, dtype=object)
        return pd.DataFrame({
            "filename": self.clip_ids[cols["clip_index"]] if len(cols["clip_index"]) else np.array([], dtype=str),
            "event_label": classes[cols["label_index"]] if len(cols["label_index"]) else np.array([], dtype=str),
            "onset": cols["onset"], "offset": cols["offset"], "snr": cols["snr"],
            "source_file": cols["source_file"], "source_time": cols["source_time"],
            "pitch_shift": cols["pitch_shift"],
        })

    # ---- conditions: label views, resolution views, roles, domains

    @property
    def view_names(self) -> list[str]:
        """Missing-label views of this split (without the implicit ``"true"``)."""
        return sorted(self.group["views"]) if "views" in self.group else []

    def label_view(self, name: str) -> LabelView:
        if name not in self.view_names:
            raise WlbenchError(f"{self.dataset.path}: split {self.name!r} has no label view {name!r}; it has "
                               f"{', '.join(['true'] + self.view_names)}")
        return LabelView(self, name)

    def labels(self, view: str = "true") -> np.ndarray:
        """(N, C) uint8 weak labels of ``view``: ``"true"`` (default) or a missing-label view name."""
        return self.weak_labels() if view == "true" else self.label_view(view).labels()

    @property
    def resolution_names(self) -> list[str]:
        group = self.group.get("resolution", {})
        return sorted(group, key=lambda n: -float(group[n].attrs["chunk"]))

    def resolution(self, name_or_chunk: str | float) -> ResolutionView:
        return ResolutionView(self, self._view_name(name_or_chunk, self.resolution_names, "resolution view"))

    def _view_name(self, name_or_length: str | float, available: list[str], kind: str) -> str:
        """The stored name of a view given by name (``"1s"``) or length in seconds (``1.0``)."""
        name = name_or_length if isinstance(name_or_length, str) else segment_name(float(name_or_length))
        if name not in available:
            raise WlbenchError(f"{self.dataset.path}: split {self.name!r} has no {kind} {name!r}; "
                               f"it has {', '.join(available) or 'none'}")
        return name

    @property
    def role_names(self) -> tuple[str, ...]:
        if "roles" in self.group:
            return tuple(str(n) for n in _attr_value(self.group["roles"].attrs["names"]))
        return ROLE_NAMES

    def roles(self) -> np.ndarray:
        """(N,) uint8 role codes (see :attr:`role_names`); every clip is "strong" (code 0) without roles."""
        if "roles" in self.group:
            return self.group["roles"][:]
        return np.zeros(len(self), dtype=np.uint8)

    @property
    def domain_names(self) -> tuple[str, ...]:
        if "domain" in self.group:
            return tuple(str(n) for n in _attr_value(self.group["domain"].attrs["names"]))
        return ("default",)

    def domains(self) -> np.ndarray:
        """(N,) int16 domain ids (see :attr:`domain_names`); all 0 ("default") without domains."""
        if "domain" in self.group:
            return self.group["domain"][:]
        return np.zeros(len(self), dtype=np.int16)

    def label_audit(self, view: str = "true") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(true labels, observed labels of ``view``, dropped positives), each (N, C) uint8, ignoring roles.

        For analysis and audits only: a trainer reads its labels through :meth:`training_data`."""
        truth = self.weak_labels()
        if view == "true":
            return truth, truth.copy(), np.zeros_like(truth)
        lv = self.label_view(view)
        return truth, lv.labels(), lv.dropped()

    def training_data(self, *, labels: str = "true", oracle: str | None = None, segment: str | float | None = None,
                      resolution: str | float | None = None, frames: bool = False, features: bool = True):
        """What a trainer may see of this split under one label condition: see :mod:`wlbench.training_data`."""
        from wlbench.training_data import training_data

        return training_data(self, labels=labels, oracle=oracle, segment=segment, resolution=resolution,
                             frames=frames, features=features)

    @property
    def segment_names(self) -> list[str]:
        segments = self.group.get("segments", {})
        return sorted(segments, key=lambda n: float(segments[n].attrs["duration"]))

    def segment(self, name_or_duration: str | float) -> SegmentView:
        return SegmentView(self, self._view_name(name_or_duration, self.segment_names, "segment view"))


class Dataset:
    """A dataset file opened for reading (use :func:`open_dataset`)."""

    def __init__(self, path: Path, *, check_truth: bool = True) -> None:
        self.path = require_input_file(path, "dataset file", hint="give the .h5 file `wlbench synth` wrote")
        self.check_truth = check_truth
        self._truth: dict[str, str] = {}
        self._legacy_content_checked = False
        try:
            self.handle = h5py.File(self.path, "r")
        except OSError as exc:
            raise WlbenchError(f"{self.path} is not a readable HDF5 file ({exc})",
                               hint="render it again with `wlbench synth`") from exc
        try:
            format_name = _attr_value(self.handle.attrs.get("format"))
            version = int(self.handle.attrs.get("format_version", -1))
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
            self.handle.close()
            raise WlbenchError(f"{self.path} is a damaged HDF5 file ({exc})",
                               hint="render it again with `wlbench synth`") from exc
        if format_name != FORMAT:
            self.handle.close()
            raise WlbenchError(f"{self.path} is not a wlbench dataset (no format={FORMAT!r} attribute)")
        if version != FORMAT_VERSION:
            self.handle.close()
            raise WlbenchError(f"{self.path} has format version {version}; this wlbench reads version "
                               f"{FORMAT_VERSION}", hint="re-render it with this wlbench")
        self._check_structure()

    def _check_structure(self) -> None:
        """Refuse a file missing what readers need (see :mod:`wlbench.dataset_schema`), naming the members."""
        from wlbench.dataset_schema import structure_problems

        try:
            problems = structure_problems(self.handle)
        except (OSError, RuntimeError, KeyError, ValueError) as exc:  # h5py's errors for damaged metadata
            problems = [f"unreadable metadata ({type(exc).__name__}: {exc})"]
        if problems:
            self.handle.close()
            shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
            raise WlbenchError(f"{self.path} is an incomplete or damaged wlbench dataset: {shown}",
                               hint="render it again with `wlbench synth`")

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def attr(self, key: str, default: Any = None) -> Any:
        return _attr_value(self.handle.attrs[key]) if key in self.handle.attrs else default

    @property
    def name(self) -> str:
        return str(self.attr("name"))

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.attr("classes")]

    @property
    def content_id(self) -> str:
        return str(self.attr("content_id", ""))

    @property
    def spec_id(self) -> str:
        return str(self.attr("spec_id", ""))

    @property
    def recipe_text(self) -> str:
        return str(self.attr("recipe", ""))

    @property
    def splits(self) -> list[str]:
        return _split_names(self.handle)

    def split(self, name: str) -> Split:
        """Split ``name``. Opening a split checks its truth (:meth:`split_truth_id`) unless the dataset was
        opened with ``check_truth=False`` (``wlbench verify`` and ``info``, which report problems instead)."""
        if name not in self.splits:
            raise WlbenchError(f"{self.path} has no split {name!r}; it has {', '.join(self.splits)}",
                               hint="pass --split with one of those")
        if self.check_truth:
            self.split_truth_id(name)
        return Split(self, name)

    def split_truth_id(self, name: str) -> str:
        """The truth id of split ``name``, recomputed from the stored labels and checked against the id
        stored when the file was written; :class:`WlbenchError` naming ``wlbench verify`` if they differ
        (the labels were edited after rendering) or the labels cannot be read.

        A file written before truth ids were stored has none: its whole content id is checked instead
        (once per open; slower, it reads the features too)."""
        if name in self._truth:
            return self._truth[name]
        hint = f"run `wlbench verify {self.path}` to see what changed, and render the dataset again"
        try:
            computed = compute_split_truth_id(self.handle, name)
        except (KeyError, OSError, RuntimeError, ValueError, TypeError) as exc:  # h5py's errors for damaged files
            raise WlbenchError(f"{self.path}: the labels of split {name!r} cannot be read "
                               f"({type(exc).__name__}: {exc})", hint=hint) from None
        stored = self.handle[name].attrs.get("truth_id")
        if stored is None:
            self._check_legacy_content(hint)
        elif _attr_value(stored) != computed:
            raise WlbenchError(f"{self.path}: the labels of split {name!r} changed after the file was written "
                               f"(stored truth id {str(_attr_value(stored))[:16]}..., recomputed {computed[:16]}...); "
                               "nothing is scored, submitted or compared against them", hint=hint)
        self._truth[name] = computed
        return computed

    def _check_legacy_content(self, hint: str) -> None:
        if self._legacy_content_checked:
            return
        try:
            computed = compute_content_id(self.handle)
        except (KeyError, OSError, RuntimeError, ValueError, TypeError) as exc:
            raise WlbenchError(f"{self.path}: cannot be read ({type(exc).__name__}: {exc})", hint=hint) from None
        if computed != self.content_id:
            raise WlbenchError(f"{self.path} changed after it was written (it predates truth ids, and its content "
                               f"id no longer matches: stored {self.content_id[:16]}..., recomputed "
                               f"{computed[:16]}...)", hint=hint)
        self._legacy_content_checked = True

    @property
    def truth_id(self) -> str:
        """The dataset's truth id over every split's checked truth id (see :meth:`split_truth_id`)."""
        computed = dataset_truth_id({name: self.split_truth_id(name) for name in self.splits})
        stored = self.attr("truth_id")
        if stored is not None and stored != computed:
            raise WlbenchError(f"{self.path}: root attribute truth_id {str(stored)[:16]}... does not match its "
                               f"splits ({computed[:16]}...)",
                               hint=f"run `wlbench verify {self.path}`, and render the dataset again")
        return computed


@contextlib.contextmanager
def open_dataset(path: str | Path, *, check_truth: bool = True) -> Iterator[Dataset]:
    """Open a dataset file for reading; raises :class:`WlbenchError` for a missing or foreign file.
    ``check_truth``: check each split's labels against its stored truth id when it is opened (default)."""
    dataset = Dataset(Path(path), check_truth=check_truth)
    try:
        yield dataset
    finally:
        dataset.close()
