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


def make_ctx(method, dataset: Path, run_dir: Path, overrides: dict, seed: int = 0):
    """A TrainContext as the runner builds it (config resolved and validated, log and audit files)."""
    from wlbench.methods import Audit, TrainContext, resolve_config

    config = resolve_config(method, None, overrides)
    run_dir.mkdir(parents=True, exist_ok=True)

    def log(row):
        with open(run_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
    return TrainContext(dataset=dataset, run_dir=run_dir, config=config, seed=seed, progress=False, log=log,
                        audit=Audit(dataset, config.get("labels", "true"), run_dir / "audit.jsonl"), echo=print)


def predict(name: str, run: Path, dataset: Path, split: str = "eval", segment: str = "clip"):
    from wlbench.methods import PredictContext, get_method, read_run

    ctx = PredictContext(run_dir=run, dataset=dataset, requests=((split, segment),), config=read_run(run)["config"])
    return get_method(name).predict(ctx)[(split, segment)]


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
        run = tmp_path_factory.mktemp(name) / "run"
        out[name] = (run, train_run(name, seg_dataset, run, overrides=tiny_config(name), bootstrap=0))
    return out


# --- building blocks ------------------------------------------------------------------------------

def test_patch_embedder_averages_patch_embeddings():
    from wlbench_baselines.common.nets import PatchEmbedder

    torch.manual_seed(0)
    e = PatchEmbedder(64, 20, [4, 8], [[2, 4], [1, 4]], dropout=0.0).eval()
    x = torch.randn(2, 100, 64)
    whole = e(x)
    parts = torch.stack([e(x[:, i * 20:(i + 1) * 20]) for i in range(5)]).mean(0)
    assert whole.shape == (2, e.out_dim)
    assert torch.allclose(whole, parts, atol=1e-6)
    assert e(torch.randn(1, 7, 64)).shape == (1, e.out_dim)  # shorter than a patch: padded


def test_patch_embedder_pooling_and_normalisation_options():
    from wlbench_baselines.common.nets import PatchEmbedder

    x = torch.randn(3, 100, 64)
    torch.manual_seed(0)
    after = PatchEmbedder(64, 20, [4, 8], [[2, 4], [1, 4]], normalise="after_mean").eval()
    assert torch.allclose(after(x).norm(dim=1), torch.ones(3), atol=1e-5)
    torch.manual_seed(0)
    per_frame = PatchEmbedder(64, 20, [4, 8], [[2, 4], [1, 4]], normalise="per_frame").eval()
    assert (per_frame(x).norm(dim=1) <= 1 + 1e-5).all()  # a mean of unit vectors
    torch.manual_seed(0)
    mx = PatchEmbedder(64, 20, [4, 8], [[2, 4], [1, 4]], pooling="max").eval()
    per_patch = mx.patch_embeddings(x)
    assert torch.equal(mx(x), per_patch.max(dim=1).values)
    with pytest.raises(ValueError):
        PatchEmbedder(64, 20, [4], [[2, 4]], normalise="sometimes")


def test_channels_last_gives_the_same_embeddings():
    from wlbench_baselines.common.nets import PatchEmbedder

    x = torch.randn(4, 1000, 64)
    torch.manual_seed(0)
    a = PatchEmbedder(64, 20, [16, 16, 32, 65], [[2, 2], [2, 2], [1, 4], [1, 2]]).eval()
    torch.manual_seed(0)
    b = PatchEmbedder(64, 20, [16, 16, 32, 65], [[2, 2], [2, 2], [1, 4], [1, 2]], channels_last=True).eval()
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-5)
        assert torch.equal(b(x), b(x))  # and deterministic run to run
    # and the convolutions really run channels-last (a one-channel input alone cannot carry the format)
    seen = []
    hook = b.trunk.net[0].register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        b(x[:1])
    hook.remove()
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous()


