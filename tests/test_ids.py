"""Dataset ids that hold on every machine: truth ids over exactly the scoring truth, content ids over
bit-identical features, and one guard that refuses a dataset whose labels changed after rendering."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner
from cpu_variants import cpu_variants
from leaderboard_helpers import write_predictions

from wlbench.cli import main
from wlbench.dataset.reader import open_dataset
from wlbench.errors import WlbenchError
from wlbench.recipes import load_recipe
from wlbench.soundbank import load_soundbank
from wlbench.synth.pipeline import synthesize

ROOT = Path(__file__).resolve().parents[1]


def _ids(path: Path) -> tuple[str, dict[str, str], str]:
    with open_dataset(path) as ds:
        return ds.truth_id, {name: ds.split(name).truth_id for name in ds.splits}, ds.content_id


def _cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


# --- the same ids on every CPU --------------------------------------------------------------------------

def test_same_truth_and_content_id_under_other_blas_kernels_simd_paths_and_worker_counts(
        tiny_recipe_path, tone_bank, tiny_dataset, tmp_path):
    """Acceptance (issue 10): the tiny recipe rendered in fresh processes, each simulating another CPU (BLAS
    kernel or numpy SIMD path), and with 2 workers, gives the ids of the 1-worker render; `wlbench verify`
    passes on each file, and on each file after its features were replaced by another kernel's."""
    variants = cpu_variants()
    assert len([v for v in variants if "OPENBLAS_CORETYPE" in v]) >= 2, variants
    files = {"1 worker": tiny_dataset}
    for env in variants:
        out = tmp_path / "_".join(f"{k}={v}" for k, v in env.items()).replace(",", "+")
        subprocess.run([sys.executable, "-m", "wlbench.cli", "synth", str(tiny_recipe_path), "--soundbank",
                        str(tone_bank), "--out", str(out), "--workers", "1", "--quiet"],
                       env={**os.environ, **env}, check=True, capture_output=True, timeout=600)
        files[str(env)] = out / "tiny.h5"
    files["2 workers"] = synthesize(load_recipe(tiny_recipe_path), load_soundbank(tone_bank), tmp_path / "two",
                                    workers=2, progress=False).path
    ids = {name: _ids(path) for name, path in files.items()}
    assert len(set(json.dumps(v) for v in ids.values())) == 1, ids
    paths = list(files.values())
    for path, donor in zip(paths, paths[1:] + paths[:1]):
        assert _cli("verify", path)[0] == 0
        with h5py.File(donor, "r") as source, h5py.File(path, "r+") as target:
            for split in ("train", "validation", "eval"):
                target[f"{split}/features"][...] = source[f"{split}/features"][...]
        code, output = _cli("verify", path)
        assert code == 0 and ids["1 worker"][2] in output, output


def test_truth_id_does_not_depend_on_features_or_audio(tiny_recipe_path, tone_bank, tiny_dataset, tmp_path):
    recipe = load_recipe(tiny_recipe_path)
    bare = dataclasses.replace(recipe, store_features=False, store_audio=False)
    path = synthesize(bare, load_soundbank(tone_bank), tmp_path, workers=1, progress=False).path
    truth, splits, content = _ids(path)
    assert (truth, splits) == _ids(tiny_dataset)[:2] and content != _ids(tiny_dataset)[2]


def _reference_entries() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ROOT / "leaderboard" / "entries").glob("*.json"))]


@pytest.fixture(scope="module")
def reference_eval(default_bank, tmp_path_factory) -> dict[str, Path]:
    """The eval split of each reference recipe at scale 0.2 on the default bank, rendered alone and without
    features (neither changes its truth): recipe name -> file."""
    out = tmp_path_factory.mktemp("reference_eval")
    files = {}
    for name in ("waa", "waa-200ms"):
        recipe = load_recipe(ROOT / "datasets" / f"{name}.toml").scaled(0.2)
        eval_only = dataclasses.replace(recipe, splits=tuple(s for s in recipe.splits if s.name == "eval"),
                                        store_features=False)
        files[name] = synthesize(eval_only, load_soundbank(default_bank), out, workers=2, progress=False).path
    return files


