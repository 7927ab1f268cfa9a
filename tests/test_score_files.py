"""sed_scores_eval score files: written and read back exactly, read by sed_scores_eval itself, from
directories and archives, and every problem reported with its file and line."""

from __future__ import annotations

import shutil
import tarfile
import warnings
import zipfile

import numpy as np
import pytest
from sed_cases import make_case

from wlbench.errors import WlbenchError
from wlbench.metrics.frames import FrameDetections
from wlbench.metrics.psds import PSDS1, psds
from wlbench.submissions import (
    Expected,
    SubmissionError,
    infer_task,
    load_submission,
    read_score_files,
    write_score_files,
)

CLASSES = ["Alarm", "Dog", "Speech"]
IDS = ["eval_000000", "eval_000001", "eval_000002"]


def expected(**kw):
    base = dict(classes=CLASSES, clip_ids=IDS, split="eval", clip_duration=2.0)
    base.update(kw)
    return Expected(**base)


def kinds(report):
    return sorted(p.kind for p in report.problems)


@pytest.fixture()
def scores_dir(tmp_path):
    rng = np.random.default_rng(0)
    s = rng.random((3, 20, 3)).astype(np.float32)
    write_score_files(tmp_path / "scores", IDS, s, 0.1, CLASSES)
    return tmp_path / "scores", s


def test_round_trip_is_exact(scores_dir, tmp_path):
    path, s = scores_dir
    assert sorted(p.name for p in path.iterdir()) == [f"{c}.tsv" for c in IDS]
    assert infer_task(path) == "frame_scores"
    got, rep = read_score_files(path, expected())
    assert rep.ok, rep.summary()
    assert (got.frames.scores.reshape(3, 20, 3) == s.astype(np.float64)).all()  # float32 kept exactly
    np.testing.assert_array_equal(got.frames.onset[:20], np.arange(20) * 0.1)
    # float64 scores too, in another class order in the file (columns are matched by name)
    s64 = np.random.default_rng(1).random((3, 20, 3))
    write_score_files(tmp_path / "s64", IDS, s64[:, :, ::-1], 0.1, CLASSES[::-1])
    got, rep = read_score_files(tmp_path / "s64", expected())
    assert rep.ok and (got.frames.scores.reshape(3, 20, 3) == s64).all()


def test_frames_past_the_clip_end_are_cut_at_it(tmp_path):
    """A last frame that reaches past the clip (e.g. 501 frames of 20 ms for 10 s) ends at the clip's end;
    frames that start at or after the end are left out."""
    s = np.random.default_rng(2).random((1, 6, 2))
    write_score_files(tmp_path / "cut", ["c"], s, 0.5, ["A", "B"], clip_duration=2.2)
    lines = (tmp_path / "cut" / "c.tsv").read_text().splitlines()
    assert [ln.split("\t")[:2] for ln in lines[1:]] == [["0.0", "0.5"], ["0.5", "1.0"], ["1.0", "1.5"],
                                                        ["1.5", "2.0"], ["2.0", "2.2"]]
    assert [float(v) for v in lines[-1].split("\t")[2:]] == s[0, 4].tolist()


