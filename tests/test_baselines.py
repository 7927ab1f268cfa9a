"""Reference baselines (baselines/): building blocks, the three Turpault et al. methods, checkpoints,
determinism and the ``wlbench train / predict / experiment`` commands, on tiny rendered datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from wlbench.errors import WlbenchError

torch.set_num_threads(1)

SEG_RECIPE = """
[dataset]
name = "tinyseg"
seed = 11

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
onset = { dist = "uniform", min = 0.0, max = 9.8 }

[splits.train]
clips = 12

[splits.validation]
clips = 6
part = "train"

[splits.eval]
clips = 6
part = "eval"

[segments]
durations = [0.2, 1.0]
"""

# tiny nets, few steps: every method trains in well under a second per epoch
TINY = {"filters": [4, 8], "pools": [[2, 4], [1, 4]], "embedding_dim": 16, "hidden": [8], "dropout": 0.0,
        "batch_size": 6, "max_epochs": 3, "patience": 3, "warmup": 0, "threads": 1, "train_segment": "200ms"}
TINY_G = {"classifier_max_epochs": 3, "classifier_patience": 3, "classifier_warmup": 0}
METHODS = ["turpault-classifier", "turpault-triplet", "turpault-protonet"]


def tiny_config(name: str, **more) -> dict:
    cfg = dict(TINY)
    if name != "turpault-classifier":
        cfg.update(TINY_G)
    if name == "turpault-protonet":
        cfg.update(n_support=2, n_query=2)
    cfg.update(more)
    return cfg


@pytest.fixture(scope="module")
def seg_dataset(tone_bank, tmp_path_factory) -> Path:
    """24 tone clips of 10 s (train 12 / validation 6 / eval 6) with 200 ms and 1 s segment views."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    d = tmp_path_factory.mktemp("seg_dataset")
    (d / "tinyseg.toml").write_text(SEG_RECIPE)
    return synthesize(load_recipe(d / "tinyseg.toml"), load_soundbank(tone_bank), d, workers=1,
                      progress=False).path


@pytest.fixture(scope="module")
def trained(seg_dataset, tmp_path_factory):
    """One finished run per method (train -> predictions -> reports)."""
    from wlbench.methods import train_run

    out = {}
    for name in METHODS:
        run = tmp_path_factory.mktemp(name)
        out[name] = (run, train_run(name, seg_dataset, run, overrides=tiny_config(name), bootstrap=0))
    return out


# --- building blocks ------------------------------------------------------------------------------

def test_patch_embedder_averages_patch_embeddings():
    from baselines.common.nets import PatchEmbedder

    torch.manual_seed(0)
    e = PatchEmbedder(64, 20, [4, 8], [[2, 4], [1, 4]], dropout=0.0).eval()
    x = torch.randn(2, 100, 64)
    whole = e(x)
    parts = torch.stack([e(x[:, i * 20:(i + 1) * 20]) for i in range(5)]).mean(0)
    assert whole.shape == (2, e.out_dim)
    assert torch.allclose(whole, parts, atol=1e-6)
    assert e(torch.randn(1, 7, 64)).shape == (1, e.out_dim)  # shorter than a patch: padded


def test_building_blocks_shapes():
    from baselines.common.nets import MLP, BiGRU, ConvTrunk, EmbeddingHead, Pooling

    trunk = ConvTrunk(64, [4, 8], [[2, 2], [2, 2]], batch_norm=True, dropout=0.1)
    h = trunk(torch.randn(3, 40, 64))
    assert h.shape == (3, 10, trunk.out_dim) and trunk.out_dim == 8 * 16
    r = BiGRU(trunk.out_dim, 5)(h)
    assert r.shape == (3, 10, 10)
    for kind in ("mean", "max", "attention"):
        assert Pooling(kind, 10, 4)(r).shape[0] == 3
    emb = EmbeddingHead(10, 6, l2=True)(r)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    assert MLP(6, [8], 3)(emb).shape == (3, 3)


