"""Running a grid: validate everything, reuse finished runs (and adopt run records), train the rest (locally or on
Dask, writing each run's record as it finishes), tabulate."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wlbench import NUMERICS_VERSION
from wlbench.atomic import check_output_path, ensure_writable_dir
from wlbench.errors import WlbenchError
from wlbench.experiments.datasets import dataset_path
from wlbench.experiments.execution import check_executor, describe, run_tasks
from wlbench.experiments.grid import Echo, Experiment, Run, load_experiment
from wlbench.experiments.planning import all_runs, plan_arms, plan_cells, run_cost
from wlbench.experiments.reuse import (
    adopt_records,
    adoptable_version,
    check_finished_runs,
    check_records_folder,
    record_done,
    record_of,
    wanted_records,
    write_record,
)
from wlbench.experiments.tables import write_experiment_tables
from wlbench.methods.config import resolve_config
from wlbench.methods.discovery import get_method
from wlbench.methods.protocol import CLIP
from wlbench.methods.runs import (
    HEAVY,
    SUMMARY,
    is_finished,
    is_recorded,
    numerics_version,
    segment_key,
    unfinished_reason,
    unrecorded_reason,
)
from wlbench.paths import require_folder


def run_experiment(path: str | Path, out: str | Path, jobs: int = 1, echo: Echo = print,
                   only_table: bool = False, *, executor: str = "local", scheduler: str | None = None,
                   records: str | Path | None = None, for_board: bool = False) -> dict[str, Any]:
    """Run (or resume) every run of the grid, skipping finished ones (``summary.json`` present, trained with
    the config and dataset the grid asks for: :func:`wlbench.experiments.reuse.check_finished_runs`), then
    write the tables and figures under ``out/<experiment name>/``. Everything is validated before the first
    run starts. ``executor``: ``local`` (``jobs`` processes) or ``dask`` (the cluster at ``scheduler``, else a
    local cluster of ``jobs`` workers; see :mod:`wlbench.experiments.execution`). ``records``: a folder of run
    records (:mod:`wlbench.experiments.reuse`): the intact records of runs not finished under ``out`` are
    adopted, not trained, and every finished run's record is written there as it finishes (with
    ``only_table``, records are adopted and none is written). ``for_board``: the runs are to be submitted to a
    leaderboard afterwards, which needs their predictions: a run that would be known only by its record is one
    error, raised before anything is written."""
    check_executor(executor, scheduler, jobs)
    exp = load_experiment(path)
    out = Path(out)
    run_first = f"run the grid first: wlbench experiment {path} --out {out}"
    records = check_records_folder(Path(records), out, write=not only_table) if records is not None else None
    if only_table and records is None:  # tabulates finished runs, creates nothing
        check_output_path(out, directory=True)
        require_folder(out, "experiment folder (--out)", hint=f"--table-only reads finished runs; {run_first}")
    cells = plan_cells(exp, out)
    arms = plan_arms(exp, out, cells)
    runs = all_runs(cells, arms)
    found = wanted_records(runs, out, records) if records is not None else []  # damaged: refused before writing
    if only_table and not found and not any(is_recorded(r.run_dir) for r in runs):
        raise _nothing_to_tabulate(exp, out, runs, run_first, records)
    if for_board:
        _check_submittable(runs, found, only_table=only_table)
    out = ensure_writable_dir(out)
    paths = {d["name"]: dataset_path(d, out, echo, render=not only_table) for d in exp.datasets}
    if not only_table:
        _check_segments(exp, paths, runs)
    check_finished_runs(runs, paths)
    if found:
        echo(f"{adopt_records(found, paths, echo=echo, train=not only_table)} of {len(found)} run records "
             f"adopted from {records}")
    if only_table and not any(is_recorded(r.run_dir) for r in runs):
        raise _nothing_to_tabulate(exp, out, runs, run_first, records)
    todo = [r for r in runs if not is_recorded(r.run_dir)
            or numerics_version(r.run_dir) != NUMERICS_VERSION] if not only_table else []
    for r in todo:  # a run folder whose recorded hashes do not match, or trained by other numerics, is trained again
        if (r.run_dir / SUMMARY).exists():
            echo(f"{r.run_dir}: not reused ({_not_reused(r.run_dir)}); it is trained again")
    versions = sorted({numerics_version(r.run_dir) for r in runs if is_recorded(r.run_dir)})
    if only_table and len(versions) > 1:  # tabulated as they are, but never silently
        echo(f"warning: the finished runs were trained by numerics versions {versions} (code that trains "
             f"differently; wlbench.NUMERICS_VERSION): run the grid to retrain the old ones")
    if records is not None and not only_table:  # runs finished before the records were asked for
        written = record_done(runs, out, records)
        if written:
            echo(f"{written} run records written to {records}")
    # the headroom contrasts first (whether the grid can measure anything), then seed by seed (a cut-short
    # experiment holds whole seeds), the most expensive runs first
    first = {r.run_dir for (name, _, _), a in arms.items() if name in {c.name for c in exp.headroom} for r in a.runs}
    todo.sort(key=lambda r: (r.run_dir not in first, exp.seeds.index(r.seed), -run_cost(r), str(r.run_dir)))
    if only_table:  # what the table will hold: never a silently missing run
        missing = [r for r in runs if not is_recorded(r.run_dir)]
        echo(f"{exp.name}: {len(cells)} cells, {len(runs)} runs ({len(runs) - len(missing)} finished or recorded), "
             f"table only")
        if missing:
            shown = ", ".join(str(r.run_dir) for r in missing[:3])
            echo(f"warning: {len(missing)} of {len(runs)} runs have neither a finished run nor a record and are "
                 f"left out of the table: {shown}{', ...' if len(missing) > 3 else ''}")
    else:
        echo(f"{exp.name}: {len(cells)} cells, {len(runs)} runs ({len(runs) - len(todo)} finished), {len(todo)} to "
             f"run {describe(executor, jobs, scheduler)}")
    t0 = time.perf_counter()
    args = [(r.method, str(paths[r.dataset]), str(r.run_dir), r.overrides, r.seed, exp.bootstrap,
             list(exp.test_segments), exp.decoding) for r in todo]
    by_dir = {Path(r.run_dir).absolute(): r for r in todo}  # Dask answers with absolute paths
    failures = []
    if args:
        for i, (run_dir, status, in_flight) in enumerate(
                run_tasks(args, executor=executor, jobs=jobs, scheduler=scheduler, out=out, echo=echo), 1):
            if status != "done":
                failures.append((run_dir, status))
            elif records is not None:  # as it finishes: a commit of the records at any moment holds every run
                write_record(by_dir[Path(run_dir).absolute()], out, records)
            flight = f", {in_flight} in flight" if in_flight else ""
            elapsed = time.perf_counter() - t0
            echo(f"[{i}/{len(args)} {elapsed:7.0f}s{flight}{_left(elapsed, i, len(args))}] {run_dir}: {status}")
    result = write_experiment_tables(exp, cells, out, arms=arms)
    result["failures"] = failures
    return result


def _left(elapsed: float, done: int, total: int) -> str:
    """A rough estimate of the time left, from the mean time per finished run so far (runs start with the most
    expensive of each seed, so it tends to run high); empty when nothing or everything is left."""
    if not 0 < done < total:
        return ""
    minutes = elapsed / done * (total - done) / 60
    return f", ~{minutes:.0f} min left" if minutes >= 1 else ", <1 min left"


def _not_reused(run_dir: Path) -> str | None:
    """Why a run folder holding a summary is trained again: other numerics, or what does not verify (of the
    whole run, or of a folder holding its record alone)."""
    if is_recorded(run_dir):
        return f"trained by numerics version {numerics_version(run_dir)}, this code is version {NUMERICS_VERSION}"
    return unfinished_reason(run_dir) if (run_dir / HEAVY).exists() else unrecorded_reason(run_dir)


def _nothing_to_tabulate(exp: Experiment, out: Path, runs: Sequence[Run], run_first: str,
                         records: Path | None = None) -> WlbenchError:
    if records is not None:  # a records folder that holds none of this grid's runs: say where they were looked for
        return WlbenchError(f"{records}: no record of any run of experiment {exp.name!r} (and none finished under "
                            f"{out / 'runs'}); the record of a run is looked for at e.g. "
                            f"{record_of(runs[0], out, records)}",
                            hint="give the folder that mirrors the grid's --out/runs (the one the grid wrote with "
                                 f"--records), or {run_first}")
    return WlbenchError(f"{out}: no finished run of experiment {exp.name!r} ({len(runs)} runs expected under "
                        f"{out / 'runs'}); --table-only tabulates finished runs and runs none", hint=run_first)


def _check_submittable(runs: Sequence[Run], found: Sequence[tuple[Run, Path]], *, only_table: bool) -> None:
    """Board entries need predictions: refuse, before anything is written, a grid some of whose runs would be
    known only by their records (record-only folders under ``--out``, or records whose version would be adopted;
    a record that fails the config checks is trained instead, but is refused here too: submit after training)."""
    adopted = {r.run_dir for r, folder in found if adoptable_version(folder, train=not only_table)}
    record_only = [r for r in runs if r.run_dir in adopted or (is_recorded(r.run_dir) and not is_finished(r.run_dir))]
    if record_only:
        raise WlbenchError(f"{len(record_only)} of {len(runs)} runs would be known only by their records (first: "
                           f"{record_only[0].run_dir}): --submit needs their predictions",
                           hint="submit from the machine whose --out holds the run folders, or train them here: "
                                "run the grid without --records on an --out without those record-only folders")


def _check_segments(exp: Experiment, paths: dict[str, Path], runs: Sequence[Run] = ()) -> None:
    """The grid's split and test segments exist in every dataset, and so does every run's training segment
    (checked before the first run, not when the run starts)."""
    from wlbench.methods.runs import dataset_meta

    metas = {name: dataset_meta(p) for name, p in paths.items()}
    for name, p in paths.items():
        meta = metas[name]
        if exp.split not in meta["splits"]:
            raise WlbenchError(f"{p}: no split {exp.split!r} (the grid's split)")
        for seg in exp.test_segments:
            if seg != CLIP and seg not in meta["segments"]:
                raise WlbenchError(f"{p}: no segment view {seg!r} (a test segment of the grid)",
                                   hint=f"it has {', '.join([CLIP, *meta['segments']])}")
    for run in runs:
        config = resolve_config(get_method(run.method), None, run.overrides)
        seg = segment_key(config["train_segment"]) if "train_segment" in config else CLIP
        if seg != CLIP and seg not in metas[run.dataset]["segments"]:
            raise WlbenchError(f"{paths[run.dataset]}: no segment view {seg!r}, the train_segment of {run.method} "
                               f"in {run.run_dir.parent}", hint=f"the dataset has "
                               f"{', '.join([CLIP, *metas[run.dataset]['segments']])}; set train_segment in the grid")
