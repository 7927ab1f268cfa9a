"""Files as the field exchanges them (issue 27), in small hand-written files of the exact layouts: the
tolerance policy (times outside the clip, DESED's rounded durations, psds_eval's per-event metadata,
zero-length reference events), format detection by content, headerless sed_eval layouts."""

from __future__ import annotations

import warnings

import pytest

from wlbench.errors import WlbenchError
from wlbench.scoring import Settings, score_submission, truth_from_files
from wlbench.submissions import Expected, read_detections

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sed_eval

FAST = Settings(n_resamples=0)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the tolerance policy ---------------------------------------------------------------------------

def test_desed_rounded_durations_are_clipped_and_counted(tmp_path):
    """DESED's durations are rounded down to 0.1 s; its offsets run up to 0.115 s past them."""
    dur = write(tmp_path, "durations.tsv", "filename\tduration\nY1.wav\t9.9\nY2.wav\t2.4\n")
    gt = write(tmp_path, "gt.tsv", "filename\tonset\toffset\tevent_label\n"
               "Y1.wav\t1.0\t10.015\tDog\nY2.wav\t0.5\t1.0\tCat\nY2.wav\t2.4\t2.515\tCat\n")
    truth = truth_from_files(gt, dur)
    assert truth.notes["reference_events_clipped_to_clip"] == 1
    assert truth.notes["reference_events_dropped_outside_clip"] == 1  # [2.4, 2.515] on a 2.4 s clip
    assert truth.events.offset.tolist() == [9.9, 1.0]
    with pytest.raises(WlbenchError, match="time_outside_clip.*leave out --strict"):
        truth_from_files(gt, dur, strict=True)

    sub = write(tmp_path, "pred.tsv", "filename\tonset\toffset\tevent_label\n"
                "Y1.wav\t1.0\t10.0\tDog\nY2.wav\t0.5\t1.1\tCat\nY2.wav\t3.0\t9.98\tCat\nY2.wav\t-0.05\t0.3\tCat\n")
    report = score_submission(truth, sub, settings=FAST)
    assert report["submission"]["notes"]["events_clipped_to_clip"] == 2
    assert report["submission"]["notes"]["events_dropped_outside_clip"] == 1
    assert report["notes"]["truth"]["reference_events_clipped_to_clip"] == 1
    # [1, 10] -> [1, 9.9] hits Dog; [0.5, 1.1] hits Cat; [3, 9.98] dropped; [-0.05, 0.3] -> [0, 0.3] is a miss
    assert report["headline"]["event_f1_micro"]["value"] == pytest.approx(2 * 2 / (2 + 3))
    strict = Settings(n_resamples=0, strict=True)
    truth_ok = truth_from_files(write(tmp_path, "gt2.tsv", "filename\tonset\toffset\tevent_label\n"
                                      "Y1.wav\t1.0\t9.9\tDog\n"), dur)
    with pytest.raises(WlbenchError, match="time_outside_clip"):
        score_submission(truth_ok, sub, settings=strict)


def test_frame_scores_longer_than_the_clip_are_clipped(tmp_path):
    """DESED_task's score tables cover the 10 s padding of a shorter clip."""
    from wlbench.submissions import read_score_files

    d = tmp_path / "scores"
    d.mkdir()
    rows = "".join(f"{i * 0.5}\t{(i + 1) * 0.5}\t0.{i}\n" for i in range(8))  # 0-4 s
    (d / "Y2.tsv").write_text("onset\toffset\tCat\n" + rows)
    exp = Expected(classes=["Cat"], clip_ids=["Y2"], durations=[2.4])
    got, rep = read_score_files(d, exp)
    assert rep.ok and rep.notes["frames_dropped_outside_clip"] == 3
    assert rep.notes["clips_with_frames_outside_clip"] == 1
    assert got.frames.offset.tolist()[-1] == 2.4 and len(got.frames.onset) == 5
    _, rep = read_score_files(d, Expected(classes=["Cat"], clip_ids=["Y2"], durations=[2.4], strict=True))
    assert [p.kind for p in rep.problems] == ["time_outside_clip"]


