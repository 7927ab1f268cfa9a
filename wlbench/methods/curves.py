"""Figures of runs and experiments: learning curves and cell heatmaps (shared helpers in wlbench.plotting).

Learning curves mark the epoch whose weights were kept (``best_epoch`` of each stage in the run's training
summary, with the metric that chose it), draw a series that repeats another point for point once (labelled
``a = b``), and keep the legend below the axes, off the data."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wlbench.plotting import pyplot, save_png


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


Chosen = dict[str, tuple[float, str]]  # stage -> (epoch whose weights were kept, the metric that chose it)


def chosen_epochs(train_summary: dict[str, Any] | None) -> Chosen:
    """``{stage: (best_epoch, selection)}`` from a run's training summary (``train.stages``); stages without a
    ``best_epoch`` are left out."""
    out: Chosen = {}
    for st in (train_summary or {}).get("stages") or []:
        if isinstance(st, dict) and isinstance(st.get("best_epoch"), (int, float)) and st["best_epoch"] >= 0:
            out[str(st.get("stage", "train"))] = (float(st["best_epoch"]), str(st.get("selection") or ""))
    return out


def summary_chosen(log_path: Path) -> Chosen:
    """The chosen epochs of the run whose ``log.jsonl`` is ``log_path`` (its ``summary.json``), if finished."""
    summary = Path(log_path).parent / "summary.json"
    try:
        return chosen_epochs(json.loads(summary.read_text(encoding="utf-8")).get("train"))
    except (OSError, ValueError, AttributeError):
        return {}


def merge_duplicates(series: dict[str, list[tuple[float, float]]]) -> dict[str, list[tuple[float, float]]]:
    """Series equal point for point drawn once, named ``first = second`` (e.g. park2019's ``frame_map`` and
    ``final_frame_map`` when the final head is the one selected)."""
    out: dict[str, list[tuple[float, float]]] = {}
    names: dict[str, str] = {}
    for name, points in series.items():
        twin = next((k for k, v in out.items() if v == points and k.startswith("val_") == name.startswith("val_")),
                    None)
        if twin is None:
            out[name] = points
            names[name] = name
        else:
            names[twin] = f"{names[twin]} = {name[4:] if name.startswith('val_') else name}"
    return {names[k]: v for k, v in out.items()}


def draw_stage(ax, series: dict[str, list[tuple[float, float]]], title: str, bands: dict | None = None,
                chosen: tuple[float, str] | None = None, rug: Sequence[float] = ()) -> None:
    twin = ax.twinx()
    if "loss" in series:
        e, v = zip(*series["loss"])
        ax.plot(e, v, color="#888", lw=1.2, label="training loss")
    colors = ["#3b6ea5", "#e8a33d", "#5a9e5a", "#b04a4a", "#7d5ba6"]
    drawn = merge_duplicates({k: v for k, v in series.items() if k.startswith("val_")})
    for i, (name, points) in enumerate(drawn.items()):
        e, v = zip(*points)
        twin.plot(e, v, color=colors[i % len(colors)], lw=1.5, label=name[4:])
        first = name.split(" = ")[0]
        if bands and first in bands:
            lo, hi = bands[first]
            twin.fill_between(e, lo, hi, color=colors[i % len(colors)], alpha=0.2, lw=0)
    if chosen is not None:
        epoch, selection = chosen
        ax.axvline(epoch, color="#2e8b57", ls="--", lw=1.2,
                   label=f"kept: epoch {epoch:g}" + (f" (best {selection})" if selection else ""))
    for k, epoch in enumerate(rug):  # the epoch each seed kept
        ax.axvline(epoch, color="#2e8b57", ls=":", lw=1.0, alpha=0.8, label="kept epoch of a seed" if k == 0 else None)
    ax.set_xlabel("epoch (0: before training)")
    ax.set_ylabel("training loss")
    twin.set_ylabel("validation")
    twin.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    if handles:  # below the axes: never over the curves
        ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                  frameon=False)


def plot_learning_curves(log_path: Path, target: Path, title: str = "", chosen: Chosen | None = None) -> Path | None:
    """One panel per stage of a run: training loss and validation metrics per epoch, the kept epoch of each
    stage marked (``chosen``, :func:`chosen_epochs`; default: read from the run's ``summary.json``). None
    without rows."""
    stages = curves_by_stage(read_log(log_path))
    if not stages:
        return None
    chosen = summary_chosen(log_path) if chosen is None else chosen
    plt = pyplot()
    fig, axes = plt.subplots(1, len(stages), figsize=(4.6 * len(stages), 3.6), squeeze=False)
    for ax, (stage, series) in zip(axes[0], stages.items()):
        draw_stage(ax, series, f"{title}: {stage}" if title else stage, chosen=chosen.get(stage))
    fig.tight_layout()
    return save_png(fig, target)
