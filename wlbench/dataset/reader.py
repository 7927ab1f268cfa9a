"""The dataset reader: :func:`open_dataset` gives a :class:`Dataset` whose splits (:class:`Split`) read arrays on
demand, with their segment, label and resolution views.

Opening checks the structure (:mod:`wlbench.dataset.schema`); opening a split recomputes its truth id and
refuses a file whose labels changed after it was written (:mod:`wlbench.dataset.ids`), so every command
that scores, submits or compares is guarded by that one check. Open a file once per command and pass the
:class:`Dataset` down: every layer below reads through it.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from wlbench.dataset.ids import compute_content_id, compute_split_truth_id, dataset_truth_id
from wlbench.dataset.labels import segment_name, window_frames
from wlbench.dataset.layout import EVENT_COLUMNS, FORMAT, FORMAT_VERSION, attr_value, split_names
from wlbench.dataset.schema import structure_problems
from wlbench.errors import WlbenchError
from wlbench.paths import require_input_file
from wlbench.recipes import ROLE_NAMES

FEATURE_CACHE_BYTES = 2 << 30
"""Features a process keeps in memory (the most recently read splits, oldest dropped first): a grid worker
that trains run after run on one dataset, and a run that reads a split for its scaler, its training data and
its predictions, read each split's features from disk once."""
_feature_cache: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()



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
        self.rule: dict[str, Any] = json.loads(attr_value(group.attrs["rule"]))
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
        self.part = str(attr_value(self.group.attrs.get("part", "")))

    def __len__(self) -> int:
        return int(self.clip_ids.shape[0])

    @property
    def truth_id(self) -> str:
        """The split's truth id, recomputed and checked (:meth:`Dataset.split_truth_id`)."""
        return self.dataset.split_truth_id(self.name)

    @property
    def feature_params(self) -> dict[str, Any]:
        return {k: attr_value(v) for k, v in self._features_dataset().attrs.items()}

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
            return tuple(str(n) for n in attr_value(self.group["roles"].attrs["names"]))
        return ROLE_NAMES

    def roles(self) -> np.ndarray:
        """(N,) uint8 role codes (see :attr:`role_names`); every clip is "strong" (code 0) without roles."""
        if "roles" in self.group:
            return self.group["roles"][:]
        return np.zeros(len(self), dtype=np.uint8)

    @property
    def domain_names(self) -> tuple[str, ...]:
        if "domain" in self.group:
            return tuple(str(n) for n in attr_value(self.group["domain"].attrs["names"]))
        return ("default",)

    def domains(self) -> np.ndarray:
        """(N,) int16 domain ids (see :attr:`domain_names`); all 0 ("default") without domains."""
        if "domain" in self.group:
            return self.group["domain"][:]
        return np.zeros(len(self), dtype=np.int16)

    def label_audit(self, view: str = "true") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(true labels, observed labels of ``view``, dropped positives), each (N, C) uint8, ignoring roles.

        For analysis and audits only: a trainer reads its labels through :func:`wlbench.dataset.training_data.training_data`."""
        truth = self.weak_labels()
        if view == "true":
            return truth, truth.copy(), np.zeros_like(truth)
        lv = self.label_view(view)
        return truth, lv.labels(), lv.dropped()

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
        self._splits: dict[str, Split] = {}
        self._memo: dict[Any, Any] = {}
        self._legacy_content_checked = False
        try:
            self.handle = h5py.File(self.path, "r")
        except OSError as exc:
            raise WlbenchError(f"{self.path} is not a readable HDF5 file ({exc})",
                               hint="render it again with `wlbench synth`") from exc
        try:
            format_name = attr_value(self.handle.attrs.get("format"))
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
        """Refuse a file missing what readers need (see :mod:`wlbench.dataset.schema`), naming the members."""
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

    def __fspath__(self) -> str:
        """The file's path: an open dataset reads as its path in messages and wherever a path is asked for."""
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def attr(self, key: str, default: Any = None) -> Any:
        return attr_value(self.handle.attrs[key]) if key in self.handle.attrs else default

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
        return split_names(self.handle)

    def split(self, name: str) -> Split:
        """Split ``name``. Opening a split checks its truth (:meth:`split_truth_id`) unless the dataset was
        opened with ``check_truth=False`` (``wlbench verify`` and ``info``, which report problems instead)."""
        if name not in self.splits:
            raise WlbenchError(f"{self.path} has no split {name!r}; it has {', '.join(self.splits)}",
                               hint="pass --split with one of those")
        if self.check_truth:
            self.split_truth_id(name)
        if name not in self._splits:
            self._splits[name] = Split(self, name)
        return self._splits[name]

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per open dataset and ``key`` (what several readers of one command share,
        e.g. a split's truth for scoring). The value must be treated as read-only."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

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
        elif attr_value(stored) != computed:
            raise WlbenchError(f"{self.path}: the labels of split {name!r} changed after the file was written "
                               f"(stored truth id {str(attr_value(stored))[:16]}..., recomputed {computed[:16]}...); "
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


@contextlib.contextmanager
def opened(dataset: Dataset | str | Path, *, check_truth: bool = True) -> Iterator[Dataset]:
    """An open dataset for a function that takes either: ``dataset`` itself when it is an open :class:`Dataset`
    (left open: its owner closes it), else the file at that path, opened for the block (:func:`open_dataset`).
    Commands open their dataset once and pass the :class:`Dataset` down, so nothing below reopens the file.
    ``check_truth`` applies to a path only: an open dataset keeps the setting its owner opened it with (a
    caller that must not raise on edited labels, like ``verify_dataset``, switches it off for its block)."""
    if isinstance(dataset, Dataset):
        yield dataset
        return
    with open_dataset(dataset, check_truth=check_truth) as ds:
        yield ds
