"""Sharded datasets (shards written by local workers, an index of virtual datasets), content id scheme 2, and
the local executor's bounded window."""

from __future__ import annotations

import json
import os
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from wlbench.cli import main
from wlbench.errors import WlbenchError


@pytest.fixture(scope="module")
def sharded(tone_bank, tiny_recipe_path, tmp_path_factory):
    """The tiny recipe rendered by 2 local workers into 3 shards (one per split: they hold fewer than 16 clips)."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    out = tmp_path_factory.mktemp("sharded")
    return synthesize(load_recipe(tiny_recipe_path), load_soundbank(tone_bank), out, workers=2, progress=False,
                      shards=3)


def _ids(path):
    from wlbench.dataset.inspect import verify_dataset

    result = verify_dataset(path)
    assert result.ok, result.problems
    return result.truth_id, result.split_truth_ids, result.computed_content_id


def test_sharded_render_reads_as_the_single_file_with_the_same_ids(sharded, tiny_dataset):
    from wlbench.dataset.reader import open_dataset

    folder = sharded.path.parent
    assert sharded.path.name == "index.h5" and folder.name == "tiny.shards"
    assert sorted(p.name for p in folder.iterdir()) == ["index.h5", "shard-00000-of-00003.h5",
                                                       "shard-00001-of-00003.h5", "shard-00002-of-00003.h5"]
    assert _ids(sharded.path) == _ids(tiny_dataset)
    with open_dataset(tiny_dataset) as one:
        assert sharded.content_id == one.content_id and sharded.truth_id == one.truth_id
    with open_dataset(sharded.path) as many, open_dataset(tiny_dataset) as one:
        for name in one.splits:
            a, b = many.split(name), one.split(name)
            assert np.array_equal(a.features(), b.features()) and np.array_equal(a.audio(), b.audio())
            assert np.array_equal(a.frame_labels(), b.frame_labels())
            assert [a.jams(i) for i in range(len(a))] == [b.jams(i) for i in range(len(b))]
    with h5py.File(sharded.path) as index:  # the index is small: the per-clip members live in the shards
        assert index["train/features"].is_virtual and not index["train/weak_labels"].is_virtual
    assert sharded.path.stat().st_size < 0.1 * sum(p.stat().st_size for p in folder.glob("shard-*"))


def test_info_verify_and_scoring_work_on_the_index(sharded, tiny_dataset, tmp_path):
    from wlbench.dataset.reader import open_dataset
    from wlbench.scoring import Settings, score_file

    result = CliRunner().invoke(main, ["verify", str(sharded.path)])
    assert result.exit_code == 0 and f"content id {sharded.content_id}" in result.output, result.output
    result = CliRunner().invoke(main, ["info", str(sharded.path)])
    assert result.exit_code == 0 and "shards: 3 files beside the index" in result.output, result.output
    with open_dataset(tiny_dataset) as ds:
        split = ds.split("eval")
        weak, clip_ids, classes = split.weak_labels(), split.clip_ids, ds.classes
        events = split.events()
    scores = tmp_path / "scores.csv"
    noisy = np.clip(weak * 0.6 + np.random.default_rng(0).random(weak.shape) * 0.5, 0, 1)
    scores.write_text("filename," + ",".join(classes) + "\n" + "".join(
        f"{cid}," + ",".join(f"{v:.3f}" for v in row) + "\n" for cid, row in zip(clip_ids, noisy)))
    detections = tmp_path / "detections.tsv"
    detections.write_text("filename\tonset\toffset\tevent_label\n" + "".join(
        f"{r.filename}\t{r.onset + 0.1:.3f}\t{r.offset:.3f}\t{r.event_label}\n" for r in events.itertuples()))
    settings = Settings(n_resamples=20)
    for submission in (scores, detections):
        one = score_file(tiny_dataset, submission, split="eval", settings=settings)
        many = score_file(sharded.path, submission, split="eval", settings=settings)
        for report in (one, many):
            report["dataset"].pop("path", None)
        assert json.dumps(one, sort_keys=True, default=str) == json.dumps(many, sort_keys=True, default=str)


def _copy(sharded, tmp_path):
    folder = tmp_path / "copy.shards"
    shutil.copytree(sharded.path.parent, folder)
    return folder


def test_a_missing_or_foreign_shard_is_refused_when_the_index_is_opened(sharded, tone_bank, tmp_path):
    from wlbench.dataset.reader import open_dataset

    folder = _copy(sharded, tmp_path)
    (folder / "shard-00001-of-00003.h5").unlink()
    with pytest.raises(WlbenchError, match="shard shard-00001-of-00003.h5 is missing"):
        open_dataset(folder / "index.h5").__enter__()
    result = CliRunner().invoke(main, ["verify", str(folder / "index.h5")])
    assert result.exit_code == 2 and "is missing" in result.output and "Traceback" not in result.output
    os.mkfifo(folder / "shard-00001-of-00003.h5")  # named for what it is, never opened
    with pytest.raises(WlbenchError, match="is a FIFO .named pipe., not a shard file"):
        open_dataset(folder / "index.h5").__enter__()
    (folder / "shard-00001-of-00003.h5").unlink()
    shutil.copy(sharded.path.parent / "shard-00001-of-00003.h5", folder / "shard-00001-of-00003.h5")
    with h5py.File(folder / "shard-00001-of-00003.h5", "r+") as shard:
        shard.attrs["shard_token"] = "another render"
    with pytest.raises(WlbenchError, match="belongs to another render"):
        open_dataset(folder / "index.h5").__enter__()


def test_an_edited_shard_changes_the_content_id_not_the_truth(sharded, tmp_path):
    from wlbench.dataset.inspect import verify_dataset

    folder = _copy(sharded, tmp_path)
    with h5py.File(folder / "shard-00002-of-00003.h5", "r+") as shard:
        shard["eval/features"][0, 0, 0] += 1.0
    result = verify_dataset(folder / "index.h5")
    assert [p for p in result.problems if "content id mismatch" in p] == result.problems != []
    assert result.truth_id == sharded.truth_id


def test_too_many_shards_is_one_error_before_rendering(tiny_recipe_path, tone_bank, tmp_path):
    from test_cli_bad_inputs import assert_one_clean_error

    result = CliRunner().invoke(main, ["synth", str(tiny_recipe_path), "--soundbank", str(tone_bank), "--out",
                                       str(tmp_path / "out"), "--workers", "1", "--shards", "4", "--quiet"])
    assert_one_clean_error(result, "--shards 4", "at most 3 shards")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_shard_cuts_respect_row_groups():
    from wlbench.dataset.ids import GROUP_ROWS
    from wlbench.dataset.shards import plan_shards

    shards = plan_shards({"train": 100, "validation": 7, "eval": 40}, 5)
    assert len(shards) == 5
    flat = [part for shard in shards for part in shard]
    for split, n in (("train", 100), ("validation", 7), ("eval", 40)):
        parts = [p for p in flat if p.split == split]
        assert parts[0].first == 0 and parts[-1].stop == n
        assert all(a.stop == b.first for a, b in zip(parts, parts[1:]))
        assert all(p.first % GROUP_ROWS == 0 for p in parts)
    sizes = [sum(p.stop - p.first for p in shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 2 * GROUP_ROWS


def test_row_digests_do_not_depend_on_how_rows_are_cut():
    from wlbench.dataset.ids import RowDigests, dataset_digest, digest_of_rows

    rows = np.random.default_rng(0).standard_normal((50, 3, 2)).astype(np.float32)
    whole = digest_of_rows("<f4", rows)
    pieces = []
    for first, stop in ((0, 16), (16, 48), (48, 50)):
        hasher = RowDigests("<f4", first)
        for k in range(first, stop, 5):  # fed in uneven pieces
            hasher.update(rows[k:min(k + 5, stop)])
        pieces.append(hasher.finish())
    assert dataset_digest(pieces) == whole
    assert digest_of_rows(">f4", rows.astype(">f4")) == whole  # bytes are hashed little-endian
    strings = ["a", "", "é" * 3] * 7
    assert digest_of_rows("str", strings) != digest_of_rows("str", strings[::-1])
    with pytest.raises(ValueError, match="multiple of 16"):
        RowDigests("<f4", 3)


def test_a_file_of_content_id_scheme_1_still_verifies(tiny_dataset, tmp_path):
    """Files written before scheme 2 name no scheme: they are checked with the one they were written with."""
    import hashlib

    from wlbench.dataset.ids import content_root_attrs, dataset_paths, hash_member
    from wlbench.dataset.inspect import verify_dataset
    from wlbench.dataset.reader import open_dataset
    from wlbench.hashing import canonical_json

    old = tmp_path / "old.h5"
    shutil.copy(tiny_dataset, old)
    with h5py.File(old, "r+") as handle:
        del handle.attrs["content_id_scheme"]
        digest = hashlib.sha256(canonical_json(content_root_attrs(handle)).encode("ascii"))
        for name in dataset_paths(handle):
            hash_member(digest, name, handle[name])
        handle.attrs["content_id"] = digest.hexdigest()
    result = verify_dataset(old)
    assert result.ok and result.computed_content_id == digest.hexdigest() != verify_dataset(tiny_dataset).computed_content_id
    with open_dataset(old) as ds:
        assert ds.split("eval").truth_id == result.split_truth_ids["eval"]


def test_local_pool_keeps_at_most_window_jobs_in_flight(tone_bank, tiny_recipe_path):
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.executors import LocalExecutor
    from wlbench.synth.jobs import BlockJob, RenderContext
    from wlbench.synth.pipeline import render_settings
    from wlbench.synth.plan import plan_splits

    recipe, bank = load_recipe(tiny_recipe_path), load_soundbank(tone_bank)
    planners = plan_splits(recipe, bank)
    fed = []

    def jobs():
        for first in range(9):
            fed.append(first)
            yield BlockJob("train", first, first + 1)

    with LocalExecutor(2) as executor:
        executor.start(RenderContext(render_settings(recipe, bank), planners, bank.fingerprint), window=3,
                       clips_per_job=1)
        received = []
        for pieces in executor.map_ordered(jobs(), window=3):
            received.append(pieces[0].first)
            assert len(fed) - len(received) <= 3  # the next job waits for this one's slot until it is read
            assert pieces[0].clips[0].features.shape == (1001, 64)  # in its shared-memory slot
    assert received == list(range(9))


def test_a_shard_writer_never_recreates_a_removed_staging_folder(tmp_path):
    """A job still running after its render ended (and removed its staging folder) must not bring the folder
    back with a whole shard in it: one clear error, nothing created."""
    from wlbench.dataset.shards import ShardFileWriter
    from wlbench.dataset.writer import ClipLayout
    from wlbench.errors import WlbenchError

    gone = tmp_path / ".out.shards.partial"
    layout = ClipLayout(n_classes=2, feature_dtype="float32", feature_attrs={}, store_features=False,
                        store_audio=False)
    with pytest.raises(WlbenchError, match="is gone"):
        with ShardFileWriter(gone / "shard-000.h5", token="t", layout=layout, shapes={}):
            pass
    assert not gone.exists() and list(tmp_path.iterdir()) == []
