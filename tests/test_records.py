"""Run records (``wlbench experiment --records``): a grid writes the small, committable part of each finished run as
it finishes; a fresh ``--out`` (another machine's clone) adopts the intact records instead of training, and
tabulates the same table; a record of other numerics or another config is trained instead; a damaged record
stops the grid before anything is written; a folder holding only a record is refused where predictions are
needed. Real runs of the ``prior`` method on the session's tiny dataset (a second each)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

GRID = """
[experiment]
name = "g"
methods = ["prior"]
seeds = [0, 1]
metrics = ["map"]
controls = []
bootstrap = 0
{extra}
[[datasets]]
name = "tiny"
path = "{path}"
"""


def _grid(tmp_path: Path, dataset: Path, extra: str = "", name: str = "grid.toml") -> Path:
    grid = tmp_path / name
    grid.write_text(GRID.format(path=dataset, extra=extra))
    return grid


def _run(*args) -> tuple[int, str]:
    from wlbench.cli import main

    res = CliRunner().invoke(main, [str(a) for a in args])
    return res.exit_code, res.output


def _one_error(code: int, output: str, *words: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for word in words:
        assert word in lines[0], (word, output)


def _summaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob("summary.json"))


def _reseal(record: Path, edit) -> None:
    """Edit a record's summary and give it a valid own hash again (an intact record that says something else)."""
    from wlbench.hashing import hash_json
    from wlbench.methods.runs import SELF_HASH

    path = record / "summary.json"
    summary = json.loads(path.read_text())
    edit(summary)
    summary.pop(SELF_HASH)
    summary[SELF_HASH] = hash_json(summary)
    path.write_text(json.dumps(summary))


def test_a_grid_continues_from_its_records_on_a_fresh_out(tiny_dataset, tmp_path):
    from wlbench.experiments.runner import run_experiment
    from wlbench.methods.runs import is_finished, is_recorded, unrecorded_reason

    grid, records = _grid(tmp_path, tiny_dataset), tmp_path / "records"
    seen, progress = [], []  # records on disk each time a run is reported finished: written as runs finish

    def echo(line: str) -> None:
        if line.startswith("["):
            seen.append(len(_summaries(records)))
            progress.append(line)

    run_experiment(grid, tmp_path / "a", echo=echo, records=records)
    assert seen == [1, 2]
    assert "min left]" in progress[0] and "left" not in progress[1], progress  # an estimate while runs are left
    made = _summaries(records)
    assert [p.parent.relative_to(records).as_posix() for p in made] == ["tiny/prior/default/seed-0",
                                                                        "tiny/prior/default/seed-1"]
    for summary in made:  # the record: small files only, intact, no predictions or checkpoint
        record = summary.parent
        assert unrecorded_reason(record) is None and is_recorded(record) and not is_finished(record)
        assert {p.name for p in record.iterdir()} <= {"summary.json", "run.json", "log.jsonl", "audit.jsonl", "reports"}
        assert (record / "reports" / "eval.json").is_file()

    # another machine: a fresh --out and the committed records -> nothing trained, the same table
    code, output = _run("experiment", grid, "--out", tmp_path / "b", "--records", records)
    assert code == 0 and "2 of 2 run records adopted" in output and "0 to run" in output, output
    assert (tmp_path / "a" / "g" / "table.json").read_text() == (tmp_path / "b" / "g" / "table.json").read_text()
    run = tmp_path / "b" / "runs" / "tiny" / "prior" / "default" / "seed-0"
    assert is_recorded(run) and not is_finished(run) and not (run / "predictions").exists()
    code, output = _run("experiment", grid, "--out", tmp_path / "b", "--table-only")  # tabulates recorded runs
    assert code == 0 and "2 runs (2 finished or recorded), table only" in output and "warning" not in output, output
    code, output = _run("experiment", grid, "--out", tmp_path / "b", "--records", records)  # nothing to adopt again
    assert code == 0 and "adopted" not in output and "written" not in output and "0 to run" in output, output

    # a folder holding only a record has no predictions: submitting (before any table or entry is written) or
    # predicting refuses it by name
    board = tmp_path / "board"
    (tmp_path / "b" / "g" / "table.md").unlink()
    _one_error(*_run("experiment", grid, "--out", tmp_path / "b", "--table-only", "--submit", board),
               "2 of 2 runs would be known only by their records", str(run.parent), "submit from the machine")
    assert not (board / "entries").exists() and not (tmp_path / "b" / "g" / "table.md").exists()
    _one_error(*_run("experiment", grid, "--out", tmp_path / "c", "--records", records, "--submit", board),
               "would be known only by their records")  # records that would be adopted: the same, nothing written
    assert not (tmp_path / "c").exists()
    from wlbench.errors import WlbenchError
    from wlbench.leaderboard.experiments import submit_experiment

    try:  # the library call on its own still refuses it, naming the folder
        submit_experiment(grid, tmp_path / "b", board, echo=lambda line: None)
        raise AssertionError("submitted a record-only run")
    except WlbenchError as exc:
        assert "holds only the record of a run" in str(exc) and str(run.parent) in str(exc)
    _one_error(*_run("predict", run, "--dataset", tiny_dataset), "holds only the record", str(run))

    # one seed's record gone: the table is written without it, and the run is named
    (tmp_path / "b" / "runs" / "tiny" / "prior" / "default" / "seed-1" / "summary.json").unlink()
    code, output = _run("experiment", grid, "--out", tmp_path / "b", "--table-only")
    assert code == 0 and "1 of 2 runs have neither a finished run nor a record" in output and "seed-1" in output

    # a records folder that holds none of the grid's runs (one level too deep): where they were looked for
    _one_error(*_run("experiment", grid, "--out", tmp_path / "d", "--table-only", "--records", records / "tiny"),
               "no record of any run of experiment 'g'", str(records / "tiny" / "tiny" / "prior"))
    assert not (tmp_path / "d").exists()
    _one_error(*_run("experiment", grid, "--out", tmp_path / "d", "--records", grid), "is a file")


