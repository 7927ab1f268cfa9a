"""Running a grid: validate everything, reuse finished runs, train the rest (locally or on Dask), tabulate."""

from __future__ import annotations

import json
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
from wlbench.experiments.tables import write_experiment_tables
from wlbench.methods.config import resolve_config
from wlbench.methods.discovery import get_method
from wlbench.methods.protocol import CLIP, run_option
from wlbench.methods.runs import SUMMARY, is_finished, numerics_version, segment_key, unfinished_reason
from wlbench.paths import require_folder


def run_experiment(path: str | Path, out: str | Path, jobs: int = 1, echo: Echo = print,
                   only_table: bool = False, *, executor: str = "local", scheduler: str | None = None
                   ) -> dict[str, Any]:
    """Run (or resume) every run of the grid, skipping finished ones (``summary.json`` present, trained with
    the config and dataset the grid asks for: :func:`_check_finished_runs`), then write the tables and figures
    under ``out/<experiment name>/``. Everything is validated before the first run starts. ``executor``:
    ``local`` (``jobs`` processes) or ``dask`` (the cluster at ``scheduler``, else a local cluster of ``jobs``
    workers; see :mod:`wlbench.experiments.execution`)."""
    check_executor(executor, scheduler, jobs)
    exp = load_experiment(path)
    out = Path(out)
    run_first = f"run the grid first: wlbench experiment {path} --out {out}"
    if only_table:  # tabulates finished runs, creates nothing
        check_output_path(out, directory=True)
        require_folder(out, "experiment folder (--out)", hint=f"--table-only reads finished runs; {run_first}")
    out = ensure_writable_dir(out)
    cells = plan_cells(exp, out)
    paths = {d["name"]: dataset_path(d, out, echo, render=not only_table) for d in exp.datasets}
    arms = plan_arms(exp, out, cells)
    runs = all_runs(cells, arms)
    if not only_table:
        _check_segments(exp, paths, runs)
    _check_finished_runs(runs, paths)
    if only_table and not any(is_finished(r.run_dir) for r in runs):
        raise WlbenchError(f"{out}: no finished run of experiment {exp.name!r} ({len(runs)} runs expected under "
                           f"{out / 'runs'}); --table-only tabulates finished runs and runs none", hint=run_first)
    todo = [r for r in runs if not is_finished(r.run_dir)
            or numerics_version(r.run_dir) != NUMERICS_VERSION] if not only_table else []
    for r in todo:  # a run folder whose recorded hashes do not match, or trained by other numerics, is trained again
        if (r.run_dir / SUMMARY).exists():
            why = unfinished_reason(r.run_dir) or (f"trained by numerics version {numerics_version(r.run_dir)}, this "
                                                   f"code is version {NUMERICS_VERSION}")
            echo(f"{r.run_dir}: not reused ({why}); it is trained again")
    versions = sorted({numerics_version(r.run_dir) for r in runs if is_finished(r.run_dir)})
    if only_table and len(versions) > 1:  # tabulated as they are, but never silently
        echo(f"warning: the finished runs were trained by numerics versions {versions} (code that trains "
             f"differently; wlbench.NUMERICS_VERSION): run the grid to retrain the old ones")
    # the headroom contrasts first (whether the grid can measure anything), then seed by seed (a cut-short
    # experiment holds whole seeds), the most expensive runs first
    first = {r.run_dir for (name, _, _), a in arms.items() if name in {c.name for c in exp.headroom} for r in a.runs}
    todo.sort(key=lambda r: (r.run_dir not in first, exp.seeds.index(r.seed), -run_cost(r), str(r.run_dir)))
    echo(f"{exp.name}: {len(cells)} cells, {len(runs)} runs ({len(runs) - len(todo) if not only_table else 'n/a'} "
         f"finished), {len(todo)} to run {describe(executor, jobs, scheduler)}")
    t0 = time.perf_counter()
    args = [(r.method, str(paths[r.dataset]), str(r.run_dir), r.overrides, r.seed, exp.bootstrap,
             list(exp.test_segments), exp.decoding) for r in todo]
    failures = []
    if args:
        for i, (run_dir, status, in_flight) in enumerate(
                run_tasks(args, executor=executor, jobs=jobs, scheduler=scheduler, out=out, echo=echo), 1):
            flight = f", {in_flight} in flight" if in_flight else ""
            echo(f"[{i}/{len(args)} {time.perf_counter() - t0:7.0f}s{flight}] {run_dir}: {status}")
            if status != "done":
                failures.append((run_dir, status))
    result = write_experiment_tables(exp, cells, out, arms=arms)
    result["failures"] = failures
    return result


def _check_finished_runs(runs: Sequence[Run], paths: dict[str, Path]) -> None:
    """A finished run is reused (skipped, or read into the tables) only when it is the run the grid asks for:
    the same method, the same value of every config key that both the run and the grid's resolved config
    have (options added to a method since keep their defaults), and, when the dataset file is there, the
    same dataset content. Otherwise one error names the folder: e.g. a grid edited after its runs, or two
    grids sharing ``--out`` whose shared runs differ in a setting that is not an axis."""
    from wlbench.methods.runs import dataset_meta, read_run

    contents: dict[str, str | None] = {}
    for run in runs:
        if not is_finished(run.run_dir):
            continue
        info = read_run(run.run_dir)
        fix = f"remove {run.run_dir} to train it again, or give this grid its own --out"
        if info.get("method") != run.method:
            raise WlbenchError(f"{run.run_dir} holds a run of {info.get('method')!r}, not of {run.method!r}", hint=fix)
        wanted = json.loads(json.dumps(resolve_config(get_method(run.method), None, run.overrides), default=str))
        stored = info["config"]
        if "valid_labels" in wanted and "valid_labels" not in stored and run_option(stored, "labels") != "true":
            # trained before selection read the validation split through the view (it read the truth there)
            raise WlbenchError(f"{run.run_dir} was trained on view {stored.get('labels')!r} with checkpoints chosen "
                               f"on the validation split's true labels (a run from before view-validated "
                               f"selection)", hint=fix)
        if "train_clips_id" not in (json.loads((run.run_dir / SUMMARY).read_text(encoding="utf-8")).get("train") or {}) \
                and stored.get("train_clips", 0):
            raise WlbenchError(f"{run.run_dir} drew its train_clips subset by the old rule (on the labels it read): "
                               f"its clips are not the subset this grid's other runs use", hint=fix)
        differ = sorted(k for k in set(wanted) & set(stored) if wanted[k] != stored[k])
        if differ:
            shown = ", ".join(f"{k} = {stored[k]!r} there, {wanted[k]!r} here" for k in differ[:3])
            raise WlbenchError(f"{run.run_dir} was trained with another config than this grid asks for ({shown}"
                               f"{', ...' if len(differ) > 3 else ''})", hint=fix)
        if run.dataset not in contents:
            path = paths.get(run.dataset)
            contents[run.dataset] = dataset_meta(path)["content_id"] if path and Path(path).is_file() else None
        made_on = (info.get("dataset") or {}).get("content_id")
        if contents[run.dataset] and made_on and made_on != contents[run.dataset]:
            raise WlbenchError(f"{run.run_dir} was trained on another version of dataset {run.dataset!r} (content id "
                               f"{made_on[:12]}..., the grid's file has {contents[run.dataset][:12]}...)", hint=fix)


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
