"""Detection scoring the DCASE way: export -> sed_eval / sed_scores_eval round trip, external ground truth,
the DCASE convention against DESED_task's sed_eval usage, the collar boundary, and DCASE file layouts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from wlbench.cli import main
from wlbench.scoring import Settings, score_file, score_submission, truth_from_files
from wlbench.submissions import Expected, read_detections, read_embeddings, write_detections, write_score_files

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sed_eval
    from sed_scores_eval import collar_based, intersection_based

CLASSES = ["Alarm", "Dog", "Speech", "Cat"]
N_EVAL = 24
FAST = Settings(n_resamples=0)


def _events(rng, i):
    """1-4 events per clip; clip 2 holds the issue's overlapping Dog pair."""
    if i == 2:
        return [("Dog", 4.97, 6.28), ("Dog", 5.29, 5.79), ("Speech", 1.0, 2.5)]
    out = []
    for _ in range(int(rng.integers(1, 5))):
        on = round(float(rng.random() * 8), 3)
        out.append((CLASSES[int(rng.integers(4))], on, round(min(on + 0.3 + float(rng.random() * 2.5), 10.0), 3)))
    return out


@pytest.fixture(scope="module")
def sed_dataset(tmp_path_factory):
    from wlbench.dataset.writer import DatasetWriter, SplitShape

    path = tmp_path_factory.mktemp("sed") / "sed.h5"
    rng = np.random.default_rng(0)
    events = {}
    with DatasetWriter(path, name="sed", classes=tuple(CLASSES), sample_rate=16000, clip_duration=10.0,
                       segment_durations=(), feature_attrs=None, feature_dtype="float32", store_features=False,
                       store_audio=False, provenance={"spec_id": "spec-sed"}) as w:
        for split, count in (("eval", N_EVAL), ("train", 4)):
            w.begin_split(SplitShape(split, count, 0, 0, 0, "strong"))
            weak = np.zeros((count, len(CLASSES)), dtype=np.uint8)
            for i in range(count):
                ev = _events(rng, i)
                events[f"{split}_{i:06d}"] = ev
                for lab, _, _ in ev:
                    weak[i, CLASSES.index(lab)] = 1
                w.write_clip(split, i, f"{split}_{i:06d}", "{}", [(lab, a, b, 10.0, "x.wav", 0.0, float("nan"))
                                                                   for lab, a, b in ev], None, None)
            w.end_split(split, {"weak_labels": weak}, {})
        w.commit()
    return path, events


def _system_events(rng, events, never=()):
    """Noisy detections of the eval clips (onsets/offsets moved, some dropped, some extra)."""
    rows = []
    for i in range(N_EVAL):
        cid = f"eval_{i:06d}"
        for lab, a, b in events[cid]:
            if lab in never or rng.random() < 0.2:
                continue
            on = round(max(0.0, a + float(rng.normal(0, 0.15))), 3)
            rows.append((cid, lab, on, round(min(10.0, max(on + 0.1, b + float(rng.normal(0, 0.3)))), 3)))
        if rng.random() < 0.3:
            lab = CLASSES[int(rng.integers(4))]
            if lab not in never:
                rows.append((cid, lab, 3.0, 4.0))
    return pd.DataFrame(rows, columns=["filename", "event_label", "onset", "offset"])


def _frame_scores(rng, events, t=100, hop=0.1):
    s = rng.random((N_EVAL, t, len(CLASSES))) * 0.5
    centre = (np.arange(t) + 0.5) * hop
    for i in range(N_EVAL):
        for lab, a, b in events[f"eval_{i:06d}"]:
            s[i, :, CLASSES.index(lab)] += 0.5 * ((centre >= a) & (centre < b)) * float(rng.random())
    return np.minimum(s, 1.0)


