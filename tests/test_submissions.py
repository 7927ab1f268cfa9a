"""Submission validation: every problem kind is reported, all at once, with line numbers."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from wlbench.submissions import (
    Expected,
    SubmissionError,
    load_submission,
    normalize_clip_id,
    read_clip_scores,
    read_detections,
    read_embeddings,
)

CLASSES = ["Alarm", "Dog", "Speech"]
IDS = ["eval_000000", "eval_000001", "eval_000002"]


def expected(**kw):
    base = dict(classes=CLASSES, clip_ids=IDS, split="eval", dataset_name="waa", content_id="abc",
                clip_duration=10.0, other_splits={"train": ["train_000000", "train_000001", "train_000002"]})
    base.update(kw)
    return Expected(**base)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def kinds(report):
    return [p.kind for p in report.problems]


def test_valid_wide_and_long_with_wav_suffix(tmp_path):
    wide = write(tmp_path, "a.csv", "filename,Dog,Alarm,Speech\n"
                 "eval_000000.wav,0.1,0.9,0\neval_000001,0.5,0.5,0.5\naudio/eval_000002.wav,1,0,0.2\n")
    got, rep = read_clip_scores(wide, expected())
    assert rep.ok and rep.format == "wide"
    np.testing.assert_allclose(got.scores[0], [0.9, 0.1, 0.0])
    rows = ["filename,event_label,score"] + [f"{c},{lab},{0.1 * i}" for i, c in enumerate(IDS) for lab in CLASSES]
    got2, rep2 = read_clip_scores(write(tmp_path, "b.csv", "\n".join(rows) + "\n"), expected())
    assert rep2.ok and rep2.format == "long"
    np.testing.assert_allclose(got2.scores[2], [0.2, 0.2, 0.2])


def test_wide_reports_every_problem_at_once(tmp_path):
    text = ("# split: eval\n"
            "filename,Alarm,Dgo,Speech\n"           # line 2: unknown label Dgo (-> Dog), missing Dog
            "eval_000000,0.1,0.2,nan\n"            # line 3: NaN
            "eval_000000,0.1,0.2,0.3\n"            # line 4: duplicate
            "eval_999999,0.1,0.2,0.3\n"            # line 5: unknown clip
            "eval_000001,1.5,0.2,abc\n")           # line 6: out of range + not a number
    got, rep = read_clip_scores(write(tmp_path, "s.csv", text), expected())
    assert got is None and not rep.ok
    k = kinds(rep)
    for kind in ("unknown_label", "missing_label", "not_finite", "duplicate_row", "unknown_clip", "out_of_range",
                 "not_a_number", "missing_clip"):
        assert kind in k, kind
    by = {p.kind: p for p in rep.problems}
    assert "'Dog'" in by["unknown_label"].message and by["unknown_label"].row == 2
    assert by["duplicate_row"].row == 4 and by["unknown_clip"].row == 5
    assert by["not_finite"].row == 3 and by["not_finite"].field == "Speech"
    assert by["missing_clip"].message.count("eval_000002") == 1
    assert by["out_of_range"].row == 6
    with pytest.raises(SubmissionError) as err:
        load_submission(write(tmp_path, "s.csv", text), expected(), "tagging")
    msg = str(err.value)
    assert len(msg.splitlines()) == len(rep.problems) + 1
    assert err.value.report.to_dict()["valid"] is False


def test_raw_scores_allowed_when_not_probabilities(tmp_path):
    p = write(tmp_path, "s.csv", "filename,Alarm,Dog,Speech\n" + "".join(f"{c},-3,2.5,0\n" for c in IDS))
    assert "out_of_range" in kinds(read_clip_scores(p, expected())[1])
    assert read_clip_scores(p, expected(), probabilities=False)[1].ok


def test_long_format_problems(tmp_path):
    text = ("filename,event_label,score\n"
            "eval_000000,Alarm,0.1\neval_000000,Alarm,0.2\n"   # duplicate (line 3)
            "eval_000000,Speach,0.3\n"                         # unknown label (line 4)
            "eval_000001,Dog,inf\n")                           # not finite
    _, rep = read_clip_scores(write(tmp_path, "l.csv", text), expected())
    k = kinds(rep)
    for kind in ("duplicate_row", "unknown_label", "not_finite", "missing_score", "missing_clip"):
        assert kind in k, kind
    assert [p for p in rep.problems if p.kind == "unknown_label"][0].message.endswith("'Speech'?")


def test_wrong_split_and_wrong_dataset(tmp_path):
    p = write(tmp_path, "s.csv", "filename,Alarm,Dog,Speech\n" +
              "".join(f"train_00000{i},0,0,0\n" for i in range(3)))
    _, rep = read_clip_scores(p, expected())
    assert kinds(rep) == ["wrong_split"] and "--split train" in rep.problems[0].message
    p2 = write(tmp_path, "t.csv", "filename,Alarm,Dog,Speech\nclip_a,0,0,0\nclip_b,0,0,0\n")
    assert kinds(read_clip_scores(p2, expected())[1]) == ["wrong_dataset"]
    p3 = write(tmp_path, "u.csv", "# split_truth_id: zzz\n# split: train\nfilename,Alarm,Dog,Speech\n" +
               "".join(f"{c},0,0,0\n" for c in IDS))
    assert sorted(kinds(read_clip_scores(p3, expected(split_truth_id="abc"))[1])) == ["wrong_dataset", "wrong_split"]


def test_a_declared_content_id_is_recorded_never_refused(tmp_path):
    """Scores depend on the truth only: predictions computed from other features (another content id) of the
    same truth are scored, and the report notes the declared content id."""
    body = "filename,Alarm,Dog,Speech\n" + "".join(f"{c},0,0,0\n" for c in IDS)
    other = write(tmp_path, "o.csv", "# content_id: zzz\n# split_truth_id: t1\n" + body)
    _, rep = read_clip_scores(other, expected(split_truth_id="t1"))
    assert rep.ok and rep.notes["declared_content_id_differs"] == "zzz"
    same = write(tmp_path, "s.csv", "# content_id: abc\n" + body)
    _, rep = read_clip_scores(same, expected(split_truth_id="t1"))
    assert rep.ok and "declared_content_id_differs" not in rep.notes


def test_bad_header_and_unreadable(tmp_path):
    assert kinds(read_clip_scores(write(tmp_path, "h.csv", "clip,Alarm\n"), expected())[1]) == ["bad_header"]
    assert kinds(read_clip_scores(tmp_path / "none.csv", expected())[1]) == ["unreadable"]


def test_detections_valid_with_empty_clip_rows(tmp_path):
    text = ("filename\tonset\toffset\tevent_label\n"
            "eval_000000.wav\t0.5\t2.0\tDog\n"
            "eval_000001.wav\t\t\t\n")
    got, rep = read_detections(write(tmp_path, "d.tsv", text), expected())
    assert rep.ok, rep.summary()
    assert len(got.events) == 1 and got.events.filename[0] == "eval_000000"
    assert rep.notes["clips_without_detections"] == 2


def test_detections_every_problem(tmp_path):
    text = ("filename\tonset\toffset\tevent_label\n"
            "eval_000000\t2.0\t1.0\tDog\n"        # 2 onset >= offset
            "eval_000000\t-1\t1.0\tDog\n"         # 3 outside clip
            "eval_000000\t5\t10.5\tDog\n"         # 4 outside clip
            "eval_000001\t1\t2\tDgo\n"            # 5 unknown label
            "eval_000001\t1\tx\tDog\n"            # 6 not a number
            "eval_000001\t1\tnan\tDog\n"          # 7 not finite
            "eval_000002\t1\t2\tDog\n"
            "eval_000002\t1\t2\tDog\n"            # 9 duplicate
            "eval_123456\t1\t2\tDog\n")           # 10 unknown clip
    _, rep = read_detections(write(tmp_path, "d.tsv", text), expected(strict=True))
    rows = {p.kind: p.row for p in rep.problems}
    assert rows == {"onset_not_before_offset": 2, "time_outside_clip": 4, "unknown_label": 5,
                    "not_a_number": 6, "not_finite": 7, "duplicate_row": 9, "unknown_clip": 10}
    assert [p.row for p in rep.problems if p.kind == "time_outside_clip"] == [3, 4]


def test_embeddings_formats_and_problems(tmp_path):
    e = np.arange(12, dtype=float).reshape(3, 4)
    np.save(tmp_path / "e.npy", e)
    got, rep = read_embeddings(tmp_path / "e.npy", expected())
    assert rep.ok and (got.embeddings == e).all()
    np.savez(tmp_path / "e.npz", clip_ids=np.array(IDS[::-1]), embeddings=e[::-1])
    got, rep = read_embeddings(tmp_path / "e.npz", expected())
    assert rep.ok and (got.embeddings == e).all()
    with h5py.File(tmp_path / "e.h5", "w") as h:
        h["eval_000000"] = e[0]
        h["eval_000001"] = np.array([np.nan, 0, 0, 0])
        h["eval_000009"] = e[2]
    _, rep = read_embeddings(tmp_path / "e.h5", expected())
    assert sorted(kinds(rep)) == ["missing_clip", "not_finite", "unknown_clip"]
    np.save(tmp_path / "bad.npy", e[:2])
    assert kinds(read_embeddings(tmp_path / "bad.npy", expected())[1]) == ["wrong_shape"]


def test_normalize_clip_id():
    assert normalize_clip_id("a/b/eval_1.WAV") == "eval_1"
    assert normalize_clip_id("eval_1.v2") == "eval_1.v2"


# --- wide clip scores: malformed rows are diagnosed where they are -----------------------------------------

HEAD = "filename,Alarm,Dog,Speech\n"


@pytest.mark.parametrize("bad_line", [2, 3, 4])
def test_wide_row_with_an_extra_field_is_a_bad_row(tmp_path, bad_line):
    rows = [f"{c},0.1,0.2,0.3" for c in IDS]
    rows[bad_line - 2] += ",0.4"
    got, rep = read_clip_scores(write(tmp_path, "s.csv", HEAD + "\n".join(rows) + "\n"), expected())
    assert got is None
    assert kinds(rep) == ["bad_row"], rep.summary()
    p = rep.problems[0]
    assert p.row == bad_line and "5 fields" in p.message and "4" in p.message


def test_wide_every_row_with_a_trailing_separator_is_not_called_another_dataset(tmp_path):
    text = HEAD + "".join(f"{c},0.1,0.2,0.3,\n" for c in IDS)
    _, rep = read_clip_scores(write(tmp_path, "s.csv", text), expected())
    assert kinds(rep) == ["bad_row"] * 3 and [p.row for p in rep.problems] == [2, 3, 4]
    assert "wrong_dataset" not in rep.summary()


def test_wide_duplicate_class_column_is_reported(tmp_path):
    text = "filename,Alarm,Dog,Dog,Speech\n" + "".join(f"{c},0.1,0.2,0.3,0.4\n" for c in IDS)
    got, rep = read_clip_scores(write(tmp_path, "s.csv", text), expected())
    assert got is None
    assert kinds(rep) == ["bad_header"], rep.summary()
    p = rep.problems[0]
    assert p.row == 1 and p.field == "Dog" and "appears twice" in p.message
    assert "Dog.1" not in rep.summary()


@pytest.mark.parametrize("head", [HEAD, "filename ,Alarm ,Dog ,Speech\n", "Alarm,filename,Dog,Speech\n"])
def test_wide_zero_padded_clip_ids_stay_strings(tmp_path, head):
    ids = ["001", "002", "010"]
    if head.startswith("Alarm"):
        text = head + "0.1,001,0.2,0.3\n0.7,010,0.8,0.9\n0.4,002,0.5,0.6\n"
    else:
        text = head + "001,0.1,0.2,0.3\n010,0.7,0.8,0.9\n002,0.4,0.5,0.6\n"
    got, rep = read_clip_scores(write(tmp_path, "s.csv", text), expected(clip_ids=ids, other_splits=None))
    assert rep.ok, rep.summary()
    np.testing.assert_allclose(got.scores, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])
    # "1" is not clip "001"
    _, rep = read_clip_scores(write(tmp_path, "t.csv", HEAD + "1,0.1,0.2,0.3\n002,0.4,0.5,0.6\n010,0.7,0.8,0.9\n"),
                              expected(clip_ids=ids, other_splits=None))
    assert sorted(kinds(rep)) == ["missing_clip", "unknown_clip"]


def test_wide_short_row_is_a_missing_value_naming_the_columns(tmp_path):
    text = HEAD + "eval_000000,0.1,0.2,0.3\neval_000001,0.1\neval_000002,0.1,,0.3\n"
    _, rep = read_clip_scores(write(tmp_path, "s.csv", text), expected())
    assert kinds(rep) == ["missing_value", "missing_value"], rep.summary()
    short, empty = rep.problems
    assert short.row == 3 and short.field == "Dog" and "'Dog', 'Speech'" in short.message
    assert "2 fields" in short.message and "nan" not in short.message.lower()
    assert empty.row == 4 and empty.field == "Dog" and "empty" in empty.message


def test_wide_values_parsed_as_text_then_numbers(tmp_path):
    text = ("filename\tAlarm\tDog\tSpeech\n"
            "eval_000000\t 1e-1 \t0\t1\n\n"
            "eval_000001\t.5\t+0.25\t1.0\n"
            "eval_000002\t0.3\tN/A\tabc\n\n")
    _, rep = read_clip_scores(write(tmp_path, "s.tsv", text), expected())
    assert sorted((p.kind, p.row, p.field) for p in rep.problems) == [("not_a_number", 5, "Speech"),
                                                                     ("not_finite", 5, "Dog")]
    got, rep = read_clip_scores(write(tmp_path, "ok.tsv", text.replace("N/A\tabc", "0.2\t0.4")), expected())
    assert rep.ok, rep.summary()
    np.testing.assert_allclose(got.scores, [[0.1, 0, 1], [0.5, 0.25, 1], [0.3, 0.2, 0.4]])
