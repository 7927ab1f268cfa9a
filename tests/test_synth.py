"""Rendering end to end on a real (tiny) soundbank: determinism, re-rendering, labels, bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_RECIPE

from wlbench.cli import main
from wlbench.dataset.reader import open_dataset
from wlbench.recipes import parse_recipe
from wlbench.soundbank import load_soundbank
from wlbench.synth.pipeline import render_settings
from wlbench.synth.plan import plan_dataset
from wlbench.synth.render import render_clip

WLBENCH = [sys.executable, "-m", "wlbench.cli"]


def run_cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_one_and_two_workers_give_the_same_content_id(tiny_recipe_path, tone_bank, tmp_path, tiny_dataset):
    result = run_cli("synth", tiny_recipe_path, "--soundbank", tone_bank, "--out", tmp_path, "--workers", "2",
                     "--quiet")
    assert result.exit_code == 0, result.output
    with open_dataset(tmp_path / "tiny.h5") as two, open_dataset(tiny_dataset) as one:
        assert two.content_id == one.content_id and len(two.content_id) == 64
        assert two.spec_id == one.spec_id
        assert np.array_equal(two.split("train").features(), one.split("train").features())


def test_rerender_from_stored_jams_is_identical(tiny_dataset, tone_bank, tmp_path):
    result = run_cli("rerender", tiny_dataset, "--soundbank", tone_bank, "--out", tmp_path / "again.h5", "--quiet")
    assert result.exit_code == 0, result.output
    assert "identical" in result.output
    with open_dataset(tiny_dataset) as ds:
        jams_text = ds.split("eval").jams(0)
    assert str(tone_bank) not in jams_text  # paths are stored relative to the soundbank


def test_stored_labels_agree_with_events(tiny_dataset):
    with open_dataset(tiny_dataset) as ds:
        split = ds.split("train")
        events = split.events()
        weak, frames = split.weak_labels(), split.frame_labels()
        assert weak.sum(axis=1).tolist() == [1] * len(split)
        assert frames.shape == (len(split), 1001, 3)
        for row in events.itertuples():
            i = int(np.flatnonzero(split.clip_ids == row.filename)[0])
            k = ds.classes.index(row.event_label)
            active = np.flatnonzero(frames[i, :, k])
            assert active[0] == int(np.ceil(row.onset * 100 - 1e-9))
            assert active[-1] == min(1000, int(np.ceil(row.offset * 100 - 1e-9)) - 1)
        seg = split.segment(0.2)
        assert seg.features().shape == (len(split), 20, 64)
        assert np.array_equal(seg.weak_labels(), weak)
        assert split.segment("10s").features().shape[1] == 1000


def test_200ms_labels_are_200ms_and_outside_audio_is_background(tone_bank):
    recipe = parse_recipe(TINY_RECIPE.format(cut=0.2))
    bank = load_soundbank(tone_bank)
    settings = render_settings(recipe, bank)
    sr = recipe.sample_rate
    for spec in plan_dataset(recipe, bank)["train"][:4]:
        clip, event_audio = render_clip(spec, settings, keep_event_audio=True)
        (label, onset, offset, *_), = clip.events
        assert offset - onset == pytest.approx(0.2, abs=1e-9)
        background, foreground = (np.asarray(a)[:, 0] for a in event_audio)
        mixture = clip.audio.astype(np.float64)
        assert np.allclose(mixture, background + foreground, atol=1e-6)
        outside = np.ones(mixture.size, dtype=bool)
        outside[int(np.floor(onset * sr)):int(np.ceil(offset * sr)) + 1] = False
        assert np.abs(foreground[outside]).max() == 0.0
        assert np.abs(foreground[~outside]).max() > 0.0


def test_verify_detects_tampering(tiny_dataset, tmp_path):
    assert run_cli("verify", tiny_dataset).exit_code == 0
    copy = tmp_path / "tampered.h5"
    copy.write_bytes(tiny_dataset.read_bytes())
    with h5py.File(copy, "r+") as handle:
        handle["eval/features"][0, 0, 0] += 1.0
    result = CliRunner().invoke(main, ["verify", str(copy)])
    assert result.exit_code == 2
    assert "content id mismatch" in result.output


def test_info_shows_splits_classes_and_views(tiny_dataset):
    result = run_cli("info", tiny_dataset)
    assert result.exit_code == 0
    for text in ("[train] 9 clips", "[eval] 6 clips", "Speech", "segment views: 200ms", "content id"):
        assert text in result.output


# ----------------------------------------------------------------------------------------------- bad input

def _fails(args, *needles):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.output
    for needle in needles:
        assert needle in error_lines[0]
    assert "Traceback" not in result.output
    return error_lines[0]


@pytest.fixture()
def previous_output(tmp_path, tiny_dataset):
    """An existing dataset at the output path: failures must leave it byte-identical."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "tiny.h5").write_bytes(tiny_dataset.read_bytes())
    return out


def _untouched(out: Path, tiny_dataset: Path) -> None:
    assert (out / "tiny.h5").read_bytes() == tiny_dataset.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["tiny.h5"]


def test_missing_soundbank(tiny_recipe_path, previous_output, tiny_dataset, tmp_path):
    _fails(["synth", tiny_recipe_path, "--soundbank", tmp_path / "nowhere", "--out", previous_output],
           "nowhere")
    _untouched(previous_output, tiny_dataset)