def test_psds_eval_metadata_layout_as_durations(tmp_path):
    """psds_eval's metadata: one row per event, the clip's duration repeated (psds_eval keeps the first)."""
    gt = write(tmp_path, "gt.tsv", "filename\tonset\toffset\tevent_label\n"
               "a.wav\t0.5\t1.0\tDog\na.wav\t2.0\t3.0\tDog\nb.wav\t1.0\t2.0\tCat\n")
    meta = write(tmp_path, "meta.tsv", "filename\tonset\toffset\tevent_label\tduration\n"
                 "a.wav\t0.5\t1.0\tDog\t10.0\na.wav\t2.0\t3.0\tDog\t10.0\nb.wav\t1.0\t2.0\tCat\t4.5\n")
    truth = truth_from_files(gt, meta)
    assert truth.clip_ids == ["a", "b"] and truth.durations.tolist() == [10.0, 4.5]
    assert truth.notes["durations_repeated_rows"] == 1
    bad = write(tmp_path, "bad.tsv", "filename\tduration\na.wav\t10.0\na.wav\t9.9\n")
    with pytest.raises(WlbenchError, match=r"duplicate_row.*'a' has duration 10.0 s at line 2 and 9.9 s"):
        truth_from_files(gt, bad)


def test_zero_length_reference_events_are_kept_as_sed_eval_keeps_them(tmp_path):
    """sed_eval counts a zero-length reference event (Nref), matches it with the onset collar and
    t_collar as offset collar, and marks no segment for it when it sits on a segment boundary."""
    dur = write(tmp_path, "dur.tsv", "filename\tduration\na.wav\t10.0\n")
    gt = write(tmp_path, "gt.tsv", "filename\tonset\toffset\tevent_label\n"
               "a.wav\t3.0\t3.0\tDog\na.wav\t5.5\t5.5\tCat\na.wav\t1.0\t2.0\tDog\n")
    sub = write(tmp_path, "sub.tsv", "filename\tonset\toffset\tevent_label\n"
                "a.wav\t3.1\t3.15\tDog\na.wav\t1.0\t2.0\tDog\na.wav\t5.0\t6.0\tCat\n")
    truth = truth_from_files(gt, dur)
    assert truth.notes["reference_events_zero_length"] == 2
    with pytest.raises(WlbenchError, match="zero-length event"):
        truth_from_files(gt, dur, strict=True)
    report = score_submission(truth, sub, settings=Settings(n_resamples=0, convention="dcase"))

    def rows(text):
        lines = text.splitlines()[1:]
        return [dict(zip(("filename", "onset", "offset", "event_label"), (f, float(a), float(b), lab)))
                for f, a, b, lab in (line.split("\t") for line in lines)]

    ref, est = rows(gt.read_text()), rows(sub.read_text())
    ev = sed_eval.sound_event.EventBasedMetrics(["Cat", "Dog"], t_collar=0.2, percentage_of_length=0.2,
                                                empty_system_output_handling="zero_score")
    sg = sed_eval.sound_event.SegmentBasedMetrics(["Cat", "Dog"], time_resolution=1.0)
    ev.evaluate(ref, est)
    sg.evaluate(ref, est)
    e, s = ev.results(), sg.results()
    head = report["headline"]
    assert head["event_f1_micro"]["value"] == pytest.approx(e["overall"]["f_measure"]["f_measure"], abs=1e-12)
    macro = e["class_wise_average"]["f_measure"]["f_measure"]
    assert head["event_f1_macro"]["value"] == pytest.approx(macro, abs=1e-12)
    assert head["segment_f1_micro"]["value"] == pytest.approx(s["overall"]["f_measure"]["f_measure"], abs=1e-12)
    assert report["per_class"]["Dog"]["n_ref_events"] == 2