@pytest.mark.parametrize("act", ["leaky_relu", "relu"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_the_trunk_pools_before_the_activation_with_the_values_of_pooling_after_it(act, batch_norm):
    """conv -> [bn] -> pool -> act computes exactly what conv -> [bn] -> act -> pool did (the activations are
    monotone), forward and backward."""
    from torch.nn import functional as F

    from wlbench_baselines.common.nets import ConvTrunk

    torch.manual_seed(0)
    trunk = ConvTrunk(64, [4, 8], [[2, 2], [1, 4]], act=act, batch_norm=batch_norm)
    x = torch.randn(3, 40, 64)

    def old_order(h):
        for conv, norm in zip([trunk.net[i] for i in range(len(trunk.net)) if isinstance(trunk.net[i], torch.nn.Conv2d)],
                              [m for m in trunk.net if isinstance(m, torch.nn.BatchNorm2d)] or [None, None]):
            h = conv(h)
            h = norm(h) if norm is not None else h
            h = F.leaky_relu(h, 0.2) if act == "leaky_relu" else F.relu(h)
            h = F.max_pool2d(h, (2, 2) if conv.in_channels == 1 else (1, 4))
        return h.permute(0, 2, 1, 3).flatten(2)

    assert [type(m).__name__ for m in trunk.net][:3 + batch_norm] == \
        ["Conv2d", *(["BatchNorm2d"] if batch_norm else []), "MaxPool2d", "LeakyReLU" if act == "leaky_relu" else "ReLU"]
    new = trunk(x)
    new.square().sum().backward()
    grads = [p.grad.clone() for p in trunk.parameters()]
    trunk.zero_grad()
    old = old_order(x.unsqueeze(1))
    old.square().sum().backward()
    assert torch.equal(new, old)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, trunk.parameters()))


def test_dropout_draws_a_seeded_mask_at_the_rate_and_scales_the_kept_values():
    from wlbench_baselines.common.nets import Dropout

    drop = Dropout(0.2)
    x = torch.ones(64, 16, 10, 32).contiguous(memory_format=torch.channels_last).requires_grad_()
    torch.manual_seed(3)
    y = drop(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - 0.2) < 0.005
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1.25))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient goes through the same mask and scale
    torch.manual_seed(3)
    assert torch.equal(drop(x), y)  # the same torch seed, the same mask
    assert not torch.equal(drop(x), y)  # the next call draws another
    assert torch.equal(drop.eval()(x), x) and torch.equal(Dropout(0.0)(x), x)
    # a non-dense input (a transposed view) is masked at the same rate
    assert abs((drop.train()(torch.ones(200, 300).t()) == 0).float().mean().item() - 0.2) < 0.01
    with pytest.raises(ValueError):
        Dropout(1.0)
    with pytest.raises(ValueError):  # rounds to a threshold past the uniforms' range
        Dropout(1 - 2**-18)
    with pytest.raises(TypeError, match="floating-point"):
        drop(torch.ones(4, dtype=torch.int64))


def test_dropout_masks_are_those_of_the_reference_formulation_bit_for_bit():
    """The mask read four uniforms to a PCG64 draw and built in numpy equals, bit for bit, the formulation it
    replaced (``Generator.integers`` uint16 uniforms, torch's comparison, ``.to(dtype).mul_(scale)``): the
    same runs train the same, for every dtype, memory order, rate and element count (odd ones included)."""
    from wlbench_baselines.common.nets import Dropout

    def reference(drop, x):
        seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
        u = np.random.Generator(np.random.PCG64(seed)).integers(0, 65536, x.numel(), dtype=np.uint16)
        keep = torch.from_numpy(u.view(np.int16)).as_strided(x.size(), x.stride()) >= drop._below
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - drop.p))

    cases = [((3, 5, 7, 9), torch.channels_last), ((2, 16, 10, 32), torch.contiguous_format), ((13,), None),
             ((1, 1, 1, 3), torch.channels_last), ((4, 7), None)]
    for p in (0.1, 0.3, 0.5, 0.77):
        drop = Dropout(p)
        for dtype in (torch.float32, torch.float64, torch.bfloat16):
            for shape, fmt in cases:
                x = torch.randn(shape, dtype=torch.float64).to(dtype)
                if fmt is not None:
                    x = x.contiguous(memory_format=fmt)
                torch.manual_seed(11)
                want = reference(drop, x)
                torch.manual_seed(11)
                got = drop(x)
                assert got.dtype == want.dtype and got.stride() == want.stride()
                bits = {torch.float32: torch.int32, torch.float64: torch.int64, torch.bfloat16: torch.int16}[dtype]
                assert torch.equal(got.contiguous().view(bits), want.contiguous().view(bits))  # -0.0 too


