"""A run opens its dataset file once: every layer below `wlbench train` (config checks, the intact check,
training data, the audit, prediction, and scoring of each split x segment x task) reads through the one
open :class:`~wlbench.dataset.reader.Dataset`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import pytest
import torch
from click.testing import CliRunner
from test_baselines import seg_dataset, tiny_config  # noqa: F401 - fixture reused

from wlbench.cli import main

torch.set_num_threads(1)


def _count_opens(monkeypatch, target) -> list[str]:
    """Patch h5py.File to record every open of ``target`` (by real path) in this process."""
    opens: list[str] = []
    real_file = h5py.File
    wanted = os.path.realpath(target)

    class Counting(real_file):
        def __init__(self, name, *args, **kwargs):
            if isinstance(name, (str, os.PathLike)) and os.path.realpath(os.fspath(name)) == wanted:
                opens.append(os.fspath(name))
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", Counting)
    return opens


TS = {"filters": [4, 8], "pools": [[4, 4], [2, 4]], "head_dropout": 0.0, "threads": 1, "teacher_max_epochs": 1,
      "teacher_patience": 1, "max_epochs": 1, "patience": 1, "warmup": 0, "teacher_batch_size": 8, "batch_size": 8,
      "chunk": 5.0, "top_k": 2}


@pytest.mark.parametrize("method", ["prior", "turpault-triplet", "dinkel-psl"])
def test_wlbench_train_opens_its_dataset_once(method, seg_dataset, tmp_path, monkeypatch):  # noqa: F811
    config = {"prior": {}, "turpault-triplet": tiny_config("turpault-triplet"), "dinkel-psl": TS}[method]
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items()))
    opens = _count_opens(monkeypatch, seg_dataset)
    res = CliRunner().invoke(main, ["train", method, "--dataset", str(seg_dataset), "--config", str(cfg),
                                    "--out", str(tmp_path / "run"), "--bootstrap", "0", "--quiet"])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "run" / "reports").glob("*.json"))) >= 4  # validation and eval, clip and segments
    assert len(opens) == 1, f"the dataset was opened {len(opens)} times"


def test_the_count_sees_a_reopen(seg_dataset, monkeypatch):  # noqa: F811
    """The counter is not vacuous: two opens by path are two."""
    from wlbench.dataset.reader import open_dataset

    opens = _count_opens(monkeypatch, seg_dataset)
    for _ in range(2):
        with open_dataset(seg_dataset) as ds:
            ds.split("eval")
    assert len(opens) == 2


def test_wlbench_score_reads_a_submission_once(seg_dataset, tmp_path, monkeypatch):  # noqa: F811
    """Format sniff, declared header, validation and the report's sha256 all read the bytes read first."""
    import hashlib

    import numpy as np

    import wlbench.paths
    from wlbench.dataset.reader import open_dataset
    from wlbench.submissions import write_clip_scores

    with open_dataset(seg_dataset) as ds:
        ids, classes = ds.split("eval").clip_ids, ds.classes
    sub = tmp_path / "scores.csv"
    write_clip_scores(sub, ids, np.random.default_rng(0).random((len(ids), len(classes))), classes, {"segment": "1s"})
    reads: list[str] = []
    real = wlbench.paths.read_input_bytes

    def counting(path, *args, **kwargs):
        if Path(path) == sub:
            reads.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(wlbench.paths, "read_input_bytes", counting)
    out = tmp_path / "report.json"
    res = CliRunner().invoke(main, ["score", str(seg_dataset), str(sub), "--split", "eval", "--bootstrap", "0",
                                    "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["submission"]["sha256"] == hashlib.sha256(sub.read_bytes()).hexdigest()
    assert len(reads) == 1, reads
    from wlbench.submissions import text

    assert text._kept == []  # the kept bytes end with the scoring call
    text.read_once(sub)
    assert len(reads) == 2  # outside a scoring call a read is a read
    sub.write_text(sub.read_text().replace("0.", "0.1", 1))  # an edited file is read again
    res = CliRunner().invoke(main, ["score", str(seg_dataset), str(sub), "--split", "eval", "--bootstrap", "0"])
    assert len(reads) == 3