def test_records_of_other_numerics_or_another_config_are_trained_instead(tiny_dataset, tmp_path):
    from wlbench import NUMERICS_VERSION

    grid, records = _grid(tmp_path, tiny_dataset), tmp_path / "records"
    assert _run("experiment", grid, "--out", tmp_path / "a", "--records", records)[0] == 0
    seed0 = records / "tiny" / "prior" / "default" / "seed-0"
    _reseal(seed0, lambda s: s.update(numerics_version=NUMERICS_VERSION + 1))
    code, output = _run("experiment", grid, "--out", tmp_path / "b", "--records", records)
    assert code == 0 and "1 of 2 run records adopted" in output and "1 to run" in output, output
    assert f"{seed0}: record not adopted (numerics version {NUMERICS_VERSION + 1}, this code is version " \
           f"{NUMERICS_VERSION}); the run is trained instead" in output
    # the run trained here replaced the record of other numerics
    assert json.loads((seed0 / "summary.json").read_text())["numerics_version"] == NUMERICS_VERSION

    # --table-only tabulates a record of other numerics as committed, says so, and adopts it once only
    _reseal(seed0, lambda s: s.update(numerics_version=NUMERICS_VERSION + 1))
    code, output = _run("experiment", grid, "--out", tmp_path / "t", "--table-only", "--records", records)
    assert code == 0 and "2 of 2 run records adopted" in output, output
    assert f"1 record(s) adopted here were trained by numerics version {NUMERICS_VERSION + 1}" in output
    assert "warning: the finished runs were trained by numerics versions" in output
    code, output = _run("experiment", grid, "--out", tmp_path / "t", "--table-only", "--records", records)
    assert code == 0 and "adopted" not in output and "2 runs (2 finished or recorded)" in output, output

    # the grid edited (a setting that is not an axis): no record is the run it asks for
    edited = _grid(tmp_path, tiny_dataset, extra='[config]\ntrain_split = "validation"\n', name="edited.toml")
    code, output = _run("experiment", edited, "--out", tmp_path / "c", "--records", records)
    assert code == 0 and "0 of 2 run records adopted" in output and "2 to run" in output, output
    assert "another config" in output and "train_split = 'train' there, 'validation' here" in output