def test_the_methods_adam_updates_as_the_single_tensor_form_bit_for_bit():
    """``wlbench.training.fit.adam`` (the multi-tensor form) trains a conv trunk with dropout exactly as torch's
    single-tensor Adam does on CPU: the same weights after 30 steps, bit for bit."""
    from wlbench.training.fit import adam
    from wlbench_baselines.common.nets import ConvTrunk

    weights = {}
    for form in ("multi-tensor", "single-tensor"):
        torch.manual_seed(0)
        net = ConvTrunk(16, [4, 8], [[2, 2], [2, 2]], dropout=0.2, batch_norm=True, channels_last=True)
        opt = adam(net.parameters(), lr=3e-3) if form == "multi-tensor" else \
            torch.optim.Adam(net.parameters(), lr=3e-3, foreach=False)
        assert opt.defaults["foreach"] is (form == "multi-tensor")
        data = torch.Generator().manual_seed(1)
        for _ in range(30):
            loss = net(torch.randn(6, 12, 16, generator=data)).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        weights[form] = [p.detach().clone() for p in net.parameters()]
    assert all(torch.equal(a.view(torch.int32), b.view(torch.int32))
               for a, b in zip(weights["multi-tensor"], weights["single-tensor"]))
    shared = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="listed twice"):  # the one case where the two forms differ
        adam(list(shared.parameters()) * 2, lr=1e-3)


def test_seeding_turns_off_the_nan_fill_of_deterministic_mode():
    from wlbench.training.fit import seed_everything

    before = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory)
    try:
        seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.utils.deterministic.fill_uninitialized_memory is False
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.utils.deterministic.fill_uninitialized_memory = before[1]


def test_building_blocks_shapes():
    from wlbench_baselines.common.nets import CRNN, MLP, BiGRU, ConvTrunk, Pooling

    trunk = ConvTrunk(64, [4, 8], [[2, 2], [2, 2]], batch_norm=True, dropout=0.1)
    h = trunk(torch.randn(3, 40, 64))
    assert h.shape == (3, 10, trunk.out_dim) and trunk.out_dim == 8 * 16
    r = BiGRU(trunk.out_dim, 5)(h)
    assert r.shape == (3, 10, 10)
    for kind in ("mean", "max", "attention"):
        assert Pooling(kind, 10, 4)(r).shape[0] == 3
    assert MLP(10, [8], 3)(r[:, 0]).shape == (3, 3)
    crnn = CRNN(64, 3, [4, 8], [[2, 4], [2, 4]], rnn_hidden=6).eval()
    clip, frames = crnn(torch.randn(2, 40, 64))
    assert clip.shape == (2, 3) and frames.shape == (2, 10, 3) and crnn.time_pool == 4
    assert torch.allclose(clip, frames.mean(dim=1))  # decision-level mean pooling


