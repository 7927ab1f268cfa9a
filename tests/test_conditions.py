"""Label conditions (issue 5): missing-label views, multi-event planning, chunk labels, roles and domains.

The drop function is a pure function of truth + seed + rule, so its statistics are checked on large synthetic
truth arrays; planning statistics on plans (no audio); the rest through small real renders.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from wlbench.cli import main
from wlbench.dataset.ids import spec_id
from wlbench.dataset.labels import chunk_labels, polyphony
from wlbench.dataset.reader import open_dataset
from wlbench.errors import WlbenchError
from wlbench.recipes import ViewSpec, load_recipe, parse_recipe
from wlbench.soundbank import load_soundbank
from wlbench.synth.plan import max_polyphony, plan_dataset
from wlbench.synth.views import apply_drops, drop_probabilities, event_values, missing_label_view, view_uniforms

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("Dog", "Cat", "Speech")

MULTI = """
[dataset]
name = "multi"
seed = 11

[audio]
store_audio = true

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
events_per_clip = {{ dist = "choose", values = [1, 2, 3, 4] }}
polyphony_max = {cap}
onset = {{ dist = "uniform", min = 0.0, max = 9.0 }}
{extra}

[domains.far]
backgrounds = ["noise1"]
snr = {{ dist = "uniform", min = 0, max = 6 }}
lowpass_hz = 2000.0

[splits.train]
clips = {clips}
roles = {{ strong = 0.25, weak = 0.25, unlabeled = 0.5 }}
domain = {{ strong = "default", weak = "far", unlabeled = "far" }}

[splits.eval]
clips = 4
part = "eval"

[views.missing]
rate = [0.0, 0.2, 0.5]

[views.quiet]
by = "snr"
low = 0
high = 30
rate_low = 0.9
rate_high = 0.0
splits = ["train"]

