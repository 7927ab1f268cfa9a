"""Soundbank discovery, check, fingerprint and CLI on tiny banks written to tmp_path."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from wlbench.cli import main
from wlbench.errors import WlbenchError
from wlbench.soundbank import check_soundbank, load_soundbank, soundbank_fingerprint, split_class_folder


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WLBENCH_CACHE", str(tmp_path / "cache"))


def tone(path: Path, seconds: float = 0.5, sr: int = 16000, channels: int = 1, freq: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    sf.write(str(path), x, sr, subtype="PCM_16")
    return path


def make_plain(root: Path, bg_in_subfolder: bool = False) -> Path:
    tone(root / "foreground" / "Dog" / "d1.wav", 0.5)
    tone(root / "foreground" / "Dog" / "d2.wav", 1.5, freq=500)
    tone(root / "foreground" / "Cat" / "c1.wav", 1.0, freq=700)
    tone(root / "background" / ("street" if bg_in_subfolder else "") / "b1.wav", 2.0, freq=100)
    return root


def make_desed(root: Path) -> Path:
    for part in ("train", "eval"):
        sb = root / "audio" / part / "soundbank"
        tone(sb / "foreground" / "Blender" / f"{part}_b1.wav", 3.0)
        tone(sb / "foreground" / "Blender_nOn" / f"{part}_b2.wav", 2.0)
        tone(sb / "foreground" / "Speech_nOn_nOff" / f"{part}_s1.wav", 0.8)
        tone(sb / "foreground" / "Speech" / f"{part}_s2.wav", 0.9)
        tone(sb / "foreground" / "Dog_nOff" / f"{part}_d1.wav", 0.4)
        tone(sb / "background" / "sins" / f"{part}_bg.wav", 3.0, freq=60)
    return root


def make_parts(root: Path) -> Path:
    for part in ("train", "validation", "eval"):
        tone(root / part / "foreground" / "Alarm" / f"{part}_a.wav", 1.0)
        tone(root / part / "foreground" / "Dishes" / f"{part}_d.wav", 0.3)
        tone(root / part / "background" / "room" / f"{part}_r.wav", 2.0)
    return root


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# ------------------------------------------------------------------------------------------------ layouts
def test_split_class_folder_maps_desed_suffixes():
    assert split_class_folder("Blender") == ("Blender", False, False)
    assert split_class_folder("Blender_nOn") == ("Blender", True, False)
    assert split_class_folder("Blender_nOff") == ("Blender", False, True)
    assert split_class_folder("Blender_nOn_nOff") == ("Blender", True, True)
    assert split_class_folder("_nOn") == ("_nOn", False, False)


def test_plain_layout_backgrounds_directly_in_background(tmp_path):
    bank = load_soundbank(make_plain(tmp_path / "bank"))
    assert bank.layout == "plain"
    assert bank.parts == ("train",)
    assert bank.classes == ("Cat", "Dog")
    assert [f.relpath for f in bank.foreground] == ["foreground/Cat/c1.wav", "foreground/Dog/d1.wav",
                                                    "foreground/Dog/d2.wav"]
    (bg,) = bank.background
    assert (bg.folder, bg.label, bg.scaper_root) == ("background", "background", bank.root)
    assert (bg.scaper_root / bg.folder / bg.path.name) == bg.path
    dog = bank.foreground_files("train", "Dog")
    assert [f.duration for f in dog] == pytest.approx([0.5, 1.5])
    assert all(f.sample_rate == 16000 and f.channels == 1 and f.path.is_absolute() for f in dog)
    assert dog[0].scaper_root == bank.root / "foreground" and dog[0].folder == "Dog"
    assert dog[0].group == "foreground/Dog/d1.wav"          # no sources.csv: own relpath
    assert len(bank.fingerprint) == 64


def test_plain_layout_background_source_folders(tmp_path):
    bank = load_soundbank(make_plain(tmp_path / "bank", bg_in_subfolder=True))
    (bg,) = bank.background
    assert (bg.label, bg.folder, bg.scaper_root) == ("street", "street", bank.root / "background")


def test_desed_layout_parts_and_suffixes(tmp_path):
    bank = load_soundbank(make_desed(tmp_path / "DESED"))
    assert bank.layout == "desed"
    assert bank.parts == ("train", "eval")
    assert bank.classes == ("Blender", "Dog", "Speech")
    blender = bank.foreground_files("eval", "Blender")
    assert [(f.folder, f.cut_onset, f.cut_offset) for f in blender] == [("Blender", False, False),
                                                                      ("Blender_nOn", True, False)]
    assert blender[0].scaper_root == tmp_path / "DESED" / "audio" / "eval" / "soundbank" / "foreground"
    speech = bank.foreground_files("train", "Speech")
    assert {(f.folder, f.cut_onset, f.cut_offset) for f in speech} == {("Speech", False, False),
                                                                      ("Speech_nOn_nOff", True, True)}
    (dog,) = bank.foreground_files("train", "Dog")
    assert (dog.cut_onset, dog.cut_offset) == (False, True)
    (bg,) = bank.background_files("eval")
    assert (bg.label, bg.folder) == ("sins", "sins")


def test_parts_layout_and_part_names(tmp_path):
    bank = load_soundbank(make_parts(tmp_path / "bank"))
    assert bank.layout == "parts"
    assert bank.parts == ("train", "validation", "eval")
    assert [f.part for f in bank.foreground_files("validation", "Alarm")] == ["validation"]
    assert len(bank.background_files("eval")) == 1
    assert check_soundbank(tmp_path / "bank").ok


def test_unknown_part_folder_names_fall_back_to_train(tmp_path):
    tone(tmp_path / "bank" / "extra" / "foreground" / "Dog" / "a.wav")
    tone(tmp_path / "bank" / "eval" / "x" / "foreground" / "Dog" / "b.wav")
    bank = load_soundbank(tmp_path / "bank")
    assert {f.relpath: f.part for f in bank.foreground} == {"extra/foreground/Dog/a.wav": "train",
                                                            "eval/x/foreground/Dog/b.wav": "eval"}


def test_sources_csv_sets_groups(tmp_path):
    root = make_plain(tmp_path / "bank")
    (root / "sources.csv").write_text("path,group\nforeground/Dog/d1.wav,freesound-alice\n"
                                      "foreground/Dog/d2.wav,freesound-alice\n", encoding="utf-8")
    bank = load_soundbank(root)
    groups = {f.relpath: f.group for f in bank.foreground}
    assert groups == {"foreground/Dog/d1.wav": "freesound-alice", "foreground/Dog/d2.wav": "freesound-alice",
                      "foreground/Cat/c1.wav": "foreground/Cat/c1.wav"}


def test_sources_csv_bad_header_is_fatal(tmp_path):
    root = make_plain(tmp_path / "bank")
    (root / "sources.csv").write_text("file,author\nx,y\n", encoding="utf-8")
    with pytest.raises(WlbenchError, match="sources.csv.*path,group"):
        load_soundbank(root)


def test_group_shared_between_parts_is_reported(tmp_path):
    root = make_parts(tmp_path / "bank")
    (root / "sources.csv").write_text("path,group\ntrain/foreground/Alarm/train_a.wav,g\n"
                                      "eval/foreground/Alarm/eval_a.wav,g\n", encoding="utf-8")
    report = check_soundbank(root)
    assert any("'g' appears in several parts" in str(p) for p in report.problems)
    load_soundbank(root)  # not fatal for loading


# --------------------------------------------------------------------------------------------- problems
def _problem_case(root: Path, case: str) -> str:
    """Break a plain bank one way; return a string the problem message must contain."""
    make_plain(root)
    if case == "empty file":
        (root / "foreground" / "Dog" / "empty.wav").write_bytes(b"")
        return "foreground/Dog/empty.wav: empty file"
    if case == "non-audio file":
        (root / "foreground" / "Cat" / "notes.txt").write_text("hello", encoding="utf-8")
        return "foreground/Cat/notes.txt: not an audio file"
    if case == "unreadable audio":
        (root / "foreground" / "Cat" / "broken.wav").write_bytes(b"RIFF0000WAVEjunkjunkjunk" * 10)
        return "foreground/Cat/broken.wav: unreadable or not audio"
    if case == "empty class folder":
        (root / "foreground" / "Speech").mkdir()
        return "foreground/Speech: class folder has no files"
    if case == "zero-length audio":
        sf.write(str(root / "foreground" / "Dog" / "zero.wav"), np.zeros(0), 16000, subtype="PCM_16")
        return "foreground/Dog/zero.wav: zero-length audio"
    raise AssertionError(case)


FATAL_CASES = ["empty file", "non-audio file", "unreadable audio", "empty class folder", "zero-length audio"]


def _release_fifo_later(fifo: Path, seconds: float = 60.0) -> None:
    """If anything opens ``fifo`` for reading (it would block forever), open its other end after ``seconds``,
    so that a regression fails the test instead of hanging the suite."""
    import threading

    def writer():
        import time

        time.sleep(seconds)
        with contextlib.suppress(OSError):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)

    threading.Thread(target=writer, daemon=True).start()


def _hardening_case(root: Path, case: str) -> str:
    """Break a plain bank in one of the ways a hostile pass found; return what the problem must contain."""
    make_plain(root)
    dog = root / "foreground" / "Dog"
    if case == "symlink cycle":
        os.symlink("b.wav", dog / "a.wav")
        os.symlink("a.wav", dog / "b.wav")
        return "foreground/Dog/a.wav: is a symbolic link loop, not a regular file"
    if case == "broken symlink":
        os.symlink("gone.wav", dog / "link.wav")
        return "foreground/Dog/link.wav: is a broken symbolic link, not a regular file"
    if case == "fifo in a class folder":
        os.mkfifo(dog / "x.wav")
        _release_fifo_later(dog / "x.wav")
        return "foreground/Dog/x.wav: is a FIFO (named pipe), not a regular file; only regular files are audio"
    if case == "fifo in the background":
        os.mkfifo(root / "background" / "x.wav")
        _release_fifo_later(root / "background" / "x.wav")
        return "background/x.wav: is a FIFO (named pipe), not a regular file"
    if case == "truncated wav":
        full = tone(dog / "long.wav", 6.0).read_bytes()     # header promises 192 kB
        (dog / "long.wav").write_bytes(full[:1000])
        return "foreground/Dog/long.wav: truncated: its header declares 192000 bytes of audio, the file holds 956"
    if case == "truncated aiff":
        sf.write(str(dog / "long.aiff"), np.zeros(48000), 16000, subtype="PCM_16")
        full = (dog / "long.aiff").read_bytes()
        (dog / "long.aiff").write_bytes(full[:2000])
        return "foreground/Dog/long.aiff: truncated: its header declares"
    if case == "truncated flac":
        noise = 0.1 * np.random.default_rng(0).standard_normal(5 * 16000)
        sf.write(str(dog / "long.flac"), noise, 16000)
        full = (dog / "long.flac").read_bytes()
        (dog / "long.flac").write_bytes(full[:len(full) // 3])
        return "foreground/Dog/long.flac: truncated or damaged: its header declares 80000 frames"
    if case == "non-UTF-8 file name":
        os.rename(dog / "d1.wav", os.fsencode(dog) + b"/d\xff1.wav")
        return "foreground/Dog/d\\xff1.wav: the file name (or a folder name in its path) is not valid UTF-8"
    raise AssertionError(case)


HARDENING_CASES = ["symlink cycle", "broken symlink", "fifo in a class folder", "fifo in the background",
                   "truncated wav", "truncated aiff", "truncated flac", "non-UTF-8 file name"]


@pytest.mark.parametrize("case", HARDENING_CASES)
def test_files_that_are_not_sound_audio_are_named(tmp_path, case):
    """Link loops and FIFOs are neither followed nor opened (no traceback, no hang); truncated audio is
    found by comparing the declared and the readable length; a bad name is called a bad name."""
    root = tmp_path / "bank"
    expected = _hardening_case(root, case)
    report = check_soundbank(root)
    assert any(expected in str(p) for p in report.problems), report.problems
    assert report.fingerprint is not None
    with pytest.raises(WlbenchError, match="problem") as info:
        load_soundbank(root)
    assert expected in str(info.value)
    result = run_cli("soundbank", "check", str(root))
    assert result.exit_code == 2 and f"problem: {expected}" in result.output
    assert "re-copy" not in str(info.value) or case.startswith("truncated")


def test_soundbank_option_naming_a_file_says_so(tmp_path):
    afile = tmp_path / "bank.wav"
    tone(afile)
    with pytest.raises(WlbenchError, match="is a file, not a folder") as info:
        load_soundbank(afile)
    assert "does not exist" not in str(info.value)
    assert "is a file, not a folder" in run_cli("soundbank", "check", str(afile)).output


@pytest.mark.parametrize("case", FATAL_CASES)
def test_fatal_problem_check_load_and_cli(tmp_path, case):
    root = tmp_path / "bank"
    expected = _problem_case(root, case)
    report = check_soundbank(root)
    assert not report.ok
    assert any(expected in str(p) for p in report.problems), report.problems
    assert report.fingerprint is not None and report.classes
    with pytest.raises(WlbenchError, match="problem") as info:
        load_soundbank(root)
    assert expected in str(info.value) and str(root.resolve()) in str(info.value)
    result = run_cli("soundbank", "check", str(root))
    assert result.exit_code == 2
    assert f"problem: {expected}" in result.output
    assert "fingerprint:" in result.output


def test_check_collects_every_problem(tmp_path):
    root = tmp_path / "bank"
    expected = [_problem_case(root, case) for case in FATAL_CASES]
    tone(root / "foreground" / "Dog" / "stereo.wav", channels=2)
    tone(root / "foreground" / "Dog" / "hires.wav", sr=44100)
    report = check_soundbank(root)
    text = "\n".join(report.lines())
    for item in expected + ["foreground/Dog/stereo.wav: has 2 channels",
                            "foreground/Dog/hires.wav: sample rate 44100 Hz differs from the bank's 16000 Hz"]:
        assert item in text
    assert len(report.problems) == len(expected) + 2


def test_stereo_and_rate_mismatch_do_not_stop_loading(tmp_path):
    root = make_plain(tmp_path / "bank")
    tone(root / "foreground" / "Dog" / "stereo.wav", channels=2, sr=22050)
    bank = load_soundbank(root)
    (f,) = [f for f in bank.foreground if f.relpath.endswith("stereo.wav")]
    assert (f.channels, f.sample_rate) == (2, 22050)
    assert run_cli("soundbank", "check", str(root)).exit_code == 2


def test_missing_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(WlbenchError, match="does not exist"):
        load_soundbank(missing)
    report = check_soundbank(missing)
    assert not report.ok and report.fingerprint is None
    result = run_cli("soundbank", "check", str(missing))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_no_foreground(tmp_path):
    tone(tmp_path / "bank" / "background" / "b.wav")
    with pytest.raises(WlbenchError, match="no foreground/ folder found"):
        load_soundbank(tmp_path / "bank")
    assert run_cli("soundbank", "check", str(tmp_path / "bank")).exit_code == 2


def test_cli_check_clean_bank(tmp_path):
    root = make_desed(tmp_path / "DESED")
    result = run_cli("soundbank", "check", str(root))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "layout: desed; parts: train, eval; 3 classes: Blender, Dog, Speech" in out
    assert "part eval: 5 foreground files, 1 background files" in out
    assert "sample rates: 16000 Hz (12 files)" in out
    assert "no problems found" in out
    assert f"fingerprint: {soundbank_fingerprint(root)}" in out
    assert "default soundbank" in " ".join(run_cli("soundbank", "check", "--help").output.split())


# ------------------------------------------------------------------------------------------- fingerprint
def test_fingerprint_stable_and_sensitive(tmp_path):
    root = make_plain(tmp_path / "bank")
    first = soundbank_fingerprint(root)
    assert soundbank_fingerprint(root) == first == soundbank_fingerprint(root, use_cache=False)
    (root / "README.md").write_text("not covered", encoding="utf-8")
    assert soundbank_fingerprint(root) == first
    target = root / "foreground" / "Dog" / "d1.wav"
    data = bytearray(target.read_bytes())
    stat = target.stat()
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))   # same size and mtime: still detected
    changed = soundbank_fingerprint(root)
    assert changed != first
    assert soundbank_fingerprint(root, use_cache=False) == changed
    (root / "sources.csv").write_text("path,group\n", encoding="utf-8")
    assert soundbank_fingerprint(root) != changed


def test_fingerprint_cache_is_used_for_old_files(tmp_path):
    root = make_plain(tmp_path / "bank")
    old = 1_000_000_000 * 10**9
    for f in root.rglob("*.wav"):
        os.utime(f, ns=(old, old))
    first = soundbank_fingerprint(root)
    cache_files = list((tmp_path / "cache" / "fingerprints").glob("*.json"))
    assert len(cache_files) == 1
    target = root / "foreground" / "Cat" / "c1.wav"
    tone(target, 1.0, freq=900)                       # new content, new mtime
    assert soundbank_fingerprint(root) != first
    tone(target, 1.0, freq=700)
    os.utime(target, ns=(old, old))
    assert soundbank_fingerprint(root) == first


def test_fingerprint_depends_on_relative_paths_not_location(tmp_path):
    a = make_plain(tmp_path / "a")
    b = make_plain(tmp_path / "b")
    assert soundbank_fingerprint(a) == soundbank_fingerprint(b)
    (b / "foreground" / "Cat" / "c1.wav").rename(b / "foreground" / "Cat" / "c2.wav")
    assert soundbank_fingerprint(a) != soundbank_fingerprint(b)


def test_shared_soundbank_option_helpers(tmp_path):
    import click

    from wlbench.commands.soundbank import resolve_soundbank, soundbank_option

    root = make_plain(tmp_path / "bank")

    @click.command()
    @soundbank_option
    def cmd(soundbank):
        click.echo(",".join(resolve_soundbank(soundbank).classes))

    result = CliRunner().invoke(cmd, ["--soundbank", str(root)])
    assert result.exit_code == 0 and result.output.strip() == "Cat,Dog"
    assert "default soundbank" in " ".join(CliRunner().invoke(cmd, ["--help"]).output.split())