def test_episode_is_support_major_and_loss_is_protonet():
    from wlbench.training.sampling import episode
    from wlbench_baselines.common.losses import prototypical_loss

    cls = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    labels = np.eye(3, dtype=np.uint8)[cls]
    idx, k = episode(labels, 2, 1, np.random.default_rng(0))
    assert k == 3 and len(idx) == 9
    assert list(cls[idx]) == [0, 0, 1, 1, 2, 2, 0, 1, 2]  # all supports (class-major), then all queries
    # queries sitting on their prototypes give a lower loss than queries on another class's prototype
    protos = torch.eye(3) * 5
    sup = protos.repeat_interleave(2, dim=0)
    good = prototypical_loss(torch.cat([sup, protos]), 3, 2, 1)
    bad = prototypical_loss(torch.cat([sup, protos.roll(1, 0)]), 3, 2, 1)
    assert good < 1e-3 < bad


def test_triplets_follow_label_sets():
    from wlbench.training.sampling import label_triplets

    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]], dtype=np.uint8)
    a, p, n = label_triplets(labels, 200, np.random.default_rng(1))
    shares = lambda i, j: bool((labels[i] & labels[j]).any())  # noqa: E731
    assert all(shares(i, j) for i, j in zip(a, p)) and (a != p).all()
    assert not any(shares(i, j) for i, j in zip(a, n))
    assert labels[a].any(axis=1).all() and labels[n].any(axis=1).all()  # the unlabeled clip is never drawn
    assert len(set(a.tolist())) >= 5


def test_triplet_loss_is_eq_2():
    from wlbench_baselines.common.losses import triplet_loss

    a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.5]])
    assert float(triplet_loss(a, p, n, margin=0.5)) == pytest.approx(1.0 - 0.25 + 0.5)  # squared distances
    assert float(triplet_loss(a, p, n, margin=0.5, squared=False)) == pytest.approx(1.0 - 0.5 + 0.5)
    assert float(triplet_loss(a, n, p, margin=0.5)) == 0.0


def test_masked_bce_ignores_unknown_entries():
    from wlbench_baselines.common.losses import masked_bce

    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    known = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    loss = masked_bce(logits, y, known)
    full = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    assert float(loss.detach()) == pytest.approx(float((full * known).sum().detach() / 3))
    loss.backward()
    assert logits.grad[0, 1] == 0  # an unknown entry gets no gradient
    assert float(masked_bce(logits, y, torch.zeros(2, 2)).detach()) == 0.0


def test_early_stopping_patience_and_warmup():
    from wlbench.training.fit import EarlyStopping

    s = EarlyStopping(patience=2, warmup=3)
    seq = [0.5, 0.4, 0.3, 0.2, 0.1, 0.1]  # epoch 0 is the initial model
    stops = [s.step(i, v)[1] for i, v in enumerate(seq)]
    assert stops == [False, False, False, False, False, True] and s.best_epoch == 0


def test_scaler_and_balanced_subset():
    from wlbench.training.data import Scaler
    from wlbench.training.sampling import balanced_subset

    x = np.random.default_rng(0).normal(3, 2, size=(5, 7, 4)).astype(np.float32)
    z = Scaler.fit(x).transform(x).reshape(-1, 4)
    assert np.allclose(z.mean(0), 0, atol=1e-5) and np.allclose(z.std(0), 1, atol=1e-4)
    single = np.eye(3, dtype=np.uint8)[[0] * 10 + [1] * 10 + [2] * 10]
    idx = balanced_subset(single, 9, seed=3)
    assert single[idx].sum(axis=0).tolist() == [3, 3, 3]
    multi = np.array([[1, 1, 0]] * 6 + [[0, 0, 1]] * 6 + [[0, 0, 0]] * 3, dtype=np.uint8)
    idx = balanced_subset(multi, 6, seed=0)
    assert len(idx) == 6 and multi[idx].any(axis=1).all() and multi[idx, 2].sum() >= 2