def _sed_eval_like_desed(truth: pd.DataFrame, pred: pd.DataFrame):
    """DESED_task's sed_eval usage, written from its documented behaviour: evaluate the files of the truth
    one by one; classes = labels of truth and predictions; event-based with t_collar 0.2, 20 % of length and
    empty_system_output_handling='zero_score'; segment-based at 1 s with sed_eval's defaults."""
    classes = sorted(set(truth.event_label.dropna()) | set(pred.event_label.dropna()))
    ev = sed_eval.sound_event.EventBasedMetrics(classes, t_collar=0.2, percentage_of_length=0.2,
                                                empty_system_output_handling="zero_score")
    sg = sed_eval.sound_event.SegmentBasedMetrics(classes, time_resolution=1.0)

    def rows(frame, name):
        sub = frame[frame.filename == name]
        return [{"filename": name}] if sub.event_label.isna().all() else sub.dropna().to_dict("records")

    for name in truth.filename.unique():
        ev.evaluate(rows(truth, name), rows(pred, name))
        sg.evaluate(rows(truth, name), rows(pred, name))
    e, s = ev.results(), sg.results()
    return {"event_f1_macro": e["class_wise_average"]["f_measure"]["f_measure"],
            "event_f1_micro": e["overall"]["f_measure"]["f_measure"],
            "segment_f1_macro": s["class_wise_average"]["f_measure"]["f_measure"],
            "segment_f1_micro": s["overall"]["f_measure"]["f_measure"]}


def test_export_round_trip_with_sed_eval_and_sed_scores_eval(sed_dataset, tmp_path):
    path, events = sed_dataset
    res = CliRunner().invoke(main, ["export", str(path), "--split", "eval", "--out", str(tmp_path / "gt")])
    assert res.exit_code == 0, res.output
    gt = tmp_path / "gt"
    strong = pd.read_csv(gt / "strong.tsv", sep="\t")
    dog = strong[(strong.filename == "eval_000002.wav") & (strong.event_label == "Dog")]
    assert dog[["onset", "offset"]].values.tolist() == [[4.97, 6.28]]  # the overlapping pair merged
    assert len(pd.read_csv(gt / "durations.tsv", sep="\t")) == N_EVAL
    weak = pd.read_csv(gt / "weak.tsv", sep="\t")
    assert weak.loc[2, "event_labels"] == "Dog,Speech"
    assert "merged" in (gt / "README.md").read_text()

    rng = np.random.default_rng(1)
    det = _system_events(rng, events)
    sub = tmp_path / "det.tsv"
    write_detections(sub, det, clip_ids=[f"eval_{i:06d}" for i in range(N_EVAL)])
    report = score_file(path, sub, settings=Settings(n_resamples=0, convention="dcase"))
    ours = report["headline"]
    pred = det.assign(filename=det.filename + ".wav")
    # --convention dcase scores the raw reference, overlapping Dog pair included, exactly as sed_eval does
    raw = pd.DataFrame([(f"{cid}.wav", a, b, lab) for cid, evs in events.items() if cid.startswith("eval")
                        for lab, a, b in evs], columns=["filename", "onset", "offset", "event_label"])
    theirs = _sed_eval_like_desed(raw, pred)
    for key, value in theirs.items():
        assert ours[key]["value"] == pytest.approx(value, abs=1e-12), key
    assert report["notes"]["reference_events_merged"] == 0
    merged = _sed_eval_like_desed(strong, pred)  # the merged reference gives other numbers: the test can fail
    assert any(abs(ours[k]["value"] - v) > 1e-6 for k, v in merged.items())

    scores = _frame_scores(rng, events)
    write_score_files(tmp_path / "scores", [f"eval_{i:06d}" for i in range(N_EVAL)], scores, 0.1, CLASSES)
    report = score_file(path, tmp_path / "scores", settings=FAST)
    head = report["headline"]
    for name, (dtc, gtc, cttc, act) in {"psds1": (0.7, 0.7, None, 0.0), "psds2": (0.1, 0.1, 0.3, 0.5)}.items():
        value = intersection_based.psds(str(tmp_path / "scores"), str(gt / "strong.tsv"), str(gt / "durations.tsv"),
                                        dtc_threshold=dtc, gtc_threshold=gtc, cttc_threshold=cttc, alpha_ct=act,
                                        alpha_st=1.0, max_efpr=100.0)[0]
        assert head[name]["value"] == pytest.approx(value, abs=1e-9), name
    f, *_ = collar_based.best_fscore(str(tmp_path / "scores"), str(gt / "strong.tsv"), onset_collar=0.2,
                                     offset_collar=0.2, offset_collar_rate=0.2)
    assert head["event_f1_best_macro"]["value"] == pytest.approx(f["macro_average"], abs=1e-12)

    # the same files as external truth give the same report numbers
    truth = truth_from_files(gt / "strong.tsv", gt / "durations.tsv", CLASSES)
    for sub_path in (sub, tmp_path / "scores"):
        a = score_file(path, sub_path, settings=FAST)
        b = score_submission(truth, sub_path, settings=FAST)
        assert b["headline"] == a["headline"] and b["per_class"] == a["per_class"]
        assert b["dataset"]["truth_kind"] == "strong" and "split" not in b


