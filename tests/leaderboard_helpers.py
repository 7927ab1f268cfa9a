"""Predictions made from the tiny dataset's true labels (with noise) for the leaderboard tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_predictions(dataset: Path, out: Path, noise: float, seed: int, split: str = "eval",
                      header: dict[str, str] | None = None) -> Path:
    from wlbench.dataset.reader import open_dataset

    with open_dataset(dataset) as ds:
        sp = ds.split(split)
        labels = sp.weak_labels().astype(float)
        ids = [str(c) for c in sp.clip_ids]
        classes = list(ds.classes)
    rng = np.random.default_rng(seed)
    scores = np.clip(0.25 + 0.5 * labels + rng.normal(0, noise, labels.shape), 0, 1)
    lines = [f"# {k}: {v}" for k, v in (header or {}).items()]
    lines.append(",".join(["filename", *classes]))
    lines += [",".join([cid, *(f"{v:.6f}" for v in row)]) for cid, row in zip(ids, scores)]
    out.write_text("\n".join(lines) + "\n")
    return out
