"""Learning-curve figures: the kept epoch marked, a series that repeats another drawn once, the legend off
the data."""

from __future__ import annotations

import json

from wlbench.experiments.figures import plot_mean_curves
from wlbench.methods.curves import chosen_epochs, curves_by_stage, draw_stage, merge_duplicates, plot_learning_curves
from wlbench.plotting import pyplot


def _park_log(path, best: int, seed: int = 0):
    """A park2019-like log: the final head is the selected one, so frame_map repeats final_frame_map."""
    rows = []
    for epoch in range(6):
        fm = 0.3 + 0.05 * epoch - 0.01 * seed
        rows.append({"stage": "phase2", "epoch": epoch, "loss": 1.0 / (1 + epoch), "val_final_frame_map": fm,
                     "val_frame_map": fm, "val_final_clip_map": 0.5 + 0.01 * epoch, "val_clip_map": 0.5 + 0.01 * epoch})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path.parent / "summary.json").write_text(json.dumps(
        {"train": {"stages": [{"stage": "phase2", "best_epoch": best, "selection": "frame_map"}]}}))
    return path


def test_duplicates_are_drawn_once_with_both_names():
    series = curves_by_stage([{"stage": "s", "epoch": 0, "val_a": 0.1, "val_b": 0.1, "val_c": 0.2},
                              {"stage": "s", "epoch": 1, "val_a": 0.3, "val_b": 0.3, "val_c": 0.2}])["s"]
    assert list(merge_duplicates(series)) == ["val_a = b", "val_c"]


def test_kept_epoch_marked_and_legend_below_the_axes(tmp_path):
    log = _park_log(tmp_path / "run" / "log.jsonl", best=3)
    stage = curves_by_stage(json.loads(line) for line in log.read_text().splitlines())["phase2"]
    chosen = chosen_epochs(json.loads((log.parent / "summary.json").read_text())["train"])
    assert chosen == {"phase2": (3.0, "frame_map")}
    plt = pyplot()
    fig, ax = plt.subplots()
    try:
        draw_stage(ax, stage, "park", chosen=chosen["phase2"])
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["training loss", "kept: epoch 3 (best frame_map)", "final_frame_map = frame_map",
                          "final_clip_map = clip_map"]
        assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"] == [3.0]
        fig.canvas.draw()
        legend_box = ax.get_legend().get_window_extent()
        axes_box = ax.get_window_extent()
        assert legend_box.y1 < axes_box.y0  # entirely below the plotting area: no curve under it
    finally:
        plt.close(fig)
    # the files: one run (kept epoch read from its summary), and the mean of two seeds
    assert plot_learning_curves(log, tmp_path / "curves.png", "park").stat().st_size > 1000
    other = _park_log(tmp_path / "run1" / "log.jsonl", best=4, seed=1)
    assert plot_mean_curves([log, other], tmp_path / "mean.png", "park").stat().st_size > 1000


def test_heatmap_labels_are_readable_and_one_column_maps_render(tmp_path):
    from wlbench.experiments.figures import plot_cell_heatmaps, readable_label

    assert readable_label("triplets=[1.0, 4.44]") == "triplets [1, 4.44]"
    assert readable_label("train_segment=1s, lr=0.001, alpha=10.0") == "train_segment 1s · lr 0.001 · alpha 10"
    assert readable_label("supervised") == "supervised" and readable_label("a==b") == "a==b"
    out = plot_cell_heatmaps(tmp_path / "h.png", "m: map", [("d", [[55.2], [60.1]], [["*"], [""]])],
                             ["triplets=[1.0, 4.44]", "supervised"], ["clip"], "map")
    from PIL import Image

    width, height = Image.open(out).size
    assert width < 700 and height < 600  # sized to its one column, no wide empty margin
