"""Training framework v2: label conditions reach trainers (and the truth does not), the audit, controls and
verdicts, an outside method in a grid, and process settings."""

from __future__ import annotations

import json
import re
import shutil
import types
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from grid_files import config_lines
from test_baselines import make_ctx

torch.set_num_threads(1)

VIEW_RECIPE = """
[dataset]
name = "tinyview"
seed = 5

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
onset = { dist = "uniform", min = 0.0, max = 9.0 }

[splits.train]
clips = 36
roles = { strong = 0.25, weak = 0.5, unlabeled = 0.25 }

[splits.validation]
clips = 9
part = "train"

[splits.eval]
clips = 30
part = "eval"

[views.nocat]
class_rates = { Cat = 1.0 }
splits = ["train", "validation"]

[segments]
durations = [1.0]
"""

# a small classifier that learns the tone classes in a few seconds
QUICK = {"filters": [8, 8], "pools": [[2, 4], [1, 4]], "embedding_dim": 16, "hidden": [8], "dropout": 0.0,
         "batch_size": 6, "max_epochs": 15, "patience": 15, "warmup": 15, "threads": 1, "train_segment": "1s",
         "lr": 1e-2}


@pytest.fixture(scope="module")
def view_dataset(tone_bank, tmp_path_factory) -> Path:
    """75 tone clips; the train split has roles and a view that drops every Cat positive."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    d = tmp_path_factory.mktemp("view_dataset")
    (d / "tinyview.toml").write_text(VIEW_RECIPE)
    return synthesize(load_recipe(d / "tinyview.toml"), load_soundbank(tone_bank), d, workers=1,
                      progress=False).path


def _ap(run: Path, cls: int) -> float:
    report = json.loads((run / "reports" / "eval-1s.json").read_text())
    return report["per_class"][["Dog", "Cat", "Speech"][cls]]["ap"]


def test_a_class_whose_positives_were_all_dropped_is_not_learned(view_dataset, tmp_path):
    from wlbench.dataset.reader import open_dataset
    from wlbench.methods import train_run

    with open_dataset(view_dataset) as ds:
        assert ds.split("train").label_view("nocat").labels()[:, 1].sum() == 0
        prior = ds.split("eval").segment("1s").weak_labels()[:, 1].mean()
    runs = {}
    for labels in ("true", "nocat"):
        runs[labels] = tmp_path / labels
        train_run("turpault-classifier", view_dataset, runs[labels], overrides={**QUICK, "labels": labels},
                  seed=1, bootstrap=0, segments=["1s"])
    assert _ap(runs["true"], 1) > 0.9  # the truth teaches Cat
    assert abs(_ap(runs["nocat"], 1) - prior) < 0.25 and _ap(runs["nocat"], 1) < _ap(runs["true"], 1) - 0.3
    for cls in (0, 2):  # the other classes are learned either way
        assert _ap(runs["nocat"], cls) > 0.85


def test_model_selection_reads_the_validation_split_through_the_training_view(view_dataset, tmp_path):
    """Checkpoint choice and early stopping see the view's labels on the validation split (its dropped
    positives stay negatives there); only an oracle run (or valid_labels=true) selects on the truth."""
    from wlbench.dataset.reader import open_dataset
    from wlbench.dataset.training_data import training_data
    from wlbench.methods import resolve_config, train_run
    from wlbench_baselines.turpault2020.methods import CLASSIFIER

    with open_dataset(view_dataset) as ds:
        v = ds.split("validation")
        truth, observed, dropped = v.label_audit("nocat")
        labeled = training_data(v, labels="nocat", features=False).labeled
        window = v.segment("1s").weak_labels()
    assert dropped[labeled].sum() > 0  # the validation split really has dropped positives to leak
    ctx = types.SimpleNamespace(dataset=view_dataset, config=resolve_config(CLASSIFIER, None,
                                                                           {**QUICK, "labels": "nocat"}))
    valid = CLASSIFIER.load_valid(ctx)
    assert valid.view == "nocat"
    assert np.array_equal(valid.labels, (observed & window)[labeled])
    assert valid.labels[:, 1].sum() == 0  # no Cat positive reaches selection
    for over, expected in (({"labels": "nocat"}, "nocat"), ({"labels": "nocat", "oracle": "labels"}, "true"),
                           ({"labels": "nocat", "valid_labels": "true"}, "true")):
        run = tmp_path / "-".join(f"{k}{v}" for k, v in over.items())
        train_run("turpault-classifier", view_dataset, run, overrides={**QUICK, **over, "max_epochs": 1},
                  seed=0, bootstrap=0, segments=["1s"])
        assert json.loads((run / "summary.json").read_text())["train"]["valid_labels"] == expected


def _scramble_unlabeled_truth(src: Path, dst: Path) -> None:
    """A copy of ``src`` whose unlabeled training clips carry other true labels (every class, every frame)."""
    from dataset_edits import restamp

    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        train = f["train"]
        unlabeled = train["roles"][:] == list(train["roles"].attrs["names"]).index("unlabeled")
        for name in ("weak_labels", "segments/1s/weak_labels"):
            arr = train[name][:]
            arr[unlabeled] = 1
            train[name][...] = arr
        frames = train["frame_labels"][:]
        frames[unlabeled] = 1
        train["frame_labels"][...] = frames
        restamp(f)  # store the ids of the edited labels (readers refuse labels edited after writing)


@pytest.mark.parametrize("name", ["turpault-classifier", "turpault-triplet"])
def test_unlabeled_clips_never_reach_the_loss_with_labels(name, view_dataset, tmp_path):
    from wlbench.methods import get_method

    method = get_method(name)
    other = tmp_path / "scrambled.h5"
    _scramble_unlabeled_truth(view_dataset, other)
    overrides = {**QUICK, "max_epochs": 2, "classifier_max_epochs": 2} if name != "turpault-classifier" \
        else {**QUICK, "max_epochs": 2}
    states = []
    for dataset, tag in ((view_dataset, "a"), (other, "b")):
        method.train(make_ctx(method, dataset, tmp_path / tag, overrides, seed=3))
        states.append(torch.load(tmp_path / tag / "checkpoint.pt", weights_only=True)["state"])
    for module in states[0]:
        for key, value in states[0][module].items():
            assert torch.equal(value, states[1][module][key]), (module, key)
    # and the scrambled labels are really there: the true-label view of the split differs
    from wlbench.dataset.reader import open_dataset

    with open_dataset(view_dataset) as a, open_dataset(other) as b:
        assert not np.array_equal(a.split("train").weak_labels(), b.split("train").weak_labels())


def test_the_audit_measures_labels_against_the_truth(view_dataset, tmp_path):
    from wlbench.dataset.reader import open_dataset
    from wlbench.methods import Audit

    with open_dataset(view_dataset) as ds:
        truth, observed, dropped = ds.split("train").label_audit("nocat")
        ids = np.asarray(ds.split("train").clip_ids).astype(str)
    audit = Audit(view_dataset, "nocat", tmp_path / "audit.jsonl")
    row = audit.labels("perfect", "train", truth, clip_ids=ids)
    assert row["precision"] == 1.0 and row["recall"] == 1.0
    assert row["implicit_recall"] == 1.0 and row["implicit_predicted"] == int(dropped.sum())
    row = audit.labels("observed", "train", observed.astype(float), clip_ids=ids)
    assert row["implicit_predicted"] == 0 and row["implicit_recall"] == 0.0 and row["precision"] == 1.0
    assert row["per_class"]["recall"][1] == 0.0
    noisy = truth.copy()
    noisy[:4] = 1 - noisy[:4]
    row = audit.labels("noisy", "train", noisy[2:10], clip_ids=ids[2:10])
    assert row["n_clips"] == 8 and 0 < row["precision"] < 1
    # clips are identified by id, in any order: a shuffled subset gives the same numbers
    order = np.random.default_rng(0).permutation(np.arange(2, 10))
    again = audit.labels("noisy-shuffled", "train", noisy[order], clip_ids=ids[order])
    assert {k: again[k] for k in ("predicted", "correct", "precision", "recall")} == \
        {k: row[k] for k in ("predicted", "correct", "precision", "recall")}
    with pytest.raises(ValueError, match="not in split"):
        audit.labels("foreign", "train", truth[:1], clip_ids=np.array(["no-such-clip"]))
    rows = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [r["audit"] for r in rows] == ["perfect", "observed", "noisy", "noisy-shuffled"]
    with open_dataset(view_dataset) as ds:
        frames = ds.split("train").frame_labels()
    windows = np.stack([frames[:, i * 100:(i + 1) * 100].max(axis=1) for i in range(10)], axis=1)
    row = audit.windows("chunks", "train", windows, window_frames=100, hop_frames=100, clip_ids=ids)
    assert row["precision"] == 1.0 and row["recall"] == 1.0 and row["n_windows"] == 36 * 10


def test_malloc_tuning_applies_in_process():
    from wlbench.methods.runtime import tune_malloc_for_training

    assert tune_malloc_for_training() is True  # Linux with glibc (these machines and CI)


GRID = """
[experiment]
name = "ctl"
methods = ["turpault-triplet", "mean-score"]
seeds = [0, 1]
metrics = ["map", "f1_macro"]
test_segments = ["clip", "1s"]
bootstrap = 0

