"""Shared fixtures: a tiny real soundbank on disk and datasets rendered from it (once per session)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tone_bank import make_tone_bank  # noqa: E402

TINY_RECIPE = """
[dataset]
name = "tiny"
seed = 7

[audio]
store_audio = true

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
onset = {{ dist = "uniform", min = 0.0, max = 9.8 }}
cut_duration = {cut}

[splits.train]
clips = 9

[splits.validation]
clips = 3
part = "train"

[splits.eval]
clips = 6
part = "eval"
"""


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory) -> Path:
    """Point WLBENCH_CACHE at a temporary folder shared by all xdist workers of this run (never ~/.cache)."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "wlbench-cache"
    os.environ["WLBENCH_CACHE"] = str(shared)
    return shared


@pytest.fixture(scope="session")
def default_bank(isolated_cache) -> Path:
    """The embedded default soundbank, built once per run (a file lock serialises xdist workers)."""
    from wlbench.soundbank import build_default_bank

    return build_default_bank(progress=False)


@pytest.fixture(scope="session")
def tone_bank(tmp_path_factory) -> Path:
    """A ``parts`` soundbank of 3 tone classes, 4 sources each, files of 0.5-6 s, train and eval parts."""
    return make_tone_bank(tmp_path_factory.mktemp("tonebank"))


@pytest.fixture(scope="session")
def tiny_recipe_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipes") / "tiny.toml"
    path.write_text(TINY_RECIPE.format(cut=0.0))
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tone_bank, tiny_recipe_path, tmp_path_factory) -> Path:
    """The tiny recipe rendered (18 clips, audio stored) from the tone bank, with 1 worker."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    out = tmp_path_factory.mktemp("tiny_dataset")
    return synthesize(load_recipe(tiny_recipe_path), load_soundbank(tone_bank), out, workers=1,
                      progress=False).path