[resolution]
chunks = [10, 5, 2, 1]
min_overlap = 0.05
"""


def multi(cap: int = 2, clips: int = 12, extra: str = "") -> str:
    return MULTI.format(cap=cap, clips=clips, extra=extra)


@pytest.fixture(scope="module")
def bank(tone_bank):
    return load_soundbank(tone_bank)


# --------------------------------------------------------------------------------------------- pure views

def _truth(n: int, c: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, c)) < 0.4).astype(np.uint8)


def _view(**kw) -> ViewSpec:
    base = {"name": "v", "stream": "v", "splits": (), "rate": 0.2}
    base.update(kw)
    return ViewSpec(**base)


def test_view_never_adds_a_positive_and_dropped_is_the_difference():
    truth = _truth(20000, 3)
    for view in (_view(rate=0.0), _view(rate=0.3), _view(rate=1.0), _view(class_rates=(("Cat", 0.7),))):
        observed, dropped = missing_label_view(view, truth, CLASSES, 5, "train")
        assert observed.dtype == dropped.dtype == np.uint8
        assert not ((observed == 1) & (truth == 0)).any()
        assert np.array_equal(dropped, truth - observed)
        assert not (dropped & observed).any()
    observed, dropped = missing_label_view(_view(rate=0.0), truth, CLASSES, 5, "train")
    assert np.array_equal(observed, truth) and dropped.sum() == 0
    observed, dropped = missing_label_view(_view(rate=1.0), truth, CLASSES, 5, "train")
    assert observed.sum() == 0 and np.array_equal(dropped, truth)


def test_drop_rate_per_class_matches_the_recipe_within_binomial_tolerance():
    truth = _truth(60000, 3, seed=1)
    view = _view(rate=0.1, class_rates=(("Cat", 0.4), ("Speech", 0.02)))
    _, dropped = missing_label_view(view, truth, CLASSES, 123, "train")
    for k, expected in enumerate((0.1, 0.4, 0.02)):
        n = int(truth[:, k].sum())
        rate = dropped[:, k].sum() / n
        sigma = np.sqrt(expected * (1 - expected) / n)
        assert abs(rate - expected) < 4 * sigma, (CLASSES[k], rate, expected, n)


def test_snr_rule_drops_quiet_events_more_often():
    n = 40000
    rng = np.random.default_rng(3)
    clip = np.arange(n)
    label = rng.integers(0, 3, n)
    snr = rng.uniform(0, 30, n)
    truth = np.zeros((n, 3), np.uint8)
    truth[clip, label] = 1
    values = event_values(clip, label, snr, np.zeros(n), np.ones(n), n_clips=n, n_classes=3)
    view = _view(rate=0.0, by="snr", low=0.0, high=30.0, rate_low=0.9, rate_high=0.0)
    p = drop_probabilities(view, CLASSES, n, values)
    assert np.allclose(p[clip, label], 0.9 * (1 - snr / 30))
    _, dropped = missing_label_view(view, truth, CLASSES, 9, "train", values)
    quiet, loud = snr < 10, snr > 20
    assert dropped[clip, label][quiet].mean() > 0.65 and dropped[clip, label][loud].mean() < 0.25
    expected = p[clip, label][quiet].mean()
    assert abs(dropped[clip, label][quiet].mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / quiet.sum())


def test_relative_snr_is_zero_for_the_loudest_class_of_a_clip():
    values = event_values(np.array([0, 0, 1]), np.array([0, 2, 1]), np.array([20.0, 8.0, 5.0]), np.zeros(3),
                          np.ones(3), n_clips=2, n_classes=3)
    assert values["relative_snr"][0, 0] == 0 and values["relative_snr"][0, 2] == -12
    assert values["relative_snr"][1, 1] == 0 and np.isnan(values["relative_snr"][0, 1])


def test_views_are_seeded_nested_and_independent_of_the_number_of_clips():
    truth = _truth(5000, 3, seed=2)
    a = missing_label_view(_view(rate=0.2), truth, CLASSES, 1, "train")
    b = missing_label_view(_view(rate=0.2), truth, CLASSES, 1, "train")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    other = missing_label_view(_view(rate=0.2), truth, CLASSES, 2, "train")
    assert not np.array_equal(a[1], other[1])
    prefix = missing_label_view(_view(rate=0.2), truth[:1000], CLASSES, 1, "train")
    assert np.array_equal(prefix[1], a[1][:1000])
    # rungs of one ladder share their stream: a positive dropped at 20 % is dropped at 40 % too
    high = missing_label_view(_view(rate=0.4), truth, CLASSES, 1, "train")
    assert not (a[1] & (1 - high[1])).any()
    u = view_uniforms(1, "train", "v", 10, 3)
    assert np.array_equal(apply_drops(truth[:10], np.full((10, 3), 0.2), u)[1], a[1][:10])


# ------------------------------------------------------------------------------------------------ recipes

def test_existing_recipes_keep_their_spec_id():
    # hashes recorded before the label conditions were added
    assert spec_id(load_recipe(ROOT / "datasets" / "waa.toml").canonical(), "x") == \
        "6ae516430ee539aad594252b3fe7ddc47610cdf6bed54ba6225bbb85f2cfa54d"
    assert spec_id(load_recipe(ROOT / "datasets" / "waa-200ms.toml").canonical(), "x") == \
        "5ac3071a2966cbae5c49de269620c6e466d31de10eded0adda5f428fb0446726"


def test_desed_like_recipe_parses():
    recipe = load_recipe(ROOT / "datasets" / "desed-like.toml")
    assert recipe.clip_duration == 10.0 and recipe.events_per_clip.as_dict() == {"dist": "choose",
                                                                                 "values": (1.0, 2.0, 3.0, 4.0, 5.0)}
    assert [v.name for v in recipe.views] == ["missing-0", "missing-10", "missing-20", "missing-40", "quiet-missed"]
    assert recipe.resolution_chunks == (10.0, 5.0, 2.0, 1.0) and recipe.polyphony_max == 3
    assert set(recipe.cooccurrence_table()) == set(recipe.classes)
    assert dict(recipe.split("train").roles) == {"strong": 0.2, "weak": 0.4, "unlabeled": 0.4}


@pytest.mark.parametrize("old, new, message", [
    ("polyphony_max = 2", "polyphony_max = 2\nallow_overlap = false", "allow_overlap = false means a cap of 1"),
    ("values = [1, 2, 3, 4]", "values = [0, 2]", "foreground.events_per_clip: the number of events must lie in"),
    ("unlabeled = 0.5", "unlabeled = 0.4", "role fractions add up to 0.9"),
    ("unlabeled = 0.5", "unlabeled = 0.5, teacher = 0.0", "unknown role 'teacher'"),
    ('weak = "far"', 'weak = "near"', "unknown domain 'near'"),
    ("rate = [0.0, 0.2, 0.5]", "rate = [0.0, 1.2]", "views.missing.rate: a drop probability must be"),
    ("rate = [0.0, 0.2, 0.5]", "rate = 0.1\nclass_rates = { Cow = 0.2 }", "'Cow' is not in classes.names"),
    ("rate_high = 0.0", "", "views.quiet.rate_high is required"),
    ('by = "snr"', 'by = "loudness"', "views.quiet.by: must be 'snr', 'relative_snr' or 'duration'"),
    ("min_overlap = 0.05", "min_overlap = 2", "resolution.min_overlap: must be shorter than the shortest chunk"),
    ("lowpass_hz = 2000.0", "lowpass_hz = 2000.0\nreverbb = 1", "unknown field domains.far.reverbb"),
    ('splits = ["train"]', 'splits = ["test"]', "views.quiet.splits: must list split names"),
])
def test_bad_condition_fields_are_refused_with_their_name(old, new, message):
    text = multi()
    assert old in text
    with pytest.raises(WlbenchError) as info:
        parse_recipe(text.replace(old, new, 1), source="bad.toml")
    assert message in str(info.value) and str(info.value).startswith("bad.toml")


def test_role_counts_and_cooccurrence_files(tmp_path):
    recipe = parse_recipe(multi().replace("strong = 0.25, weak = 0.25, unlabeled = 0.5",
                                          "strong = 3, weak = 3, unlabeled = 6"))
    assert dict(recipe.split("train").roles) == {"strong": 0.25, "weak": 0.25, "unlabeled": 0.5}
    with pytest.raises(WlbenchError, match="role counts add up to 11, the split has 12 clips"):
        parse_recipe(multi().replace("strong = 0.25, weak = 0.25, unlabeled = 0.5",
                                     "strong = 3, weak = 3, unlabeled = 5"))
    (tmp_path / "co.json").write_text(json.dumps({"Dog": {"proba": 1, "co-occurences": {
        "max_events": 3, "classes": ["Cat"], "probas": [1]}}}))
    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(multi(extra='cooccurrence = "co.json"'))
    assert load_recipe(recipe_path).cooccurrence_table()["Dog"]["classes"] == ["Cat"]
    recipe_path.write_text(multi(extra='cooccurrence = "nope.json"'))
    with pytest.raises(WlbenchError, match="foreground.cooccurrence: cannot read"):
        load_recipe(recipe_path)


# ----------------------------------------------------------------------------------------------- planning

@pytest.mark.parametrize("cap", [1, 2, 3])
def test_polyphony_never_exceeds_the_cap(bank, cap):
    recipe = parse_recipe(multi(cap=cap, clips=400))
    plans = plan_dataset(recipe, bank)
    counts = []
    for specs in plans.values():
        for spec in specs:
            assert max_polyphony([(e.onset, e.offset) for e in spec.events]) <= cap
            assert 1 <= len(spec.events) <= spec.requested_events <= 4
            counts.append(len(spec.events))
    assert max(counts) > cap or cap >= 3  # the cap is reached by placing events side by side, not by refusing all
    assert np.mean(counts) > 1.5


def test_polyphony_helper_agrees_with_the_planner():
    clip = np.array([0, 0, 0, 1, 1])
    assert polyphony(clip, np.array([0, 1, 2, 0, 5.0]), np.array([3, 2, 4, 5, 6.0]), 3).tolist() == [2, 1, 0]
    assert max_polyphony([(0, 3), (1, 2), (2, 4)]) == 2


def test_cooccurrence_weights_are_followed_within_tolerance(bank):
    table = {"Dog": {"proba": 0.6, "co-occurences": {"max_events": 4, "classes": ["Cat", "Speech"],
                                                      "probas": [0.8, 0.2]}},
             "Cat": {"proba": 0.3, "co-occurences": {"max_events": 2, "classes": ["Dog"], "probas": [1.0]}},
             "Speech": {"proba": 0.1, "co-occurences": {"max_events": 4, "classes": ["Speech"], "probas": [1]}}}
    text = multi(cap=0, clips=2000, extra='cooccurrence = "co.json"')
    recipe = parse_recipe(text, resources={"co.json": json.dumps(table)})
    specs = plan_dataset(recipe, bank)["train"]
    first = np.array([s.events[0].label for s in specs])  # the plan keeps the first event first
    n = len(specs)
    for label, entry in table.items():
        rate, p = (first == label).mean(), entry["proba"]
        assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / n), label
    dog_extra = [e.label for s in specs if s.events[0].label == "Dog" for e in s.events[1:]]
    cat_share = np.mean([x == "Cat" for x in dog_extra])
    assert abs(cat_share - 0.8) < 4 * np.sqrt(0.16 / len(dog_extra))
    assert all(len(s.events) <= 2 for s in specs if s.events[0].label == "Cat")
    assert {e.label for s in specs if s.events[0].label == "Cat" for e in s.events[1:]} == {"Dog"}


def test_roles_and_domains_are_planned(bank):
    recipe = parse_recipe(multi(clips=40))
    specs = plan_dataset(recipe, bank)["train"]
    roles = [s.role for s in specs]
    assert (roles.count("strong"), roles.count("weak"), roles.count("unlabeled")) == (10, 10, 20)
    for s in specs:
        assert s.domain == ("default" if s.role == "strong" else "far")
        if s.domain == "far":
            assert s.background_folder == "noise1" and all(0 <= e.snr <= 6 for e in s.events)
    assert plan_dataset(recipe, bank)["train"] == specs


# ------------------------------------------------------------------------------------------------ renders

@pytest.fixture(scope="module")
def multi_dataset(tone_bank, tmp_path_factory):
    from wlbench.synth.pipeline import synthesize

    out = tmp_path_factory.mktemp("multi")
    recipe = parse_recipe(multi(cap=2, clips=12))
    return synthesize(recipe, load_soundbank(tone_bank), out, workers=1, progress=False).path


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_rendered_views_keep_their_invariants(multi_dataset):
    with open_dataset(multi_dataset) as ds:
        split = ds.split("train")
        truth = split.weak_labels()
        assert split.view_names == ["missing-0", "missing-20", "missing-50", "quiet"]
        assert ds.split("eval").view_names == ["missing-0", "missing-20", "missing-50"]
        for name in split.view_names:
            view = split.label_view(name)
            observed, dropped = view.labels(), view.dropped()
            assert not ((observed == 1) & (truth == 0)).any()
            assert np.array_equal(dropped, truth - observed)
        assert split.label_view("missing-0").dropped().sum() == 0
        # the stored view is the pure function of stored truth + seed + rule
        recipe = parse_recipe(ds.recipe_text)
        view = next(v for v in recipe.views if v.name == "missing-50")
        assert np.array_equal(missing_label_view(view, truth, ds.classes, recipe.seed, "train")[1],
                              split.label_view("missing-50").dropped())
        assert split.label_view("missing-50").rule["rate"] == 0.5
        cols = split.event_arrays()
        assert polyphony(cols["clip_index"], cols["onset"], cols["offset"], len(split)).max() <= 2
        res = split.resolution(2.0)
        labels = res.labels()
        assert split.resolution_names == ["10s", "5s", "2s", "1s"] and labels.shape == (12, 5, 3)
        assert np.array_equal(split.resolution("10s").labels()[:, 0, :], truth)
        assert np.array_equal(labels, chunk_labels(cols["clip_index"], cols["label_index"], cols["onset"],
                                                   cols["offset"], n_clips=12, n_classes=3, clip_duration=10.0, chunk=2.0, min_overlap=0.05))
        assert (labels.max(axis=1) <= truth).all()  # a chunk never holds a class its clip lacks
        assert res.features().shape == (12, 5, 200, 64)


def test_training_data_in_one_call(multi_dataset):
    from wlbench.dataset.training_data import training_data

    with open_dataset(multi_dataset) as ds:
        split = ds.split("train")
        truth, observed_view, dropped = split.label_audit("missing-50")
        data = training_data(split, labels="missing-50", frames=True)
        unlabeled = data.role_mask("unlabeled")
        assert data.features.shape[0] == 12 and data.labels.shape == (12, 3)
        assert unlabeled.sum() == 6 and data.role_mask("strong").sum() == 3
        assert not hasattr(data, "true_labels") and not hasattr(data, "dropped")  # the truth is not in it
        assert (data.known[unlabeled] == 0).all() and (data.labels[unlabeled] == 0).all()
        assert (data.known[~unlabeled] == 1).all()
        assert np.array_equal(data.labels[~unlabeled], observed_view[~unlabeled])
        assert data.domain_names == ("default", "far")
        assert np.array_equal(data.domains == 1, ~data.role_mask("strong"))
        # frame labels: strong clips only, never a class the view dropped
        assert np.array_equal(data.frame_known, data.role_mask("strong"))
        assert (data.frame_labels[~data.role_mask("strong")] == 0).all()
        assert (data.frame_labels.max(axis=1) <= data.labels).all()
        strong = data.role_mask("strong")
        full = split.frame_labels()[strong] & observed_view[strong][:, None, :]
        assert np.array_equal(data.frame_labels[strong], full)
        pooled = data.frame_labels_at(4)
        assert pooled.shape == (12, -(-data.frame_labels.shape[1] // 4), 3)
        assert np.array_equal(pooled[:, 0], data.frame_labels[:, :4].max(axis=1))
        # oracles: the true labels of the labeled clips, or the dropped positives masked out
        oracle = training_data(split, labels="missing-50", oracle="labels", features=False)
        assert np.array_equal(oracle.labels[~unlabeled], truth[~unlabeled]) and oracle.features is None
        masked = training_data(split, labels="missing-50", oracle="mask", features=False)
        assert (masked.known[dropped == 1] == 0).all() and np.array_equal(masked.labels, data.labels)
        assert ((masked.known == 0) == ((dropped == 1) | unlabeled[:, None])).all()
        # segment windows: the window's labels AND the observed clip labels
        seg = training_data(split, labels="missing-50", segment="1s")
        assert seg.features.shape == (12, 100, 64) and seg.segment == "1s"
        assert np.array_equal(seg.labels, split.segment("1s").weak_labels() & data.labels)
        assert np.array_equal(seg.features, split.segment("1s").features())
        chunks = training_data(split, labels="missing-50", resolution="2s", features=False)
        assert chunks.chunk == 2.0 and (chunks.chunk_labels.max(axis=1) <= chunks.labels).all()
        assert (chunks.chunk_labels[unlabeled] == 0).all()
        sub = data.subset(data.labeled)
        assert len(sub) == 6 and sub.frame_labels.shape[0] == 6
        with pytest.raises(WlbenchError, match="no label view 'missing-30'"):
            training_data(split, labels="missing-30")
        with pytest.raises(WlbenchError, match="oracle"):
            training_data(split, oracle="truth")
        eval_data = training_data(ds.split("eval"))
        assert (eval_data.roles == 0).all() and eval_data.role_names[0] == "strong"


def test_worker_count_and_rerender_give_the_same_dataset(multi_dataset, tone_bank, tmp_path):
    recipe = tmp_path / "multi.toml"
    recipe.write_text(multi(cap=2, clips=12))
    assert run_cli("synth", recipe, "--soundbank", tone_bank, "--out", tmp_path, "--workers", "2",
                   "--quiet").exit_code == 0
    with open_dataset(tmp_path / "multi.h5") as two, open_dataset(multi_dataset) as one:
        assert two.content_id == one.content_id
        assert np.array_equal(two.split("train").label_view("quiet").labels(),
                              one.split("train").label_view("quiet").labels())
    result = run_cli("rerender", multi_dataset, "--soundbank", tone_bank, "--out", tmp_path / "again.h5", "--quiet")
    assert result.exit_code == 0 and "identical" in result.output  # the domain EQ is re-applied


def test_domain_eq_changes_the_audio(multi_dataset):
    with open_dataset(multi_dataset) as ds:
        split = ds.split("train")
        audio, domains = split.audio(), split.domains()
        spectrum = np.abs(np.fft.rfft(audio, axis=1))
        freqs = np.fft.rfftfreq(audio.shape[1], 1 / 16000)
        high = spectrum[:, freqs > 4000].mean(axis=1) / spectrum.mean(axis=1)
        assert high[domains == 1].max() < high[domains == 0].min()


def test_info_and_score_show_the_views(multi_dataset, tmp_path):
    result = run_cli("info", multi_dataset)
    assert result.exit_code == 0
    for text in ("missing-20", "missing-50", "quiet", "roles: strong 3, weak 3, unlabeled 6", "domains:",
                 "polyphony max", "resolution views (min overlap 0.05 s): 10s", "events per clip"):
        assert text in result.output, text
    # what each domain is, the rates, the splits in the order a study uses them
    far = next(line for line in result.output.splitlines() if line.strip().startswith("far "))
    assert "backgrounds: noise1" in far and "uniform" in far and "low-pass 2000 Hz" in far, far
    default = next(line for line in result.output.splitlines() if line.strip().startswith("default "))
    assert "SNR (foreground)" in default and "EQ: none" in default, default
    assert "frames/s" in result.output and "frame labels at the same" in result.output
    assert result.output.index("[train]") < result.output.index("[eval]")
    summary = json.loads(run_cli("info", multi_dataset, "--json").output)
    assert list(summary["splits"]) == ["train", "eval"]
    assert summary["rates"]["frame_label_rate"] == summary["rates"]["features"]["frame_rate"] > 0
    assert [d["name"] for d in summary["domain_specs"]] == ["default", "far"]
    # a class with no clip in a split is a warning (4 eval clips of up to 4 events may miss one)
    for name, split in summary["splits"].items():
        empty = [c for c, row in split["per_class"].items() if row["clips"] == 0]
        assert bool(empty) == any(f"split {name!r}" in w for w in summary["warnings"])
    view = summary["splits"]["train"]["views"]["missing-50"]
    assert view["kept"] + view["dropped"] == view["positives"]
    with open_dataset(multi_dataset) as ds:
        split = ds.split("train")
        observed = split.label_view("missing-50").labels()
        ids = split.clip_ids
    submission = tmp_path / "scores.csv"
    submission.write_text("filename,Dog,Cat,Speech\n" + "".join(
        f"{cid},{','.join(str(float(v)) for v in row)}\n" for cid, row in zip(ids, observed)))
    true_report = run_cli("score", multi_dataset, submission, "--split", "train", "--bootstrap", "0",
                          "--json", tmp_path / "t.json")
    view_report = run_cli("score", multi_dataset, submission, "--split", "train", "--bootstrap", "0",
                          "--labels", "missing-50", "--json", tmp_path / "v.json")
    assert true_report.exit_code == 0 and view_report.exit_code == 0, view_report.output
    t, v = json.loads((tmp_path / "t.json").read_text()), json.loads((tmp_path / "v.json").read_text())
    assert t["labels"] == "true" and v["labels"] == "missing-50"
    assert t != v
    assert "labels: view 'missing-50'" in view_report.output and "labels: view" not in true_report.output


def test_desed_like_renders_at_scale_0_1_and_info_shows_each_view(tmp_path):
    from wlbench.soundbank import build_default_bank, default_bank_path

    bank_path = default_bank_path()
    if not bank_path.exists():
        build_default_bank()
    result = run_cli("synth", ROOT / "datasets" / "desed-like.toml", "--scale", "0.1", "--out", tmp_path,
                     "--workers", "2", "--quiet")
    assert result.exit_code == 0, result.output
    path = tmp_path / "desed-like-scale0.1.h5"
    info = run_cli("info", path)
    assert info.exit_code == 0
    for name in ("missing-0", "missing-10", "missing-20", "missing-40", "quiet-missed", "roles: strong 24",
                 "10s (1 chunks", "1s (10 chunks", "synthetic 24"):
        assert name in info.output, name
    assert run_cli("verify", path).exit_code == 0
    with open_dataset(path) as ds:
        split = ds.split("train")
        cols = split.event_arrays()
        assert polyphony(cols["clip_index"], cols["onset"], cols["offset"], len(split)).max() <= 3
        per_clip = np.bincount(cols["clip_index"], minlength=len(split))
        assert per_clip.min() >= 1 and per_clip.max() <= 5
        truth = split.weak_labels()
        for name in split.view_names:
            view = split.label_view(name)
            assert np.array_equal(view.dropped(), truth - view.labels())


def test_verify_catches_a_view_that_adds_a_positive(multi_dataset, tmp_path):
    import h5py

    copy = tmp_path / "tampered.h5"
    copy.write_bytes(multi_dataset.read_bytes())
    with h5py.File(copy, "r+") as handle:
        truth = handle["train/weak_labels"][:]
        i, k = np.argwhere(truth == 0)[0]
        handle["train/views/missing-20/labels"][i, k] = 1
    result = CliRunner().invoke(main, ["verify", str(copy)])
    assert result.exit_code == 2 and "holds positives the true labels lack" in result.output


def test_info_warns_of_a_class_without_clips_in_a_split(tiny_dataset, tmp_path):
    from dataset_edits import edited_copy

    path = tmp_path / "no-cat.h5"
    with edited_copy(tiny_dataset, path) as handle:
        weak = handle["validation"]["weak_labels"][:]
        weak[:, 1] = 0  # no validation clip is labelled Cat any more
        handle["validation"]["weak_labels"][...] = weak
    result = run_cli("info", path)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "split 'validation'" in warnings[0] and "Cat" in warnings[0], result.output
    assert result.output.index("warning:") < result.output.index("[train]")  # before the split details