# --- methods --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", METHODS)
def test_loss_decreases_and_curves_are_logged(name, seg_dataset, tmp_path):
    from wlbench.methods import get_method

    method = get_method(name)
    ctx = make_ctx(method, seg_dataset, tmp_path, tiny_config(name, max_epochs=8, patience=8, lr=1e-2,
                                                              train_segment="1s"))
    summary = method.train(ctx)
    rows = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    first = [r for r in rows if r["stage"] == rows[0]["stage"]]
    assert [r["epoch"] for r in first] == list(range(9))  # epoch 0: the model before training
    losses = [r["loss"] for r in first[1:]]
    assert np.mean(losses[-3:]) < np.mean(losses[:2]), losses
    assert rows[0]["selection"] == ("map" if name == "turpault-classifier" else "centroid_map")
    assert all(r["selection"] == "map" for r in rows if r["stage"] == "classifier")
    assert summary["stages"][0]["examples_per_second"] > 0


def test_untrained_control_leaves_the_embedder_at_its_initialisation(seg_dataset, tmp_path):
    from wlbench.methods import get_method

    method = get_method("turpault-triplet")
    assert method.controls == {"untrained": {"train_embedding": False}}
    states = {}
    for tag, extra in (("cell", {}), ("control", method.controls["untrained"])):
        ctx = make_ctx(method, seg_dataset, tmp_path / tag, tiny_config("turpault-triplet", **extra), seed=5)
        summary = method.train(ctx)
        states[tag] = torch.load(tmp_path / tag / "checkpoint.pt", weights_only=True)["state"]["embedder"]
        stages = [s["stage"] for s in summary["stages"]]
        assert stages == (["embedding", "classifier"] if tag == "cell" else ["classifier"])
    torch.manual_seed(5)
    fresh = method.build(method.config_schema().defaults() | tiny_config("turpault-triplet"), 64, 3)["embedder"]
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in states["control"].items())
    assert not all(torch.equal(states["cell"][k], v) for k, v in states["control"].items())


@pytest.mark.parametrize("name", METHODS)
def test_run_writes_submissions_reports_and_curves(name, trained, seg_dataset):
    run, summary = trained[name]
    for split in ("validation", "eval"):
        for stem in (split, f"{split}-200ms", f"{split}-1s"):
            assert (run / "predictions" / f"{stem}.csv").is_file()
            report = json.loads((run / "reports" / f"{stem}.json").read_text())
            assert report["task"] == "tagging" and "map" in report["headline"]
            assert str(run) in report["submission"]["path"]  # the final folder, not the temporary one
    from wlbench.scoring import score_file

    rep = score_file(seg_dataset, run / "predictions" / "eval.csv", split="eval")
    assert f"# split_truth_id: {rep['dataset']['split_truth_id']}\n" in (run / "predictions" / "eval.csv").read_text()
    assert rep["headline"]["map"]["value"] == pytest.approx(
        json.loads((run / "reports" / "eval.json").read_text())["headline"]["map"]["value"])
    assert set(summary["map"]) == {"validation", "eval"} and summary["seed"] == 0
    assert (run / "curves.png").stat().st_size > 1000
    assert not list(run.parent.glob(".*partial*"))  # the temporary folder was moved into place


@pytest.mark.parametrize("name", METHODS)
def test_save_load_predict_identical(name, trained, seg_dataset):
    from wlbench.methods import predict_run

    run, _ = trained[name]
    before = (run / "predictions" / "eval-1s.csv").read_text()
    rep_before = json.loads((run / "reports" / "eval-1s.json").read_text())["headline"]
    predict_run(run, seg_dataset, splits=["eval"], segments=["1s"], bootstrap=0)
    assert (run / "predictions" / "eval-1s.csv").read_text() == before
    assert json.loads((run / "reports" / "eval-1s.json").read_text())["headline"] == rep_before
    p1, p2 = predict(name, run, seg_dataset, segment="1s"), predict(name, run, seg_dataset, segment="1s")
    assert np.array_equal(p1.clip_scores, p2.clip_scores) and len(p1.clip_ids) == 6


