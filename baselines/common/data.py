"""ALL data access of the baselines (one module, so switching to the store's label-view reader is one edit).

Arrays are loaded fully in memory (small datasets, CPU, ``num_workers=0``-friendly batching).
``segment``: ``None`` / ``"clip"`` (the whole clip) or a segment view name/duration (``"200ms"``, ``1.0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.labels import segment_name
from wlbench.store import open_dataset

CLIP = "clip"


def normalize_segment(segment: str | float | None) -> str:
    """``None``/``"clip"`` -> ``"clip"``; ``0.2``/``"0.2"``/``"200ms"`` -> ``"200ms"``."""
    if segment is None or str(segment).lower() in (CLIP, "none", ""):
        return CLIP
    try:
        return segment_name(float(segment))
    except (TypeError, ValueError):
        return str(segment)


@dataclass
class SplitData:
    """One split seen through one segment view: features (N, L, F) float32, labels (N, C) float32."""

    clip_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    segment: str
    split: str

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def class_index(self) -> np.ndarray:
        """(N,) the single class of each clip (argmax of the labels; clips without label get -1)."""
        idx = self.y.argmax(axis=1)
        return np.where(self.y.sum(axis=1) > 0, idx, -1)


@dataclass
class DatasetInfo:
    path: str
    name: str
    classes: list[str]
    content_id: str
    splits: list[str]
    segments: list[str]


def dataset_info(path: str | Path) -> DatasetInfo:
    with open_dataset(path) as ds:
        segments: list[str] = []
        for name in ds.splits:
            segments = ds.split(name).segment_names
            break
        return DatasetInfo(str(path), ds.name, ds.classes, ds.content_id, list(ds.splits), segments)


def load_split(path: str | Path, split: str, segment: str | float | None = None) -> SplitData:
    """Features and weak labels of ``split`` through ``segment`` (the training data of a baseline)."""
    seg = normalize_segment(segment)
    with open_dataset(path) as ds:
        sp = ds.split(split)
        if seg == CLIP:
            x, y = sp.features(), sp.weak_labels()
        else:
            view = sp.segment(seg)
            x, y = view.features(), view.weak_labels()
        return SplitData(np.asarray(sp.clip_ids).astype(str), np.ascontiguousarray(x, dtype=np.float32),
                         y.astype(np.float32), seg, split)


def split_labels(path: str | Path, split: str, segment: str | float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(clip ids, weak labels (N, C) uint8) of ``split`` through ``segment``."""
    seg = normalize_segment(segment)
    with open_dataset(path) as ds:
        sp = ds.split(split)
        y = sp.weak_labels() if seg == CLIP else sp.segment(seg).weak_labels()
        return np.asarray(sp.clip_ids).astype(str), y


class Scaler:
    """Per-band standardisation (mean/std over all frames of the training split)."""

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


def training_scaler(path: str | Path, split: str = "train") -> Scaler:
    """The scaler of a run: fitted on all frames of the whole clips of the training split."""
    with open_dataset(path) as ds:
        return Scaler.fit(ds.split(split).features())


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Index batches over ``n`` items (shuffled with ``rng`` when given)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def check_split(info: DatasetInfo, split: str) -> None:
    if split not in info.splits:
        raise WlbenchError(f"{info.path} has no split {split!r}; it has {', '.join(info.splits)}")


def balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of about ``n`` items, ``n // K`` per class (K classes present), drawn with ``seed``."""
    rng = np.random.default_rng([int(seed), 7919])
    classes = np.unique(labels)
    per = max(1, n // max(len(classes), 1))
    keep = [rng.permutation(np.flatnonzero(labels == c))[:per] for c in classes]
    return np.sort(np.concatenate(keep))


def subset(d: SplitData, index: np.ndarray) -> SplitData:
    return SplitData(d.clip_ids[index], d.x[index], d.y[index], d.segment, d.split)