# the eval split truth ids of the reference recipes at scale 0.2 on the default bank, as first pinned by the
# board (issue 10); a dataset with no entry on the board today keeps its id here
REFERENCE_EVAL_TRUTH = {"waa": "94886e8322bcf8f89d479d4bf7ec96bb85cf4714fb4a6aa60d09e4ecd4126761",
                        "waa-200ms": "6fc736280ff173d0a3862359c6fe8b7d891ee906744d3220fde9d70abf942aac"}


@pytest.mark.parametrize("recipe_name", ["waa", "waa-200ms"])
def test_default_waa_reproduces_the_truth_pinned_by_the_reference_board(reference_eval, recipe_name):
    """Acceptance (issue 10): the default recipe's eval split at scale 0.2 on the default bank, rendered here,
    has the truth id every committed reference entry of that dataset is pinned to (and the id first pinned,
    for a dataset the board holds no entry of today). A change that would orphan the board fails here."""
    pinned = {e["dataset"]["split_truth_id"] for e in _reference_entries()
              if e["dataset"]["name"] == recipe_name and e["split"] == "eval"}
    assert pinned <= {REFERENCE_EVAL_TRUTH[recipe_name]}, pinned
    assert pinned or recipe_name != "waa", "the board holds no reference entry of WAA"
    assert _ids(reference_eval[recipe_name])[1]["eval"] == REFERENCE_EVAL_TRUTH[recipe_name]


def test_the_committed_board_verifies_and_a_hand_edit_shows(reference_eval, tmp_path):
    """Acceptance (issue 10): `wlbench leaderboard verify` passes on the migrated board, entries re-score
    from their kept predictions against a fresh render of their truth, and a hand-edited entry is detected."""
    from wlbench.leaderboard.entries import HASH_FIELD, self_hash
    from wlbench.leaderboard.verify import dataset_index, verify_entry

    code, output = _cli("leaderboard", "verify", "--board", ROOT / "leaderboard")
    assert code == 0 and " entries verified" in output, output
    index = dataset_index(list(reference_eval.values()))
    entries = _reference_entries()
    on_board = [name for name in reference_eval if any(e["dataset"]["name"] == name for e in entries)]
    assert "waa" in on_board
    for name in on_board:  # one entry per dataset, re-scored (the whole board: `verify --dataset`)
        entry = next(e for e in entries if e["dataset"]["name"] == name)
        path = ROOT / "leaderboard" / "entries" / f"{entry['id']}.json"
        assert entry["dataset"]["split_truth_id"] in index
        assert verify_entry(ROOT / "leaderboard", path, index) == []
    board = tmp_path / "leaderboard"
    shutil.copytree(ROOT / "leaderboard", board, ignore=shutil.ignore_patterns(".lock"))
    path = board / "entries" / f"{entries[0]['id']}.json"
    edited = json.loads(path.read_text())
    edited["summary"]["headline"]["map"]["value"] += 0.05
    edited["runs"][0]["headline"]["map"]["value"] += 0.05
    edited[HASH_FIELD] = self_hash(edited)
    path.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n")
    code, output = _cli("leaderboard", "verify", "--board", board)
    assert code == 2 and f"{path.name} is not the entry recorded at submission" in output, output


# --- one guard: edited labels are refused by every command that scores, submits or compares ----------------

def _edited(tiny_dataset: Path, tmp_path: Path, member: str) -> Path:
    """A copy of the tiny dataset with one stored value changed (the ids are left as rendered)."""
    copy = tmp_path / "edited.h5"
    copy.write_bytes(tiny_dataset.read_bytes())
    with h5py.File(copy, "r+") as handle:
        data = handle[member]
        if data.dtype.kind == "u":
            data[0, 0] = 1 - data[0, 0]
        else:
            data[0] = data[0] + 0.5
    return copy