[axes]
labels = ["nocat"]

[config]
{config}

[method_config.mean-score]
smoothing = 0.1

[[datasets]]
name = "tiny"
path = "{path}"
"""


def test_grid_runs_cells_beside_controls_with_an_outside_method(view_dataset, tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    from click.testing import CliRunner

    import wlbench.methods.discovery as wd
    from wlbench.cli import main

    real = wd.available_methods()
    monkeypatch.setattr(wd, "available_methods",
                        lambda: {**real, "mean-score": EntryPoint("mean-score", "test_baselines:MeanScore", wd.GROUP)})
    cfg = {**QUICK, "max_epochs": 2, "classifier_max_epochs": 3, "classifier_warmup": 0, "train_segment": "1s"}
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(config=config_lines(cfg),
                                path=view_dataset))
    out = tmp_path / "exp"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0, res.output
    # triplet: cell + untrained + oracle + prior on its view (2 seeds each); mean-score (no labels, seed or
    # segment option; the seed reaches it through the context): its cell and the prior on the true labels
    assert "2 cells, 12 runs (0 finished), 12 to run" in res.output
    data = json.loads((out / "ctl" / "table.json").read_text())
    triplet = next(c for c in data["cells"] if c["method"] == "turpault-triplet")
    res_map = triplet["results"]["map"]["clip"]
    assert set(res_map["controls"]) == {"untrained", "oracle", "prior"}
    assert set(res_map["verdicts"]) == {"untrained", "prior"}  # the oracle is an upper bound, not a control
    assert res_map["n"] == 2 and set(res_map["seeds"]) == {"0", "1"}
    oracle_run = out / "runs" / "tiny" / "turpault-triplet" / "labels-nocat" / "control-oracle" / "seed-0"
    assert json.loads((oracle_run / "run.json").read_text())["config"]["labels"] == "true"
    untrained = out / "runs" / "tiny" / "turpault-triplet" / "labels-nocat" / "control-untrained" / "seed-1"
    assert json.loads((untrained / "run.json").read_text())["config"]["train_embedding"] is False
    mean = next(c for c in data["cells"] if c["method"] == "mean-score")
    assert mean["axes"] == {} and set(mean["results"]["map"]["clip"]["controls"]) == {"prior"}
    # a constant predictor never beats the prior: marked not learned
    assert mean["results"]["map"]["clip"]["learned"] is False
    table = (out / "ctl" / "table.md").read_text()
    assert "↳ untrained" in table and "↳ prior" in table and "†" in table
    assert (out / "ctl" / "heatmap-turpault-triplet.png").is_file()
    assert list((out / "ctl" / "curves").glob("tiny-turpault-triplet-*.png"))
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0 and "12 runs (12 finished), 0 to run" in res.output


def test_verdict_rules():
    from wlbench.experiments.statistics import t_interval, verdict

    assert verdict({0: 0.5, 1: 0.6, 2: 0.55}, {0: 0.1, 1: 0.1, 2: 0.1}) == "learned"
    assert verdict({0: 0.5, 1: 0.1, 2: 0.3}, {0: 0.2, 1: 0.2, 2: 0.2}) == "not learned"
    assert verdict({0: 0.5}, {0: 0.1}) == "n/a"
    assert verdict({0: 0.5, 1: 0.6}, {2: 0.1, 3: 0.1}) == "n/a"  # unpaired seeds are not compared
    mean, half = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302652729911275 * 1.0 / np.sqrt(3))


def test_oracle_controls_are_upper_bounds_never_controls_to_beat(tmp_path):
    """A method's own ``oracle-<name>`` control is an upper bound like ``oracle``: a cell below it is still
    learned when it beats its lower controls."""
    from wlbench.experiments.grid import Cell, Run, is_upper_bound
    from wlbench.experiments.tables import collect

    assert is_upper_bound("oracle") and is_upper_bound("oracle-mask")
    assert not is_upper_bound("untrained") and not is_upper_bound("prior") and not is_upper_bound("oracles")

    def runs(name, values):
        out = []
        for seed, v in enumerate(values):
            run_dir = tmp_path / name / f"seed-{seed}"
            (run_dir / "reports").mkdir(parents=True)
            (run_dir / "reports" / "eval.json").write_text(json.dumps({"headline": {"map": {"value": v}}}))
            (run_dir / "run.json").write_text(json.dumps({"method": "m", "config": {}}))
            (run_dir / "summary.json").write_text(json.dumps({"method": "m", "config": {}}))  # as run.json says
            out.append(Run("d", "m", {}, seed, run_dir))
        return tuple(out)

    cell = Cell("d", "m", {}, runs("cell", [0.5, 0.55, 0.6]),
                {"prior": runs("prior", [0.2, 0.2, 0.2]), "oracle-mask": runs("mask", [0.9, 0.92, 0.95])})

    class Exp:
        metrics, test_segments, split = ["map"], ["clip"], "eval"

    (row,) = collect(Exp, [cell])
    res = row["results"]["map"]["clip"]
    assert set(res["verdicts"]) == {"prior"} and res["learned"] is True


class EnergyDetector:
    """An outside frame-level method (no torch, no training, no labels): the tone bank's class c is a tone near
    200 (c + 1) Hz, so a class is scored active in a frame by how loud its mel band is there, relative to the
    rest of the clip."""

    name = "energy-detector"
    description = "frame scores from band energy"

    def config_schema(self):
        from wlbench.methods import ConfigSchema, Option

        return ConfigSchema({"pool": Option(10, kind=int, min=1, doc="input frames per output frame")})

    def train(self, ctx):
        (Path(ctx.run_dir) / "model.json").write_text(json.dumps({"pool": ctx.config["pool"]}))
        return {}

    def predict(self, ctx):
        from wlbench.dataset.reader import open_dataset
        from wlbench.methods import Predictions

        pool = json.loads((Path(ctx.run_dir) / "model.json").read_text())["pool"]
        out = {}
        with open_dataset(ctx.dataset) as ds:
            for split, segment in ctx.requests:
                sp = ds.split(split)
                x = sp.features() if segment == "clip" else sp.segment(segment).features()
                from wlbench.features import LogMelParams, mel_filterbank

                bank = mel_filterbank(LogMelParams())  # (257 bins, 64 bands), 31.25 Hz per bin
                band = [int(np.argmax(bank[int(round((200 * (c + 1) + 30) / 31.25))])) for c in range(3)]
                n, t, f = x.shape
                t = t // pool * pool
                bands = x[:, :t, band]
                bands = bands.reshape(n, t // pool, pool, 3).mean(axis=2)
                z = (bands - bands.mean(axis=1, keepdims=True)) / (bands.std(axis=1, keepdims=True) + 1e-6)
                frames = 1 / (1 + np.exp(-z))
                out[(split, segment)] = Predictions(sp.clip_ids, frames.max(axis=1), frames, pool / sp.frame_rate)
        return out


def test_a_frame_level_method_gets_detection_submissions_scored(view_dataset, tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    from click.testing import CliRunner

    import wlbench.methods.discovery as wd
    from wlbench.cli import main
    from wlbench.experiments.grid import Run
    from wlbench.experiments.tables import run_values
    from wlbench.scoring import score_file

    real = wd.available_methods()
    monkeypatch.setattr(wd, "available_methods", lambda: {
        **real, "energy-detector": EntryPoint("energy-detector", "test_framework:EnergyDetector", wd.GROUP)})
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", "energy-detector", "--dataset", str(view_dataset), "--out", str(run),
                                    "--bootstrap", "0", "--median-filter", "0.3", "--detection-threshold", "0.6"])
    assert res.exit_code == 0, res.output
    assert "psds1" in res.output
    events = run / "predictions" / "eval-events.tsv"
    scores = run / "predictions" / "eval-frame-scores"
    assert events.is_file() and len(list(scores.glob("*.tsv"))) == 30
    assert "# median_seconds: 0.3" in events.read_text()
    ev = json.loads((run / "reports" / "eval-events.json").read_text())
    fs = json.loads((run / "reports" / "eval-frame-scores.json").read_text())
    assert ev["task"] == "detection" and ev["decoding"] == {"threshold": 0.6, "median_seconds": 0.3}
    assert 0 <= ev["headline"]["event_f1_macro"]["value"] <= 1 and fs["task"] == "frame_scores"
    assert 0 < fs["headline"]["psds1"]["value"] <= 1
    # the files are ordinary submissions: the harness scores them on their own, with the same numbers
    again = score_file(view_dataset, events, split="eval")
    assert again["headline"]["event_f1_macro"]["value"] == ev["headline"]["event_f1_macro"]["value"]
    assert score_file(view_dataset, scores, split="eval")["headline"]["psds1"]["value"] == \
        fs["headline"]["psds1"]["value"]
    summary = json.loads((run / "summary.json").read_text())
    assert "psds1" in summary["headline"]["eval"]["clip"] and "map" in summary["headline"]["eval"]["clip"]
    r = Run("d", "energy-detector", {}, 0, run)
    assert run_values(r, "eval", "clip", "psds1") == fs["headline"]["psds1"]["value"]
    assert run_values(r, "eval", "clip", "event_f1_macro") == ev["headline"]["event_f1_macro"]["value"]
    assert run_values(r, "eval", "1s", "psds1") is None  # detection is scored on whole clips only


def test_the_prior_is_a_detector_that_never_listens_and_reads_only_the_strong_clips(view_dataset, tmp_path):
    import math

    from click.testing import CliRunner

    from wlbench.cli import main
    from wlbench.dataset.reader import open_dataset

    run = tmp_path / "prior"
    res = CliRunner().invoke(main, ["train", "prior", "--dataset", str(view_dataset), "--out", str(run),
                                    "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    with open_dataset(view_dataset) as ds:
        classes = list(ds.classes)
        train = ds.split("train")
        strong = train.roles() == train.role_names.index("strong")
        expected = train.frame_labels()[strong].reshape(-1, len(classes)).mean(axis=0)
        clip_rate = train.weak_labels()[~(train.roles() == train.role_names.index("unlabeled"))].mean(axis=0)
        eval_events, n_eval = ds.split("eval").events(), len(ds.split("eval"))
    saved = json.loads((run / "prior.json").read_text())
    # the share of active frames of the strong clips only (weak clips' frames are not the method's to read)
    np.testing.assert_allclose(saved["frame_prior"], expected, rtol=0, atol=1e-12)
    assert 0 < min(expected) and max(expected) < 0.5 and not np.allclose(expected, clip_rate)
    # every class occurs in the strong clips: all-on, so each class's segment F1 (1 s) is 2p / (1 + p), p its
    # share of active segments (an event makes [floor(onset), ceil(offset)) active)
    active = {(c, f, k) for f, c, on, off in eval_events[["filename", "event_label", "onset", "offset"]].itertuples(
        index=False) for k in range(math.floor(on), math.ceil(off))}
    shares = [sum(1 for a in active if a[0] == c) / (10 * n_eval) for c in classes]
    ev = json.loads((run / "reports" / "eval-events.json").read_text())
    assert ev["headline"]["segment_f1_macro"]["value"] == pytest.approx(np.mean([2 * p / (1 + p) for p in shares]),
                                                                        abs=1e-12)
    assert ev["headline"]["segment_f1_macro"]["value"] > 0.1  # far from the 0 of the all-off detector
    fs = json.loads((run / "reports" / "eval-frame-scores.json").read_text())
    # one 10 s detection per clip and class: never within PSDS1's detection tolerance for short tone events
    assert fs["headline"]["psds1"]["value"] < 0.05
    # only whole clips get frame scores; the segment view is scored on clip scores alone
    assert not (run / "reports" / "eval-1s-events.json").exists()
    # a prior.json whose frame prior does not fit the dataset's classes, or is damaged: one error, exit 2
    for frame_prior, message in (([0.1, 0.2], "2 classes, the dataset has 3"), ("x", "missing or damaged")):
        (run / "prior.json").write_text(json.dumps({**saved, "frame_prior": frame_prior}))
        res = CliRunner().invoke(main, ["predict", str(run), "--dataset", str(view_dataset), "--split", "eval"])
        assert res.exit_code == 2 and message in res.output, res.output


DETECTION_GRID = """
[experiment]
name = "det"
methods = ["energy-detector"]
seeds = [0, 1]
split = "eval"
metrics = ["event_f1_macro", "psds1", "map"]
decoding = {{ threshold = 0.6, median_seconds = 0.3 }}
controls = ["prior"]
bootstrap = 0

