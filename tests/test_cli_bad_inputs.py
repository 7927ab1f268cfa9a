"""Every CLI command, every path it takes, every kind of bad path: exit 2, one `error:` line, no traceback,
nothing new on disk (the failure policy, docs/errors.md).

Each command is listed once in COMMANDS with its arguments; a slot in braces is a path whose good value
comes from the fixtures and whose bad values come from BAD (by the slot's kind: a file read, a folder
read, a folder written, a file written). A new command or a new path option is one line here.
For train / predict / experiment only the inputs that are not config values are walked here.
"""

from __future__ import annotations

import os
import shutil
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