def test_zero_length_reference_events_are_left_out_of_frame_score_metrics(tmp_path):
    dur = write(tmp_path, "dur.tsv", "filename\tduration\na.wav\t2.0\n")
    with_zero = write(tmp_path, "gt0.tsv", "filename\tonset\toffset\tevent_label\na.wav\t1.0\t1.0\tDog\n"
                      "a.wav\t0.2\t0.6\tDog\n")
    without = write(tmp_path, "gt1.tsv", "filename\tonset\toffset\tevent_label\na.wav\t0.2\t0.6\tDog\n")
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.tsv").write_text("onset\toffset\tDog\n" + "".join(f"{i * 0.5}\t{(i + 1) * 0.5}\t0.{i + 1}\n"
                                                               for i in range(4)))
    a = score_submission(truth_from_files(with_zero, dur), d, settings=FAST)
    b = score_submission(truth_from_files(without, dur), d, settings=FAST)
    assert a["headline"] == b["headline"] and a["notes"]["reference_zero_length_left_out"] == 1


# --- format detection by content --------------------------------------------------------------------

IDS2 = ["a", "b"]


def exp2(**kw):
    return Expected(classes=["Cat", "Dog"], clip_ids=IDS2, clip_duration=10.0, **kw)


@pytest.mark.parametrize(("name", "text", "task", "reason"), [
    # DESED_task's predictions*.csv: tab-separated, any column order
    ("predictions0.5.csv", "event_label\tonset\toffset\tfilename\nDog\t1.0\t2.0\ta.wav\n", "detection",
     "read as detection list: header names filename, onset, offset, event_label (tab-separated)"),
    # a pandas index column, comma-separated
    ("pred.csv", ",filename,onset,offset,event_label\n0,a.wav,1.0,2.0,Dog\n", "detection",
     "(comma-separated)"),
    ("scores.tsv", "filename\tCat\tDog\na.wav\t0.1\t0.9\nb.wav\t0.2\t0.3\n", "tagging", "wide clip scores"),
    ("long.txt", "filename,event_label,score\na.wav,Dog,0.9\n", "tagging", "long clip scores"),
    # headerless: sed_eval's estimated.txt (long tagging), 4 and 5 columns
    ("estimated.txt", "a.wav\tDog\t0.9\na.wav\tCat\t0.1\n", "tagging", "long clip scores, tab-separated, no header"),
    ("events.csv", "a.wav\t1.0\t2.0\tDog\n", "detection", "DCASE detection list, tab-separated, no header"),
    ("street.txt", "audio/a.wav\tstreet\t1.0\t2.0\tCat\n", "detection",
     "columns filename, scene_label, onset, offset, event_label"),
    ("what", "a.wav,1.0,2.0,Dog\n", "detection", "comma-separated, no header"),
])
def test_task_told_by_content(tmp_path, name, text, task, reason):
    from wlbench.submissions import detect_task

    got, why = detect_task(write(tmp_path, name, text))
    assert got == task and reason in why, why


def test_unknown_content_and_extension_names_the_flag(tmp_path):
    from wlbench.submissions import detect_task

    with pytest.raises(WlbenchError, match="cannot tell the task") as err:
        detect_task(write(tmp_path, "x.dat", "hello world\n"))
    assert "--task" in err.value.hint
    task, why = detect_task(write(tmp_path, "x.csv", "hello world\n"))  # the extension decides, and says so
    assert task == "tagging" and "by the extension .csv" in why