def test_same_seed_same_scores_other_seed_differs(seg_dataset, tmp_path):
    from wlbench.methods import train_run

    name = "turpault-triplet"
    runs = {}
    for tag, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_run(name, seg_dataset, tmp_path / tag, overrides=tiny_config(name), seed=seed, bootstrap=0,
                  segments=["200ms"])
        runs[tag] = predict(name, tmp_path / tag, seg_dataset, segment="200ms").clip_scores
    assert np.array_equal(runs["a"], runs["b"])
    assert not np.array_equal(runs["a"], runs["c"])


# --- run folders ------------------------------------------------------------------------------------

def test_a_failed_run_leaves_the_old_run_untouched(trained, seg_dataset, tmp_path, monkeypatch):
    import shutil

    from wlbench.methods import get_method, train_run

    run = tmp_path / "run"
    shutil.copytree(trained["turpault-classifier"][0], run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(WlbenchError, match="already holds a finished run"):
        train_run("turpault-classifier", seg_dataset, run, overrides=tiny_config("turpault-classifier"))
    method = get_method("turpault-classifier")

    def broken(*args, **kwargs):
        raise WlbenchError("the method failed half-way")
    monkeypatch.setattr(type(method), "fit", broken)
    with pytest.raises(WlbenchError, match="half-way"):
        train_run("turpault-classifier", seg_dataset, run, overrides=tiny_config("turpault-classifier"), force=True)
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name != "run"]  # no temporary folder left beside it
    monkeypatch.undo()
    train_run("turpault-classifier", seg_dataset, run, overrides=tiny_config("turpault-classifier", max_epochs=1),
              force=True, bootstrap=0, segments=["clip"])
    assert json.loads((run / "run.json").read_text())["config"]["max_epochs"] == 1
    assert not (run / "predictions" / "eval-1s.csv").exists()  # replaced as a whole


# --- checkpoints ----------------------------------------------------------------------------------

