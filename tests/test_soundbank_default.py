"""The embedded default soundbank: determinism, shape, durations, difficulty, size.

One session fixture builds the bank twice, in two fresh processes at once; the first copy is placed where
``default_bank_path()`` points under a private WLBENCH_CACHE, so the rest of the tests (and
``load_soundbank(None)``) reuse it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from wlbench.soundbank import BANK_VERSION, check_soundbank, load_soundbank, soundbank_fingerprint

DESED_CLASSES = ("Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush", "Frying",
                 "Running_water", "Speech", "Vacuum_cleaner")
SHORT = ("Alarm_bell_ringing", "Cat", "Dishes", "Dog", "Speech")
LONG = ("Blender", "Electric_shaver_toothbrush", "Frying", "Running_water", "Vacuum_cleaner")

_BUILD = ("import sys; from pathlib import Path; from wlbench.soundbank import build_default_bank, "
          "soundbank_fingerprint; p = build_default_bank(Path(sys.argv[1]) if len(sys.argv) > 1 else None, "
          "progress=False); print(soundbank_fingerprint(p))")


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Build the bank in two fresh processes at once: (cache dir, bank path, fingerprints)."""
    base = tmp_path_factory.mktemp("default_bank")
    cache = base / "cache"
    env = {**os.environ, "WLBENCH_CACHE": str(cache)}
    other = base / "second" / "bank"
    procs = [subprocess.Popen([sys.executable, "-c", _BUILD, *extra], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for extra in ([], [str(other)])]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    path = cache / "soundbanks" / f"default-v{BANK_VERSION}"
    return cache, path, [out.strip() for out, _ in outputs]


@pytest.fixture()
def bank_path(built, monkeypatch):
    cache, path, _ = built
    monkeypatch.setenv("WLBENCH_CACHE", str(cache))
    return path


def test_two_fresh_processes_give_the_same_fingerprint(built):
    _, path, fingerprints = built
    assert fingerprints[0] == fingerprints[1]
    assert len(fingerprints[0]) == 64
    manifest = json.loads((path / "bank.json").read_text(encoding="utf-8"))
    assert manifest["fingerprint"] == fingerprints[0] == soundbank_fingerprint(path, use_cache=False)
    assert fingerprints[0] in (path / "README.md").read_text(encoding="utf-8")


def test_load_default_uses_the_built_bank_and_check_is_clean(bank_path):
    bank = load_soundbank(None)
    assert bank.root == bank_path
    assert bank.layout == "parts" and bank.parts == ("train", "eval")
    assert bank.classes == DESED_CLASSES
    report = check_soundbank(None)
    assert report.ok, [str(p) for p in report.problems]
    assert report.is_default
    from wlbench.cli import main

    result = CliRunner().invoke(main, ["soundbank", "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"using the default soundbank at {bank_path}" in result.output
    assert "no problems found" in result.output


def test_rebuild_is_a_no_op_when_fingerprint_matches(bank_path):
    from wlbench.soundbank import build_default_bank

    before = (bank_path / "bank.json").stat().st_mtime_ns
    assert build_default_bank(progress=False) == bank_path
    assert (bank_path / "bank.json").stat().st_mtime_ns == before


def test_sources_per_class_and_disjoint_parts(bank_path):
    bank = load_soundbank(bank_path)
    groups = {}
    for part, minimum in (("train", 20), ("eval", 8)):
        groups[part] = set()
        for label in DESED_CLASSES:
            files = bank.foreground_files(part, label)
            sources = {f.group for f in files}
            assert len(sources) >= minimum, (part, label)
            assert len(files) > len(sources)     # several takes per source
            groups[part] |= sources
        groups[part] |= {f.group for f in bank.background_files(part)}
    assert not groups["train"] & groups["eval"]


def test_backgrounds_per_part(bank_path):
    bank = load_soundbank(bank_path)
    for part in ("train", "eval"):
        backgrounds = bank.background_files(part)
        assert len(backgrounds) >= 12
        assert all(f.duration == pytest.approx(10.0) for f in backgrounds)
        assert len({f.label for f in backgrounds}) >= 6
        for f in backgrounds:
            assert f.scaper_root / f.folder / f.path.name == f.path


def test_format_and_levels(bank_path):
    bank = load_soundbank(bank_path)
    assert {(f.sample_rate, f.channels) for f in bank.foreground + bank.background} == {(16000, 1)}
    for f in bank.foreground[::37]:
        x, _ = sf.read(str(f.path), dtype="int16")
        peak = np.max(np.abs(x.astype(np.int32)))
        assert 3000 < peak < 32767                   # -20..-3 dBFS, no clipping
        assert abs(float(np.mean(x))) < 0.01 * peak  # no DC offset
        assert sf.info(str(f.path)).subtype == "PCM_16"


def test_duration_statistics(bank_path):
    bank = load_soundbank(bank_path)
    for label in DESED_CLASSES:
        durations = [f.duration for f in bank.foreground if f.label == label]
        median = statistics.median(durations)
        if label in SHORT:
            assert 0.3 <= median <= 3.0, (label, median)
            assert np.mean([0.3 <= d <= 3.0 for d in durations]) >= 0.8, label
        else:
            assert 3.0 <= median <= 10.0, (label, median)
            assert np.mean([3.0 <= d <= 10.0 for d in durations]) >= 0.7, label


def test_size_under_100_mb(bank_path):
    size = sum(f.stat().st_size for f in bank_path.rglob("*") if f.is_file())
    print(f"default soundbank size: {size / 1e6:.1f} MB")
    assert size < 100e6


def test_logistic_regression_on_mean_log_mel_is_neither_trivial_nor_hopeless(bank_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from wlbench.features import log_mel

    bank = load_soundbank(bank_path)

    def features(part):
        rows, labels = [], []
        for f in bank.foreground:
            if f.part == part:
                audio, _ = sf.read(str(f.path), dtype="float64")
                rows.append(log_mel(audio).mean(axis=0))
                labels.append(bank.classes.index(f.label))
        return np.array(rows), np.array(labels)

    x_train, y_train = features("train")
    x_eval, y_eval = features("eval")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    model.fit(x_train, y_train)
    accuracy = model.score(x_eval, y_eval)
    print(f"default soundbank: logistic regression on mean log-mel, train->eval accuracy {accuracy:.3f}")
    assert 0.5 <= accuracy <= 0.95
