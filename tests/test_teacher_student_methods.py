"""dinkel-psl and fonseca-masking end to end on a tiny multi-event dataset with a missing-label view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_baselines import make_ctx, predict

RECIPE = """
[dataset]
name = "tinyts"
seed = 5

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
events_per_clip = { dist = "choose", values = [1, 2, 3] }
onset = { dist = "uniform", min = 0.0, max = 9.0 }

[splits.train]
clips = 16

[splits.validation]
clips = 6
part = "train"

[splits.eval]
clips = 6
part = "eval"

[views.missing]
rate = 0.4
splits = ["train", "validation"]

[segments]
durations = []
"""

NET = {"filters": [4, 8], "pools": [[4, 4], [2, 4]], "head_dropout": 0.0, "threads": 1, "labels": "missing",
       "teacher_max_epochs": 2, "teacher_patience": 2, "max_epochs": 2, "patience": 2, "warmup": 0,
       "teacher_batch_size": 8, "batch_size": 8}


@pytest.fixture(scope="module")
def ts_dataset(tone_bank, tmp_path_factory) -> Path:
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    d = tmp_path_factory.mktemp("ts_dataset")
    (d / "tinyts.toml").write_text(RECIPE)
    return synthesize(load_recipe(d / "tinyts.toml"), load_soundbank(tone_bank), d, workers=1, progress=False).path


def _train(name, dataset, run_dir, overrides, seed=0):
    from wlbench.methods import get_method

    method = get_method(name)
    ctx = make_ctx(method, dataset, run_dir, overrides, seed)
    return method.train(ctx), ctx


def _audit(run_dir: Path) -> dict[str, dict]:
    return {row["audit"]: row for row in map(json.loads, (run_dir / "audit.jsonl").read_text().splitlines())}


def test_pseudo_strong_labels_end_to_end(ts_dataset, tmp_path):
    from wlbench.methods import train_run

    summary = train_run("dinkel-psl", ts_dataset, tmp_path / "psl", overrides={**NET, "chunk": 5.0, "top_k": 2},
                        bootstrap=0)
    stages = {s["stage"]: s for s in summary["train"]["stages"]}
    assert set(stages) == {"teacher", "relabel", "student"}
    relabel = stages["relabel"]
    assert relabel["chunks"] == 2 * 16 and abs(sum(relabel["labels_per_chunk_shares"]) - 1) < 1e-6
    assert stages["student"]["averaged_epochs"] and len(stages["student"]["averaged_epochs"]) == 2
    audits = _audit(tmp_path / "psl")
    assert {"teacher_chunk_union", "teacher_chunks"} <= set(audits)
    assert audits["teacher_chunks"]["window_frames"] == 500 and audits["teacher_chunks"]["n_windows"] == 32
    p = predict("dinkel-psl", tmp_path / "psl", ts_dataset)
    assert p.clip_scores.shape == (6, 3) and np.all((p.clip_scores >= 0) & (p.clip_scores <= 1))
    again = predict("dinkel-psl", tmp_path / "psl", ts_dataset)
    assert np.array_equal(p.clip_scores, again.clip_scores)
    from wlbench_baselines.teacher_student.report import headline, report

    per_class = [row["lwlrap"] for row in report(tmp_path / "psl")["per_class"].values() if row.get("n_pos")]
    assert headline(tmp_path / "psl", "lwlrap_balanced") == pytest.approx(np.mean(per_class))
    assert headline(tmp_path / "psl", "map") == report(tmp_path / "psl")["headline"]["map"]["value"]


def test_alpha_zero_never_trains_a_teacher(ts_dataset, tmp_path):
    summary, _ = _train("dinkel-psl", ts_dataset, tmp_path / "weak", {**NET, "chunk": 10.0, "alpha": 0.0})
    assert [s["stage"] for s in summary["stages"]] == ["student"]


def test_cached_teacher_gives_the_same_student(ts_dataset, tmp_path):
    cfg = {**NET, "chunk": 2.0, "teacher_cache": str(tmp_path / "cache"), "student_clips": 8}
    first, _ = _train("dinkel-psl", ts_dataset, tmp_path / "a", cfg)
    second, _ = _train("dinkel-psl", ts_dataset, tmp_path / "b", cfg)
    assert first["stages"][0]["cached"] is None and second["stages"][0]["cached"]
    assert first["stages"][-1]["best_value"] == second["stages"][-1]["best_value"]
    assert first["stages"][1] == second["stages"][1]  # the same soft labels, so the same analysis
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1
    assert first["n_train"] == 16 and first["stages"][1]["chunks"] == 8 * 5  # the student's nested subset


def test_loss_masking_flags_the_top_negatives_and_audits_them(ts_dataset, tmp_path):
    summary, _ = _train("fonseca-masking", ts_dataset, tmp_path / "mask", {**NET, "discard_percent": 25.0})
    stages = {s["stage"]: s for s in summary["stages"]}
    flags = stages["flags"]
    assert flags["flagged_per_class"] == [int(n * 25 // 100) for n in flags["candidates_per_class"]]
    audit = _audit(tmp_path / "mask")["flags"]
    assert audit["predicted"] == flags["flagged"] and audit["implicit_predicted"] == flags["flagged"]
    assert stages["student"]["epochs"] == 2


def test_oracle_mask_flags_exactly_the_dropped_positives(ts_dataset, tmp_path):
    from wlbench.dataset.reader import open_dataset

    summary, _ = _train("fonseca-masking", ts_dataset, tmp_path / "oracle",
                        {**NET, "oracle": "mask", "discard_percent": 0.0})
    stages = {s["stage"]: s for s in summary["stages"]}
    with open_dataset(ts_dataset) as ds:
        dropped = int(ds.split("train").label_view("missing").dropped().sum())
    assert dropped > 0 and stages["oracle-mask"]["flagged"] == dropped and "teacher" not in stages


def test_flag_audit_identifies_clips_by_id_on_a_subset(ts_dataset, tmp_path):
    """With train_clips > 0 the student's clips are a subset of a subset: the logged flag precision equals an
    independent computation from the flagged (clip id, class) entries and the view's dropped positives."""
    from wlbench.dataset.reader import open_dataset

    cfg = {**NET, "discard_percent": 50.0, "train_clips": 12, "student_clips": 8}
    summary, _ = _train("fonseca-masking", ts_dataset, tmp_path / "flags", cfg, seed=3)
    lines = (tmp_path / "flags" / "flags.tsv").read_text().splitlines()[1:]
    flagged = [tuple(line.split("\t")) for line in lines]
    with open_dataset(ts_dataset) as ds:
        split = ds.split("train")
        ids = [str(c) for c in split.clip_ids]
        dropped = split.label_view("missing").dropped()
        classes = ds.classes
    hits = sum(int(dropped[ids.index(cid), classes.index(label)]) for cid, label in flagged)
    stages = {s["stage"]: s for s in summary["stages"]}
    assert len(flagged) == stages["flags"]["flagged"] > 0 and summary["n_train"] == 12
    audit = _audit(tmp_path / "flags")["flags"]
    assert audit["implicit_correct"] == hits
    assert stages["flags"]["flag_precision"] == pytest.approx(hits / len(flagged))