def test_a_damaged_record_or_records_folder_is_one_error_and_nothing_is_written(tiny_dataset, tmp_path):
    grid, records = _grid(tmp_path, tiny_dataset), tmp_path / "records"
    assert _run("experiment", grid, "--out", tmp_path / "a", "--records", records)[0] == 0
    record = records / "tiny" / "prior" / "default" / "seed-1"
    report = record / "reports" / "eval.json"
    good = report.read_text()
    fresh = tmp_path / "b"
    report.write_text(json.dumps({**json.loads(good), "headline": {}}))
    _one_error(*_run("experiment", grid, "--out", fresh, "--records", records),
               f"{record} is a damaged run record (reports/eval.json was changed", "git checkout")
    report.write_text(good)
    summary = record / "summary.json"
    kept = summary.read_text()
    summary.write_text("{broken")
    _one_error(*_run("experiment", grid, "--out", fresh, "--records", records), str(record), "cannot be read")
    summary.write_text(kept)
    assert not fresh.exists()  # refused before --out was created

    as_file = tmp_path / "records.txt"
    as_file.write_text("x")
    _one_error(*_run("experiment", grid, "--out", fresh, "--records", as_file), str(as_file), "is a file")
    _one_error(*_run("experiment", grid, "--out", fresh, "--records", fresh / "runs" / "r"), "overlaps")
    assert not fresh.exists()


def test_a_record_of_a_run_from_before_hashes_is_recorded_not_finished(tiny_dataset, tmp_path):
    """A run whose summary recorded no hashes (committed results are such runs) is finished only with its
    predictions folder: its record (no predictions) is recorded, not finished."""
    from wlbench.methods import train_run
    from wlbench.methods.runs import SELF_HASH, copy_record, is_finished, is_recorded

    run = tmp_path / "run"
    train_run("prior", tiny_dataset, run, bootstrap=0)
    summary = json.loads((run / "summary.json").read_text())
    for key in ("files", SELF_HASH):
        summary.pop(key)
    (run / "summary.json").write_text(json.dumps(summary))
    assert is_finished(run)
    copy_record(run, tmp_path / "record")
    assert is_recorded(tmp_path / "record") and not is_finished(tmp_path / "record")
    assert not (tmp_path / "record" / "predictions").exists() and is_recorded(run)


def test_a_grid_over_two_datasets_sharing_one_truth_puts_both_on_the_board(tiny_dataset, tmp_path):
    """A no-gap control shares its eval clips (one truth) with the gap dataset: each cell's entry names its
    dataset, so neither is refused as the other's namesake. (Here both datasets are one file, so the second
    cell's predictions are the first's files, refused as such: a file enters the board once.)"""
    grid = _grid(tmp_path, tiny_dataset, extra=f'\n[[datasets]]\nname = "tiny-copy"\npath = "{tiny_dataset}"\n')
    code, output = _run("experiment", grid, "--out", tmp_path / "o", "--submit", tmp_path / "board")
    assert code == 0 and "already holds method" not in output and "prior [g: tiny] test clip: skipped" in output
    assert "enters the board once" in output, output
    names = sorted(json.loads(p.read_text())["method"]["name"] for p in (tmp_path / "board" / "entries").glob("*.json"))
    assert names == ["prior [g: tiny-copy]", "prior [g: tiny-copy]"], names  # tagging and detection