[[datasets]]
name = "tiny"
path = "{path}"
"""


def test_a_detection_grid_gets_verdicts_against_the_frame_prior_and_detection_entries(view_dataset, tmp_path,
                                                                                      monkeypatch):
    from importlib.metadata import EntryPoint

    from click.testing import CliRunner

    import wlbench.methods.discovery as wd
    from wlbench.cli import main
    from wlbench.leaderboard import load_entries

    real = wd.available_methods()
    monkeypatch.setattr(wd, "available_methods", lambda: {
        **real, "energy-detector": EntryPoint("energy-detector", "test_framework:EnergyDetector", wd.GROUP)})
    grid = tmp_path / "det.toml"
    grid.write_text(DETECTION_GRID.format(path=view_dataset))
    out, board = tmp_path / "exp", tmp_path / "board"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--submit", str(board)])
    assert res.exit_code == 0, res.output
    cell = json.loads((out / "det" / "table.json").read_text())["cells"][0]
    for metric in ("event_f1_macro", "psds1"):
        res_m = cell["results"][metric]["clip"]
        # the prior now has frame scores: detection metrics get a control and a verdict
        assert set(res_m["controls"]["prior"]["seeds"]) == {"0", "1"} and res_m["verdicts"]["prior"] == "learned"
    entries = {(e["method"]["name"], e["method"]["version"]): e for e in load_entries(board)}
    events = "test clip; events (threshold 0.6, median 0.3 s)"
    assert set(entries) == {("energy-detector [det]", "test clip"), ("energy-detector [det]", events),
                            ("prior (prior) [det]", "test clip"), ("prior (prior) [det]", events)}
    detection = entries[("energy-detector [det]", events)]
    # the detector and the prior are deterministic: their seeds wrote the same event lists, kept once
    assert detection["task"] == "detection" and len(detection["runs"]) == 1
    assert "threshold 0.6, median filter 0.3 s" in detection["method"]["description"]
    assert detection["method"]["config"]["decoding"] == {"threshold": 0.6, "median_seconds": 0.3}
    run0 = out / "runs" / "tiny" / "energy-detector" / "default" / "seed-0" / "reports" / "eval-events.json"
    assert detection["runs"][0]["headline"]["event_f1_macro"]["value"] == \
        json.loads(run0.read_text())["headline"]["event_f1_macro"]["value"]
    prior_events = entries[("prior (prior) [det]", events)]
    assert len(prior_events["runs"]) == 1 and prior_events["runs"][0]["headline"]["segment_f1_macro"]["value"] > 0
    assert prior_events["runs"][0]["seed"] == 0  # under the first seed that wrote it
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out), "--table-only", "--submit", str(board)])
    assert res.exit_code == 0 and res.output.count("already on the board") == 4, res.output


HEADROOM_GRID = """
[experiment]
name = "gate"
methods = ["turpault-classifier"]
seeds = [0, 1]
metrics = ["map"]
test_segments = ["1s"]
bootstrap = 0