def test_episode_is_support_major_and_loss_is_protonet():
    from baselines.turpault2020.methods import prototypical_loss, sample_episode

    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    idx, k = sample_episode(labels, 2, 1, np.random.default_rng(0))
    assert k == 3 and len(idx) == 9
    assert list(labels[idx]) == [0, 0, 1, 1, 2, 2, 0, 1, 2]  # all supports (class-major), then all queries
    # queries sitting on their prototypes give a lower loss than queries on another class's prototype
    protos = torch.eye(3) * 5
    sup = protos.repeat_interleave(2, dim=0)
    good = prototypical_loss(torch.cat([sup, protos]), 3, 2, 1)
    bad = prototypical_loss(torch.cat([sup, protos.roll(1, 0)]), 3, 2, 1)
    assert good < 1e-3 < bad


def test_triplets_have_same_class_positive_and_other_class_negative():
    from baselines.turpault2020.methods import sample_triplets

    labels = np.array([0, 0, 1, 1, 2, 2, -1])
    a, p, n = sample_triplets(labels, 50, np.random.default_rng(1))
    assert (labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all()
    assert (labels[a] >= 0).all() and (labels[n] >= 0).all()


def test_early_stopping_patience_and_warmup():
    from baselines.common.fit import EarlyStopping

    s = EarlyStopping(patience=2, warmup=3)
    seq = [0.5, 0.4, 0.3, 0.2, 0.1, 0.1]
    stops = [s.step(i, v)[1] for i, v in enumerate(seq)]
    assert stops == [False, False, False, False, True, True] and s.best_epoch == 0


def test_scaler_and_balanced_subset():
    from baselines.common.data import Scaler, balanced_subset

    x = np.random.default_rng(0).normal(3, 2, size=(5, 7, 4)).astype(np.float32)
    z = Scaler.fit(x).transform(x).reshape(-1, 4)
    assert np.allclose(z.mean(0), 0, atol=1e-5) and np.allclose(z.std(0), 1, atol=1e-4)
    idx = balanced_subset(np.array([0] * 10 + [1] * 10 + [2] * 10), 9, seed=3)
    assert np.bincount(np.array([0] * 10 + [1] * 10 + [2] * 10)[idx]).tolist() == [3, 3, 3]


# --- methods --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", METHODS)
def test_loss_decreases(name, seg_dataset, tmp_path):
    from wlbench.methods import get_method

    method = get_method(name)
    cfg = {**method.default_config(), **tiny_config(name, max_epochs=8, patience=8, lr=1e-2, train_segment="1s")}
    summary = method.train(seg_dataset, cfg, tmp_path, progress=False)
    losses = summary["stages"][0]["losses"]
    assert len(losses) == 8
    assert np.mean(losses[-3:]) < np.mean(losses[:2]), losses
    rows = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert rows[0]["metric"] == ("f1_macro" if name == "turpault-classifier" else "centroid_accuracy_macro")
    assert summary["clips_per_second"] > 0


@pytest.mark.parametrize("name", METHODS)
def test_run_writes_submissions_and_reports(name, trained, seg_dataset):
    run, summary = trained[name]
    for split in ("validation", "eval"):
        for stem in (split, f"{split}-200ms", f"{split}-1s"):
            assert (run / "predictions" / f"{stem}.csv").is_file()
            report = json.loads((run / "reports" / f"{stem}.json").read_text())
            assert report["task"] == "tagging" and "f1_macro" in report["headline"]
    # the whole-clip submission is a standard one: the harness scores it on its own
    from wlbench.scoring import score_file

    rep = score_file(seg_dataset, run / "predictions" / "eval.csv", split="eval")
    assert f"# split_truth_id: {rep['dataset']['split_truth_id']}\n" in (run / "predictions" / "eval.csv").read_text()
    assert rep["headline"]["map"]["value"] == pytest.approx(
        json.loads((run / "reports" / "eval.json").read_text())["headline"]["map"]["value"])
    assert set(summary["f1_macro"]) == {"validation", "eval"}


@pytest.mark.parametrize("name", METHODS)
def test_save_load_predict_identical(name, trained, seg_dataset, tmp_path):
    from wlbench.methods import get_method, predict_run

    run, _ = trained[name]
    before = (run / "predictions" / "eval-1s.csv").read_text()
    rep_before = json.loads((run / "reports" / "eval-1s.json").read_text())["headline"]
    predict_run(run, seg_dataset, splits=["eval"], segments=["1s"], bootstrap=0)
    assert (run / "predictions" / "eval-1s.csv").read_text() == before
    assert json.loads((run / "reports" / "eval-1s.json").read_text())["headline"] == rep_before
    ids, s1 = get_method(name).predict(run, seg_dataset, "eval", "1s")
    _, s2 = get_method(name).predict(run, seg_dataset, "eval", "1s")
    assert np.array_equal(s1, s2) and len(ids) == 6


def test_same_seed_same_scores_other_seed_differs(seg_dataset, tmp_path):
    from wlbench.methods import get_method, train_run

    name = "turpault-triplet"
    runs = {}
    for tag, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_run(name, seg_dataset, tmp_path / tag, overrides=tiny_config(name, seed=seed), bootstrap=0,
                  segments=["200ms"])
        runs[tag] = get_method(name).predict(tmp_path / tag, seg_dataset, "eval", "200ms")[1]
    assert np.array_equal(runs["a"], runs["b"])
    assert not np.array_equal(runs["a"], runs["c"])
    assert (tmp_path / "a" / "log.jsonl").read_text().replace("seconds", "") != ""


# --- checkpoints ----------------------------------------------------------------------------------

def _copy_run(run: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(run, dst)
    return dst


def test_corrupted_checkpoint_is_a_clear_error(trained, seg_dataset, tmp_path):
    from wlbench.methods import get_method

    run = _copy_run(trained["turpault-classifier"][0], tmp_path / "run")
    ck = run / "checkpoint.pt"
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    with pytest.raises(WlbenchError, match="unreadable or corrupted"):
        get_method("turpault-classifier").predict(run, seg_dataset, "eval", None)
    ck.unlink()
    with pytest.raises(WlbenchError, match="not found"):
        get_method("turpault-classifier").predict(run, seg_dataset, "eval", None)


def test_mismatched_checkpoint_is_a_clear_error(trained, seg_dataset, tmp_path, tiny_dataset):
    from baselines.common.fit import load_checkpoint, save_checkpoint
    from wlbench.methods import get_method

    run = _copy_run(trained["turpault-protonet"][0], tmp_path / "run")
    with pytest.raises(WlbenchError, match="belongs to method 'turpault-protonet'"):
        get_method("turpault-triplet").predict(run, seg_dataset, "eval", None)
    ck = load_checkpoint(run / "checkpoint.pt")
    ck["config"]["filters"] = [4, 16]  # the weights no longer fit the network its config builds
    save_checkpoint(run / "checkpoint.pt", method=ck["method"], config=ck["config"], classes=ck["classes"],
                    scaler=ck["scaler"], state=ck["state"], extra=ck["extra"])
    with pytest.raises(WlbenchError, match="do not match the network"):
        get_method("turpault-protonet").predict(run, seg_dataset, "eval", None)
    torch.save({"hello": 1}, run / "checkpoint.pt")
    with pytest.raises(WlbenchError, match="not a wlbench baseline checkpoint"):
        get_method("turpault-protonet").predict(run, seg_dataset, "eval", None)


def test_checkpoint_loads_with_weights_only(trained):
    payload = torch.load(trained["turpault-triplet"][0] / "checkpoint.pt", weights_only=True)
    assert set(payload) >= {"state", "scaler", "config", "classes", "method"}


# --- configuration and CLI ------------------------------------------------------------------------

def test_config_resolution(tmp_path):
    from wlbench.methods import get_method, resolve_config

    m = get_method("turpault-classifier")
    f = tmp_path / "c.toml"
    f.write_text('max_epochs = 7\ntrain_segment = "10s"\n')
    cfg = resolve_config(m, f, ["lr=3e-4", "filters=[8, 8]", "train_segment=1s"])
    assert cfg["max_epochs"] == 7 and cfg["lr"] == 3e-4 and cfg["filters"] == [8, 8]
    assert cfg["train_segment"] == "1s"
    with pytest.raises(WlbenchError, match="unknown config key 'margn'"):
        resolve_config(get_method("turpault-triplet"), None, ["margn=1"])
    with pytest.raises(WlbenchError, match="unknown method"):
        get_method("no-such-method")


def test_cli_train_predict_methods(seg_dataset, tmp_path):
    from wlbench.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["methods"])
    assert res.exit_code == 0 and all(m in res.output for m in METHODS)
    sets = [x for k, v in tiny_config("turpault-classifier").items()
            for x in ("--set", f"{k}={json.dumps(v)}")]
    run = tmp_path / "run"
    res = runner.invoke(main, ["train", "turpault-classifier", "--dataset", str(seg_dataset), "--out", str(run),
                               "--bootstrap", "0", "--quiet", *sets])
    assert res.exit_code == 0, res.output
    assert (run / "summary.json").is_file() and (run / "reports" / "eval-200ms.json").is_file()
    (run / "reports" / "eval.json").unlink()
    res = runner.invoke(main, ["predict", str(run), "--dataset", str(seg_dataset), "--split", "eval",
                               "--segment", "clip", "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    assert (run / "reports" / "eval.json").is_file()
    res = runner.invoke(main, ["train", "turpault-classifier", "--dataset", str(seg_dataset), "--out",
                               str(tmp_path / "x"), "--set", "bogus=1"])
    assert res.exit_code == 2 and "unknown config key 'bogus'" in res.output
    res = runner.invoke(main, ["predict", str(tmp_path / "nothing"), "--dataset", str(seg_dataset)])
    assert res.exit_code == 2 and "not a wlbench run" in res.output


def test_cli_train_submit_to_leaderboard(seg_dataset, tmp_path):
    from wlbench.cli import main

    sets = [x for k, v in tiny_config("turpault-classifier", max_epochs=1).items()
            for x in ("--set", f"{k}={json.dumps(v)}")]
    board = tmp_path / "board"
    res = CliRunner().invoke(main, ["train", "turpault-classifier", "--dataset", str(seg_dataset), "--out",
                                    str(tmp_path / "run"), "--bootstrap", "0", "--quiet", "--submit", "--board",
                                    str(board), *sets])
    assert res.exit_code == 0, res.output
    assert "leaderboard entry written" in res.output
    from wlbench.leaderboard import load_entries

    entries = load_entries(board)
    assert len(entries) == 1 and entries[0]["method"]["name"] == "turpault-classifier"


class PriorMethod:
    """An outside method (no torch, no baselines import): predicts each class's training frequency."""

    name = "prior"
    description = "class priors"

    def default_config(self):
        return {"smoothing": 0.0}

    def train(self, dataset, config, run_dir, progress=False):
        from wlbench.store import open_dataset

        with open_dataset(dataset) as ds:
            prior = ds.split("train").weak_labels().mean(axis=0) + config["smoothing"]
        (Path(run_dir) / "prior.json").write_text(json.dumps(prior.tolist()))
        return {"n": 1}

    def predict(self, run_dir, dataset, split, segment):
        from wlbench.store import open_dataset

        prior = np.array(json.loads((Path(run_dir) / "prior.json").read_text()))
        with open_dataset(dataset) as ds:
            ids = ds.split(split).clip_ids
        return ids, np.tile(np.clip(prior, 0, 1), (len(ids), 1))


def test_outside_method_gets_the_same_commands(seg_dataset, tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    import wlbench.methods as wm
    from wlbench.cli import main

    real = wm.available_methods()
    fake = {**real, "prior": EntryPoint("prior", "test_baselines:PriorMethod", wm.GROUP)}
    monkeypatch.setattr(wm, "available_methods", lambda: fake)
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", "prior", "--dataset", str(seg_dataset), "--out", str(run),
                                    "--set", "smoothing=0.01", "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    assert json.loads((run / "run.json").read_text())["config"] == {"smoothing": 0.01}
    assert (run / "reports" / "eval-1s.json").is_file() and (run / "predictions" / "validation.csv").is_file()
    fake["broken"] = EntryPoint("broken", "test_baselines:NoSuchThing", wm.GROUP)
    res = CliRunner().invoke(main, ["train", "broken", "--dataset", str(seg_dataset), "--out", str(run)])
    assert res.exit_code == 2 and "cannot be loaded" in res.output
