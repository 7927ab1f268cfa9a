"""Recipe parsing and validation: the shipped recipes, and one clear error per bad field."""

from __future__ import annotations

from pathlib import Path

import pytest

from wlbench.errors import WlbenchError
from wlbench.recipes import load_recipe, parse_recipe

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = """
[dataset]
name = "x"
seed = 1
[classes]
names = ["Dog", "Cat"]
[splits.train]
clips = 10
"""


def test_shipped_recipes_parse_and_match_the_paper():
    waa = load_recipe(ROOT / "datasets" / "waa.toml")
    short = load_recipe(ROOT / "datasets" / "waa-200ms.toml")
    assert [(s.name, s.clips, s.part) for s in waa.splits] == [
        ("train", 2700, "train"), ("validation", 300, "train"), ("eval", 750, "eval")]
    assert len(waa.classes) == 10 and waa.snr.as_dict() == {"dist": "uniform", "min": 6.0, "max": 30.0}
    assert waa.features.n_mels == 64 and waa.features.hop_length == 160 and waa.features.win_length == 400
    assert waa.segment_durations == (0.2, 1.0, 10.0)
    assert short.cut_duration == 0.2 and waa.cut_duration == 0.0
    # The 200 ms dataset differs from WAA only by its name and the cut: same seed, same draws.
    a, b = waa.canonical(), short.canonical()
    assert {k for k in a if a[k] != b[k]} == {"name", "cut_duration"}


def test_defaults_fill_a_minimal_recipe():
    recipe = parse_recipe(MINIMAL)
    assert recipe.sample_rate == 16000 and recipe.clip_duration == 10.0 and recipe.splits[0].share == 1.0


@pytest.mark.parametrize("edit, message", [
    (("[splits.train]", "[splits.train]\nclipz = 3"), "unknown field splits.train.clipz (did you mean 'clips'?)"),
    (("[classes]", "[foreground]\nsnrr = 3\n[classes]"), "unknown field foreground.snrr (did you mean 'snr'?)"),
    (("[classes]", "[foreground]\nsnr = { dist = \"uniform\", min = 6, max = 100 }\n[classes]"),
     "foreground.snr: values must lie in [-30, 60] dB"),
    (("[classes]", "[foreground]\nsnr = { dist = \"uniform\", min = 9, max = 6 }\n[classes]"),
     "min (9.0) is greater than max (6.0)"),
    (("[classes]", "[foreground]\nsnr = { dist = \"gauss\", min = 9, max = 6 }\n[classes]"),
     "foreground.snr.dist: unknown distribution 'gauss'"),
    (("clips = 10", "clips = 0"), "splits.train.clips: must be in [1, 10000000], got 0"),
    (("clips = 10", "clips = \"ten\""), "splits.train.clips: expected an integer, got 'ten'"),
    (("clips = 10", "clips = 10\npart = \"test\""), "splits.train.part: must be one of train, validation, eval"),
    (("[classes]", "[audio]\nclip_duration = -1\n[classes]"), "audio.clip_duration: must be in [0.5, 600] s"),
    (("[classes]", "[foreground]\ncut_duration = 11\n[classes]"), "foreground.cut_duration"),
    (("[classes]", "[features]\nn_mels = 0\n[classes]"), "n_mels must be positive"),
    (("[classes]", "[features]\nsample_rate = 32000\n[classes]"), "must equal audio.sample_rate"),
    (("[classes]", "[segmentz]\ndurations = [1.0]\n[classes]"), "unknown field recipe.segmentz (did you mean 'segments'?)"),
    (("names = [\"Dog\", \"Cat\"]", "names = [\"Dog\", \"Dog\"]"), "classes.names: must be a non-empty list of distinct"),
    (("seed = 1", "seed = -1"), "dataset.seed: must be in [0, 2**63)"),
    (("seed = 1\n", ""), "dataset.seed is required"),
    (("[splits.train]\nclips = 10", "[splits.train]\nclips = 10\nshare = 0.7\n[splits.more]\nclips = 5\nshare = 0.6"),
     "add up to 1.300"),
])
def test_bad_fields_are_refused_with_their_name(edit, message):
    old, new = edit
    assert old in MINIMAL
    with pytest.raises(WlbenchError) as info:
        parse_recipe(MINIMAL.replace(old, new, 1), source="bad.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("bad.toml")


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(WlbenchError, match="not valid TOML"):
        parse_recipe("[dataset\nname=", source="broken.toml")
    with pytest.raises(WlbenchError, match="recipe file .*nope.toml not found"):
        load_recipe(tmp_path / "nope.toml")


def test_scaled_recipe_keeps_proportions():
    recipe = load_recipe(ROOT / "datasets" / "waa.toml").scaled(0.1)
    assert [s.clips for s in recipe.splits] == [270, 30, 75] and recipe.scale == 0.1
    with pytest.raises(WlbenchError, match="--scale must be in"):
        recipe.scaled(0)