[axes]
labels = ["nocat"]

[config]
{config}

[[headroom]]
name = "dropping Cat costs the classifier"
better = {{ labels = "true" }}
worse = {{ labels = "nocat" }}

[[headroom]]
name = "a contrast of a run with itself"
better = {{ method = "prior", labels = "true" }}
worse = {{ method = "prior", labels = "nocat" }}

[[claims]]
name = "lr 0.01 beats the view"
a = {{ labels = "nocat", lr = 0.02 }}
b = {{ labels = "nocat" }}
requires = ["a contrast of a run with itself"]

[[datasets]]
name = "tiny"
path = "{path}"
"""


def test_headroom_gate_runs_first_and_a_claim_without_headroom_reads_no_headroom(view_dataset, tmp_path):
    from click.testing import CliRunner

    from wlbench.cli import main

    cfg = {**QUICK, "max_epochs": 1, "train_segment": "1s"}
    grid = tmp_path / "grid.toml"
    grid.write_text(HEADROOM_GRID.format(config=config_lines(cfg),
                                         path=view_dataset))
    out = tmp_path / "exp"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0, res.output
    # cell (= the worse arm) + oracle (= the better arm) + prior on the view + prior on the truth + the claim's
    # own arm (lr 0.02), 2 seeds each
    assert "1 cells, 10 runs (0 finished), 10 to run" in res.output
    done = [line for line in res.output.splitlines() if line.startswith("[")]
    headroom_dirs = ("labels-nocat/seed-", "control-oracle", "/prior/")
    assert all(any(h in line for h in headroom_dirs) for line in done[:8])  # the headroom arms ran first
    assert "labels-nocat_lr-0.02/seed-" in "".join(done[8:])
    table = (out / "gate" / "table.md").read_text()
    assert table.index("## Headroom") < table.index("## Claims") < table.index("## map")
    assert "## Chosen epochs" in table
    data = json.loads((out / "gate" / "table.json").read_text())
    by_name = {h["name"]: h for h in data["headroom"]}
    assert by_name["a contrast of a run with itself"]["verdict"] == "not resolved"
    assert by_name["dropping Cat costs the classifier"]["verdict"] in ("resolved", "not resolved", "reversed")
    (claim,) = data["claims"]
    assert claim["verdict"] == "no headroom" and claim["p_holm"] is None
    assert {e["stage"] for e in data["chosen_epochs"]} == {"classifier"}
    assert res.output.index("## Headroom") < res.output.index("## map")  # printed before the cells' verdicts


OWN_CONTROL_GRID = """
[experiment]
name = "own"
methods = ["turpault-triplet"]
seeds = [0, 1]
metrics = ["map"]
test_segments = ["1s"]
controls = ["prior", "untrained"]
bootstrap = 0

