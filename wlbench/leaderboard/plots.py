"""Figures of the rendered board (matplotlib, Agg), returned as base64 PNG to embed in the page."""

from __future__ import annotations

import base64
import io
import math
from typing import Any

from wlbench.leaderboard.entries import PER_CLASS_METRIC, lower_is_better
from wlbench.plotting import draw_heatmap

TOP_COLOUR = "#2e8b57"


def _plt():
    from wlbench.plotting import pyplot

    return pyplot()


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _label(entry: dict[str, Any]) -> str:
    m = entry["method"]
    return m["name"] + (f" {m['version']}" if m.get("version") else "")


def overview(table) -> str | None:
    """Horizontal bars of the ranking metric with interval whiskers, best on top."""
    rows = [r for r in table.rows if r.value is not None]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.0))
    ys = list(range(len(rows)))[::-1]
    vals = [r.value for r in rows]
    # a percentile interval need not contain the point estimate (e.g. F1 near 0): draw the part that does
    lo = [max(0.0, r.value - r.ci_low) if r.ci_low is not None else 0 for r in rows]
    hi = [max(0.0, r.ci_high - r.value) if r.ci_high is not None else 0 for r in rows]
    # green: the top tie group (not distinguishable from the best); grey: controls and upper bounds
    colors = ["#9aa3ad" if r.kind else TOP_COLOUR if r.top else "#3b6ea5" for r in rows]
    ax.barh(ys, vals, xerr=[lo, hi], color=colors, capsize=3, ecolor="#333")
    ax.set_yticks(ys, [f"{r.rank}{'=' if r.tied else ''}  {_label(r.entry)}" + (f" ({r.kind})" if r.kind else "")
                       for r in rows])
    ax.set_xlabel(f"{table.metric} ({'lower' if lower_is_better(table.metric) else 'higher'} is better)")
    ax.set_xlim(0, max(1.0, max((r.ci_high or r.value) for r in rows) * 1.05))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("green: the top group (tied with the best within intervals); grey: controls", fontsize=8,
                 loc="right")
    return _png(fig)


def per_class(entry: dict[str, Any]) -> str | None:
    """Bars of the per-class metric of the task (mean over runs, std whiskers when several)."""
    metric = PER_CLASS_METRIC.get(entry["task"])
    pc = entry["summary"]["per_class"]
    names = [c for c in pc if pc[c].get(metric) is not None]
    if not metric or not names:
        return None
    plt = _plt()
    n = len(names)
    fig, ax = plt.subplots(figsize=(min(14, max(4.5, 0.35 * n + 1.5)), 2.8))
    vals = [pc[c][metric] for c in names]
    err = [pc[c].get(f"{metric}_std") or 0.0 for c in names]
    ax.bar(range(n), vals, yerr=err if any(err) else None, color="#3b6ea5", capsize=2)
    ax.set_xticks(range(n), names, rotation=60 if n > 6 else 0, ha="right" if n > 6 else "center", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"per-class {metric}")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def segment_heatmaps(rows, metric: str) -> list[tuple[str, str]]:
    """For the segment experiments: rows (of the tables of every test condition of one dataset and task)
    whose config has numeric ``train_segment`` and ``test_segment`` give, per method name, a train-segment x
    test-segment heatmap of ``metric``."""
    by_method: dict[str, dict[tuple[float, float], float]] = {}
    for r in rows:
        cfg = r.entry["method"].get("config") or {}
        try:
            tr, te = float(cfg["train_segment"]), float(cfg["test_segment"])
        except (KeyError, TypeError, ValueError):
            continue
        if r.value is not None and math.isfinite(r.value):
            by_method.setdefault(r.entry["method"]["name"], {})[(tr, te)] = r.value
    out = []
    plt = _plt()
    for name, cells in sorted(by_method.items()):
        if len({k[0] for k in cells}) < 2 or len({k[1] for k in cells}) < 2:
            continue
        trs = sorted({k[0] for k in cells})
        tes = sorted({k[1] for k in cells})
        grid = [[cells.get((a, b), float("nan")) for b in tes] for a in trs]
        fig, ax = plt.subplots(figsize=(1.0 * len(tes) + 2.5, 0.8 * len(trs) + 1.5))
        im = draw_heatmap(ax, grid, [f"{v:g}" for v in trs], [f"{v:g}" for v in tes], origin="lower")
        ax.set_xlabel("test segment (s)")
        ax.set_ylabel("train segment (s)")
        ax.set_title(f"{name}: {metric}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
        out.append((name, _png(fig)))
    return out
