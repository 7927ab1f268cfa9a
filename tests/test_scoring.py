"""Scoring reports from arrays, and the `wlbench score` / `wlbench compare` commands on a tiny dataset."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from wlbench import HARNESS_VERSION
from wlbench.errors import WlbenchError
from wlbench.metrics import ranking as rk
from wlbench.scoring import (
    Settings,
    compare_tagging,
    render_report,
    score_detection,
    score_embedding,
    score_tagging,
    write_report,
)

CLASSES = ["Alarm", "Dog", "Speech", "Cat"]


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)  # class "Cat" never occurs
    t = np.zeros((n, 4), dtype=np.uint8)
    t[np.arange(n), y] = 1
    s = np.clip(rng.random((n, 4)) * 0.7 + 0.3 * t, 0, 1)
    return t, s, y


def test_tagging_report_contents():
    t, s, _ = _data()
    rep = score_tagging(CLASSES, t, s, Settings(n_resamples=100, seed=1))
    assert rep["harness_version"] == HARNESS_VERSION
    h = rep["headline"]
    assert h["map"]["value"] == pytest.approx(rk.map_macro(s, t))
    assert h["lwlrap"]["value"] == pytest.approx(rk.lwlrap(s, t))
    assert h["map_at_3"]["value"] == pytest.approx(rk.map_at_k(s, t, 3))
    for v in h.values():
        assert v["ci_low"] <= v["value"] <= v["ci_high"]
    assert rep["excluded_classes"]["no_positives"] == ["Cat"]
    assert rep["per_class"]["Cat"]["ap"] is None
    assert rep["settings"]["threshold"] == 0.5 and rep["settings"]["n_resamples"] == 100
    json.dumps(rep, allow_nan=False)
    assert "Cat" in render_report(rep)
    # same seed -> same intervals
    rep2 = score_tagging(CLASSES, t, s, Settings(n_resamples=100, seed=1))
    assert rep2["headline"] == rep["headline"]


def test_per_class_thresholds_and_refusal():
    t, s, _ = _data()
    thr = {c: 0.9 for c in CLASSES}
    rep = score_tagging(CLASSES, t, s, Settings(threshold=thr, n_resamples=0))
    assert rep["per_class"]["Dog"]["threshold"] == 0.9
    with pytest.raises(WlbenchError, match="per-class thresholds"):
        score_tagging(CLASSES, t, s, Settings(threshold={"Dog": 0.5}, n_resamples=0))
    s[0, 0] = np.nan
    with pytest.raises(WlbenchError, match="NaN"):
        score_tagging(CLASSES, t, s, Settings(n_resamples=0))


def test_detection_and_embedding_reports():
    ids = ["c0", "c1", "c2"]
    ref = pd.DataFrame({"filename": ["c0", "c1", "c2"], "event_label": ["Dog", "Alarm", "Dog"],
                        "onset": [1.0, 2.0, 0.0], "offset": [3.0, 4.0, 10.0]})
    est = pd.DataFrame({"filename": ["c0", "c2"], "event_label": ["Dog", "Dog"],
                        "onset": [1.1, 0.0], "offset": [3.0, 9.0]})
    rep = score_detection(CLASSES, ids, ref, 10.0, est, settings=Settings(n_resamples=50))
    assert rep["headline"]["event_f1_micro"]["value"] == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))
    # the per-class text table shows every column header whole (event_error_rate, segment_precision, ...)
    text = render_report(rep).splitlines()
    header = next(line for line in text if line.startswith("class "))
    shown = header.split()[1:]
    assert shown == [c for c in rep["per_class"]["Dog"] if not c.endswith("_names")][:8], header
    assert "segment_precision" in shown or "event_error_rate" in shown
    assert rep["per_class"]["Alarm"]["event_f1"] == 0.0
    assert set(rep["excluded_classes"]["no_positives"]) == {"Speech", "Cat"}
    t, _, y = _data(60)
    rng = np.random.default_rng(0)
    e = rng.normal(size=(60, 5)) + 3 * np.eye(5)[y]
    rep = score_embedding(CLASSES, t, e, Settings(n_resamples=50))
    assert rep["headline"]["centroid_accuracy_micro"]["value"] > 0.5


def test_compare_identical_and_better():
    t, s, _ = _data(200)
    rng = np.random.default_rng(5)
    noise = rng.random(s.shape)
    out = compare_tagging(CLASSES, t, s, s, Settings(n_resamples=100))
    assert out["comparison"]["map"]["diff"] == 0.0 and out["comparison"]["map"]["p_value"] == 1.0
    out = compare_tagging(CLASSES, t, s, noise, Settings(n_resamples=100))
    assert out["comparison"]["map"]["diff"] > 0 and out["comparison"]["map"]["p_value"] < 0.05


def test_write_report_atomic_json(tmp_path):
    t, s, _ = _data()
    rep = score_tagging(CLASSES, t, s, Settings(n_resamples=0))
    write_report(rep, tmp_path / "r.json")
    back = json.loads((tmp_path / "r.json").read_text())
    assert back["headline"]["map"]["ci_low"] is None  # no resamples: no interval, NaN written as null
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# --- CLI on a tiny dataset written with the store's writer ------------------------------------------

def _tiny_dataset(path, n=40):
    store = pytest.importorskip("wlbench.dataset", reason="wlbench.dataset is not available")
    if not hasattr(store, "DatasetWriter"):
        pytest.skip("wlbench.dataset has no DatasetWriter")
    t, _, y = _data(n)
    splits = {"eval": n, "train": 6}
    try:
        with store.DatasetWriter(path, name="tiny", classes=tuple(CLASSES), sample_rate=16000, clip_duration=10.0,
                                 segment_durations=(), feature_attrs=None, feature_dtype="float32",
                                 store_features=False, store_audio=False,
                                 provenance={"spec_id": "spec-tiny"}) as w:
            for split, count in splits.items():
                w.begin_split(store.SplitShape(split, count, 0, 0, 0, "strong"))
                for i in range(count):
                    label = CLASSES[y[i]]
                    w.write_clip(split, i, f"{split}_{i:06d}", "{}",
                                 [(label, 1.0, 3.0 + (i % 3), 20.0, "x.wav", 0.0, float("nan"))], None, None)
                w.end_split(split, {"weak_labels": t[:count]}, {})
            w.commit()
    except TypeError as exc:  # the writer's signature changed: skip rather than fail on someone else's code
        pytest.skip(f"DatasetWriter API differs: {exc}")
    return t


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "tiny.h5"
    t = _tiny_dataset(path)
    return path, t


def _cli():
    from wlbench.cli import main
    return main


def test_cli_score_tagging_and_detection(tiny, tmp_path):
    path, t = tiny
    rng = np.random.default_rng(0)
    s = np.clip(rng.random(t.shape) * 0.6 + 0.4 * t, 0, 1)
    sub = tmp_path / "sub.csv"
    frame = pd.DataFrame(s, columns=CLASSES)
    frame.insert(0, "filename", [f"eval_{i:06d}.wav" for i in range(len(t))])
    frame.to_csv(sub, index=False)
    out = tmp_path / "report.json"
    res = CliRunner().invoke(_cli(), ["score", str(path), str(sub), "--split", "eval", "--bootstrap", "50",
                                      "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "map" in res.output and "lwlrap" in res.output
    rep = json.loads(out.read_text())
    assert rep["dataset"]["name"] == "tiny" and rep["dataset"]["content_id"]
    assert rep["split"] == "eval" and rep["task"] == "tagging"
    assert rep["settings"]["n_resamples"] == 50
    assert rep["headline"]["map"]["value"] == pytest.approx(rk.map_macro(s, t))

    det = tmp_path / "det.tsv"
    det.write_text("filename\tonset\toffset\tevent_label\n" +
                   "".join(f"eval_{i:06d}\t1.0\t{3.0 + (i % 3)}\t{CLASSES[int(np.argmax(t[i]))]}\n"
                           for i in range(len(t))))
    res = CliRunner().invoke(_cli(), ["score", str(path), str(det), "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    assert "event_f1_macro" in res.output and "1.0000" in res.output


def test_cli_invalid_submission_lists_all_problems(tiny, tmp_path):
    path, t = tiny
    sub = tmp_path / "bad.csv"
    rows = "".join(f"eval_{i:06d},0.1,0.1,0.2,0.1\n" for i in range(1, len(t) - 1))  # eval_000039 missing
    sub.write_text("filename,Alarm,Dgo,Speech,Cat\neval_000000,0.1,0.3,nan,0.1\neval_000000,0.1,0.1,0.2,0.1\n"
                   + rows + "train_000001,0.1,0.1,0.2,0.1\n")
    res = CliRunner().invoke(_cli(), ["score", str(path), str(sub), "--split", "eval"])
    assert res.exit_code == 2
    for kind in ("unknown_label", "missing_label", "not_finite", "duplicate_row", "unknown_clip", "missing_clip"):
        assert kind in res.output, kind
    assert "did you mean 'Dog'" in res.output
    assert "it is a clip of split 'train'" in res.output
    assert res.output.count("[missing_clip]") == 1


def test_cli_wrong_split_and_compare(tiny, tmp_path):
    path, t = tiny
    sub = tmp_path / "train.csv"
    frame = pd.DataFrame(np.full((6, 4), 0.5), columns=CLASSES)
    frame.insert(0, "filename", [f"train_{i:06d}" for i in range(6)])
    frame.to_csv(sub, index=False)
    res = CliRunner().invoke(_cli(), ["score", str(path), str(sub), "--split", "eval"])
    assert res.exit_code == 2 and "wrong_split" in res.output and "--split train" in res.output
    res = CliRunner().invoke(_cli(), ["score", str(path), str(sub), "--split", "nope"])
    assert res.exit_code == 2 and "no split 'nope'" in res.output

    rng = np.random.default_rng(1)
    files = []
    for name, s in (("a.csv", np.clip(0.5 * rng.random(t.shape) + 0.5 * t, 0, 1)), ("b.csv", rng.random(t.shape))):
        f = pd.DataFrame(s, columns=CLASSES)
        f.insert(0, "filename", [f"eval_{i:06d}" for i in range(len(t))])
        f.to_csv(tmp_path / name, index=False)
        files.append(str(tmp_path / name))
    out = tmp_path / "cmp.json"
    res = CliRunner().invoke(_cli(), ["compare", *files, "--dataset", str(path), "--bootstrap", "100",
                                      "--json", str(out)])
    assert res.exit_code == 0, res.output
    cmp = json.loads(out.read_text())
    assert cmp["comparison"]["map"]["diff"] > 0 and 0 <= cmp["comparison"]["map"]["p_value"] <= 1


# --- thresholds must be finite numbers ---------------------------------------------------------------

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), None, "0.5", True])
def test_settings_refuse_non_finite_scalar_threshold(bad):
    with pytest.raises(WlbenchError, match="threshold"):
        Settings(threshold=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "high", [0.5], False])
def test_settings_refuse_bad_per_class_threshold_naming_the_class(bad):
    thr = {c: 0.5 for c in CLASSES} | {"Dog": bad}
    with pytest.raises(WlbenchError, match="'Dog'"):
        Settings(threshold=thr)


def test_settings_accept_finite_thresholds():
    assert Settings(threshold=0).threshold == 0
    assert Settings(threshold=np.float32(0.25)).threshold == pytest.approx(0.25)
    assert Settings(threshold={c: 1 for c in CLASSES}).thresholds(CLASSES).tolist() == [1.0] * 4


def test_tagging_stat_decides_with_binarize():
    from wlbench.metrics import tagging as tg
    from wlbench.scoring import TaggingStat

    t, s, _ = _data()
    thr = np.array([0.2, 0.5, 0.7, 0.9])
    stat = TaggingStat(s, t.astype(bool), thr, 3)
    np.testing.assert_array_equal(stat.decisions, tg.binarize(s, thr))
    with pytest.raises(WlbenchError, match="threshold"):  # binarize refuses non-finite thresholds
        TaggingStat(s, t.astype(bool), np.array([0.5, np.nan, 0.5, 0.5]), 3)


def _cli_submission(tmp_path, t):
    sub = tmp_path / "sub.csv"
    frame = pd.DataFrame(np.clip(0.3 + 0.4 * t, 0, 1), columns=CLASSES)
    frame.insert(0, "filename", [f"eval_{i:06d}" for i in range(len(t))])
    frame.to_csv(sub, index=False)
    return sub


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_cli_score_refuses_non_finite_threshold(tiny, tmp_path, value):
    path, t = tiny
    res = CliRunner().invoke(_cli(), ["score", str(path), str(_cli_submission(tmp_path, t)), "--bootstrap", "0",
                                      "--threshold", value])
    assert res.exit_code == 2, res.output
    assert "threshold" in res.output and "finite" in res.output
    assert isinstance(res.exception, SystemExit)  # a one-line error, not a traceback
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("body", ['{"Alarm": 0.5, "Dog": null, "Speech": 0.5, "Cat": 0.5}',
                                  '{"Alarm": 0.5, "Dog": NaN, "Speech": 0.5, "Cat": 0.5}',
                                  '{"Alarm": 0.5, "Dog": [1], "Speech": 0.5, "Cat": 0.5}'])
def test_cli_score_threshold_file_with_bad_value_names_the_class(tiny, tmp_path, body):
    path, t = tiny
    thr = tmp_path / "thr.json"
    thr.write_text(body)
    res = CliRunner().invoke(_cli(), ["score", str(path), str(_cli_submission(tmp_path, t)), "--bootstrap", "0",
                                      "--threshold", str(thr)])
    assert res.exit_code == 2, res.output
    assert "'Dog'" in res.output and "Traceback" not in res.output
    assert isinstance(res.exception, SystemExit)


def test_batched_tagging_bootstrap_equals_scoring_the_resampled_clips():
    from wlbench.metrics import bootstrap as bs
    from wlbench.scoring import TaggingStat

    t, s, _ = _data(150)
    s = np.round(s, 1)  # ties across clips and classes
    stat = TaggingStat(s, t.astype(bool), np.full(4, 0.5), 3)
    weights = np.stack(list(bs.resample_counts(150, 5, seed=1)))
    batch = stat(weights)
    g = np.random.default_rng(1)
    for b in range(5):
        idx = g.integers(0, 150, 150)
        direct = score_tagging(CLASSES, t[idx], s[idx], Settings(n_resamples=0))["headline"]
        for name, value in direct.items():
            got = batch["map_at_k" if name == "map_at_3" else name][b]
            assert got == pytest.approx(value["value"], abs=1e-12, nan_ok=True), name


def test_paired_test_refuses_zero_resamples():
    t, s, _ = _data(60)
    with pytest.raises(WlbenchError, match="resample"):
        compare_tagging(CLASSES, t, s, s, Settings(n_resamples=0))