[config]
{config}

[[headroom]]
name = "E learns"
better = {{}}
worse = {{ train_embedding = false }}

[[claims]]
name = "E beats its untrained self"
a = {{}}
b = {{ train_embedding = false }}

[[datasets]]
name = "tiny"
path = "{path}"
"""


def test_a_claim_against_the_cells_own_control_judges_the_cell_by_its_other_controls(view_dataset, tmp_path):
    """A claim "cell vs its own control" asks that question itself: the cell arm is judged against its other
    lower controls only (here the prior), while the headroom row and the cell's own mark use all of them."""
    from click.testing import CliRunner

    from wlbench.cli import main
    from wlbench.experiments.tables import learned_by

    cfg = {**QUICK, "max_epochs": 3, "classifier_max_epochs": 40, "classifier_patience": 40, "classifier_warmup": 40}
    grid = tmp_path / "grid.toml"
    grid.write_text(OWN_CONTROL_GRID.format(config=config_lines(cfg),
                                            path=view_dataset))
    out = tmp_path / "exp"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "own" / "table.json").read_text())
    (cell,) = data["cells"]
    verdicts = cell["results"]["map"]["1s"]["verdicts"]
    assert set(verdicts) == {"prior", "untrained"}
    (head,), (claim,) = data["headroom"], data["claims"]
    assert head["first_learned"] == learned_by(verdicts) == cell["results"]["map"]["1s"]["learned"]
    assert claim["first_learned"] == learned_by(verdicts, besides={"untrained"})


