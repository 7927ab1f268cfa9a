"""Every CLI command, every path it takes, every kind of bad path: exit 2, one `error:` line, no traceback,
nothing new on disk (the failure policy, docs/errors.md).

Each command is listed once in COMMANDS with its arguments; a slot in braces is a path whose good value
comes from the fixtures and whose bad values come from BAD (by the slot's kind: a file read, a folder
read, a folder written, a file written). A new command or a new path option is one line here.
For train / predict / experiment only the inputs that are not config values are walked here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from leaderboard_helpers import write_predictions

from wlbench.cli import main

# slot -> (kind, suffix of a bad file's name)
SLOTS = {
    "recipe": ("file in", ".toml"), "dataset": ("file in", ".h5"), "predictions": ("file in", ".csv"),
    "grid": ("file in", ".toml"), "bank": ("folder in", ""), "run_in": ("folder in", ""), "board_in": ("folder in", ""),
    "out": ("folder out", ""), "run": ("folder out", ""), "board": ("folder out", ""),
    "out_file": ("file out", ".h5"), "json": ("file out", ".json"),
}
BAD = {
    "file in": ["missing", "empty", "wrong type", "directory", "unreadable", "truncated"]
               + (["no permission"] if os.geteuid() != 0 else []),
    "folder in": ["missing", "file", "empty folder", "unreadable"],
    "folder out": ["file", "below a file", "unreadable"],
    "file out": ["directory", "below a file"],
}
# command -> (arguments, slots walked with bad values; the others keep their good value)
COMMANDS = {
    "soundbank check": (["soundbank", "check", "{bank}"], ["bank"]),
    "soundbank default": (["soundbank", "default", "--out", "{out}"], ["out"]),
    "synth": (["synth", "{recipe}", "--soundbank", "{bank}", "--out", "{out}", "--workers", "1", "--quiet"],
              ["recipe", "bank", "out"]),
    "info": (["info", "{dataset}"], ["dataset"]),
    "verify": (["verify", "{dataset}"], ["dataset"]),
    "rerender": (["rerender", "{dataset}", "--soundbank", "{bank}", "--out", "{out_file}", "--workers", "1",
                  "--quiet"], ["dataset", "bank", "out_file"]),
    "score": (["score", "{dataset}", "{predictions}", "--bootstrap", "10", "--json", "{json}"],
              ["dataset", "predictions", "json"]),
    "compare": (["compare", "{predictions}", "{predictions}", "--dataset", "{dataset}", "--bootstrap", "10",
                 "--json", "{json}"], ["dataset", "predictions", "json"]),
    "export": (["export", "{dataset}", "--split", "eval", "--out", "{out}"], ["dataset", "out"]),
    "train": (["train", "turpault-classifier", "--dataset", "{dataset}", "--out", "{run}", "--quiet"],
              ["dataset", "run"]),
    "predict": (["predict", "{run_in}", "--dataset", "{dataset}"], ["run_in"]),
    "experiment": (["experiment", "{grid}", "--out", "{out}", "--table-only"], ["out"]),
    "leaderboard submit": (["leaderboard", "submit", "{predictions}", "--dataset", "{dataset}", "--name", "M",
                            "--board", "{board}", "--bootstrap", "10"], ["predictions", "dataset", "board"]),
    "leaderboard show": (["leaderboard", "show", "--board", "{board_in}"], ["board_in"]),
    "leaderboard render": (["leaderboard", "render", "--board", "{board_in}", "--out", "{out}"], ["out"]),
    "leaderboard verify": (["leaderboard", "verify", "--board", "{board_in}", "--dataset", "{dataset}"],
                           ["dataset"]),
    "demo": (["demo", "--out", "{out}", "--scale", "0.01", "--workers", "1"], ["out"]),
}
# bad kinds that do not apply to a command (with the reason)
NOT_APPLICABLE = {
    ("leaderboard show", "board_in", "missing"): "a board not made yet shows as empty",
    ("leaderboard show", "board_in", "empty folder"): "an empty board shows as empty",
}

CASES = [(command, slot, kind) for command, (_, slots) in COMMANDS.items() for slot in slots
         for kind in BAD[SLOTS[slot][0]] if (command, slot, kind) not in NOT_APPLICABLE]


@pytest.fixture(scope="module")
def good(tiny_dataset, tiny_recipe_path, tone_bank, tmp_path_factory) -> dict[str, Path]:
    """A good value for every slot; inputs live outside the workspace the bad cases write into."""
    from wlbench.leaderboard import submit_run
    from wlbench.scoring import Settings

    base = tmp_path_factory.mktemp("good-inputs")
    predictions = write_predictions(tiny_dataset, base / "predictions.csv", 0.3, 0)
    board = base / "board"
    submit_run(board, tiny_dataset, "Good", [predictions], settings=Settings(n_resamples=10))
    return {"recipe": tiny_recipe_path, "dataset": tiny_dataset, "predictions": predictions,
            "grid": Path("baselines/experiments/turpault2020.toml").resolve(), "bank": tone_bank,
            "run_in": base, "board_in": board}


def _loop(path: Path) -> Path:
    """A symbolic link loop at ``path`` (every read fails with ELOOP)."""
    partner = path.with_name(path.name + ".loop")
    os.symlink(partner.name, path)
    os.symlink(path.name, partner)
    return path


def bad_path(kind: str, slot: str, ws: Path, good_value: Path | None) -> Path:
    """Make the bad ``kind`` of path for ``slot`` in the workspace ``ws``."""
    suffix = SLOTS[slot][1]
    path = ws / f"bad-{slot}{suffix}"
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "wrong type":  # a file of another kind: binary bytes where text goes, text where HDF5 goes
        path.write_bytes(b"plain text, not HDF5\n" if suffix == ".h5" else bytes(range(256)) * 8)
    elif kind in ("directory", "empty folder"):
        path.mkdir()
        if kind == "directory":
            (path / "inside.txt").write_text("keep")
    elif kind == "unreadable":
        _loop(path)
    elif kind == "no permission":
        shutil.copyfile(good_value, path)
        path.chmod(0)
    elif kind == "truncated":
        data = good_value.read_bytes()
        path.write_bytes(data[:len(data) * 3 // 5] if suffix == ".h5" else data[:len(data) // 2 + 3])
    elif kind == "file":
        path.write_text("a file where a folder goes")
    elif kind == "below a file":
        blocker = ws / f"blocker-{slot}"
        blocker.write_text("a file")
        return blocker / "sub" / f"x{suffix}"
    else:
        raise AssertionError(kind)
    return path


def _tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` (links not followed) with its size, so a new or changed file shows."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = 0 if path.is_symlink() or path.is_dir() else path.stat().st_size
    return found


def run(args: list[str]):
    return CliRunner().invoke(main, args)


def assert_one_clean_error(result, *needles: str) -> str:
    """Exit 2, exactly one line starting with ``error:``, no traceback; returns the line."""
    output = result.output
    assert result.exit_code == 2, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert "Traceback" not in output, output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("command, slot, kind", CASES, ids=[" ".join(case) for case in CASES])
def test_every_command_refuses_every_bad_path_cleanly(command, slot, kind, good, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the repository: grids name datasets/ recipes
    ws = tmp_path / "ws"
    ws.mkdir()
    values = {name: str(value) for name, value in good.items()}
    values.update(out=str(ws / "out"), run=str(ws / "run"), board=str(ws / "board"),
                  out_file=str(ws / "re.h5"), json=str(ws / "report.json"))
    values[slot] = str(bad_path(kind, slot, ws, good.get(slot)))
    before = _tree(ws)
    args, _ = COMMANDS[command]
    result = run([arg.format(**values) for arg in args])
    assert_one_clean_error(result)
    assert _tree(ws) == before, "something was written"



# ------------------------------------------------------------------------------------- the output guard
# wlbench.atomic.check_output_path, run by every atomic writer and before the work by the commands: an
# output is never a device, a FIFO, a socket, a folder where a file goes, nor an input of the same command.

def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _char_device(path: Path) -> Path:
    """A character device node in a temporary folder (the numbers of /dev/full; needs root)."""
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return path


def _socket(path: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


@pytest.fixture()
def no_hang():
    """A read that blocks (a FIFO opened) fails the test after 20 s instead of hanging the suite."""
    def alarm(*_):
        raise TimeoutError("blocked: something was opened that should have been refused")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("make, words", [(_fifo, "FIFO"), (_char_device, "device"), (_socket, "socket")])
def test_output_guard_refuses_special_files_and_keeps_them(make, words, tmp_path):
    from wlbench.atomic import check_output_path, write_text_atomic
    from wlbench.errors import WlbenchError

    target = make(tmp_path / "out.json")
    mode = os.lstat(target).st_mode
    with pytest.raises(WlbenchError, match=words):
        check_output_path(target)
    with pytest.raises(WlbenchError, match=words):
        write_text_atomic(target, "{}")
    assert os.lstat(target).st_mode == mode  # still what it was, not replaced by a regular file
    link = tmp_path / "link.json"
    os.symlink(target, link)
    with pytest.raises(WlbenchError, match=words):
        write_text_atomic(link, "{}")  # through a link too
    assert os.path.islink(link)


def test_output_guard_refuses_an_input_of_the_same_command_through_any_link(tmp_path):
    from wlbench.atomic import check_output_path, write_text_atomic
    from wlbench.errors import WlbenchError
    from wlbench.paths import command_scope, read_input_bytes

    source = tmp_path / "input.txt"
    source.write_text("precious")
    hard, soft = tmp_path / "hard.txt", tmp_path / "soft.txt"
    os.link(source, hard)
    os.symlink(source, soft)
    with pytest.raises(WlbenchError, match="input of this command"):
        check_output_path(hard, inputs=[soft])  # named inputs, before any work
    with command_scope():
        read_input_bytes(soft, "input")
        for target in (source, hard, soft):
            with pytest.raises(WlbenchError, match="input of this command"):
                write_text_atomic(target, "replaced")
        with pytest.raises(WlbenchError, match="input of this command"):
            check_output_path(tmp_path, directory=True)  # a folder holding an input is not replaced either
        write_text_atomic(tmp_path / "other.txt", "fine")
    assert source.read_text() == "precious"
    write_text_atomic(hard, "outside a command, a library caller may replace its own file")


def test_output_guard_refuses_names_the_file_system_cannot_hold(tmp_path):
    from wlbench.atomic import check_output_path
    from wlbench.errors import WlbenchError

    with pytest.raises(WlbenchError, match="shorter name"):
        check_output_path(tmp_path / ("x" * 300 + ".json"))
    with pytest.raises(WlbenchError, match="shorter name"):
        check_output_path(tmp_path / ("d" * 250) / "out.json")  # a folder to create
    with pytest.raises(WlbenchError, match="shorter name"):
        check_output_path(tmp_path / ("x" * 240 + ".json"))  # fits, but its temporary name would not
    check_output_path(tmp_path / ("x" * 200 + ".json"))
    assert list(tmp_path.iterdir()) == []


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_score_never_writes_over_its_inputs(tiny_dataset, tmp_path):
    dataset = tmp_path / "data.h5"
    shutil.copyfile(tiny_dataset, dataset)
    sub = write_predictions(dataset, tmp_path / "sub.csv", 0.3, 0)
    os.link(sub, tmp_path / "alias.csv")
    before = {p: _digest(p) for p in (dataset, sub)}
    for json_out in (dataset, sub, tmp_path / "alias.csv"):
        result = run(["score", str(dataset), str(sub), "--bootstrap", "0", "--json", str(json_out)])
        assert_one_clean_error(result, "input of this command")
    result = run(["compare", str(sub), str(sub), "--dataset", str(dataset), "--bootstrap", "10",
                  "--json", str(tmp_path / "alias.csv")])
    assert_one_clean_error(result, "input of this command")
    assert {p: _digest(p) for p in before} == before


def test_score_refuses_special_and_overlong_outputs_before_scoring(tiny_dataset, tmp_path, no_hang):
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    fifo = _fifo(tmp_path / "pipe.json")
    for out, words in ((fifo, "FIFO"), (tmp_path / ("r" * 300 + ".json"), "shorter name")):
        result = run(["score", str(tiny_dataset), str(sub), "--bootstrap", "0", "--json", str(out)])
        assert_one_clean_error(result, words)
        assert "mAP" not in result.output  # refused before the work
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_predict_into_a_run_of_another_dataset_is_refused(tiny_dataset, tmp_path):
    import json

    run_dir = tmp_path / "run"
    (run_dir / "reports").mkdir(parents=True)
    (run_dir / "reports" / "eval.json").write_text("{}")
    (run_dir / "run.json").write_text(json.dumps({
        "method": "turpault-classifier", "config": {}, "seed": 0,
        "dataset": {"path": "other.h5", "name": "other", "content_id": "f" * 64, "spec_id": "e" * 64}}))
    result = run(["predict", str(run_dir), "--dataset", str(tiny_dataset)])
    assert_one_clean_error(result, "not the dataset", "trained on")
    assert (run_dir / "reports" / "eval.json").read_text() == "{}"


# -------------------------------------------------------------------------------------- the input guard
# wlbench.paths.read_input_bytes / read_text_input / open_input / ReadBudget: regular files only (a FIFO or a
# device is named, never opened), at most MAX_INPUT_BYTES, archives expanded within MAX_EXPANSION.

def test_input_guard_names_special_files_without_opening_them(tmp_path, no_hang):
    from wlbench.errors import WlbenchError
    from wlbench.paths import open_input, read_input_bytes, read_text_input

    for path, words in ((_fifo(tmp_path / "pipe"), "FIFO"), (_socket(tmp_path / "sock"), "socket")):
        for read in (read_input_bytes, read_text_input, open_input):
            with pytest.raises(WlbenchError, match=words):
                read(path, "input")


def test_input_guard_refuses_a_char_device(tmp_path, no_hang):
    from wlbench.errors import WlbenchError
    from wlbench.paths import read_input_bytes

    with pytest.raises(WlbenchError, match="device"):
        read_input_bytes(_char_device(tmp_path / "zero"), "input")


def test_input_guard_limits_size_before_reading(tmp_path):
    from wlbench.errors import WlbenchError
    from wlbench.paths import MAX_INPUT_BYTES, read_input_bytes, read_text_input

    big = tmp_path / "big.tsv"
    with open(big, "wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_INPUT_BYTES + 1)
    with pytest.raises(WlbenchError, match="more than the"):
        read_input_bytes(big, "input")
    small = tmp_path / "small.txt"
    small.write_text("x" * 100)
    with pytest.raises(WlbenchError, match="100 bytes, more than the 99 bytes"):
        read_text_input(small, "input", limit=99)
    assert read_text_input(small, "input", limit=100) == "x" * 100


def test_a_file_holding_more_than_its_size_says_is_read_whole_and_still_limited():
    """The reader asks for the size fstat gives (+1) and then for what the file grew by: a regular file whose
    content outgrows its stated size (a /proc file states 0 bytes) is read whole, and the limit still holds."""
    from wlbench.errors import WlbenchError
    from wlbench.paths import read_input_bytes

    status = "/proc/self/status"
    if not os.path.isfile(status) or os.stat(status).st_size != 0:
        pytest.skip("needs a Linux /proc file that states 0 bytes")
    data = read_input_bytes(status, "input")
    assert data.startswith(b"Name:") and b"VmRSS" in data and len(data) > 100
    with pytest.raises(WlbenchError, match="more than 50 bytes"):
        read_input_bytes(status, "input", limit=50)


def test_input_guard_refuses_an_archive_bomb(tmp_path):
    import io
    import zipfile

    from wlbench.errors import WlbenchError
    from wlbench.paths import MAX_EXPANSION, ReadBudget

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.tsv", b"0" * 20_000_000)
    assert bomb.stat().st_size * MAX_EXPANSION < 20_000_000
    budget = ReadBudget.for_archive(bomb, "archive")
    with zipfile.ZipFile(bomb) as archive, archive.open("a.tsv") as member, \
            pytest.raises(WlbenchError, match="archive bomb"):
        budget.read(member)
    fine = ReadBudget.for_archive(bomb, "archive")
    assert fine.read(io.BytesIO(b"1" * 1000)) == b"1" * 1000


@pytest.fixture(scope="module")
def truth_files(tiny_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("truth")
    result = run(["export", str(tiny_dataset), "--split", "eval", "--out", str(out / "tsv")])
    assert result.exit_code == 0, result.output
    return out / "tsv"


def _named(folder: Path, part: str) -> Path:
    return next(p for p in sorted(folder.iterdir()) if part in p.name)


@pytest.mark.parametrize("which", ["truth", "durations", "submission"])
def test_score_names_a_fifo_input_and_does_not_hang(which, truth_files, tiny_dataset, tmp_path, no_hang):
    strong, durations = _named(truth_files, "strong"), _named(truth_files, "durations")
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    paths = {"truth": strong, "durations": durations, "submission": sub}
    paths[which] = _fifo(tmp_path / f"{which}.tsv")
    result = run(["score", "--truth", str(paths["truth"]), "--durations", str(paths["durations"]),
                  str(paths["submission"]), "--bootstrap", "0", "--task", "tagging"])
    assert result.exit_code == 2, result.output
    assert "FIFO" in result.output and "Traceback" not in result.output


def test_score_refuses_an_oversized_truth_file(truth_files, tiny_dataset, tmp_path):
    from wlbench.paths import MAX_INPUT_BYTES

    big = tmp_path / "strong.tsv"
    with open(big, "wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    result = run(["score", "--truth", str(big), "--durations", str(_named(truth_files, "durations")), str(sub),
                  "--bootstrap", "0", "--task", "tagging"])
    assert result.exit_code == 2, result.output
    assert "more than the" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_frame_scores_members_are_guarded(container, tiny_dataset, tmp_path, no_hang):
    import zipfile

    if container == "folder":
        path = tmp_path / "scores"
        path.mkdir()
        _fifo(path / "clip.tsv")
        words = "FIFO"
    else:
        path = tmp_path / "scores.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("clip.tsv", b"onset\toffset\n" + b"0\t1\n" * 5_000_000)
        words = "archive bomb"
    result = run(["score", str(tiny_dataset), str(path), "--task", "frame_scores", "--bootstrap", "0"])
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_leaderboard_config_and_recipe_cooccurrence_are_guarded(tiny_dataset, tiny_recipe_path, tmp_path, no_hang):
    from wlbench.errors import WlbenchError
    from wlbench.recipes import load_recipe

    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    result = run(["leaderboard", "submit", str(sub), "--dataset", str(tiny_dataset), "--name", "M",
                  "--board", str(tmp_path / "board"), "--bootstrap", "10", "--config", str(_fifo(tmp_path / "c"))])
    assert_one_clean_error(result, "FIFO")
    assert not (tmp_path / "board").exists()
    recipe = tmp_path / "recipe.toml"
    text = tiny_recipe_path.read_text()
    assert "[foreground]" in text
    recipe.write_text(text.replace("[foreground]", '[foreground]\ncooccurrence = "occ.json"', 1))
    _fifo(tmp_path / "occ.json")
    with pytest.raises(WlbenchError, match="FIFO"):
        load_recipe(recipe)


def test_a_fifo_submission_is_named_by_score_and_submit(tiny_dataset, tmp_path, no_hang):
    fifo = _fifo(tmp_path / "sub.csv")
    result = run(["score", str(tiny_dataset), str(fifo), "--bootstrap", "0"])
    assert result.exit_code == 2 and "FIFO" in result.output and "Traceback" not in result.output, result.output
    result = run(["leaderboard", "submit", str(fifo), "--dataset", str(tiny_dataset), "--name", "M",
                  "--board", str(tmp_path / "board"), "--bootstrap", "10"])
    assert_one_clean_error(result, "FIFO")


# ---------------------------------------------------------------------------------- values before work
# Finite numbers and ranges, sizes within what the machine can allocate, addresses parsed and probed.

@pytest.mark.parametrize("option, value, words", [
    ("--segment", "nan", "time_resolution"), ("--segment", "0", "time_resolution"),
    ("--percentage-of-length", "nan", "percentage_of_length"), ("--t-collar", "-1", "t_collar"),
    ("--threshold", "nan", "finite"), ("--threshold", "-0.5", "outside [0, 1]"), ("--threshold", "inf", "finite"),
    ("--max-classes", "-1", "--max-classes"), ("--seed", "-1", "seed"), ("--seed", str(2 ** 63), "seed"),
    ("--plot", "roc.txt", "suffix"),
])
def test_score_refuses_bad_values_before_scoring(option, value, words, tiny_dataset, tmp_path):
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    result = run(["score", str(tiny_dataset), str(sub), "--bootstrap", "0", option, value])
    assert_one_clean_error(result, words)
    assert "mAP" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.csv"]


def test_a_per_class_threshold_file_outside_the_range_is_refused(tiny_dataset, tmp_path):
    import json

    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    (tmp_path / "thr.json").write_text(json.dumps({"Dog": -1, "Cat": 0.5, "Speech": 0.5}))
    result = run(["score", str(tiny_dataset), str(sub), "--bootstrap", "0", "--threshold", str(tmp_path / "thr.json")])
    assert_one_clean_error(result, "'Dog'", "outside [0, 1]")
    result = run(["score", str(tiny_dataset), str(sub), "--bootstrap", "0", "--threshold", "-0.5", "--raw-scores"])
    assert result.exit_code == 0, result.output  # raw scores: any finite threshold


@pytest.mark.parametrize("seeds, words", [("0,0", "given twice"), (f"0,{2 ** 63}", "not in [0, 2**63)"),
                                          ("-1", "not in [0, 2**63)")])
def test_submit_refuses_bad_seeds(seeds, words, tiny_dataset, tmp_path):
    a = write_predictions(tiny_dataset, tmp_path / "a.csv", 0.3, 0)
    b = write_predictions(tiny_dataset, tmp_path / "b.csv", 0.3, 1)
    result = run(["leaderboard", "submit", str(a), str(b), "--dataset", str(tiny_dataset), "--name", "M",
                  "--board", str(tmp_path / "board"), "--bootstrap", "10", "--seeds", seeds])
    assert_one_clean_error(result, words)
    assert not (tmp_path / "board").exists()


def test_train_refuses_a_seed_beyond_int64(tiny_dataset, tmp_path):
    result = run(["train", "turpault-classifier", "--dataset", str(tiny_dataset), "--out", str(tmp_path / "run"),
                  "--seed", str(2 ** 63), "--quiet"])
    assert_one_clean_error(result, "--seed")
    assert not (tmp_path / "run").exists()


def test_plan_refuses_a_size_the_machine_cannot_allocate(tiny_recipe_path, tone_bank):
    result = run(["plan", str(tiny_recipe_path), "--soundbank", str(tone_bank), "--clips", "1000000000000",
                  "--quiet"])
    assert_one_clean_error(result, "planning 1,000,000,000,000 clips needs about", "available")


def test_memory_guard_compares_with_available_memory():
    from wlbench.errors import WlbenchError
    from wlbench.memory import available_memory, check_memory

    assert available_memory() > 0
    check_memory(1000, "a small thing", hint="-")
    with pytest.raises(WlbenchError, match="needs about .* of memory"):
        check_memory(available_memory() * 4, "a big thing", hint="ask for less")


def _silent_server():
    """A plain HTTP server on loopback (it answers requests, never speaks first), stopped after the test."""
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("address, words", [
    ("not a url", "not a scheduler address"), ("http://127.0.0.1:8786", "scheme 'http'"),
    ("tcp://127.0.0.1", "host and port"), ("127.0.0.1:99999", "not a scheduler address"),
    ("tcp://127.0.0.1:1", "cannot reach"), ("http-server", "not a Dask scheduler")])
def test_scheduler_addresses_are_parsed_and_probed_with_a_timeout(address, words, tiny_recipe_path, tone_bank,
                                                                  tmp_path, no_hang):
    server = _silent_server() if address == "http-server" else None
    if server is not None:
        address = f"tcp://127.0.0.1:{server.server_port}"
    try:
        result = run(["synth", str(tiny_recipe_path), "--soundbank", str(tone_bank), "--out", str(tmp_path / "o"),
                      "--executor", "dask", "--scheduler", address, "--quiet"])
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    assert_one_clean_error(result, words)
    assert not (tmp_path / "o").exists()


def test_a_network_too_big_for_memory_is_one_error_line(tiny_dataset, tmp_path):
    result = run(["train", "turpault-classifier", "--dataset", str(tiny_dataset), "--out", str(tmp_path / "run"),
                  "--set", "filters=[16, 100000, 100000, 16]", "--set", "max_epochs=1", "--quiet"])
    assert_one_clean_error(result, "filters")  # refused by the option's bound, or by the memory it would need
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------- the board
# Text escaped in LEADERBOARD.md as in index.html; a folder that is not a board, a dataset not on it, named.

def test_a_method_name_cannot_inject_markdown(tiny_dataset, tmp_path):
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    board = tmp_path / "board"
    name = "A | B | 99.9 | <script>x</script> [click](http://evil) `code`\nrow"
    result = run(["leaderboard", "submit", str(sub), "--dataset", str(tiny_dataset), "--name", name,
                  "--board", str(board), "--bootstrap", "10", "--link", "http://x.org/a b)(c"])
    assert result.exit_code == 0, result.output
    assert run(["leaderboard", "render", "--board", str(board), "--out", str(board)]).exit_code == 0
    text = (board / "LEADERBOARD.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith(("| 1 |", "| **1** |"))]  # top group bold
    assert len(rows) == 1, text
    header = next(line for line in text.splitlines() if line.startswith("| rank |"))
    unescaped = rows[0].replace("\\|", "")
    assert unescaped.count("|") == header.count("|")  # no column added
    assert "<script>" not in text and "&lt;script&gt;" in rows[0]
    assert "](http://evil)" not in rows[0] and "](http://x.org/a%20b%29%28c)" in rows[0]  # (the <summary> is HTML)
    assert "\nrow" not in text
    assert run(["leaderboard", "verify", "--board", str(board)]).exit_code == 0


def test_verify_of_a_folder_that_is_not_a_board_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a board")
    assert_one_clean_error(run(["leaderboard", "verify", "--board", str(tmp_path)]), "is not a leaderboard")


def test_show_names_a_dataset_the_board_does_not_have(tiny_dataset, tmp_path):
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    board = tmp_path / "board"
    assert run(["leaderboard", "submit", str(sub), "--dataset", str(tiny_dataset), "--name", "M",
                "--board", str(board), "--bootstrap", "10"]).exit_code == 0
    line = assert_one_clean_error(run(["leaderboard", "show", "--board", str(board), "--dataset", "nosuch"]),
                                  "'nosuch'", "1 entries")
    assert "tiny" in line


# ------------------------------------------------------------------------------------------------ trust
# What is trained, ranked and compared is what it says it is.

def test_training_refuses_a_dataset_edited_after_rendering(tiny_dataset, tmp_path):
    import h5py

    from wlbench.dataset.intact import require_intact
    from wlbench.errors import WlbenchError

    edited = tmp_path / "edited.h5"
    shutil.copyfile(tiny_dataset, edited)
    assert require_intact(edited)  # intact: passes (and is remembered)
    with h5py.File(edited, "r+") as handle:
        handle["train/features"][0, 0, 0] += 1.0  # features only: no truth id covers them
    with pytest.raises(WlbenchError, match="modified after it was written"):
        require_intact(edited)
    result = run(["train", "turpault-classifier", "--dataset", str(edited), "--out", str(tmp_path / "run"),
                  "--quiet"])
    assert_one_clean_error(result, "modified after it was written", "wlbench verify")
    assert not (tmp_path / "run").exists()


def test_a_model_trained_on_the_scored_split_is_not_ranked(tiny_dataset, tmp_path):
    result = run(["train", "turpault-classifier", "--dataset", str(tiny_dataset), "--out", str(tmp_path / "run"),
                  "--set", "train_split=eval", "--submit", "--board", str(tmp_path / "board"), "--quiet"])
    assert_one_clean_error(result, "train_split = 'eval'", "does not rank")
    assert not (tmp_path / "run").exists() and not (tmp_path / "board").exists()  # refused before training
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    result = run(["leaderboard", "submit", str(sub), "--dataset", str(tiny_dataset), "--name", "M",
                  "--board", str(tmp_path / "board"), "--bootstrap", "10", "--config", '{"valid_split": "eval"}'])
    assert_one_clean_error(result, "valid_split = 'eval'")
    assert not (tmp_path / "board").exists()


def test_compare_names_files_of_two_tasks(tiny_dataset, truth_files, tmp_path):
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    detections = _named(truth_files, "strong")
    result = run(["compare", str(sub), str(detections), "--dataset", str(tiny_dataset), "--bootstrap", "10"])
    assert_one_clean_error(result, "tagging submission", "detection one")


# ------------------------------------------------------------------------------------------------ grids
# Grid files validated like recipes before anything is planned; finished runs reused only when intact.

GOOD_GRID = """
[experiment]
name = "g"
methods = ["turpault-classifier"]
seeds = [0]
metrics = ["map"]
bootstrap = 0

