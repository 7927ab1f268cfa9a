"""``wlbench experiment``: a micro grid on a tiny dataset runs end to end, writes the table, heatmaps and
every run's reports, and resumes (finished runs are skipped)."""

from __future__ import annotations

import json

import torch
from click.testing import CliRunner

from test_baselines import seg_dataset, tiny_config  # noqa: F401 - fixture reused

torch.set_num_threads(1)

GRID = """
[experiment]
name = "micro"
methods = ["turpault-classifier", "turpault-protonet"]
train_segments = ["200ms", "1s"]
test_segments = ["200ms", "1s"]
seeds = [0]
bootstrap = 0

[config]
{config}

[method_config.turpault-protonet]
n_support = 2
n_query = 2
classifier_max_epochs = 2

[[datasets]]
name = "tiny"
title = "tiny tones"
path = "{path}"

[paper]
source = "made up"
[paper.tiny.turpault-classifier]
"200ms" = ["1.0", "2.0"]
"""


def test_experiment_grid_runs_and_resumes(seg_dataset, tmp_path):  # noqa: F811
    from wlbench.cli import main

    cfg = tiny_config("turpault-classifier", max_epochs=2)
    cfg.pop("train_segment")
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in cfg.items())
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(config=lines, path=seg_dataset))
    out = tmp_path / "exp"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "4 runs, 0 finished, 4 to run" in res.output
    table = (out / "table.md").read_text()
    assert "| turpault-protonet | 1s (n=1) |" in table and "Paper (made up)" in table
    data = json.loads((out / "table.json").read_text())["results"]["tiny"]
    assert set(data) == {"turpault-classifier", "turpault-protonet"}
    assert set(data["turpault-classifier"]["1s"]) == {"200ms", "1s"}
    for m in ("turpault-classifier", "turpault-protonet"):
        assert (out / f"heatmap-{m}.png").stat().st_size > 1000
    run = out / "runs" / "tiny" / "turpault-protonet" / "train-200ms" / "seed-0"
    assert (run / "reports" / "eval-1s.json").is_file()
    assert json.loads((run / "run.json").read_text())["config"]["n_support"] == 2

    # interrupted: one run lost its summary -> only that run is redone
    (run / "summary.json").unlink()
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "4 runs, 3 finished, 1 to run" in res.output
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only", "--metric", "map"])
    assert res.exit_code == 0 and "4 runs, 4 finished, 0 to run" in res.output
    assert "map (%)" in (out / "table-map.md").read_text() and (out / "heatmap-turpault-protonet-map.png").is_file()

    # every cell onto a leaderboard; segment predictions are scored against their segment view's labels
    board = tmp_path / "board"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only", "--submit",
                                    str(board)])
    assert res.exit_code == 0, res.output
    from wlbench.leaderboard import load_entries

    entries = load_entries(board)
    assert len(entries) == 8  # 2 methods x 2 train x 2 test segments, one seed each
    cell = next(e for e in entries if e["method"]["name"] == "turpault-protonet [micro]"
                and e["method"]["version"] == "train 200ms test 1s")
    assert cell["method"]["config"]["train_segment"] == 0.2 and cell["method"]["config"]["test_segment"] == 1.0
    report = json.loads((run / "reports" / "eval-1s.json").read_text())
    assert report["segment"] == "1s"
    assert cell["runs"][0]["headline"]["map"]["value"] == report["headline"]["map"]["value"]
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only", "--submit",
                                    str(board)])
    assert res.exit_code == 0 and res.output.count("already on the board") == 8


def test_experiment_file_errors(tmp_path):
    from wlbench.errors import WlbenchError
    from wlbench.methods import load_experiment

    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nmethods = ["a"]\ntrain_segments = ["1s"]\ntest_segments = ["1s"]\nseeds = []\n')
    try:
        load_experiment(bad)
    except WlbenchError as exc:
        assert "seeds" in str(exc)
    else:
        raise AssertionError("expected an error")


def test_shipped_grid_file_is_valid():
    from pathlib import Path

    from wlbench.methods import get_method, load_experiment

    exp = load_experiment(Path(__file__).parents[1] / "baselines" / "experiments" / "turpault2020.toml")
    assert exp["train_segments"] == ["200ms", "1s", "10s"] and len(exp["datasets"]) == 2
    for m in exp["methods"]:
        get_method(m)


def test_quick_baseline_api_exists():
    from wlbench.methods import QUICK_CONFIG, QUICK_METHOD, get_method, resolve_config

    resolve_config(get_method(QUICK_METHOD), None, QUICK_CONFIG)  # every quick key is a valid config key