def test_learned_by_reads_every_judged_lower_control_but_those_set_aside():
    from wlbench.experiments.tables import learned_by

    verdicts = {"prior": "learned", "untrained": "not learned", "other": "n/a"}
    assert learned_by(verdicts) is False
    assert learned_by(verdicts, besides={"untrained"}) is True
    assert learned_by(verdicts, besides={"untrained", "prior"}) is None  # nothing left to judge by
    assert learned_by({}) is None


def test_judge_applies_holm_and_the_verdict_rules():
    from wlbench.experiments.findings import judge
    from wlbench.experiments.statistics import holm

    assert holm([0.01, 0.04, None, 0.03]) == [0.03, 0.06, None, 0.06]
    strong = {s: 0.5 + 0.01 * s for s in range(5)}
    weak = {s: 0.2 + 0.012 * s for s in range(5)}
    noise = {s: 0.5 + (-1) ** s * 0.1 for s in range(5)}
    head = judge([{"kind": "headroom", "name": "h", "dataset": "d", "first": strong, "second": weak},
                  {"kind": "headroom", "name": "n", "dataset": "d", "first": noise, "second": strong}])
    assert [h["verdict"] for h in head] == ["resolved", "not resolved"] and head[0]["family"] == 2
    claims = judge([
        {"kind": "claims", "name": "c1", "dataset": "d", "first": strong, "second": weak, "requires": ["h"]},
        {"kind": "claims", "name": "c2", "dataset": "d", "first": weak, "second": strong, "requires": ["h"]},
        {"kind": "claims", "name": "c3", "dataset": "d", "first": strong, "second": weak, "requires": ["n"]},
        {"kind": "claims", "name": "c4", "dataset": "d", "first": strong, "second": weak, "requires": ["h"],
         "second_learned": False},
        {"kind": "claims", "name": "c5", "dataset": "d", "first": {0: 1.0}, "second": {0: 0.0}, "requires": []},
        {"kind": "claims", "name": "c6", "dataset": "d", "first": {s: strong[s] for s in range(3)},
         "second": {s: weak[s] for s in range(3)}, "requires": []},  # clear, but 3 seeds: a claim needs 5
    ], headroom=head)
    assert [c["verdict"] for c in claims] == ["holds", "reversed", "no headroom", "below controls", "too few seeds",
                                              "too few seeds"]
    assert claims[5]["p"] < 0.01 and claims[5]["p_holm"] is None and "a claim needs 5" in claims[5]["why"]
    assert claims[0]["family"] == 2 and claims[2]["p_holm"] is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda g: g.replace('better = { method = "prior", labels = "true" }', 'better = { method = "prior", labels = "nocat" }'),
     "both sides are the same runs"),
    (lambda g: g.replace('a = { labels = "nocat", lr = 0.02 }', 'a = { lr = 0.02 }'),
     "does not set the grid axis ['labels']"),
    (lambda g: g.replace('requires = ["a contrast of a run with itself"]', 'requires = "a contrast of a run with itself"'),
     "requires must be a list"),
    (lambda g: g.replace('worse = { labels = "nocat" }', 'worse = { method = "priors", labels = "nocat" }'),
     "side worse: unknown method"),
    (lambda g: g.replace('[[claims]]\nname', '[[claims]]\ndataset = ["tiny", "tiny2"]\nname').replace(
        '[[headroom]]\nname = "a contrast', '[[headroom]]\ndataset = "tiny"\nname = "a contrast') + TWO,
     "covers dataset(s) ['tiny2'] but requires"),
])
def test_contrast_declarations_are_checked_before_any_run(view_dataset, tmp_path, change, message):
    from wlbench.errors import WlbenchError
    from wlbench.experiments.grid import load_experiment
    from wlbench.experiments.planning import plan_arms, plan_cells

    grid = tmp_path / "grid.toml"
    text = HEADROOM_GRID.format(config="threads = 1\ntrain_segment = \"1s\"", path=view_dataset)
    grid.write_text(change(text).replace("{path}", str(view_dataset)))
    with pytest.raises(WlbenchError, match=re.escape(message)):
        exp = load_experiment(grid)
        plan_arms(exp, tmp_path / "out", plan_cells(exp, tmp_path / "out"))


