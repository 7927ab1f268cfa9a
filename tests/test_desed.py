"""wlbench data in DESED's layout and back (issue 27): `export --audio` writes audio/<split>/*.wav and
metadata/<split>/*.tsv; `import desed` reads them into a dataset with the source's truth id and features."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from wlbench.cli import main
from wlbench.dataset.reader import open_dataset
from wlbench.errors import WlbenchError

SPLITS = ("train", "validation", "eval")


@pytest.fixture(scope="module")
def desed_root(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("desed") / "tiny_desed"
    for split in SPLITS:
        res = CliRunner().invoke(main, ["export", str(tiny_dataset), "--split", split, "--out", str(root), "--audio"])
        assert res.exit_code == 0, res.output
    return root


def test_export_audio_writes_desed_layout(tiny_dataset, desed_root):
    with open_dataset(tiny_dataset) as ds:
        sp = ds.split("eval")
        ids, stored, rate = sp.clip_ids.tolist(), sp.audio(), int(ds.attr("sample_rate"))
        classes = ds.classes
    wavs = sorted(p.stem for p in (desed_root / "audio" / "eval").glob("*.wav"))
    assert wavs == sorted(ids)
    audio, sr = soundfile.read(desed_root / "audio" / "eval" / f"{ids[0]}.wav", dtype="float32")
    assert sr == rate and np.array_equal(audio, stored[0])  # float WAV: the stored samples exactly
    meta = desed_root / "metadata" / "eval"
    assert {p.name for p in meta.iterdir()} >= {"strong.tsv", "weak.tsv", "durations.tsv", "events.tsv",
                                                  "classes.txt", "segments_1s.tsv"}
    assert (desed_root / "classes.txt").read_text().splitlines() == classes
    res = CliRunner().invoke(main, ["export", str(tiny_dataset), "--split", "eval", "--out", str(desed_root),
                                    "--audio"])
    assert res.exit_code == 2 and "pass --force" in res.output


def test_rerendered_audio_is_bit_identical(tiny_dataset, tone_bank):
    from wlbench.desed import rerendered_audio
    from wlbench.soundbank import load_soundbank

    with open_dataset(tiny_dataset) as ds:
        stored = ds.split("eval").audio()
        again = np.stack([a for _, a in rerendered_audio(ds, tiny_dataset, "eval", load_soundbank(tone_bank))])
    assert again.dtype == stored.dtype and np.array_equal(again, stored)


def test_round_trip_export_import_keeps_truth_id_and_features(tiny_dataset, desed_root, tmp_path):
    out = tmp_path / "back.h5"
    res = CliRunner().invoke(main, ["import", "desed", str(desed_root), "--out", str(out), "--name", "tiny"])
    assert res.exit_code == 0, res.output
    with open_dataset(tiny_dataset) as src, open_dataset(out) as back:
        assert back.truth_id == src.truth_id
        truth_id = src.truth_id
        for split in SPLITS:
            assert back.split(split).truth_id == src.split(split).truth_id
        assert np.array_equal(back.split("eval").features()[:], src.split("eval").features()[:])
        assert np.array_equal(back.split("eval").frame_labels(), src.split("eval").frame_labels())
    assert f"truth id {truth_id}" in res.output


def test_desed_metadata_folder_scores_and_no_audio_needs_a_bank(tiny_dataset, desed_root, tmp_path):
    from wlbench.desed import export_desed

    with open_dataset(tiny_dataset) as ds:
        ids, classes = ds.split("eval").clip_ids.tolist(), ds.classes
    sub = tmp_path / "s.csv"
    sub.write_text("filename," + ",".join(classes) + "\n" + "".join(f"{c},0.5,0.2,0.9\n" for c in ids))
    res = CliRunner().invoke(main, ["score", "--truth", str(desed_root / "metadata" / "eval"), "--bootstrap", "0",
                                    str(sub)])
    assert res.exit_code == 0, res.output

    from test_field_formats import _dataset

    silent = _dataset(tmp_path / "silent.h5", ["Dog"], lambda i: [("Dog", 1.0, 2.0)])
    with pytest.raises(WlbenchError, match="stores no audio"):
        export_desed(silent, "eval", tmp_path / "x")
    assert not (tmp_path / "x" / "audio").exists()


def test_import_a_desed_style_folder(tmp_path):
    """DESED's own layout: strong.tsv (no events.tsv), durations rounded down to 0.1 s with longer WAVs,
    an offset past the listed duration, a shorter clip (needs --pad), a weak-only split."""
    root = tmp_path / "DESED"
    sr = 16000
    rng = np.random.default_rng(0)
    for split, clips in (("validation", {"Y1": 9.96, "Y2": 5.0}), ("weak", {"Y3": 10.0})):
        (root / "audio" / split).mkdir(parents=True)
        (root / "metadata" / split).mkdir(parents=True)
        for cid, seconds in clips.items():
            soundfile.write(root / "audio" / split / f"{cid}.wav",
                            (0.1 * rng.standard_normal(int(seconds * sr))).astype(np.float32), sr, subtype="FLOAT")
        listed = {c: np.floor(v * 10) / 10 for c, v in clips.items()}
        (root / "metadata" / split / "durations.tsv").write_text(
            "filename\tduration\n" + "".join(f"{c}.wav\t{v}\n" for c, v in listed.items()))
    (root / "metadata" / "validation" / "strong.tsv").write_text(
        "filename\tonset\toffset\tevent_label\nY1.wav\t1.0\t9.955\tDog\nY2.wav\t0.5\t1.5\tCat\nY2.wav\t\t\t\n")
    (root / "metadata" / "weak" / "weak.tsv").write_text("filename\tevent_labels\nY3.wav\tCat,Dog\n")
    out = tmp_path / "desed.h5"
    res = CliRunner().invoke(main, ["import", "desed", str(root), "--out", str(out)])
    assert res.exit_code == 2 and "--pad" in res.output and not out.exists()
    res = CliRunner().invoke(main, ["import", "desed", str(root), "--out", str(out), "--pad"])
    assert res.exit_code == 0, res.output
    with open_dataset(out) as ds:
        assert ds.classes == ["Cat", "Dog"] and float(ds.attr("clip_duration")) == 10.0
        events = ds.split("validation").events()
        assert events.offset.tolist() == [9.9, 1.5]  # clipped to the listed duration
        assert ds.attr("import_events_clipped") == 1 and ds.attr("import_cut_clips") == 1
        assert ds.attr("import_padded_clips") == 2  # Y1 (9.9 s) and Y2 (5 s)
        assert ds.split("weak").weak_labels().tolist() == [[1, 1]]
        assert ds.split("validation").features().shape[0] == 2


def test_label_views_are_exported_as_their_own_weak_tsv(tmp_path):
    from wlbench.dataset.writer import DatasetWriter, SplitShape
    from wlbench.desed import export_desed

    classes = ("Dog", "Cat")
    path = tmp_path / "views.h5"
    n, samples = 3, 800
    with DatasetWriter(path, name="v", classes=classes, sample_rate=8000, clip_duration=0.1, segment_durations=(),
                       feature_attrs=None, feature_dtype="float32", store_features=False, store_audio=True,
                       provenance={"spec_id": "spec-v"}) as w:
        w.begin_split(SplitShape("train", n, 0, 0, samples, "train"))
        for i in range(n):
            w.write_clip("train", i, f"c{i}", "{}", [("Dog", 0.0, 0.05, 0.0, "x.wav", 0.0, 0.0),
                                                     ("Cat", 0.05, 0.1, 0.0, "y.wav", 0.0, 0.0)],
                         None, np.full(samples, 0.01 * i, dtype=np.float32))
        truth = np.ones((n, 2), dtype=np.uint8)
        w.end_split("train", {"weak_labels": truth}, {})
        observed = np.array([[1, 0], [1, 1], [0, 1]], dtype=np.uint8)
        w.write_conditions("train", views={"half": (observed, truth - observed, {"rate": 0.5})}, resolution={}, roles=None, role_names=(), domains=None, domain_names=(),
                           requested_events=None)
        w.commit()
    export_desed(path, "train", tmp_path / "out")
    lines = (tmp_path / "out" / "metadata" / "train" / "weak_half.tsv").read_text().splitlines()
    assert lines == ["filename\tevent_labels", "c0.wav\tDog", "c1.wav\tDog,Cat", "c2.wav\tCat"]
    assert "weak_<view>.tsv" in (tmp_path / "out" / "README.md").read_text()
    audio, _ = soundfile.read(tmp_path / "out" / "audio" / "train" / "c2.wav", dtype="float32")
    assert np.array_equal(audio, np.full(samples, 0.02, dtype=np.float32))
