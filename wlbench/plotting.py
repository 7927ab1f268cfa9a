"""Figure helpers shared by the leaderboard page and the experiment reports (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def draw_heatmap(ax, grid: Sequence[Sequence[float]], rows: Sequence[str], cols: Sequence[str], *,
                 vmin: float = 0.0, vmax: float = 1.0, fmt: str = "{:.2f}", marks: Sequence[Sequence[str]] | None = None,
                 origin: str = "upper"):
    """Draw ``grid`` (rows x cols, NaN = empty) on ``ax`` with each finite value written in its cell (and an
    optional mark string appended, e.g. ``"*"`` for "not learned"). Returns the image (for a colorbar)."""
    image = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax, origin=origin, aspect="auto")
    ax.set_xticks(range(len(cols)), list(cols))
    ax.set_yticks(range(len(rows)), list(rows))
    middle = (vmin + vmax) / 2
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if value is not None and math.isfinite(value):
                text = fmt.format(value) + (marks[i][j] if marks else "")
                ax.text(j, i, text, ha="center", va="center", color="w" if value < middle else "k", fontsize=8)
    return image


def save_png(fig, target: Path) -> Path:
    """Write ``fig`` to ``target`` atomically (PNG, no timestamp metadata) and close it."""
    from wlbench.atomic import atomic_path

    plt = pyplot()
    with atomic_path(Path(target), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return Path(target)