TWO = """
[[datasets]]
name = "tiny2"
path = "{path}"
"""


def test_a_split_s_features_are_read_once_per_process_and_file_version(view_dataset, tmp_path):
    from wlbench.dataset.reader import open_dataset

    copy = tmp_path / "copy.h5"
    shutil.copy(view_dataset, copy)
    with open_dataset(copy) as ds:
        first = ds.split("train").features()
        again = ds.split("train").features()
    assert again is first and not first.flags.writeable  # shared, so nobody may write into it
    with pytest.raises(ValueError):
        first[0, 0, 0] = 1.0
    with h5py.File(copy, "r+") as f:  # a new version of the file: read again
        f["train/features"][0, 0, 0] = 123.0
    with open_dataset(copy, check_truth=False) as ds:
        fresh = ds.split("train").features()
    assert fresh is not first and fresh[0, 0, 0] == 123.0


def test_a_view_the_validation_split_lacks_is_one_error_naming_both_fixes(view_dataset):
    from wlbench.errors import WlbenchError
    from wlbench.training.method import validation_labels

    config = {"labels": "nocat", "oracle": "none", "valid_labels": "view", "valid_split": "eval"}
    with pytest.raises(WlbenchError, match="has no label view 'nocat'") as info:
        validation_labels(view_dataset, config)
    assert "valid_labels=true" in str(info.value) and "render the view" in str(info.value)
    assert validation_labels(view_dataset, {**config, "valid_labels": "true"}) == "true"  # the named oracle
    assert validation_labels(view_dataset, {**config, "oracle": "labels"}) == "true"


