"""``wlbench experiment``: a micro grid on a tiny dataset runs end to end, writes the table, heatmaps and
every run's reports, resumes (finished runs are skipped) and submits its cells to a leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from grid_files import config_lines
from test_baselines import seg_dataset, tiny_config  # noqa: F401 - fixture reused

from wlbench.errors import WlbenchError

torch.set_num_threads(1)

GRID = """
[experiment]
name = "micro"
methods = ["turpault-classifier", "turpault-protonet"]
seeds = [0]
metrics = ["f1_macro", "map"]
test_segments = ["200ms", "1s"]
controls = ["prior"]
bootstrap = 0

[axes]
train_segment = ["200ms", "1s"]

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
    lines = config_lines(cfg)
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(config=lines, path=seg_dataset))
    out = tmp_path / "exp"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "4 cells, 6 runs (0 finished), 6 to run" in res.output  # 4 cells + the prior of each train segment
    tables = out / "micro"  # the experiment's own folder; runs under out/runs
    table = (tables / "table.md").read_text()
    assert "| turpault-protonet | 1s |" in table and "Paper (made up)" in table and "## map: tiny tones" in table
    cells = json.loads((tables / "table.json").read_text())["cells"]
    assert {(c["method"], c["axes"]["train_segment"]) for c in cells} == {
        (m, s) for m in ("turpault-classifier", "turpault-protonet") for s in ("200ms", "1s")}
    assert set(cells[0]["results"]["map"]) == {"200ms", "1s"}
    for m in ("turpault-classifier", "turpault-protonet"):
        assert (tables / f"heatmap-{m}.png").stat().st_size > 1000
    run = out / "runs" / "tiny" / "turpault-protonet" / "train_segment-200ms" / "seed-0"
    assert (run / "reports" / "eval-1s.json").is_file()
    assert json.loads((run / "run.json").read_text())["config"]["n_support"] == 2
    # the summary hashes what tables and findings read (a run's record: --records), learning curves included
    assert {"run.json", "log.jsonl", "reports/eval-1s.json"} <= set(json.loads((run / "summary.json").read_text())["files"])

    # interrupted: one run lost its summary -> only that run is redone
    (run / "summary.json").unlink()
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "6 runs (5 finished), 1 to run" in res.output
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only"])
    assert res.exit_code == 0 and "6 runs (6 finished or recorded), table only" in res.output

    # every cell and control onto a leaderboard; segment predictions are scored against their view's labels
    board = tmp_path / "board"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only", "--submit",
                                    str(board)])
    assert res.exit_code == 0, res.output
    from wlbench.leaderboard import load_entries

    entries = load_entries(board)
    # 2 methods x 2 train segments x 2 test segments, one seed each, and the prior of each train segment; the
    # two priors predict the same frequencies here (segment labels = clip labels), so the second is skipped
    assert len(entries) == 10 and res.output.count("skipped") == 2, res.output
    cell = next(e for e in entries if e["method"]["name"] == "turpault-protonet [micro]"
                and e["method"]["version"] == "train_segment 200ms; test 1s")
    assert cell["method"]["config"]["train_segment"] == 0.2 and cell["method"]["config"]["test_segment"] == 1.0
    report = json.loads((run / "reports" / "eval-1s.json").read_text())
    assert report["segment"] == "1s"
    assert cell["runs"][0]["headline"]["map"]["value"] == report["headline"]["map"]["value"]
    assert any(e["method"]["name"] == "prior (prior) [micro]" for e in entries)
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only", "--submit",
                                    str(board)])
    assert res.exit_code == 0 and res.output.count("already on the board") == 10

    # the grid edited after its runs (a setting that is not an axis): finished runs are not silently reused
    edited = tmp_path / "edited.toml"
    edited.write_text(grid.read_text().replace("n_query = 2", "n_query = 3"))
    for extra in ([], ["--table-only"]):
        res = CliRunner().invoke(main, ["experiment", str(edited), "--out", str(out), *extra])
        assert res.exit_code == 2 and "was trained with another config" in res.output, res.output
        assert "n_query = 2 there, 3 here" in res.output and "turpault-protonet" in res.output


