"""Figures of a grid: per-method heatmaps of the cells (mean and interval per test segment) and each cell's
mean learning curves over seeds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wlbench.methods.curves import curves_by_stage, draw_stage, read_log, summary_chosen
from wlbench.plotting import draw_heatmap, pyplot, save_png


def plot_mean_curves(logs: Sequence[Path], target: Path, title: str) -> Path | None:
    """Learning curves of several seeds of one cell: the mean per epoch, min-max band over the seeds, and the
    epoch each seed kept (dotted; read from each run's ``summary.json``)."""
    per_seed = [curves_by_stage(read_log(p)) for p in logs]
    per_seed = [s for s in per_seed if s]
    if not per_seed:
        return None
    stages = list(dict.fromkeys(st for s in per_seed for st in s))
    kept = [summary_chosen(p) for p in logs]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(stages), figsize=(4.6 * len(stages), 3.6), squeeze=False)
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
        draw_stage(ax, mean, f"{title}: {stage} ({len(per_seed)} seeds)", bands,
                    rug=sorted(c[stage][0] for c in kept if stage in c))
    fig.tight_layout()
    return save_png(fig, target)


def readable_label(text: str) -> str:
    """An axis label as a reader writes it: ``triplets=[1.0, 4.44], lr=0.001`` -> ``triplets [1, 4.44] · lr 0.001``
    (``key=value`` as ``key value``, settings separated by ``·``, whole floats without ``.0``)."""

    parts = re.split(r",\s*(?=[A-Za-z_][\w.-]*=)", str(text))
    out = [re.sub(r"(?<![^\s])([A-Za-z_][\w.-]*)=(?!=)", r"\1 ", p.strip()) for p in parts]
    return re.sub(r"(?<![\w.])(-?\d+)\.0(?![\d])", r"\1", " · ".join(out))


def plot_cell_heatmaps(target: Path, title: str, panels: Sequence[tuple[str, list[list[float]], list[list[str]]]],
                       rows: Sequence[str], cols: Sequence[str], metric: str) -> Path:
    """One heatmap per panel (e.g. per dataset): rows x cols of a metric in %, each cell marked with a string
    written under or after its value (the grid passes ``"\n±half-width"`` and ``"*"``: not learned). ``panels``: (panel title, values in [0, 100] or NaN, marks). Row labels are made
    readable (:func:`readable_label`); the layout is sized to the cells (a one-column heatmap stays narrow,
    its title close above it)."""
    plt = pyplot()
    rows = [readable_label(r) for r in rows]
    label_width = 0.07 * max((len(r) for r in rows), default=0)  # inches the row labels take
    fig, axes = plt.subplots(1, len(panels), squeeze=False, layout="constrained",
                             figsize=(1.15 * len(cols) * len(panels) + 1.6 + label_width, 0.55 * len(rows) + 1.8))
    image = None
    for ax, (panel, grid, marks) in zip(axes[0], panels):
        image = draw_heatmap(ax, grid, rows if ax is axes[0][0] else [""] * len(rows), cols, vmin=0, vmax=100,
                             fmt="{:.1f}", marks=marks)
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("test segment")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label=f"{metric} (%)", shrink=0.9)
    fig.suptitle(f"{title}\n(mean ± 95 % t half-width over seeds; * not learned: does not beat its control)",
                 fontsize=9)
    return save_png(fig, target)