def test_desed_format_pair_matches_desed_task_usage(tmp_path):
    """Hand-made DESED files (merged events, as DESED's are): a truth with an empty clip, predictions that
    never output one class. With --convention dcase wlbench gives DESED_task's numbers; by default a class
    never output scores 0 in the segment macro F1 (wlbench's policy)."""
    (tmp_path / "gt.tsv").write_text(
        "filename\tonset\toffset\tevent_label\n"
        "a.wav\t0.5\t3.0\tDog\na.wav\t4.0\t6.0\tSpeech\n"
        "b.wav\t0.0\t10.0\tFrying\nb.wav\t2.0\t2.5\tDishes\n"
        "c.wav\t\t\t\n"
        "d.wav\t3.2\t5.1\tSpeech\nd.wav\t7.0\t8.4\tDishes\n")
    (tmp_path / "dur.tsv").write_text("filename\tduration\na.wav\t10.0\nb.wav\t10.0\nc.wav\t10.0\nd.wav\t10.0\n")
    pred = ("filename\tonset\toffset\tevent_label\n"
            "a.wav\t0.6\t2.9\tDog\na.wav\t4.1\t5.5\tSpeech\nb.wav\t0.0\t9.9\tFrying\n"
            "c.wav\t1.0\t2.0\tSpeech\nd.wav\t3.3\t5.0\tSpeech\n")
    (tmp_path / "pred.tsv").write_text(pred)
    truth = truth_from_files(tmp_path / "gt.tsv", tmp_path / "dur.tsv")
    assert truth.classes == ["Dishes", "Dog", "Frying", "Speech"] and truth.n_merged == 0
    theirs = _sed_eval_like_desed(pd.read_csv(tmp_path / "gt.tsv", sep="\t"), pd.read_csv(tmp_path / "pred.tsv", sep="\t"))
    dcase = score_submission(truth, tmp_path / "pred.tsv", settings=Settings(n_resamples=0, convention="dcase"))
    for key, value in theirs.items():
        assert dcase["headline"][key]["value"] == pytest.approx(value, abs=1e-12), key
    assert dcase["settings"]["convention"] == "dcase"
    ours = score_submission(truth, tmp_path / "pred.tsv", settings=FAST)["headline"]
    assert ours["segment_f1_macro"]["value"] < dcase["headline"]["segment_f1_macro"]["value"]  # Dishes scores 0
    assert ours["event_f1_macro"]["value"] == dcase["headline"]["event_f1_macro"]["value"]
    # DESED_task's predictions CSV: comma-separated with a pandas index column, same numbers
    pd.read_csv(tmp_path / "pred.tsv", sep="\t").to_csv(tmp_path / "predictions.csv")
    csv_report = score_submission(truth, tmp_path / "predictions.csv", "detection", settings=FAST)
    assert csv_report["headline"] == score_submission(truth, tmp_path / "pred.tsv", settings=FAST)["headline"]
    assert csv_report["submission"]["format"] == "comma-separated"