def test_a_grid_never_mixes_numerics_versions(seg_dataset, tmp_path, monkeypatch):  # noqa: F811
    """A finished run trained by code of another numerics version (wlbench.NUMERICS_VERSION) is trained again,
    said so; --table-only tabulates runs of several versions with a warning."""
    import wlbench.methods.runs as runs_module
    from wlbench import NUMERICS_VERSION
    from wlbench.cli import main

    cfg = tiny_config("turpault-classifier", max_epochs=1)
    cfg.pop("train_segment")
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(config=config_lines(cfg), path=seg_dataset))
    out = tmp_path / "exp"
    assert CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)]).exit_code == 0
    run = out / "runs" / "tiny" / "turpault-classifier" / "train_segment-1s" / "seed-0"
    assert json.loads((run / "summary.json").read_text())["numerics_version"] == NUMERICS_VERSION
    (run / "summary.json").unlink()  # retrained by code that trains differently (the next version)
    monkeypatch.setattr(runs_module, "NUMERICS_VERSION", NUMERICS_VERSION + 1)
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0 and "1 to run" in res.output, res.output
    monkeypatch.undo()
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only"])
    assert res.exit_code == 0 and f"numerics versions [{NUMERICS_VERSION}, {NUMERICS_VERSION + 1}]" in res.output
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0 and "1 to run" in res.output, res.output
    assert f"trained by numerics version {NUMERICS_VERSION + 1}, this code is version {NUMERICS_VERSION}" in res.output
    assert json.loads((run / "summary.json").read_text())["numerics_version"] == NUMERICS_VERSION


@pytest.mark.parametrize("text, message", [
    ('[experiment]\nmethods = ["turpault-classifier"]\nseeds = []\n', "non-empty list 'seeds'"),
    ('[experiment]\nmethods = ["turpault-classifier"]\nseeds = [0, 0]\n', "distinct"),
    ('[experiment]\nmethods = ["nope"]\nseeds = [0]\n[[datasets]]\nname = "d"\npath = "x.h5"\n', "unknown method"),
    ('[experiment]\nmethods = ["turpault-classifier"]\nseeds = [0]\n[config]\nmax_epoch = 3\n'
     '[[datasets]]\nname = "d"\npath = "x.h5"\n', "'max_epoch' is an option of none"),
    ('[experiment]\nmethods = ["turpault-classifier"]\nseeds = [0]\n[axes]\ntrain_segment = []\n'
     '[[datasets]]\nname = "d"\npath = "x.h5"\n', "non-empty list"),
    ('[experiment]\nmethods = ["turpault-classifier"]\nseeds = [0]\ncontrols = ["untrained"]\n'
     '[[datasets]]\nname = "d"\npath = "x.h5"\n', "unknown control 'untrained'"),
    ('[experiment]\nmethods = ["turpault-classifier"]\nseeds = [0]\n[method_config.turpault-classifier]\n'
     'lr = -1\n[[datasets]]\nname = "d"\npath = "x.h5"\n', "lr = -1: out of range"),
    ('[experment]\nmethods = []\n', "unknown table"),
])
def test_experiment_file_errors(text, message, tmp_path):
    from wlbench.experiments.grid import load_experiment

    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(WlbenchError, match=message):
        load_experiment(bad)


def test_binary_or_missing_grid_file_is_one_clear_error(tmp_path):
    from wlbench.cli import main

    binary = tmp_path / "grid.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    for path in (binary, tmp_path / "missing.toml"):
        res = CliRunner().invoke(main, ["experiment", str(path), "--out", str(tmp_path / "out")])
        assert res.exit_code == 2 and res.output.startswith("error: experiment file"), res.output
        assert "Traceback" not in res.output