def test_runs_from_before_view_selection_or_the_subset_rule_are_not_reused(view_dataset, tmp_path):
    """A finished run of the previous framework (no recorded hashes) whose checkpoint was chosen on the truth of
    a view-rendered validation split, or whose train_clips subset was drawn by the old rule, is refused by name
    instead of being read into a grid's tables."""
    from wlbench.errors import WlbenchError
    from wlbench.experiments.grid import Run
    from wlbench.experiments.reuse import check_finished_runs
    from wlbench.methods import train_run
    from wlbench.methods.runs import SELF_HASH

    over = {**QUICK, "labels": "nocat", "max_epochs": 1, "train_clips": 12}
    run_dir = tmp_path / "run"
    train_run("turpault-classifier", view_dataset, run_dir, overrides=over, seed=0, bootstrap=0, segments=["1s"])
    runs = [Run("tiny", "turpault-classifier", over, 0, run_dir)]
    check_finished_runs(runs, {"tiny": view_dataset})  # a current run is reused

    def make_legacy(edit) -> None:
        for name in ("run.json", "summary.json"):
            data = json.loads((run_dir / name).read_text())
            data.pop("files", None)
            data.pop(SELF_HASH, None)
            edit(data)
            (run_dir / name).write_text(json.dumps(data))

    make_legacy(lambda d: d.get("train", {}).pop("train_clips_id", None))
    with pytest.raises(WlbenchError, match="subset by the old rule"):
        check_finished_runs(runs, {"tiny": view_dataset})
    make_legacy(lambda d: d["config"].pop("valid_labels"))
    with pytest.raises(WlbenchError, match="before view-validated selection"):
        check_finished_runs(runs, {"tiny": view_dataset})