[axes]
train_segment = ["1s", "10s"]

[[datasets]]
name = "tiny"
path = "{path}"
"""


@pytest.mark.parametrize("old, new, words", [
    ('bootstrap = 0', 'bootstrap = -5', "bootstrap = -5"),
    ('bootstrap = 0', 'bootstrap = 0\nbootsrap = 10', "unknown key(s) ['bootsrap']"),
    ('metrics = ["map"]', 'metrics = ["mAP"]', 'unknown metric "mAP"'),
    ('metrics = ["map"]', 'metrics = ["map", "map"]', "distinct"),
    ('name = "g"', 'name = "../../escape"', "plain folder name"),
    ('name = "tiny"', 'name = "../up"', "plain folder name"),
    ('train_segment = ["1s", "10s"]', 'train_segment = ["1s", "1s"]', "given twice"),
    ('seeds = [0]', f'seeds = [{2 ** 63}]', "seeds"),
    ('path = "{path}"', 'path = "{path}"\nscale = -1', "scale = -1"),
    ('path = "{path}"', 'path = "{path}"\ncolour = "red"', "unknown key(s) ['colour']"),
])
def test_grid_values_are_checked_before_any_run(old, new, words, tiny_dataset, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD_GRID.replace(old, new).replace("{path}", str(tiny_dataset)))
    result = run(["experiment", str(grid), "--out", str(tmp_path / "out")])
    assert_one_clean_error(result, words)
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "escape").exists()


def test_a_grid_dataset_file_of_another_recipe_is_refused(tiny_dataset, tiny_recipe_path, tmp_path):
    grid = tmp_path / "grid.toml"
    other = Path("datasets/waa.toml").resolve()
    grid.write_text(GOOD_GRID.replace("{path}", str(tiny_dataset)) + f'recipe = "{other}"\n')
    result = run(["experiment", str(grid), "--out", str(tmp_path / "out")])
    assert_one_clean_error(result, "was not rendered from")
    assert not (tmp_path / "out" / "runs").exists()  # refused before any run
    grid.write_text(GOOD_GRID.replace("{path}", str(tiny_dataset)) + f'recipe = "{tiny_recipe_path}"\n')
    # the right recipe passes the dataset check; --table-only then stops at the missing runs
    assert_one_clean_error(run(["experiment", str(grid), "--out", str(tmp_path / "out"), "--table-only"]),
                           "no finished run")


def test_a_run_edited_after_it_finished_is_not_reused(tiny_dataset, tmp_path):
    import json

    from wlbench.methods import predict_run, train_run
    from wlbench.methods.runs import is_finished, unfinished_reason

    run_dir = tmp_path / "run"
    train_run("prior", tiny_dataset, run_dir, bootstrap=0)
    assert unfinished_reason(run_dir) is None and is_finished(run_dir)
    report = run_dir / "reports" / "eval.json"
    for path, edit, words in (
            (run_dir / "run.json", lambda t: t.replace('"seed": 0', '"seed": 1'), "run.json was changed"),
            (run_dir / "summary.json", lambda t: "{broken", "summary.json cannot be read"),
            (run_dir / "summary.json", lambda t: t.replace('"seed": 0', '"seed": 7'), "summary.json was edited"),
            (report, lambda t: json.dumps({**json.loads(t), "headline": {}}), "reports/eval.json was changed")):
        before = path.read_text()
        path.write_text(edit(before))
        assert words in (unfinished_reason(run_dir) or ""), words
        assert not is_finished(run_dir)
        path.write_text(before)
        assert unfinished_reason(run_dir) is None
    predict_run(run_dir, tiny_dataset, splits=["eval"], bootstrap=10)  # predicted again: sealed again
    assert unfinished_reason(run_dir) is None


def test_an_empty_truth_file_is_refused(truth_files, tiny_dataset, tmp_path):
    empty = tmp_path / "strong.tsv"
    empty.write_bytes(b"")
    sub = write_predictions(tiny_dataset, tmp_path / "sub.csv", 0.3, 0)
    result = run(["score", "--truth", str(empty), "--durations", str(_named(truth_files, "durations")), str(sub),
                  "--classes", "Dog,Cat,Speech", "--bootstrap", "0", "--task", "tagging"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "mAP" not in result.output


def test_a_recipe_name_too_long_for_the_file_system_is_refused_before_rendering(tiny_recipe_path, tone_bank,
                                                                               tmp_path):
    recipe = tmp_path / "long.toml"
    recipe.write_text(tiny_recipe_path.read_text().replace('name = "tiny"', f'name = "{"n" * 300}"', 1))
    result = run(["synth", str(recipe), "--soundbank", str(tone_bank), "--out", str(tmp_path / "out"),
                  "--workers", "1", "--quiet"])
    assert_one_clean_error(result, "shorter name")
    assert not (tmp_path / "out").exists()


def test_the_first_bytes_of_a_large_input_can_be_read(tmp_path):
    from wlbench.paths import read_input_bytes

    big = tmp_path / "big.h5"
    with open(big, "wb") as handle:
        handle.write(b"\x89HDF")
        handle.truncate(4096)
    assert read_input_bytes(big, "input", size=4, limit=100) == b"\x89HDF"  # a format sniff: any size