def test_headerless_layouts_are_read_as_meant(tmp_path):
    from wlbench.submissions import read_clip_scores, read_submission

    five = write(tmp_path, "five.txt", "audio/a.wav\tstreet\t1.0\t2.0\tDog\tm\tx1\n"
                 "b.wav\tstreet\t0.5\t1.5\tCat\tm\tx2\n")
    got, rep = read_submission(five, exp2())
    assert rep.ok, rep.summary()
    assert got.events[["filename", "event_label", "onset", "offset"]].values.tolist() == [
        ["a", "Dog", 1.0, 2.0], ["b", "Cat", 0.5, 1.5]]
    assert "sed_eval event list" in rep.notes["read_as"]

    long = write(tmp_path, "estimated.txt", "a.wav\tDog\t0.9\na.wav\tCat\t0.1\nb.wav\tDog\t0.2\nb.wav\tCat\t0.7\n")
    got, rep = read_submission(long, exp2())
    assert rep.ok and got.scores.tolist() == [[0.1, 0.9], [0.7, 0.2]]
    commas = write(tmp_path, "long.csv", "a.wav,Dog,0.9\na.wav,Cat,0.1\nb.wav,Dog,0.2\nb.wav,Cat,0.7\n")
    assert read_submission(commas, exp2())[0].scores.tolist() == [[0.1, 0.9], [0.7, 0.2]]

    # sed_eval's per-clip list (onset offset label): read when one clip is scored, else one line naming the fix
    three = write(tmp_path, "a.ann", "1.0\t2.0\tDog\n3.0\t4.5\tCat\n")
    got, rep = read_detections(three, Expected(classes=["Cat", "Dog"], clip_ids=["a"], clip_duration=10.0))
    assert rep.ok and got.events.filename.tolist() == ["a", "a"] and got.events.onset.tolist() == [1.0, 3.0]
    _, rep = read_detections(three, exp2())
    assert [p.kind for p in rep.problems] == ["bad_header"] and "add the filename" in rep.problems[0].message

    # an event list forced into the tagging reader: one line naming the flag that resolves it
    _, rep = read_clip_scores(write(tmp_path, "ev.csv", "a.wav\t1.0\t2.0\tDog\n"), exp2())
    assert len(rep.problems) == 1 and "--task detection" in rep.problems[0].message


def test_headerless_sed_eval_truth_files(tmp_path):
    """A TUT-style annotation (filename, scene, onset, offset, label, headerless) as --truth."""
    dur = write(tmp_path, "dur.tsv", "filename\tduration\na.wav\t10.0\nb.wav\t10.0\n")
    gt = write(tmp_path, "street_evaluate.txt", "audio/a.wav\tstreet\t1.0\t2.0\tcar\n"
               "audio/b.wav\tstreet\t3.0\t3.0\tpeople walking\n")
    truth = truth_from_files(gt, dur)
    assert truth.classes == ["car", "people walking"] and truth.events.onset.tolist() == [1.0, 3.0]
    one = write(tmp_path, "one.tsv", "filename\tduration\na.wav\t10.0\n")
    truth = truth_from_files(write(tmp_path, "a.ann", "1.0\t2.0\tcar\n"), one)
    assert truth.events.filename.tolist() == ["a"]


def test_cli_prints_how_the_file_was_read(tmp_path):
    from click.testing import CliRunner

    from wlbench.cli import main

    dur = write(tmp_path, "dur.tsv", "filename\tduration\na.wav\t10.0\nb.wav\t10.0\n")
    gt = write(tmp_path, "gt.tsv", "filename\tonset\toffset\tevent_label\na.wav\t1.0\t2.0\tDog\nb.wav\t1.0\t2.0\tCat\n")
    sub = write(tmp_path, "predictions.csv", "event_label\tonset\toffset\tfilename\nDog\t1.0\t2.0\ta.wav\n")
    res = CliRunner().invoke(main, ["score", "--truth", str(gt), "--durations", str(dur), "--bootstrap", "0", str(sub)])
    assert res.exit_code == 0, res.output
    assert "read as detection list: header names filename, onset, offset, event_label (tab-separated)" in res.output


# --- export: the full class list, a folder as --truth, true words about audio ----------------------