def _copy_run(run: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(run, dst)
    return dst


def test_corrupted_checkpoint_is_a_clear_error(trained, seg_dataset, tmp_path):
    run = _copy_run(trained["turpault-classifier"][0], tmp_path / "run")
    ck = run / "checkpoint.pt"
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    with pytest.raises(WlbenchError, match="unreadable or corrupted"):
        predict("turpault-classifier", run, seg_dataset)
    ck.unlink()
    with pytest.raises(WlbenchError, match="not found"):
        predict("turpault-classifier", run, seg_dataset)


def test_mismatched_checkpoint_is_a_clear_error(trained, seg_dataset, tmp_path):
    from wlbench.training.fit import load_checkpoint, save_checkpoint

    run = _copy_run(trained["turpault-protonet"][0], tmp_path / "run")
    with pytest.raises(WlbenchError, match="belongs to method 'turpault-protonet'"):
        predict("turpault-triplet", run, seg_dataset)
    ck = load_checkpoint(run / "checkpoint.pt")
    ck["config"]["filters"] = [4, 16]  # the weights no longer fit the network its config builds
    save_checkpoint(run / "checkpoint.pt", method=ck["method"], config=ck["config"], classes=ck["classes"],
                    scaler=ck["scaler"], state=ck["state"], extra=ck["extra"])
    with pytest.raises(WlbenchError, match="do not match the network"):
        predict("turpault-protonet", run, seg_dataset)
    torch.save({"hello": 1}, run / "checkpoint.pt")
    with pytest.raises(WlbenchError, match="not a wlbench baseline checkpoint"):
        predict("turpault-protonet", run, seg_dataset)


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


@pytest.mark.parametrize("item, message", [
    ("max_epochs=abc", 'max_epochs = "abc": not a number'),
    ("max_epochs=-1", "max_epochs = -1: out of range"),
    ("max_epochs=2.5", "max_epochs = 2.5: not an integer"),
    ("lr=nan", "lr = nan: not finite"),
    ("lr=-1", "lr = -1: out of range"),
    ("lr=0", "lr = 0: out of range"),
    ("lr=true", "lr = true: not a number"),
    ("filters=[16,-2]", "filters = [16, -2]: item 1 (-2): out of range"),
    ("pools=[[2,2],[2]]", "item 1 ([2]): 1 item, not 2"),
    ("batch_size=0", "batch_size = 0: out of range"),
    ("activation=glu", 'activation = "glu": not one of the choices'),
    ("dropout=1.5", "dropout = 1.5: out of range"),
    ("oracle=sometimes", 'oracle = "sometimes": not one of the choices'),
    ("=3", "the key is empty"),
])
def test_every_config_value_is_validated_before_anything_runs(item, message, tmp_path, seg_dataset):
    from wlbench.cli import main

    res = CliRunner().invoke(main, ["train", "turpault-classifier", "--dataset", str(seg_dataset), "--out",
                                    str(tmp_path / "run"), "--set", item])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and message in res.output and res.output.count("\n") == 1
    assert "Traceback" not in res.output and not (tmp_path / "run").exists()


def test_config_file_must_be_a_table(tmp_path, seg_dataset):
    from wlbench.cli import main

    for name, text in (("c.json", "[1, 2]"), ("c.toml", "max_epochs = "), ("c.bin", None)):
        f = tmp_path / name
        if text is None:
            f.write_bytes(bytes(range(256)))
        else:
            f.write_text(text)
        res = CliRunner().invoke(main, ["train", "turpault-classifier", "--dataset", str(seg_dataset), "--out",
                                        str(tmp_path / "run"), "--config", str(f)])
        assert res.exit_code == 2 and res.output.startswith(f"error: config file {f}"), res.output
        assert "Traceback" not in res.output and not (tmp_path / "run").exists()


def test_cli_train_predict_methods(seg_dataset, tmp_path):
    from wlbench.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["methods"])
    assert res.exit_code == 0 and all(m in res.output for m in [*METHODS, "prior"])
    res = runner.invoke(main, ["methods", "turpault-triplet"])
    assert res.exit_code == 0 and "anchor_only_gradients" in res.output and "untrained" in res.output
    sets = [x for k, v in tiny_config("turpault-classifier").items()
            for x in ("--set", f"{k}={json.dumps(v)}")]
    run = tmp_path / "run"
    res = runner.invoke(main, ["train", "turpault-classifier", "--dataset", str(seg_dataset), "--out", str(run),
                               "--bootstrap", "0", "--quiet", "--seed", "2", *sets])
    assert res.exit_code == 0, res.output
    assert (run / "summary.json").is_file() and (run / "reports" / "eval-200ms.json").is_file()
    assert json.loads((run / "run.json").read_text())["seed"] == 2
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


class MeanScore:
    """An outside method (no torch, no baselines import, no seed or train_segment option): predicts each
    class's frequency among the labeled training clips, plus a constant."""

    name = "mean-score"
    description = "class frequencies plus a constant"

    def config_schema(self):
        from wlbench.methods import ConfigSchema, Option

        return ConfigSchema({"smoothing": Option(0.0, kind=float, min=0, max=1)})

    def train(self, ctx):
        from wlbench.dataset.reader import open_dataset
        from wlbench.dataset.training_data import training_data

        with open_dataset(ctx.dataset) as ds:
            data = training_data(ds.split("train"), features=False)
        prior = data.labels.mean(axis=0) + ctx.config["smoothing"]
        (Path(ctx.run_dir) / "prior.json").write_text(json.dumps(prior.tolist()))
        return {"n": len(data)}

    def predict(self, ctx):
        from wlbench.dataset.reader import open_dataset
        from wlbench.methods import Predictions

        prior = np.array(json.loads((Path(ctx.run_dir) / "prior.json").read_text()))
        out = {}
        with open_dataset(ctx.dataset) as ds:
            for split, segment in ctx.requests:
                ids = ds.split(split).clip_ids
                out[(split, segment)] = Predictions(ids, np.tile(np.clip(prior, 0, 1), (len(ids), 1)))
        return out


