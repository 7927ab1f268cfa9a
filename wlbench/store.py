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

The *content id* is a SHA-256 over every dataset (path, dtype, shape, bytes, in sorted path order) and the
content attributes (classes, feature parameters, segment durations, sample rate, clip duration).
Provenance (creation time, versions, recipe text, soundbank path) is stored beside it, outside the hash.
"""

from __future__ import annotations

import contextlib
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
from wlbench.atomic import atomic_path
from wlbench.errors import WlbenchError
from wlbench.hashing import canonical_json, hash_json
from wlbench.labels import segment_name, window_frames
from wlbench.recipes import ROLE_NAMES

FORMAT = "wlbench-dataset"
FORMAT_VERSION = 1
STR = h5py.string_dtype("utf-8")
# Root attributes that describe the content (hashed); everything else at the root is provenance.
CONTENT_ATTRS = ("format", "format_version", "classes", "sample_rate", "clip_duration", "segment_durations")
EVENT_COLUMNS = ("clip_index", "label_index", "onset", "offset", "snr", "source_file", "source_time", "pitch_shift")
_BLOCK_BYTES = 64 << 20


def spec_id(recipe_canonical: dict[str, Any], soundbank_fingerprint: str) -> str:
    """What was asked: the canonical recipe, the soundbank fingerprint and the format version."""
    return hash_json({"format_version": FORMAT_VERSION, "recipe": recipe_canonical,
                      "soundbank": soundbank_fingerprint})


def _attr_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [_attr_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_attr_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def compute_content_id(handle: h5py.File) -> str:
    """Content id of an open store (see module docstring). Reads every dataset once, in row blocks."""
    import hashlib

    digest = hashlib.sha256()
    root_attrs = {key: _attr_value(handle.attrs[key]) for key in CONTENT_ATTRS if key in handle.attrs}
    digest.update(canonical_json(root_attrs).encode("ascii"))
    paths: list[str] = []
    handle.visititems(lambda name, obj: paths.append(name) if isinstance(obj, h5py.Dataset) else None)
    for name in sorted(paths):
        dataset = handle[name]
        attrs = {key: _attr_value(dataset.attrs[key]) for key in sorted(dataset.attrs)}
        kind = "str" if h5py.check_string_dtype(dataset.dtype) else np.dtype(dataset.dtype).str
        header = {"path": name, "dtype": kind, "shape": list(dataset.shape), "attrs": attrs}
        digest.update(canonical_json(header).encode("ascii"))
        if dataset.shape == () or dataset.size == 0:
            if dataset.shape == ():
                digest.update(repr(_attr_value(dataset[()])).encode("utf-8"))
            continue
        if kind == "str":
            for first in range(0, dataset.shape[0], 4096):
                for item in dataset.asstr()[first:first + 4096]:
                    encoded = item.encode("utf-8")
                    digest.update(len(encoded).to_bytes(8, "little") + encoded)
            continue
        row_bytes = max(1, int(np.prod(dataset.shape[1:], dtype=np.int64)) * dataset.dtype.itemsize)
        step = max(1, _BLOCK_BYTES // row_bytes)
        little = np.dtype(kind).newbyteorder("<")
        for first in range(0, dataset.shape[0], step):
            block = np.ascontiguousarray(dataset[first:first + step])
            digest.update(block.astype(little, copy=False).tobytes())
    return digest.hexdigest()


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


class _PendingRows:
    """Per-clip rows of a split's datasets, written in blocks of consecutive clips (h5py's per-call cost is
    far larger than the copy: one call per block instead of one per clip and dataset)."""

    BLOCK = 64

    def __init__(self, group: h5py.Group, names: tuple[str, ...]) -> None:
        self.datasets = {name: group[name] for name in names}
        self.first = 0
        self.rows: dict[str, list] = {name: [] for name in names}

    def add(self, index: int, row: dict[str, Any]) -> None:
        if index != self.first + len(self.rows["clip_ids"]):
            raise ValueError(f"clip {index} arrived out of order")  # a programming error, not user input
        for name, value in row.items():
            self.rows[name].append(value)
        if len(self.rows["clip_ids"]) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        count = len(self.rows["clip_ids"])
        if count:
            for name, values in self.rows.items():
                block = np.array(values, dtype=object) if name in ("clip_ids", "jams") else np.stack(values)
                self.datasets[name][self.first:self.first + count] = block
                values.clear()
        self.first += count


class DatasetWriter:
    """Writes one dataset file atomically. Use as a context manager; call :meth:`commit` at the end.

    Without :meth:`commit`, or on any exception, nothing appears under ``path`` and an existing file there
    is left untouched.
    """

    def __init__(self, path: Path, *, name: str, classes: tuple[str, ...], sample_rate: int, clip_duration: float,
                 segment_durations: tuple[float, ...], feature_attrs: dict[str, Any] | None, feature_dtype: str,
                 store_features: bool, store_audio: bool, provenance: dict[str, Any]) -> None:
        self.path = Path(path)
        self._root_attrs = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "classes": list(classes),
            "sample_rate": sample_rate, "clip_duration": clip_duration,
            "segment_durations": list(segment_durations),
        }
        self._provenance = provenance
        self._feature_attrs = feature_attrs or {}
        self._feature_dtype = feature_dtype
        self._store_features = store_features
        self._store_audio = store_audio
        self._classes = classes
        self._events: dict[str, list[tuple]] = {}
        self._pending: dict[str, _PendingRows] = {}
        self._class_index = {c: i for i, c in enumerate(classes)}
        self._stack: contextlib.ExitStack | None = None
        self._handle: h5py.File | None = None
        self.content_id: str | None = None

    def __enter__(self) -> DatasetWriter:
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path, suffix=".h5.partial"))
        self._handle = h5py.File(tmp, "w")
        self._stack.callback(self._handle.close)
        for key, value in self._root_attrs.items():
            self._handle.attrs[key] = value
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

    def begin_split(self, shape: SplitShape) -> None:
        group = self.handle.create_group(shape.name)
        group.attrs["part"] = shape.part
        group.attrs["n_clips"] = shape.n_clips
        group.create_dataset("clip_ids", shape=(shape.n_clips,), dtype=STR)
        group.create_dataset("jams", shape=(shape.n_clips,), dtype=STR, compression="gzip", compression_opts=4,
                             chunks=(min(shape.n_clips, 256),))
        if self._store_features:
            features = group.create_dataset(
                "features", shape=(shape.n_clips, shape.n_frames, shape.n_features), dtype=self._feature_dtype,
                chunks=(1, shape.n_frames, shape.n_features))
            for key, value in self._feature_attrs.items():
                features.attrs[key] = value
        if self._store_audio:
            group.create_dataset("audio", shape=(shape.n_clips, shape.n_samples), dtype="float32",
                                 chunks=(1, shape.n_samples), compression="gzip", compression_opts=1, shuffle=True)
        self._events[shape.name] = []
        self._pending[shape.name] = _PendingRows(group, ("clip_ids", "jams") + ("features",) * self._store_features
                                                 + ("audio",) * self._store_audio)

    def write_clip(self, split: str, index: int, clip_id: str, jams_text: str, events: list[tuple],
                   features: np.ndarray | None, audio: np.ndarray | None) -> None:
        """Store clip ``index`` of ``split`` (clips arrive in index order; rows are written in blocks).
        ``events`` rows: (label, onset, offset, snr, source_file, source_time, pitch_shift), label a class."""
        row = {"clip_ids": clip_id, "jams": jams_text}
        if self._store_features:
            row["features"] = features
        if self._store_audio:
            row["audio"] = audio
        self._pending[split].add(index, row)
        for label, onset, offset, snr, source_file, source_time, pitch in events:
            if label not in self._class_index:
                raise WlbenchError(f"clip {clip_id}: event label {label!r} is not a dataset class")
            self._events[split].append((index, self._class_index[label], onset, offset, snr, source_file,
                                        source_time, pitch))

    def pending_events(self, split: str) -> list[tuple]:
        """Event rows written so far for ``split`` (before :meth:`end_split`): (clip_index, label_index, onset,
        offset, snr, source_file, source_time, pitch_shift)."""
        return list(self._events[split])

    def end_split(self, split: str, labels: dict[str, np.ndarray],
                  segments: dict[float, tuple[np.ndarray, np.ndarray]]) -> None:
        """Write the split's event table, label arrays (name -> array) and segment views
        (duration -> (start, weak_labels))."""
        group = self.handle[split]
        self._pending.pop(split).flush()
        rows = self._events.pop(split)
        columns = list(zip(*rows)) if rows else [[] for _ in EVENT_COLUMNS]
        events = group.create_group("events")
        dtypes = ("int32", "int16", "float64", "float64", "float64", STR, "float64", "float64")
        for name, values, dtype in zip(EVENT_COLUMNS, columns, dtypes):
            events.create_dataset(name, data=np.asarray(values, dtype=object if dtype is STR else dtype),
                                  dtype=dtype)
        for name, array in labels.items():
            chunks = (min(array.shape[0], 64),) + array.shape[1:] if array.ndim == 3 else None
            group.create_dataset(name, data=array, compression="gzip", compression_opts=4, chunks=chunks)
        segment_group = group.create_group("segments")
        for duration, (start, weak) in segments.items():
            seg = segment_group.create_group(segment_name(duration))
            seg.attrs["duration"] = duration
            seg.create_dataset("start", data=np.asarray(start, dtype=np.float64))
            seg.create_dataset("weak_labels", data=weak)

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
                labels = view.create_dataset("labels", data=observed.astype(np.uint8), compression="gzip",
                                             compression_opts=4)
                labels.attrs["rule"] = view.attrs["rule"]  # dataset attributes are part of the content id
                view.create_dataset("dropped", data=dropped.astype(np.uint8), compression="gzip", compression_opts=4)
        if resolution:
            res_group = group.create_group("resolution")
            for chunk, (labels, min_overlap) in resolution.items():
                res = res_group.create_group(segment_name(chunk))
                res.attrs["chunk"] = chunk
                res.attrs["min_overlap"] = min_overlap
                stored = res.create_dataset("labels", data=labels.astype(np.uint8), compression="gzip",
                                            compression_opts=4)
                stored.attrs["chunk"] = chunk
                stored.attrs["min_overlap"] = min_overlap
        if roles is not None:
            group.create_dataset("roles", data=roles.astype(np.uint8)).attrs["names"] = list(role_names)
        if domains is not None:
            group.create_dataset("domain", data=domains.astype(np.int16)).attrs["names"] = list(domain_names)
        if requested_events is not None:
            group.create_dataset("requested_events", data=requested_events.astype(np.int16))

    def commit(self) -> str:
        """Compute the content id, write the id and provenance attributes; the file appears on exit."""
        content = compute_content_id(self.handle)
        attrs = dict(self._provenance)
        attrs["content_id"] = content
        attrs["created_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        attrs["wlbench_version"] = __version__
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
        """(N, T, F) log-mel features."""
        return self._features_dataset()[:]

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

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise WlbenchError(f"dataset file {self.path} not found", hint="render one with `wlbench synth`")
        try:
            self.handle = h5py.File(self.path, "r")
        except OSError as exc:
            raise WlbenchError(f"{self.path} is not a readable HDF5 file ({exc})",
                               hint="render it again with `wlbench synth`") from exc
        if _attr_value(self.handle.attrs.get("format")) != FORMAT:
            self.handle.close()
            raise WlbenchError(f"{self.path} is not a wlbench dataset (no format={FORMAT!r} attribute)")
        version = int(self.handle.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            self.handle.close()
            raise WlbenchError(f"{self.path} has format version {version}; this wlbench reads version "
                               f"{FORMAT_VERSION}", hint="re-render it with this wlbench")

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
        return [name for name in self.handle if isinstance(self.handle[name], h5py.Group)]

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise WlbenchError(f"{self.path} has no split {name!r}; it has {', '.join(self.splits)}",
                               hint="pass --split with one of those")
        return Split(self, name)


@contextlib.contextmanager
def open_dataset(path: str | Path) -> Iterator[Dataset]:
    """Open a dataset file for reading; raises :class:`WlbenchError` for a missing or foreign file."""
    dataset = Dataset(Path(path))
    try:
        yield dataset
    finally:
        dataset.close()