def test_collar_boundary(tmp_path):
    """|onset difference| = 0.2 s in decimal: 1.2 - 1.0 is 0.19999999999999996 but 5.3 - 5.1 is
    0.20000000000000018. wlbench compares at 1 us (as sed_scores_eval): both are hits; sed_eval and the
    dcase convention compare the floats: the second is a miss."""
    (tmp_path / "gt.tsv").write_text("filename\tonset\toffset\tevent_label\na.wav\t1.0\t3.0\tDog\nb.wav\t5.1\t8.0\tDog\n")
    (tmp_path / "dur.tsv").write_text("filename\tduration\na.wav\t10.0\nb.wav\t10.0\n")
    (tmp_path / "pred.tsv").write_text("filename\tonset\toffset\tevent_label\na.wav\t1.2\t3.0\tDog\nb.wav\t5.3\t8.0\tDog\n")
    truth = truth_from_files(tmp_path / "gt.tsv", tmp_path / "dur.tsv")
    ours = score_submission(truth, tmp_path / "pred.tsv", settings=FAST)["headline"]["event_f1_micro"]["value"]
    dcase = score_submission(truth, tmp_path / "pred.tsv", settings=Settings(n_resamples=0, convention="dcase"))
    sed = _sed_eval_like_desed(pd.read_csv(tmp_path / "gt.tsv", sep="\t"), pd.read_csv(tmp_path / "pred.tsv", sep="\t"))
    assert ours == 1.0
    assert dcase["headline"]["event_f1_micro"]["value"] == sed["event_f1_micro"] == 0.5
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    stamps = np.round(np.arange(101) * 0.1, 10)
    s_a, s_b = np.zeros((100, 1)), np.zeros((100, 1))
    s_a[12:30], s_b[53:80] = 1.0, 1.0
    scores = {"a": create_score_dataframe(s_a, stamps, ["Dog"]), "b": create_score_dataframe(s_b, stamps, ["Dog"])}
    f, *_ = collar_based.fscore(scores, {"a": [[1.0, 3.0, "Dog"]], "b": [[5.1, 8.0, "Dog"]]}, threshold=0.5,
                                onset_collar=0.2, offset_collar=0.2, offset_collar_rate=0.2)
    assert f["Dog"] == 1.0  # sed_scores_eval: 6 decimals, a hit


@pytest.mark.parametrize("text, note", [
    ("filename,onset,offset,event_label\nx1,1.0,2.0,Dog\n", "comma"),
    ("x1,1.0,2.0,Dog\n", "comma"),
    ("filename onset offset event_label\nx1 1.0 2.0 Dog\n", "space"),
    ("filename\tevent_onset\tevent_offset\tevent_label\tscene_label\nx1\t1.0\t2.0\tDog\thome\n", None),
    ("event_label,onset,offset,filename\nDog,1.0,2.0,x1\n", "comma"),
])
def test_detection_layouts_are_read(tmp_path, text, note):
    exp = Expected(classes=["Dog", "Cat"], clip_ids=["x1", "x2"], clip_duration=10.0)
    p = tmp_path / "d.tsv"
    p.write_text(text)
    got, rep = read_detections(p, exp)
    assert rep.ok, rep.summary()
    assert got.events.to_dict("records") == [{"filename": "x1", "event_label": "Dog", "onset": 1.0, "offset": 2.0}]
    assert rep.notes.get("delimiter") == note