def test_subsets_depend_on_the_clips_never_on_the_labels_read(ts_dataset, tmp_path):
    """The oracle and the view of one seed train on the same clips; the teacher-student subsets are the
    same across run seeds (subset_seed)."""
    cfg = {**NET, "discard_percent": 0.0, "train_clips": 10, "student_clips": 6, "max_epochs": 1}
    ids = {}
    for name, over, seed in (("view", {}, 0), ("oracle", {"oracle": "labels"}, 0), ("mask", {"oracle": "mask"}, 0),
                             ("true", {"labels": "true"}, 0), ("seed1", {}, 1)):
        summary, _ = _train("fonseca-masking", ts_dataset, tmp_path / name, {**cfg, **over}, seed=seed)
        ids[name] = summary["train_clips_id"]
    assert len(set(ids.values())) == 1, ids
    other, _ = _train("fonseca-masking", ts_dataset, tmp_path / "other", {**cfg, "subset_seed": 5})
    assert other["train_clips_id"] != ids["view"]


def test_student_steps_cap_gives_equal_optimiser_steps_across_chunk_lengths(ts_dataset, tmp_path):
    steps = {}
    for chunk in (10.0, 2.0):
        summary, _ = _train("dinkel-psl", ts_dataset, tmp_path / str(chunk),
                            {**NET, "chunk": chunk, "alpha": 0.0, "student_steps": 7, "max_epochs": 20,
                             "patience": 20, "warmup": 20})
        student = summary["stages"][-1]
        steps[chunk] = student["steps"]
        assert student["max_steps"] == 7
    assert steps == {10.0: 7, 2.0: 7}  # 16 clips in batches of 8: 2 steps per epoch at 10 s, 10 at 2 s
