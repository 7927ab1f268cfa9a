"""Which stored runs a grid reuses instead of training them: finished runs under ``--out`` (checked against the
grid: :func:`check_finished_runs`) and run records under ``--records`` (adopted: :func:`adopt_records`).

A run record (:data:`wlbench.methods.runs.RECORD`) is the small, committable part of a finished run: its
summary, ``run.json``, learning curves, audit and reports, what the tables and the papers' findings read.
``RECORDS`` mirrors ``--out/runs``: the record of ``--out/runs/<rel>`` is ``RECORDS/<rel>``. A grid run with
``--records`` writes each run's record there as the run finishes (and, first, the record of every run already
finished under ``--out``), so committing ``RECORDS`` at any moment lets a clone on another machine continue:
there, every run not finished under its ``--out`` whose record is intact, of this code's numerics version
and of the config and dataset the grid asks for is adopted (its record copied into ``--out``) and tabulated,
not trained. A damaged record (a file's hash, an unreadable summary) stops the grid before anything is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from wlbench import NUMERICS_VERSION
from wlbench.atomic import check_output_path, ensure_writable_dir
from wlbench.errors import WlbenchError
from wlbench.experiments.grid import Echo, Run
from wlbench.methods.config import resolve_config
from wlbench.methods.discovery import get_method
from wlbench.methods.protocol import run_option
from wlbench.methods.runs import (
    SUMMARY,
    copy_record,
    dataset_meta,
    is_recorded,
    numerics_version,
    read_run,
    unrecorded_reason,
)
from wlbench.paths import describe, file_kind


def mismatch(run: Run, run_dir: Path, contents: dict[str, str | None]) -> str | None:
    """None when the finished or recorded run in ``run_dir`` is the run the grid asks for: the same method,
    the same value of every config key that both the run and the grid's resolved config have (options added
    to a method since keep their defaults; options that cannot change results, such as cache folders, are not
    compared: ``Option.identity``), and, when ``contents`` knows the dataset's content id, the same dataset
    content. Otherwise what differs."""
    info = read_run(run_dir)
    if info.get("method") != run.method:
        return f"it holds a run of {info.get('method')!r}, not of {run.method!r}"
    wanted = json.loads(json.dumps(resolve_config(get_method(run.method), None, run.overrides), default=str))
    stored = info["config"]
    if "valid_labels" in wanted and "valid_labels" not in stored and run_option(stored, "labels") != "true":
        # trained before selection read the validation split through the view (it read the truth there)
        return (f"it was trained on view {stored.get('labels')!r} with checkpoints chosen on the validation "
                f"split's true labels (a run from before view-validated selection)")
    if "train_clips_id" not in (json.loads((run_dir / SUMMARY).read_text(encoding="utf-8")).get("train") or {}) \
            and stored.get("train_clips", 0):
        return ("it drew its train_clips subset by the old rule (on the labels it read): its clips are not the "
                "subset this grid's other runs use")
    schema = get_method(run.method).config_schema()
    settings = {k for k in set(wanted) & set(stored) if k not in schema or schema[k].identity}  # not cache folders
    differ = sorted(k for k in settings if wanted[k] != stored[k])
    if differ:
        shown = ", ".join(f"{k} = {stored[k]!r} there, {wanted[k]!r} here" for k in differ[:3])
        return f"it was trained with another config than this grid asks for ({shown}{', ...' if len(differ) > 3 else ''})"
    made_on = (info.get("dataset") or {}).get("content_id")
    have = contents.get(run.dataset)
    if have and made_on and made_on != have:
        return (f"it was trained on another version of dataset {run.dataset!r} (content id {made_on[:12]}..., the "
                f"grid's file has {have[:12]}...)")
    return None


def dataset_contents(paths: dict[str, Path]) -> dict[str, str | None]:
    """The content id of each grid dataset whose file is there (None for the others)."""
    return {name: dataset_meta(p)["content_id"] if Path(p).is_file() else None for name, p in paths.items()}


def check_finished_runs(runs: Sequence[Run], paths: dict[str, Path]) -> None:
    """A finished (or recorded) run under ``--out`` is reused (skipped, or read into the tables) only when it is
    the run the grid asks for (:func:`mismatch`). Otherwise one error names the folder: e.g. a grid edited
    after its runs, or two grids sharing ``--out`` whose shared runs differ in a setting that is not an axis."""
    contents: dict[str, str | None] | None = None
    for run in runs:
        if not is_recorded(run.run_dir):
            continue
        contents = dataset_contents(paths) if contents is None else contents
        why = mismatch(run, run.run_dir, contents)
        if why:
            raise WlbenchError(f"{run.run_dir}: {why}",
                               hint=f"remove {run.run_dir} to train it again, or give this grid its own --out")


def check_records_folder(records: Path, out: Path, *, write: bool = True) -> Path:
    """``--records`` checked before anything is read or written: a folder that can be read (and, with
    ``write``, written; or nothing yet: it is created when the first record is written), apart from the runs
    under ``out``."""
    records = Path(records)
    kind = file_kind(records)
    if kind not in ("directory", "missing"):
        raise WlbenchError(f"run records folder (--records) {records} is {describe(kind)}, not a folder",
                           hint="give --records a folder (it is created when missing), e.g. results/records")
    check_output_path(records, directory=True)
    access = os.R_OK | os.X_OK | (os.W_OK if write else 0)
    if kind == "directory" and not os.access(records, access):
        raise WlbenchError(f"run records folder (--records) {records} cannot be {'written' if write else 'read'}",
                           hint="fix its permissions, or give another --records folder")
    runs = Path(os.path.abspath(out / "runs"))
    mine = Path(os.path.abspath(records))
    if mine == runs or mine.is_relative_to(runs) or runs.is_relative_to(mine):
        raise WlbenchError(f"run records folder (--records) {records} overlaps {out / 'runs'}, the runs of --out: "
                           "writing records there would replace runs",
                           hint="give the records a folder of their own, e.g. results/records/<grid>")
    return records


def record_of(run: Run, out: Path, records: Path) -> Path:
    """Where the record of ``run`` (under ``out/runs``) lives under ``records``."""
    return records / run.run_dir.relative_to(out / "runs")


def wanted_records(runs: Sequence[Run], out: Path, records: Path) -> list[tuple[Run, Path]]:
    """(run, record folder) of every run that a record could stand in for (not recorded under ``out``, or
    trained by other numerics) and that has one under ``records``, each record checked intact first: a
    damaged record (not a folder, no or an unreadable summary, a file that does not match its hash) is one
    error naming it, raised before anything is written."""
    found = []
    for run in runs:
        if is_recorded(run.run_dir) and numerics_version(run.run_dir) == NUMERICS_VERSION:
            continue
        folder = record_of(run, out, records)
        if not os.path.lexists(folder):
            continue
        if is_recorded(run.run_dir) and _same_summary(run.run_dir, folder):
            continue  # adopted before (a record of other numerics that --table-only tabulated): nothing to do again
        if not folder.is_dir() or not (folder / SUMMARY).is_file():
            what = "no summary.json" if folder.is_dir() else describe(file_kind(folder))
            raise WlbenchError(f"{folder} is not a run record ({what})",
                               hint=f"remove {folder} (the run is then trained), or restore it with "
                                    f"`git checkout -- {folder}`")
        why = unrecorded_reason(folder)
        if why is not None:
            raise WlbenchError(f"{folder} is a damaged run record ({why}); nothing was adopted or trained",
                               hint=f"restore it with `git checkout -- {folder}`, or remove it (the run is then "
                                    "trained)")
        found.append((run, folder))
    return found


def _same_summary(run_dir: Path, folder: Path) -> bool:
    """Whether the record in ``folder`` is the run in ``run_dir`` (the same summary, which hashes the rest)."""
    theirs = folder / SUMMARY
    return theirs.is_file() and theirs.read_bytes() == (run_dir / SUMMARY).read_bytes()


def adoptable_version(folder: Path, *, train: bool) -> bool:
    """Whether a record's numerics version lets it be adopted: this code's version when the grid trains (a record
    of other numerics is trained again), any version for ``--table-only`` (tabulated as committed)."""
    return not train or numerics_version(folder) == NUMERICS_VERSION


def adopt_records(found: Sequence[tuple[Run, Path]], paths: dict[str, Path], *, echo: Echo,
                  train: bool = True) -> int:
    """Copy each intact record of ``found`` (:func:`wanted_records`) into its run folder when it is the run the
    grid asks for (:func:`mismatch`) and, when ``train``, of this code's numerics version; say in one line why
    any other is not adopted (the run is then trained, when ``train``). Returns how many were adopted.
    Without ``train`` (``--table-only``) a record of other numerics is adopted as it is, like a finished run of
    other numerics: the tables are rebuilt from what was committed, and the runner warns when versions mix."""
    contents = dataset_contents(paths) if found else {}
    adopted = 0
    older: dict[int, int] = {}
    then = "; the run is trained instead" if train else ""
    for run, folder in found:
        version = numerics_version(folder)
        why = (f"numerics version {version}, this code is version {NUMERICS_VERSION}"
               if not adoptable_version(folder, train=train) else mismatch(run, folder, contents))
        if why:
            echo(f"{folder}: record not adopted ({why}){then}")
            continue
        copy_record(folder, run.run_dir)
        adopted += 1
        if version != NUMERICS_VERSION:
            older[version] = older.get(version, 0) + 1
    for version, count in sorted(older.items()):  # --table-only: tabulated as committed, never silently
        echo(f"{count} record(s) adopted here were trained by numerics version {version} (this code is version "
             f"{NUMERICS_VERSION}): tabulated as committed, not retrained")
    return adopted


def write_record(run: Run, out: Path, records: Path) -> bool:
    """Write the record of the recorded run ``run`` to ``records`` (atomically) unless the one there is already
    its record; returns whether it wrote."""
    target = record_of(run, out, records)
    if not is_recorded(run.run_dir):
        return False
    if _same_summary(run.run_dir, target) and unrecorded_reason(target) is None:
        return False
    ensure_writable_dir(records)
    copy_record(run.run_dir, target)
    return True


def record_done(runs: Sequence[Run], out: Path, records: Path) -> int:
    """The record of every recorded run of this code's numerics version under ``out`` written to ``records``
    (those already there unchanged); returns how many were written."""
    return sum(write_record(r, out, records) for r in runs
               if is_recorded(r.run_dir) and numerics_version(r.run_dir) == NUMERICS_VERSION)

