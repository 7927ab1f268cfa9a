"""All data access of a torch method, through the dataset layer's training API (:mod:`wlbench.dataset.training_data`).

Arrays are loaded fully in memory (small datasets, CPU, ``num_workers=0``-friendly batching). A trainer
asks for one split under one label condition (:func:`load_training`); prediction reads only features
(:class:`FeatureReader`). A trainer never receives the true labels of a split it reads through a view: the
validation split is read through the training view (see ``validation_labels`` in
:mod:`wlbench.training.method`); :func:`true_labels_of` serves the framework's own data design (the
``train_clips`` subset) only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wlbench.dataset.reader import Dataset, opened
from wlbench.dataset.training_data import TrainingData, training_data
from wlbench.errors import WlbenchError
from wlbench.methods.protocol import CLIP
from wlbench.methods.runs import segment_key


@dataclass(frozen=True)
class DatasetInfo:
    path: str
    name: str
    classes: list[str]
    content_id: str
    splits: list[str]


def dataset_info(dataset: Dataset | str | Path) -> DatasetInfo:
    with opened(dataset) as ds:
        return DatasetInfo(str(ds.path), ds.name, ds.classes, ds.content_id, list(ds.splits))


def load_training(dataset: Dataset | str | Path, split: str, *, labels: str = "true", oracle: str | None = None,
                  segment: str | float | None = None, resolution: str | float | None = None,
                  frames: bool = False, features: bool = True) -> TrainingData:
    """One split under one label condition (see :func:`wlbench.dataset.training_data.training_data`)."""
    seg = segment_key(segment)
    with opened(dataset) as ds:
        return training_data(ds.split(split), labels=labels, oracle=None if oracle in (None, "none") else oracle,
                                             segment=None if seg == CLIP else seg, resolution=resolution,
                                             frames=frames, features=features)


def true_labels_of(dataset: Dataset | str | Path, split: str, clip_ids: np.ndarray) -> np.ndarray:
    """(N, C) uint8 true clip labels of ``clip_ids`` (in that order) of ``split`` (unlabeled clips: zeros).
    For the framework's data design only (the class-balanced ``train_clips`` subset): a method never
    receives them."""
    with opened(dataset) as ds:
        truth = training_data(ds.split(split), labels="true", features=False)
    where = {cid: i for i, cid in enumerate(np.asarray(truth.clip_ids).astype(str))}
    rows = np.array([where[c] for c in np.asarray(clip_ids).astype(str)], dtype=np.int64)
    return truth.labels[rows]


def view_names(dataset: Dataset | str | Path, split: str) -> list[str]:
    """The missing-label views ``split`` holds."""
    with opened(dataset) as ds:
        return list(ds.split(split).view_names)


class FeatureReader:
    """Features of a dataset for prediction: each split is read once, each segment view windowed from it."""

    def __init__(self, dataset: Dataset | str | Path) -> None:
        self.dataset = dataset  # the run's open Dataset (a path: opened per request)
        self._split: tuple[str, np.ndarray, np.ndarray] | None = None

    def features(self, split: str, segment: str) -> tuple[np.ndarray, np.ndarray]:
        """(clip ids (N,), features (N, L, F) float32) of ``split`` through ``segment`` (``"clip"``: whole)."""
        with opened(self.dataset) as ds:
            sp = ds.split(split)
            if self._split is None or self._split[0] != split:
                self._split = (split, np.asarray(sp.clip_ids).astype(str), sp.features())
            _, ids, feats = self._split
            if segment_key(segment) == CLIP:
                return ids, np.ascontiguousarray(feats, dtype=np.float32)
            window = sp.segment(segment_key(segment)).frame_index()
        return ids, np.ascontiguousarray(np.take_along_axis(feats, window[:, :, None], axis=1), dtype=np.float32)


class Scaler:
    """Per-band standardisation (mean/std over all frames of the training clips)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaler:
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        std = flat.std(axis=0)
        return cls(flat.mean(axis=0), np.where(std > 1e-8, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        import torch

        return {"mean": torch.from_numpy(self.mean.copy()), "std": torch.from_numpy(self.std.copy())}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(np.asarray(d["mean"]), np.asarray(d["std"]))


def training_scaler(dataset: Dataset | str | Path, split: str) -> Scaler:
    """The scaler of a run: fitted on all frames of the whole clips of the training split (audio only: no
    label is read)."""
    with opened(dataset) as ds:
        return Scaler.fit(ds.split(split).features())


def check_split(info: DatasetInfo, split: str) -> None:
    if split not in info.splits:
        raise WlbenchError(f"{info.path} has no split {split!r}; it has {', '.join(info.splits)}")