def test_sed_scores_eval_reads_what_wlbench_writes(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sed_scores_eval import intersection_based
    case = make_case(np.random.default_rng(3), 6, 30, 3, 0.064)
    write_score_files(tmp_path / "sc", case.ids, case.scores, case.hop, case.classes)
    _, truth, durations = case.sed_scores_eval_inputs()
    theirs = intersection_based.psds(str(tmp_path / "sc"), truth, durations, dtc_threshold=0.7, gtc_threshold=0.7,
                                     alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0)[0]
    exp = Expected(classes=case.classes, clip_ids=case.ids, clip_duration=case.duration)
    got, rep = read_score_files(tmp_path / "sc", exp)
    assert rep.ok, rep.summary()
    det = FrameDetections(got.frames, case.reference, np.full(len(case.ids), case.duration))
    assert psds(det, PSDS1).psds == pytest.approx(theirs, abs=1e-12)
    assert psds(det, PSDS1).psds == pytest.approx(psds(case.detections(), PSDS1).psds, abs=1e-12)


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archives(scores_dir, tmp_path, kind):
    path, s = scores_dir
    archive = tmp_path / f"scores.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as z:
            for f in path.iterdir():
                z.write(f, f"run1/{f.name}")  # members inside a folder of the archive
            z.writestr("__MACOSX/._x.tsv", b"junk")
    else:
        with tarfile.open(archive, "w:gz") as t:
            t.add(path, arcname="scores")
    assert infer_task(archive) == "frame_scores"
    got, rep = read_score_files(archive, expected())
    assert rep.ok, rep.summary()
    assert (got.frames.scores.reshape(3, 20, 3) == s.astype(np.float64)).all()


def test_every_problem_with_file_and_line(scores_dir):
    path, _ = scores_dir
    (path / "eval_000002.tsv").rename(path / "eval_999999.tsv")  # unknown clip + missing clip
    (path / "notes.txt").write_text("hello")  # not a score table
    (path / ".DS_Store").write_bytes(b"\0")  # hidden: skipped
    lines = (path / "eval_000001.tsv").read_text().splitlines()
    lines[3] = lines[3].replace("\t", "\tx", 1)  # a time that is not a number
    (path / "eval_000001.tsv").write_text("\n".join(lines) + "\n")
    _, rep = read_score_files(path, expected())
    assert kinds(rep) == ["missing_clip", "not_a_number", "unexpected_file", "unknown_clip"]
    nan = [p for p in rep.problems if p.kind == "not_a_number"][0]
    assert nan.file == "eval_000001.tsv" and nan.row == 4
    with pytest.raises(SubmissionError, match="file eval_000001.tsv, line 4"):
        load_submission(path, expected(), "frame_scores")


def test_frames_header_and_range_problems(tmp_path):
    def table(name, text):
        d = tmp_path / name
        d.mkdir()
        for c in IDS:
            (d / f"{c}.tsv").write_text(text)
        return d

    ok = "onset\toffset\tAlarm\tDog\tSpeech\n0.0\t0.5\t0.1\t0.2\t0.3\n0.5\t1.0\t0.1\t0.2\t0.3\n"
    gap = ok.replace("0.5\t1.0", "0.6\t1.0")
    late = ok.replace("0.5\t1.0", "0.5\t2.5")
    wrong = ok.replace("Dog", "Dgo")
    high = ok.replace("0.3\n0.5", "1.3\n0.5")
    nan = ok.replace("0.2\t0.3\n0.5", "nan\t0.3\n0.5")
    assert kinds(read_score_files(table("gap", gap), expected())[1]) == ["bad_frames"] * 3
    assert kinds(read_score_files(table("late", late), expected(strict=True))[1]) == ["time_outside_clip"] * 3
    got, rep = read_score_files(table("late2", late), expected())  # the tolerance policy: clipped, counted
    assert rep.ok and rep.notes["clips_with_frames_outside_clip"] == 3 and rep.notes["frames_dropped_outside_clip"] == 0
    assert got.frames.offset.max() == 2.0
    rep = read_score_files(table("wrong", wrong), expected())[1]
    assert kinds(rep) == ["missing_label", "unknown_label"]  # one header, reported once
    assert "did you mean 'Dog'" in rep.summary()
    rep = read_score_files(table("high", high), expected())[1]
    assert kinds(rep) == ["out_of_range"] and "3 score(s) outside [0, 1] in 3 file(s) (first: 1.3" in rep.summary()
    assert read_score_files(table("high2", high), expected(), probabilities=False)[1].ok
    assert kinds(read_score_files(table("nan", nan), expected())[1]) == ["not_finite"] * 3
    comma = table("comma", ok.replace("\t", ","))
    assert read_score_files(comma, expected())[1].ok  # a comma-separated header is unambiguous


def test_many_problems_of_one_kind_are_summarised(tmp_path):
    ids = [f"c{i:03d}" for i in range(40)]
    d = tmp_path / "many"
    d.mkdir()
    for c in ids:
        (d / f"{c}.tsv").write_text("onset\toffset\tA\n0.0\t0.5\t0.1\n0.6\t1.0\t0.1\n")
    _, rep = read_score_files(d, Expected(classes=["A"], clip_ids=ids, clip_duration=1.0))
    assert len(rep.problems) == 6 and "35 more of this kind" in rep.problems[-1].message


def test_writer_refuses_bad_input_and_foreign_directories(tmp_path):
    s = np.zeros((2, 3, 1))
    with pytest.raises(WlbenchError, match="shape"):
        write_score_files(tmp_path / "a", ["x"], s, 0.1, ["A"])
    with pytest.raises(WlbenchError, match="unique"):
        write_score_files(tmp_path / "a", ["x", "x"], s, 0.1, ["A"])
    with pytest.raises(WlbenchError, match="id"):
        write_score_files(tmp_path / "a", ["x", "../y"], s, 0.1, ["A"])
    with pytest.raises(WlbenchError, match="finite"):
        write_score_files(tmp_path / "a", ["x", "y"], np.full((2, 3, 1), np.nan), 0.1, ["A"])
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.me").write_text("x")
    with pytest.raises(WlbenchError, match="other files"):
        write_score_files(other, ["x", "y"], s, 0.1, ["A"])
    assert (other / "keep.me").exists()
    write_score_files(tmp_path / "b", ["x", "y"], s, 0.1, ["A"])
    write_score_files(tmp_path / "b", ["z"], s[:1], 0.1, ["A"])  # a score directory is replaced whole
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["z.tsv"]
    shutil.rmtree(tmp_path / "b")