def test_ambiguous_layouts_name_the_delimiter(tmp_path):
    exp = Expected(classes=["Dog", "Running water"], clip_ids=["x1"], clip_duration=10.0)
    p = tmp_path / "d.tsv"
    p.write_text("clip;start;end;label\nx1;1;2;Dog\n")
    _, rep = read_detections(p, exp)
    assert [q.kind for q in rep.problems] == ["bad_header"]
    assert "no tab" in rep.problems[0].message and "filename" in rep.problems[0].message
    p.write_text("filename onset offset event_label\nx1 1.0 2.0 Running water\n")
    _, rep = read_detections(p, exp)
    assert [q.kind for q in rep.problems] == ["bad_row"] and "spaces" in rep.problems[0].message


def test_messages_print_plain_numbers_and_binary_files_are_named(tmp_path):
    exp = Expected(classes=["Dog"], clip_ids=["x1"], clip_duration=10.0)
    p = tmp_path / "d.tsv"
    p.write_text("filename\tonset\toffset\tevent_label\nx1\t2.5\t-0.2\tDog\n")
    _, rep = read_detections(p, exp)
    text = rep.summary()
    assert "onset 2.5 >= offset -0.2" in text and "np.float64" not in text
    rnd = tmp_path / "e.npy"
    rnd.write_bytes(np.random.default_rng(0).bytes(256))
    _, rep = read_embeddings(rnd, exp)
    assert "allow_pickle" not in rep.summary() and "NumPy .npy" in rep.summary()


def test_cli_truth_compare_export_and_plot(sed_dataset, tmp_path):
    path, events = sed_dataset
    runner = CliRunner()
    assert runner.invoke(main, ["export", str(path), "--split", "eval", "--out", str(tmp_path / "gt")]).exit_code == 0
    res = runner.invoke(main, ["export", str(path), "--split", "eval", "--out", str(tmp_path / "gt")])
    assert res.exit_code == 2 and "--force" in res.output
    assert runner.invoke(main, ["export", str(path), "--split", "eval", "--out", str(tmp_path / "gt"),
                                "--force"]).exit_code == 0
    rng = np.random.default_rng(3)
    ids = [f"eval_{i:06d}" for i in range(N_EVAL)]
    for name in ("a", "b"):
        write_score_files(tmp_path / name, ids, _frame_scores(rng, events) * (1.0 if name == "a" else 0.3), 0.1,
                          CLASSES)
    truth = ["--truth", str(tmp_path / "gt" / "strong.tsv"), "--durations", str(tmp_path / "gt" / "durations.tsv"),
             "--classes", ",".join(CLASSES)]
    res = runner.invoke(main, ["score", *truth, str(tmp_path / "a"), "--bootstrap", "20", "--json",
                               str(tmp_path / "r.json"), "--plot", str(tmp_path / "roc.png")])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["task"] == "frame_scores" and rep["curves"]["psds1"]["efpr"][-1] == 100.0
    assert rep["headline"]["psds1"]["ci_low"] <= rep["headline"]["psds1"]["value"] <= rep["headline"]["psds1"]["ci_high"]
    assert (tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), *truth, "--bootstrap", "30"])
    assert res.exit_code == 0, res.output
    assert "psds1" in res.output and "smallest p-value" in res.output
    for bad, msg in ((["compare", str(tmp_path / "a"), str(tmp_path / "b"), *truth, "--bootstrap", "0"], "resamples"),
                     (["score", str(path), *truth, str(tmp_path / "a")], "not both"),
                     (["score", "--truth", str(tmp_path / "gt" / "strong.tsv"), str(tmp_path / "a")], "--durations"),
                     (["score", str(path), str(tmp_path / "a"), "--plot", str(tmp_path / "x.png"), "--task",
                       "frame_scores", "--bootstrap", "0", "--split", "train"], "wrong_split"),
                     (["score", *truth, str(tmp_path / "a"), "--labels", "v1"], "label view"),
                     (["score", str(path), str(tmp_path / "a"), "--labels", "v1", "--bootstrap", "0"], "no label view")):
        res = runner.invoke(main, bad)
        assert res.exit_code == 2, (bad, res.output)
        assert msg in res.output and "Traceback" not in res.output