def test_outside_method_gets_the_same_commands(seg_dataset, tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    import wlbench.methods.discovery as wd
    from wlbench.cli import main

    real = wd.available_methods()
    fake = {**real, "mean-score": EntryPoint("mean-score", "test_baselines:MeanScore", wd.GROUP)}
    monkeypatch.setattr(wd, "available_methods", lambda: fake)
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", "mean-score", "--dataset", str(seg_dataset), "--out", str(run),
                                    "--set", "smoothing=0.01", "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    assert json.loads((run / "run.json").read_text())["config"] == {"smoothing": 0.01}
    assert (run / "reports" / "eval-1s.json").is_file() and (run / "predictions" / "validation.csv").is_file()
    fake["broken"] = EntryPoint("broken", "test_baselines:NoSuchThing", wd.GROUP)
    res = CliRunner().invoke(main, ["train", "broken", "--dataset", str(seg_dataset), "--out", str(run)])
    assert res.exit_code == 2 and "cannot be loaded" in res.output


def test_turpault2020_findings_are_paired_contrasts_with_verdicts():
    """The paper's findings read off a grid table: the paired (by seed) difference, its interval and the
    verdict; a control (the untrained E) is a cell like any other."""
    from wlbench_baselines.turpault2020.findings import render

    def res(values, untrained=None):
        out = {"seeds": {str(k): v for k, v in values.items()}, "controls": {}}
        if untrained is not None:
            out["controls"]["untrained"] = {"seeds": {str(k): v for k, v in untrained.items()}}
        return out

    good = {s: 0.60 + 0.02 * s for s in range(5)}  # 5 seeds: a claim needs 5
    worse = {s: 0.40 + 0.01 * s for s in range(5)}
    cells = [{"dataset": "waa", "method": "turpault-triplet", "axes": {"train_segment": train},
              "results": {"map": {test: res(good if (train, test) == ("1s", "1s") else worse,
                                            untrained=good if train == "10s" else worse)
                                  for test in ("200ms", "1s", "10s")}}}
             for train in ("200ms", "1s", "10s")]
    text = render([{"metrics": ["map"], "cells": cells}])
    rows = {line.split("|")[2].strip(): line for line in text.splitlines()[4:]}
    best = rows["1 s / 1 s is best (triplet): vs 200ms/200ms"]
    assert "+22.0 ±2.0" in best and best.endswith("| holds |")  # differences 0.20 ... 0.24
    assert rows["trained E beats untrained E (triplet, 1s/1s)"].endswith("| resolved |")  # headroom
    assert rows["trained E beats untrained E (triplet, 10s/10s)"].endswith("| reversed |")
    assert rows["trained E beats untrained E (triplet, 200ms/200ms)"].endswith("| not resolved |")
    assert not any("classifier" in k for k in rows)  # no classifier cells: no row needing one
    assert "Holm-corrected" in text.splitlines()[0]
    # a claim whose headroom (E learns at 1 s / 1 s) does not resolve is not tested
    cells[1]["results"]["map"]["1s"]["controls"]["untrained"]["seeds"] = {"0": 0.61, "1": 0.62, "2": 0.62}
    rows = {line.split("|")[2].strip(): line for line in render([{"metrics": ["map"], "cells": cells}]).splitlines()[4:]}
    assert rows["1 s / 1 s is best (triplet): vs 200ms/200ms"].endswith("| - | no headroom |")
    # and a claim between cells one of which does not beat its controls is never holds / reversed
    cells[1]["results"]["map"]["1s"]["controls"]["untrained"]["seeds"] = {"0": 0.40, "1": 0.41, "2": 0.42}
    cells[0]["results"]["map"]["200ms"]["learned"] = False
    rows = {line.split("|")[2].strip(): line for line in render([{"metrics": ["map"], "cells": cells}]).splitlines()[4:]}
    assert rows["1 s / 1 s is best (triplet): vs 200ms/200ms"].endswith("| below controls |")