def test_table_only_without_finished_runs_is_one_error_and_writes_nothing(tmp_path, monkeypatch):
    """--table-only on an empty or missing --out: one error line, exit 2, no all-"-" table written. The
    teacher / student reports on such a folder: the same."""
    from wlbench.cli import main
    from wlbench_baselines.dinkel2022.report import main as dinkel_report
    from wlbench_baselines.fonseca2020.report import main as fonseca_report

    monkeypatch.chdir(Path(__file__).parents[1])  # grids name their datasets relative to the repository
    grid = "baselines/experiments/turpault2020.toml"
    empty = tmp_path / "empty"
    empty.mkdir()
    for out, msg in ((empty, "no finished run of experiment 'turpault2020'"), (tmp_path / "missing", "not found")):
        res = CliRunner().invoke(main, ["experiment", grid, "--out", str(out), "--table-only"])
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert res.exit_code == 2 and len(lines) == 1 and msg in lines[0], res.output
        assert "wlbench experiment" in lines[0]  # says how to make the runs
    assert list(empty.iterdir()) == [] and not (tmp_path / "missing").exists()
    for report in (dinkel_report, fonseca_report):
        for out in (tmp_path / "missing", empty):
            assert report([str(out), str(tmp_path / "results")]) == 2
    assert not (tmp_path / "results").exists()


GRIDS = sorted(p.name for p in (Path(__file__).parents[1] / "baselines" / "experiments").glob("*.toml"))


@pytest.mark.parametrize("name", GRIDS)
def test_shipped_grid_files_are_valid(name):
    """Every committed grid: config values valid for their methods, >= 3 seeds, the prior control beside
    every cell and each method's own lower controls beside its cells."""
    from wlbench.experiments.grid import is_upper_bound, load_experiment
    from wlbench.experiments.planning import plan_cells
    from wlbench.methods import get_method

    exp = load_experiment(Path(__file__).parents[1] / "baselines" / "experiments" / name)
    cells = plan_cells(exp, Path("/nonexistent"))  # every config value validated against its method
    assert cells and len(exp.seeds) >= 3
    assert all("prior" in c.controls for c in cells)
    for cell in cells:
        lower = {c for c in getattr(get_method(cell.method), "controls", {}) or {} if not is_upper_bound(c)}
        assert lower <= set(cell.controls), (cell.method, sorted(cell.controls))


def test_quick_baseline_config_is_valid():
    from wlbench.demo import QUICK_CONFIG, QUICK_METHOD
    from wlbench.methods import get_method, resolve_config

    resolve_config(get_method(QUICK_METHOD), None, QUICK_CONFIG)  # every quick key is a valid config key


def test_a_train_segment_the_dataset_lacks_is_refused_before_any_run(seg_dataset, tmp_path):  # noqa: F811
    from wlbench.cli import main

    cfg = tiny_config("turpault-classifier", max_epochs=1)
    cfg["train_segment"] = "5s"  # the tiny dataset has 200 ms and 1 s views only
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(config=config_lines(cfg),
                                path=seg_dataset).replace('train_segment = ["200ms", "1s"]', 'labels = ["true"]'))
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(tmp_path / "exp")])
    assert res.exit_code == 2 and "no segment view '5s'" in res.output and "train_segment" in res.output
    assert not (tmp_path / "exp" / "runs").exists()


def test_run_folders_of_different_settings_never_collide():
    """Axis values that differ only in characters a folder name cannot hold, or beyond 120 characters, get
    folders of their own (a digest appended); plain names are unchanged."""
    from wlbench.experiments.grid import slug

    assert slug({"chunk": 10.0, "alpha": 0.5}) == "chunk-10.0_alpha-0.5"
    assert slug({"train_segment": "1s"}) == "train_segment-1s"
    assert slug({"labels": "a/b"}) != slug({"labels": "ab"})
    assert slug({"filters": [16, 32]}) != slug({"filters": [163, 2]})
    long_a, long_b = {"x": "a" * 130 + "1"}, {"x": "a" * 130 + "2"}
    assert slug(long_a) != slug(long_b) and len(slug(long_a)) <= 120


def test_the_chosen_epochs_name_the_dataset_when_a_grid_has_several():
    from wlbench.experiments.tables import render_epochs

    row = {"method": "m", "label": "-", "stage": "s", "best_epochs": {0: 3}, "max_epochs": {0: 10},
           "budget_limited_seeds": [], "kept_initial_seeds": []}
    one = render_epochs([{**row, "dataset": "a"}, {**row, "dataset": "a"}])
    assert "| Method | Cell |" in one and "| a |" not in one
    two = render_epochs([{**row, "dataset": "a"}, {**row, "dataset": "b"}])
    assert "| Dataset | Method | Cell |" in two and "| a | m | - | s | 3/10 | - |" in two and "| b | m |" in two
