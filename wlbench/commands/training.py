"""``wlbench train``, ``wlbench predict``, ``wlbench methods`` and ``wlbench experiment``: thin wrappers of
:mod:`wlbench.methods` (methods are plug-ins of the ``wlbench.methods`` entry point)."""

from __future__ import annotations

from pathlib import Path

import click

from wlbench.errors import WlbenchError


@click.command()
@click.argument("method")
@click.option("--dataset", required=True, type=click.Path(dir_okay=False, path_type=Path), help="HDF5 dataset")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML/JSON file of config values (flat table)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override one config value (TOML syntax: 5, 1e-3, true, [16, 32], \"1s\"); repeatable")
@click.option("--out", "run_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="run directory")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0, max=2 ** 63 - 1),
              help="the run's seed (every random draw of the run derives from it)")
@click.option("--force", is_flag=True,
              help="replace an existing run folder (the old one stays untouched until the new run has finished)")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=0),
              help="bootstrap resamples of the score reports (0: no intervals)")
@click.option("--submit", is_flag=True,
              help="add the run's eval predictions (whole clips) to the leaderboard as an entry")
@click.option("--board", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="leaderboard folder for --submit; required with --submit unless $WLBENCH_BOARD names one "
                   "(./leaderboard, the reference board, only when named)")
@click.option("--method-version", default="", help="method version of the leaderboard entry (--submit)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--detection-threshold", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="frame-level methods: a frame is active when its score is >= this (the event lists)")
@click.option("--median-filter", default=None, type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="frame-level methods: median filter of the frame decisions before events are formed")
def train(method, dataset, config_file, sets, run_dir, seed, force, bootstrap, submit, board, method_version, quiet,
          detection_threshold, median_filter):
    """Train METHOD on a dataset, then write its predictions on the validation and eval splits (whole clips
    and every segment view) as submission files, the harness's score reports and the learning curves
    (curves.png) under --out. Every config value is checked against the method's options before anything
    runs (`wlbench methods METHOD` lists them).

    Example: wlbench train turpault-classifier --dataset waa.h5 --set train_segment=1s --out runs/clf
    """
    from wlbench.methods import Decoding, train_run

    if submit:  # before training: a missing or unusable board, or a model that would learn from the split it
        # is ranked on, fails now, not after the training
        from wlbench.atomic import check_output_path
        from wlbench.leaderboard.board import board_to_write, check_not_trained_on
        from wlbench.methods import get_method, resolve_config

        board = board_to_write(board)
        check_output_path(board, directory=True)
        check_not_trained_on("eval", resolve_config(get_method(method), config_file, list(sets)))
    summary = train_run(method, dataset, run_dir, config_file, list(sets), seed=seed, bootstrap=bootstrap,
                        progress=not quiet, echo=click.echo, force=force,
                        decoding=Decoding(detection_threshold, median_filter))
    stages = summary.get("train", {}).get("stages") or []
    speed = ", ".join(f"{s['stage']} {s['examples_per_second']:.0f} examples/s" for s in stages
                      if s.get("examples_per_second"))
    click.echo(f"trained {method} in {summary['seconds']['train']:.1f} s" + (f" ({speed})" if speed else "")
               + f"; run written to {run_dir}")
    if submit:
        from wlbench.leaderboard import submit_run
        from wlbench.methods.runs import untrained_note

        cfg = summary["config"]
        path = submit_run(board, dataset, method, [run_dir / "predictions" / "eval.csv"], split="eval",
                          task="tagging", method_version=method_version,
                          description=_description(method) + untrained_note(summary),
                          config={**cfg, **({"kept_initial_weights": summary["kept_initial_weights"]}
                                            if summary.get("kept_initial_weights") else {})}, seeds=[seed])
        click.echo(f"leaderboard entry written to {path}")


def _description(method: str) -> str:
    from wlbench.methods import get_method

    return str(getattr(get_method(method), "description", ""))


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dataset", required=True, type=click.Path(dir_okay=False, path_type=Path), help="HDF5 dataset")
@click.option("--split", "splits", multiple=True, help="split(s) to predict [default: validation and eval]")
@click.option("--segment", "segments", multiple=True,
              help="'clip' and/or segment view names [default: clip and every segment view]")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=0))