def _dataset(path, classes, events_of):
    import numpy as np

    from wlbench.dataset.writer import DatasetWriter, SplitShape

    with DatasetWriter(path, name="tiny", classes=tuple(classes), sample_rate=16000, clip_duration=10.0,
                       segment_durations=(), feature_attrs=None, feature_dtype="float32", store_features=False,
                       store_audio=False, provenance={"spec_id": "spec-tiny"}) as w:
        for split, count in (("eval", 4), ("train", 2)):
            w.begin_split(SplitShape(split, count, 0, 0, 0, "strong"))
            weak = np.zeros((count, len(classes)), dtype=np.uint8)
            for i in range(count):
                ev = events_of(i)
                for lab, _, _ in ev:
                    weak[i, classes.index(lab)] = 1
                w.write_clip(split, i, f"{split}_{i:06d}", "{}",
                             [(lab, a, b, 10.0, "x.wav", 0.0, float("nan")) for lab, a, b in ev], None, None)
            w.end_split(split, {"weak_labels": weak}, {})
        w.commit()
    return path


def test_export_keeps_absent_classes_and_the_folder_is_a_truth(tmp_path):
    from click.testing import CliRunner

    from wlbench.cli import main
    from wlbench.scoring import score_file, truth_from_folder

    classes = ["Alarm", "Cat", "Dog"]  # Cat has no event in the split
    path = _dataset(tmp_path / "tiny.h5", classes,
                    lambda i: [("Dog", 1.0, 2.5)] if i % 2 else [("Alarm", 0.5, 1.0), ("Dog", 4.0, 6.0)])
    gt = tmp_path / "gt"
    res = CliRunner().invoke(main, ["export", str(path), "--split", "eval", "--out", str(gt)])
    assert res.exit_code == 0, res.output
    assert (gt / "classes.txt").read_text().splitlines() == classes
    readme = (gt / "README.md").read_text()
    assert "1 of them without an event in this split: Cat" in readme
    assert "No audio" in readme and "audio is stored in the dataset" not in readme

    ids = [f"eval_{i:06d}" for i in range(4)]
    sub = write(tmp_path, "scores.csv", "filename,Alarm,Cat,Dog\n" +
                "".join(f"{c}.wav,0.{i + 1},0.1,0.{9 - i}\n" for i, c in enumerate(ids)))
    res = CliRunner().invoke(main, ["score", "--truth", str(gt), "--bootstrap", "0", str(sub)])
    assert res.exit_code == 0, res.output  # no --durations, no --classes: the folder says both
    truth = truth_from_folder(gt)
    assert truth.classes == classes and truth.source["classes"] == "classes.txt"
    a = score_submission(truth, sub, settings=FAST)
    b = score_file(path, sub, settings=FAST)
    assert a["headline"] == b["headline"]
    with pytest.raises(WlbenchError, match="without durations.tsv"):
        (gt / "durations.tsv").unlink()
        truth_from_folder(gt)


def test_cli_strict_restores_the_refusal(tmp_path):
    from click.testing import CliRunner

    from wlbench.cli import main

    dur = write(tmp_path, "dur.tsv", "filename\tduration\na.wav\t9.9\n")
    gt = write(tmp_path, "gt.tsv", "filename\tonset\toffset\tevent_label\na.wav\t1.0\t10.015\tDog\n")
    sub = write(tmp_path, "sub.tsv", "filename\tonset\toffset\tevent_label\na.wav\t1.0\t9.9\tDog\n")
    args = ["score", "--truth", str(gt), "--durations", str(dur), "--bootstrap", "0",
            "--json", str(tmp_path / "r.json")]
    res = CliRunner().invoke(main, args + [str(sub)])
    assert res.exit_code == 0, res.output
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["notes"]["truth"]["reference_events_clipped_to_clip"] == 1 and "strict" not in report["settings"]
    res = CliRunner().invoke(main, args + ["--strict", str(sub)])
    assert res.exit_code == 2 and "time_outside_clip" in res.output