def test_recipe_class_without_files(tone_bank, previous_output, tiny_dataset, tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_RECIPE.format(cut=0.0).replace('"Speech"]', '"Speech", "Blender"]'))
    _fails(["synth", recipe, "--soundbank", tone_bank, "--out", previous_output], "Blender")
    _untouched(previous_output, tiny_dataset)


def test_unreadable_audio_file(tiny_recipe_path, previous_output, tiny_dataset, tmp_path):
    import shutil

    from tone_bank import make_tone_bank

    bank = make_tone_bank(tmp_path / "bank")
    broken = bank / "train" / "foreground" / "Dog" / "dog_0_1.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    _fails(["synth", tiny_recipe_path, "--soundbank", bank, "--out", previous_output], "dog_0_1.wav")
    _untouched(previous_output, tiny_dataset)
    shutil.rmtree(bank)


def test_misspelled_and_out_of_range_fields(tone_bank, previous_output, tiny_dataset, tmp_path):
    recipe = tmp_path / "bad.toml"
    recipe.write_text(TINY_RECIPE.format(cut=0.0).replace("clips = 9", "clipz = 9"))
    _fails(["synth", recipe, "--soundbank", tone_bank, "--out", previous_output], "splits.train.clipz",
           "did you mean 'clips'")
    recipe.write_text(TINY_RECIPE.format(cut=0.0).replace("seed = 7", "seed = 7\n[audio]\nref_db = 20")
                      .replace("[audio]\nstore_audio", "store_audio"))
    _fails(["synth", recipe, "--soundbank", tone_bank, "--out", previous_output], "audio.ref_db")
    _untouched(previous_output, tiny_dataset)


def test_unwritable_output_directory(tiny_recipe_path, tone_bank, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    _fails(["synth", tiny_recipe_path, "--soundbank", tone_bank, "--out", blocker / "sub"], "a-file")
    _fails(["synth", tiny_recipe_path, "--soundbank", tone_bank, "--out", blocker], "a-file is a file, not a folder")


def test_interrupted_render_leaves_nothing_and_keeps_the_previous_file(tone_bank, previous_output, tiny_dataset,
                                                                       tmp_path):
    recipe = tmp_path / "long.toml"
    recipe.write_text(TINY_RECIPE.format(cut=0.0).replace("clips = 9", "clips = 400"))
    process = subprocess.Popen(WLBENCH + ["synth", str(recipe), "--soundbank", str(tone_bank), "--out",
                                          str(previous_output), "--workers", "1", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".partial") for p in previous_output.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    _untouched(previous_output, tiny_dataset)


def test_waa_renders_from_the_default_bank_without_a_soundbank_option(default_bank, tmp_path):
    result = CliRunner().invoke(main, ["synth", "datasets/waa.toml", "--scale", "0.01", "--out", str(tmp_path),
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"using the default soundbank at {default_bank}" in result.output
    with open_dataset(tmp_path / "waa-scale0.01.h5") as ds:
        assert ds.attr("soundbank_path") == str(default_bank)
        assert len(ds.split("train")) == 27 and len(ds.classes) == 10


def test_damaged_file_is_reported_without_a_traceback(tiny_dataset, tmp_path):
    data = tiny_dataset.read_bytes()
    zeroed = tmp_path / "zeroed.h5"  # 4 KB of zeros in the middle: data or metadata, verify must say so
    zeroed.write_bytes(data[:len(data) // 2] + bytes(4096) + data[len(data) // 2 + 4096:])
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[:len(data) * 3 // 5])
    for command, path in (("verify", zeroed), ("verify", truncated), ("info", truncated)):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 2, (command, path, result.output)
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_segment_predictions_are_scored_against_the_segment_view(tiny_dataset, tmp_path):
    from dataset_edits import edited_copy

    from wlbench.errors import WlbenchError
    from wlbench.scoring import Settings, score_file

    copy = tmp_path / "multi.h5"
    with edited_copy(tiny_dataset, copy) as handle:  # make the 200 ms view differ from the clip labels
        seg = handle["eval/segments/200ms/weak_labels"]
        seg[...] = np.roll(seg[...], 1, axis=1)
        segment_labels, classes = seg[...], [str(c) for c in handle.attrs["classes"]]
        clip_ids = handle["eval/clip_ids"].asstr()[:]
    rows = [",".join(["filename", *classes])] + [
        ",".join([cid, *(f"{v:.1f}" for v in row)]) for cid, row in zip(clip_ids, segment_labels)]
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(rows) + "\n")
    declared = tmp_path / "declared.csv"
    declared.write_text("# segment: 200ms\n" + "\n".join(rows) + "\n")
    settings = Settings(n_resamples=0)
    assert score_file(copy, declared, split="eval", settings=settings)["headline"]["map"]["value"] == 1.0
    assert score_file(copy, plain, split="eval", settings=settings, segment="200ms")["headline"]["map"]["value"] == 1.0
    assert score_file(copy, plain, split="eval", settings=settings)["headline"]["map"]["value"] < 1.0
    with pytest.raises(WlbenchError, match="declares segment '200ms'"):
        score_file(copy, declared, split="eval", settings=settings, segment="1s")


def test_unknown_segment_view_is_named(tiny_dataset):
    from wlbench.errors import WlbenchError

    with open_dataset(tiny_dataset) as ds:
        split = ds.split("eval")
        assert split.segment(1.0).name == split.segment("1s").name == "1s"
        with pytest.raises(WlbenchError, match="has no segment view '5s'; it has 200ms, 1s, 10s"):
            split.segment(5.0)
        with pytest.raises(WlbenchError, match="has no resolution view '2s'; it has none"):
            split.resolution("2s")