@pytest.mark.parametrize("member", ["eval/weak_labels", "eval/events/onset", "eval/segments/1s/weak_labels",
                                    "train/weak_labels"])
def test_a_dataset_whose_labels_were_edited_is_refused_naming_verify(tiny_dataset, tmp_path, member):
    edited = _edited(tiny_dataset, tmp_path, member)
    preds = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.2, 0)
    other = write_predictions(tiny_dataset, tmp_path / "q.csv", 0.4, 1)
    for args in (["score", edited, preds, "--bootstrap", "0"],
                 ["compare", "--dataset", edited, "--bootstrap", "2", preds, other],
                 ["leaderboard", "submit", "--board", tmp_path / "board", "--dataset", edited, "--name", "M",
                  "--bootstrap", "0", preds]):
        code, output = _cli(*args)
        assert code == 2, (args, output)
        assert "changed after the file was written" in output and "wlbench verify" in output, output
        assert "Traceback" not in output
    assert not (tmp_path / "board" / "entries").exists()
    code, output = _cli("verify", edited)
    assert code == 2 and "truth id mismatch" in output and "content id mismatch" in output, output
    code, output = _cli("info", edited)
    assert code == 0 and "no longer match its stored truth id" in output
    with pytest.raises(WlbenchError, match="changed after the file was written"):
        from wlbench.scoring import score_file

        score_file(edited, preds)


def test_rerender_of_an_edited_dataset_is_refused(tiny_dataset, tone_bank, tmp_path):
    edited = _edited(tiny_dataset, tmp_path, "eval/weak_labels")
    code, output = _cli("rerender", edited, "--soundbank", tone_bank, "--out", tmp_path / "re.h5", "--workers", "1",
                        "--quiet")
    assert code == 2 and "wlbench verify" in output and not (tmp_path / "re.h5").exists(), output


def test_an_edit_outside_the_truth_keeps_scores_valid_and_shows_in_verify(tiny_dataset, tmp_path):
    edited = _edited(tiny_dataset, tmp_path, "eval/events/snr")
    preds = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.2, 0)
    code, output = _cli("score", edited, preds, "--bootstrap", "0")
    assert code == 0, output
    code, output = _cli("verify", edited)
    assert code == 2 and "content id mismatch" in output and "truth id mismatch" not in output


def test_a_file_from_before_truth_ids_is_checked_by_its_content_id(tiny_dataset, tmp_path):
    legacy = tmp_path / "legacy.h5"
    legacy.write_bytes(tiny_dataset.read_bytes())
    with h5py.File(legacy, "r+") as handle:
        del handle.attrs["truth_id"]
        for split in ("train", "validation", "eval"):
            del handle[split].attrs["truth_id"]
    assert _ids(legacy)[:2] == _ids(tiny_dataset)[:2]
    assert _cli("verify", legacy)[0] == 0
    with h5py.File(legacy, "r+") as handle:
        handle["eval/features"][0, 0, 0] += 1.0
    with open_dataset(legacy) as ds, pytest.raises(WlbenchError, match="predates truth ids"):
        ds.split("eval")


def test_the_report_names_the_truth_ids(tiny_dataset, tmp_path):
    """(The baselines' submission header names the split truth id: tests/test_baselines.py.)"""
    from wlbench.scoring import score_file

    preds = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.2, 0)
    truth, splits, content = _ids(tiny_dataset)
    report = score_file(tiny_dataset, preds)
    assert report["dataset"]["truth_id"] == truth and report["dataset"]["split_truth_id"] == splits["eval"]
    assert report["dataset"]["content_id"] == content
    code, output = _cli("score", tiny_dataset, preds, "--bootstrap", "0")
    assert code == 0 and splits["eval"][:12] in output, output
