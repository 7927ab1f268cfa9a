"""The cases of the hostile pass (issue 11) that need more than a bad path: damaged dataset structure,
destinations checked before rendering, the size estimate, a killed synth, demo's up-front validation."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import pytest
from click.testing import CliRunner
from conftest import TINY_RECIPE
from leaderboard_helpers import write_predictions
from test_cli_bad_inputs import assert_one_clean_error

from wlbench.cli import main


def run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


# --- datasets missing a member: one guard when the file is opened -----------------------------------------

@pytest.mark.parametrize("member", ["eval/events/onset", "eval/weak_labels", "train/segments"])
def test_dataset_missing_a_member_is_named_by_every_reader(tiny_dataset, tmp_path, member):
    damaged = tmp_path / "damaged.h5"
    shutil.copyfile(tiny_dataset, damaged)
    with h5py.File(damaged, "r+") as handle:
        del handle[member]
    predictions = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.3, 0)
    for args in (["score", damaged, predictions, "--bootstrap", "10"], ["verify", damaged], ["info", damaged],
                 ["leaderboard", "submit", predictions, "--dataset", damaged, "--name", "M", "--board",
                  tmp_path / "board"]):
        line = assert_one_clean_error(run(*args), f"/{member} is missing", "incomplete or damaged")
        assert str(damaged) in line
    assert not (tmp_path / "board").exists()


def test_file_with_only_the_format_attributes_is_refused(tmp_path):
    bare = tmp_path / "bare.h5"
    with h5py.File(bare, "w") as handle:
        handle.attrs["format"] = "wlbench-dataset"
        handle.attrs["format_version"] = 1
    for command in ("verify", "info"):
        assert_one_clean_error(run(command, bare), "root attribute 'name' is missing",
                               "root attribute 'classes' is missing", "no split group")


def test_dataset_attribute_of_the_wrong_type_is_refused(tiny_dataset, tmp_path):
    damaged = tmp_path / "damaged.h5"
    shutil.copyfile(tiny_dataset, damaged)
    with h5py.File(damaged, "r+") as handle:
        handle.attrs["classes"] = 3
    assert_one_clean_error(run("info", damaged), "root attribute 'classes' must be a list of strings")


def test_fifo_given_as_a_dataset_does_not_hang(tmp_path):
    """Run in a child process with a timeout: HDF5 holds the GIL while it opens a file, so a FIFO opened by
    mistake would block this whole test process."""
    fifo = tmp_path / "data.h5"
    os.mkfifo(fifo)
    try:
        result = subprocess.run([sys.executable, "-m", "wlbench.cli", "info", str(fifo)], capture_output=True,
                                text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("`wlbench info` on a FIFO hangs")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: dataset file {fifo} is a FIFO (named pipe) (give the .h5 file `wlbench synth` wrote)"]


# --- output paths: checked before any work, one shared guard ---------------------------------------------

def test_score_json_and_board_below_a_file_name_the_file(tiny_dataset, tmp_path):
    predictions = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.3, 0)
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    for args in (["score", tiny_dataset, predictions, "--bootstrap", "10", "--json", blocker / "x.json"],
                 ["leaderboard", "submit", predictions, "--dataset", tiny_dataset, "--name", "M",
                  "--bootstrap", "10", "--board", blocker / "board"]):
        result = run(*args)
        line = assert_one_clean_error(result, f"{blocker} is a file, not a folder")
        assert "--out" not in line
        assert "mAP" not in result.output  # refused before scoring
    assert blocker.read_text() == "keep"


def test_synth_output_taken_by_a_folder_is_refused_before_rendering(tiny_recipe_path, tone_bank, tmp_path):
    taken = tmp_path / "out" / "tiny.h5"
    (taken / "inside").mkdir(parents=True)
    result = run("synth", tiny_recipe_path, "--soundbank", tone_bank, "--out", tmp_path / "out", "--workers", "1")
    assert_one_clean_error(result, "a folder of that name is in the way")
    assert "rendering tiny" not in result.output  # the progress bar never started
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tiny.h5"]
    assert [p.name for p in taken.iterdir()] == ["inside"]


def test_synth_prints_its_size_and_refuses_what_the_disk_cannot_hold(tone_bank, tmp_path):
    from wlbench.recipes import load_recipe
    from wlbench.synth.pipeline import estimated_size

    recipe = tmp_path / "huge.toml"
    recipe.write_text(TINY_RECIPE.format(cut=0.0).replace("clips = 9", "clips = 10000000"))
    size = estimated_size(load_recipe(recipe))
    assert size > 10_000_000 * (1001 * 64 * 4 + 160_000 * 4)  # features + audio of 10 million clips
    if shutil.disk_usage(tmp_path).free >= size:
        pytest.skip("this disk could hold the render")
    result = run("synth", recipe, "--soundbank", tone_bank, "--out", tmp_path / "out", "--workers", "1")
    assert "10000009 clips, at most about" in result.output and " TB" in result.output
    assert_one_clean_error(result, "needs about", "free")
    assert not (tmp_path / "out").exists()


def test_estimated_size_bounds_a_real_render(tiny_dataset):
    from wlbench.dataset.reader import open_dataset
    from wlbench.recipes import parse_recipe
    from wlbench.synth.pipeline import estimated_size

    with open_dataset(tiny_dataset) as ds:
        recipe = parse_recipe(ds.recipe_text)
    actual = tiny_dataset.stat().st_size
    assert actual <= estimated_size(recipe) <= 2 * actual


def test_killed_synth_leaves_no_traceback_and_its_partial_is_removed_by_the_next_run(tone_bank, tmp_path):
    """SIGKILL mid-render: the pool workers end silently with their parent (no BrokenPipeError traceback,
    no leaked-semaphore warning); the hidden partial stays, and the next synth into the folder removes it."""
    recipe = tmp_path / "long.toml"
    recipe.write_text(TINY_RECIPE.format(cut=0.0).replace("clips = 9", "clips = 400").replace('"tiny"', '"long"'))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONWARNINGS": ""}
    proc = subprocess.Popen([sys.executable, "-m", "wlbench.cli", "synth", str(recipe), "--soundbank",
                             str(tone_bank), "--out", str(out), "--workers", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not glob.glob(str(out / ".long.h5.*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)  # workers are busy rendering
    assert proc.poll() is None, "the render finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    stderr = proc.communicate(timeout=120)[1]  # EOF once every worker holding the pipe has exited
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and "leaked" not in stderr, stderr
    stale = [p.name for p in out.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(".long.h5.") and stale[0].endswith(".partial"), stale
    small = tmp_path / "tiny.toml"
    small.write_text(TINY_RECIPE.format(cut=0.0))
    result = run("synth", small, "--soundbank", tone_bank, "--out", out, "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["tiny.h5"]


# --- demo: everything validated before the render --------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["--workers", "0"], "--workers must be at least 1, got 0"),
    (["--set", "no_such_key=1"], "--set: unknown config key 'no_such_key'"),
    (["--set", "novalue"], "expected key=value"),
    (["--set", "lr=nan"], "--set: lr = nan: not finite"),
    (["--scale", "3"], "--scale must be in (0, 1]"),
])
def test_demo_validates_everything_before_rendering(args, needle, tmp_path):
    result = run("demo", "--out", tmp_path / "demo", *args)
    assert_one_clean_error(result, needle)
    assert "[1/5]" not in result.output and not (tmp_path / "demo").exists()


def test_demo_refuses_a_foreign_board_before_rendering(tmp_path):
    (tmp_path / "demo" / "leaderboard" / "entries").mkdir(parents=True)
    result = run("demo", "--out", tmp_path / "demo")
    assert_one_clean_error(result, "was not made by `wlbench demo`")
    assert "[1/5]" not in result.output


def test_demo_validation_goes_through_resolve_config():
    from wlbench.demo import QUICK_CONFIG, DemoSettings, validate

    config = validate(DemoSettings(overrides=("max_epochs=2",)))
    assert config["max_epochs"] == 2 and config["lr"] == QUICK_CONFIG["lr"]


# --- click's own errors follow the policy too ------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["synth"], "Missing argument 'RECIPE'"),
    (["synth", "x.toml", "--workers", "abc"], "'abc' is not a valid integer"),
    (["no-such-command"], "No such command"),
    (["leaderboard", "show", "--no-such-option"], "No such option"),
])
def test_usage_errors_are_one_error_line(args, needle):
    line = assert_one_clean_error(run(*args), needle)
    assert "--help" in line