@click.option("--detection-threshold", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="frame-level methods: a frame is active when its score is >= this (the event lists)")
@click.option("--median-filter", default=None, type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="frame-level methods: median filter of the frame decisions before events are formed")
def predict(run_dir, dataset, splits, segments, bootstrap, detection_threshold, median_filter):
    """Predict with a trained run: submission files and score reports under RUN_DIR (frame-level methods also
    write score files and the decoded event lists, scored threshold-free and event/segment-based)."""
    from wlbench.methods import Decoding, predict_run

    predict_run(run_dir, dataset, list(splits) or None, list(segments) or None, bootstrap=bootstrap, echo=click.echo,
                decoding=Decoding(detection_threshold, median_filter))


@click.command("methods")
@click.argument("method", required=False)
def methods_cmd(method):
    """List the registered training methods (entry point group 'wlbench.methods'), or the options of METHOD
    with their defaults (values for --set / --config)."""
    from wlbench.methods import available_methods, get_method

    if method:
        m = get_method(method)
        click.echo(f"{m.name}: {m.description}")
        for key, default, doc in m.config_schema().describe():
            click.echo(f"  {key:<24} {default:<22} {doc}")
        controls = getattr(m, "controls", {}) or {}
        if controls:
            click.echo("controls: " + "; ".join(f"{k} ({', '.join(f'{a}={b}' for a, b in v.items())})"
                                                 for k, v in controls.items()))
        return
    eps = available_methods()
    if not eps:
        click.echo("no methods registered")
    for name in sorted(eps):
        try:
            desc = getattr(get_method(name), "description", "")
        except WlbenchError as exc:
            desc = f"(broken: {exc})"
        click.echo(f"{name:<24} {desc}")


@click.command()
@click.argument("grid", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="experiment directory")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="runs in parallel (local processes; with --executor dask and no --scheduler, the workers of "
                   "the local Dask cluster)")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="where the runs train: local processes, or a Dask cluster (one task per run; docs/cluster.md)")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="with --executor dask: the scheduler of an existing cluster (tcp://host:8786) whose workers see "
                   "the datasets and --out at the same paths [default: a local cluster of --jobs workers]")
@click.option("--table-only", is_flag=True, help="only (re)write the table and figures from finished runs")
@click.option("--records", type=click.Path(path_type=Path), default=None, metavar="FOLDER",
              help="run records, the small committable part of finished runs (summary, run.json, log, audit, "
                   "reports; laid out like --out/runs): a run not finished under --out whose intact record is "
                   "here, of this code's numerics version and the grid's config, is adopted instead of trained; "
                   "each run's record is written here as it finishes. Commit the folder to continue the grid on "
                   "another machine")
@click.option("--submit", "submit_board", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="also add every finished cell and control (seeds as runs) to the leaderboard in this directory")
def experiment(grid, out, jobs, executor, scheduler, table_only, records, submit_board):
    """Run the experiment GRID (a TOML file, e.g. baselines/experiments/turpault2020.toml): every method x
    axis point x dataset x seed, beside its controls (class prior, the method's own such as an untrained
    trunk, the true-label oracle where a label view is used), tested on every test segment. Finished runs are
    skipped, so an interrupted experiment resumes; the grid's headroom contrasts run first and its table starts
    with them and the claims (Holm-corrected; a claim without headroom reads "no headroom"). Writes
    table.md/json (cells that do not beat a control by their interval marked "not learned"),
    heatmap-<method>.png and curves/<cell>.png under --out/<experiment name>/, the runs under --out/runs/
    (grids sharing --out share their runs and keep their own tables). With --executor dask each run is one
    task on the cluster, with the same results as local runs. With --records a grid continues on another
    machine: commit the records folder, and a clone adopts the runs it holds (tabulated; a run folder holding
    only its record cannot be --submit-ted or predicted with: train it again)."""
    from wlbench.experiments.runner import run_experiment
    from wlbench.leaderboard.experiments import submit_experiment

    res = run_experiment(grid, out, jobs, echo=click.echo, only_table=table_only, executor=executor,
                         scheduler=scheduler, records=records, for_board=submit_board is not None)
    click.echo(res["text"])
    click.echo(f"table: {res['table']}; {len(res['figures'])} figures under {out}")
    if res["failures"]:
        raise WlbenchError(f"{len(res['failures'])} run(s) failed, first: {res['failures'][0][0]}: "
                           f"{res['failures'][0][1]}", hint="fix the cause and run the same command again: "
                                                            "finished runs are kept")
    if submit_board is not None:
        entries = submit_experiment(grid, out, submit_board, echo=click.echo)
        click.echo(f"{len(entries)} leaderboard entries added to {submit_board}; render it with "
                   f"`wlbench leaderboard render --board {submit_board}`")


def register(group: click.Group) -> None:
    for cmd in (train, predict, methods_cmd, experiment):
        group.add_command(cmd)
