"""Figures of runs and experiments: learning curves and cell heatmaps (shared helpers in wlbench.plotting)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.plotting import draw_heatmap, pyplot, save_png


def read_log(path: Path) -> list[dict[str, Any]]:
    """The learning-curve rows of a run's ``log.jsonl`` (an absent file gives no rows)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            rows.append(json.loads(line))
    return rows


def curves_by_stage(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``{stage: {series: [(epoch, value), ...]}}``: ``loss`` and every ``val_*`` metric, finite values only."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in rows:
        stage = out.setdefault(str(row.get("stage", "train")), {})
        for key, value in row.items():
            if (key == "loss" or key.startswith("val_")) and isinstance(value, (int, float)) \
                    and not isinstance(value, bool) and math.isfinite(value):
                stage.setdefault(key, []).append((float(row.get("epoch", 0)), float(value)))
    return out


def _draw_stage(ax, series: dict[str, list[tuple[float, float]]], title: str, bands: dict | None = None) -> None:
    twin = ax.twinx()
    if "loss" in series:
        e, v = zip(*series["loss"])
        ax.plot(e, v, color="#888", lw=1.2, label="training loss")
    colors = ["#3b6ea5", "#e8a33d", "#5a9e5a", "#b04a4a", "#7d5ba6"]
    for i, name in enumerate(k for k in series if k.startswith("val_")):
        e, v = zip(*series[name])
        twin.plot(e, v, color=colors[i % len(colors)], lw=1.5, label=name[4:])
        if bands and name in bands:
            lo, hi = bands[name]
            twin.fill_between(e, lo, hi, color=colors[i % len(colors)], alpha=0.2, lw=0)
    ax.set_xlabel("epoch (0: before training)")
    ax.set_ylabel("training loss")
    twin.set_ylabel("validation")
    twin.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    if handles:
        twin.legend(handles, labels, fontsize=7, loc="lower right")


def plot_learning_curves(log_path: Path, target: Path, title: str = "") -> Path | None:
    """One panel per stage of a run: training loss and validation metrics per epoch. None without rows."""
    stages = curves_by_stage(read_log(log_path))
    if not stages:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(stages), figsize=(4.6 * len(stages), 3.2), squeeze=False)
    for ax, (stage, series) in zip(axes[0], stages.items()):
        _draw_stage(ax, series, f"{title}: {stage}" if title else stage)
    fig.tight_layout()
    return save_png(fig, target)


def plot_mean_curves(logs: Sequence[Path], target: Path, title: str) -> Path | None:
    """Learning curves of several seeds of one cell: the mean per epoch, min-max band over the seeds."""
    per_seed = [curves_by_stage(read_log(p)) for p in logs]
    per_seed = [s for s in per_seed if s]
    if not per_seed:
        return None
    stages = list(dict.fromkeys(st for s in per_seed for st in s))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(stages), figsize=(4.6 * len(stages), 3.2), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        names = list(dict.fromkeys(n for s in per_seed for n in s.get(stage, {})))
        mean, bands = {}, {}
        for name in names:
            by_epoch: dict[float, list[float]] = {}
            for s in per_seed:
                for epoch, value in s.get(stage, {}).get(name, []):
                    by_epoch.setdefault(epoch, []).append(value)
            epochs = sorted(by_epoch)
            mean[name] = [(e, float(np.mean(by_epoch[e]))) for e in epochs]
            bands[name] = ([min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs])
        _draw_stage(ax, mean, f"{title}: {stage} ({len(per_seed)} seeds)", bands)
    fig.tight_layout()
    return save_png(fig, target)


def plot_cell_heatmaps(target: Path, title: str, panels: Sequence[tuple[str, list[list[float]], list[list[str]]]],
                       rows: Sequence[str], cols: Sequence[str], metric: str) -> Path:
    """One heatmap per panel (e.g. per dataset): rows x cols of a metric in %, each cell marked with a string
    (``"*"``: not learned). ``panels``: (panel title, values in [0, 100] or NaN, marks)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(1.15 * len(cols) * len(panels) + 2.2, 0.55 * len(rows) + 1.8),
                             squeeze=False)
    image = None
    for ax, (panel, grid, marks) in zip(axes[0], panels):
        image = draw_heatmap(ax, grid, rows if ax is axes[0][0] else [""] * len(rows), cols, vmin=0, vmax=100,
                             fmt="{:.1f}", marks=marks)
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("test segment")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label=f"{metric} (%)")
    fig.suptitle(f"{title}   (* not learned: does not beat its control)", fontsize=9, y=1.06)
    return save_png(fig, target)
