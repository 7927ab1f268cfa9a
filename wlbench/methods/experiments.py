"""Experiment grids: methods x axes x datasets x seeds, each cell beside its controls.

A grid file (TOML; see baselines/experiments/turpault2020.toml)::

    [experiment]
    name = "turpault2020"
    methods = ["turpault-classifier", "turpault-triplet"]
    seeds = [0, 1, 2]
    split = "eval"                      # the split every run is scored on
    metrics = ["map", "f1_macro"]       # headline metrics tabulated (the first decides the figures)
    test_segments = ["200ms", "1s"]     # "clip" and/or segment views every run is tested on
    controls = ["prior", "untrained", "oracle"]   # default: every control that applies
    bootstrap = 0                       # bootstrap resamples of each run's reports
    decoding = { threshold = 0.5, median_seconds = 0.45 }   # frame scores -> event lists (SED methods)

    [axes]                              # config keys varied over (cartesian product); a method gets the
    train_segment = ["200ms", "1s"]     # axes it declares, a method without the key runs once

    [config]                            # values for every method that declares the key
    [method_config.turpault-triplet]    # values for one method
    [[datasets]]                        # name, title, path and/or recipe (+ scale, soundbank), config

Controls run beside each cell with the same seeds: ``prior`` (the class-prior predictor on the cell's label
view), every control the method declares (e.g. ``untrained``: E left at its initialisation; a control that
overrides axes of the cell, e.g. one that ignores the cell's sampling strategy, is one run shared by every cell
it makes identical, under ``runs/<dataset>/<method>/control-<name>/<axes>/``), and ``oracle``
(the cell's config with ``labels = "true"``) where the cell trains on a label view. A cell is *learned* when,
paired by seed, the 95 % Student-t interval of (cell - control) lies above 0 for every lower control (prior
and the method's own); the oracle, and a method's control named ``oracle-<something>``, is an upper bound,
shown beside it, never a control to beat.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.atomic import check_output_path, ensure_writable_dir, write_text_atomic
from wlbench.errors import WlbenchError
from wlbench.methods.config import plain, read_table_file, resolve_config
from wlbench.methods.discovery import get_method
from wlbench.methods.execution import check_executor, describe, run_tasks
from wlbench.methods.findings import Contrast, judge, parse_contrasts
from wlbench.methods.findings import render as render_findings
from wlbench.methods.protocol import CLIP
from wlbench.methods.runs import (EVENTS, FRAME_SCORES, LOG, SUMMARY, Decoding, is_finished, kept_initial_weights,
                                  output_stem, segment_key, unfinished_reason)
from wlbench.methods.statistics import contrast_text, paired_difference, t_interval, verdict  # noqa: F401 (API)
from wlbench.paths import require_folder

PRIOR = "prior"
ORACLE = "oracle"


def is_upper_bound(control: str) -> bool:
    """``oracle`` and every control a method names ``oracle-<something>`` (e.g. ``oracle-mask``) are upper
    bounds: shown beside a cell, never a control it has to beat. Every other control is a lower control."""
    return control == ORACLE or control.startswith(ORACLE + "-")
Echo = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Experiment:
    path: Path
    name: str
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    split: str
    metrics: tuple[str, ...]
    test_segments: tuple[str, ...]
    controls: tuple[str, ...] | None
    bootstrap: int
    decoding: Decoding
    axes: dict[str, list[Any]]
    config: dict[str, Any]
    method_config: dict[str, dict[str, Any]]
    datasets: tuple[dict[str, Any], ...]
    paper: dict[str, Any]
    headroom: tuple[Contrast, ...] = ()
    claims: tuple[Contrast, ...] = ()


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the grid (a cell's or a control's, one seed)."""

    dataset: str
    method: str
    overrides: dict[str, Any]
    seed: int
    run_dir: Path


@dataclasses.dataclass(frozen=True)
class Cell:
    """A method at one point of the axes on one dataset, with the runs of its seeds and of its controls."""

    dataset: str
    method: str
    axes: dict[str, Any]
    runs: tuple[Run, ...]
    controls: dict[str, tuple[Run, ...]]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={plain(v).strip(chr(34))}" for k, v in self.axes.items()) or "-"


def _slug(values: dict[str, Any]) -> str:
    if not values:
        return "default"
    text = "_".join(f"{k}-{plain(v)}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9.=+_-]+", "", text.replace('"', ""))[:120]


def load_experiment(path: str | Path) -> Experiment:
    """Read and check a grid file; recipe paths are relative to the file, dataset paths to the working dir."""
    path = Path(path)
    spec = read_table_file(path, "experiment file")
    known_tables = {"experiment", "axes", "config", "method_config", "datasets", "paper", "headroom", "claims"}
    unknown = sorted(set(spec) - known_tables)
    if unknown:
        raise WlbenchError(f"{path}: unknown table(s) {unknown}", hint=f"tables are {sorted(known_tables)}")
    exp = spec.get("experiment")
    if not isinstance(exp, dict):
        raise WlbenchError(f"{path}: needs an [experiment] table")
    _check_grid_values(path, exp, spec)
    for key in ("methods", "seeds"):
        if not isinstance(exp.get(key), list) or not exp[key]:
            raise WlbenchError(f"{path}: [experiment] needs a non-empty list {key!r}")
    seeds = exp["seeds"]
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2 ** 63 for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise WlbenchError(f"{path}: [experiment] seeds must be distinct integers in [0, 2**63), got {plain(seeds)}")
    metrics = exp.get("metrics", [exp.get("metric", "f1_macro")])
    if isinstance(metrics, str):
        metrics = [metrics]
    axes = spec.get("axes", {})
    if not isinstance(axes, dict) or not all(isinstance(v, list) and v for v in axes.values()):
        raise WlbenchError(f"{path}: every [axes] entry must be a non-empty list of values")
    datasets = spec.get("datasets", [])
    if not isinstance(datasets, list) or not datasets:
        raise WlbenchError(f"{path}: needs at least one [[datasets]] table (name and path or recipe)")
    names = set()
    for d in datasets:
        if not isinstance(d, dict) or "name" not in d or not ("path" in d or "recipe" in d):
            raise WlbenchError(f"{path}: every [[datasets]] needs name and path (a rendered file) or recipe")
        if d["name"] in names:
            raise WlbenchError(f"{path}: dataset name {d['name']!r} appears twice")
        names.add(d["name"])
        if "recipe" in d and not Path(d["recipe"]).is_absolute():
            d["recipe"] = str((path.parent / d["recipe"]).resolve())
    controls = exp.get("controls")
    out = Experiment(
        path=path, name=str(exp.get("name", path.stem)), methods=tuple(exp["methods"]), seeds=tuple(seeds),
        split=str(exp.get("split", "eval")), metrics=tuple(metrics),
        test_segments=tuple(segment_key(s) for s in exp.get("test_segments", [CLIP])),
        controls=None if controls is None else tuple(controls), bootstrap=int(exp.get("bootstrap", 0)),
        decoding=_decoding(path, exp.get("decoding", {})),
        axes=dict(axes), config=dict(spec.get("config", {})), method_config=dict(spec.get("method_config", {})),
        datasets=tuple(datasets), paper=dict(spec.get("paper", {})))
    headroom, claims = parse_contrasts(path, spec, methods=out.methods, metrics=out.metrics,
                                       segments=out.test_segments, datasets=[d["name"] for d in datasets])
    out = dataclasses.replace(out, headroom=headroom, claims=claims)
    _check_keys(out)
    return out


EXPERIMENT_KEYS = {"name", "methods", "seeds", "split", "metrics", "metric", "test_segments", "controls",
                   "bootstrap", "decoding"}
DATASET_KEYS = {"name", "path", "recipe", "scale", "soundbank", "workers", "title", "config"}
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]{0,99}$")


def _grid_metrics() -> set[str]:
    from wlbench.scoring import detection, embedding, frame_scores, tagging

    return {*tagging.HEADLINE, *detection.HEADLINE, *frame_scores.HEADLINE, *embedding.HEADLINE}


def _check_grid_values(path: Path, exp: dict[str, Any], spec: dict[str, Any]) -> None:
    """Every value of a grid file that is not a method option, checked before anything is planned: known
    keys, known metrics, names that are plain folder names (they become folders under ``--out``: no
    ``../``), no duplicated axis value, sizes and counts in range."""
    def bad(what: str, hint: str | None = None) -> WlbenchError:
        return WlbenchError(f"{path}: {what}", hint=hint)

    unknown = sorted(set(exp) - EXPERIMENT_KEYS)
    if unknown:
        raise bad(f"[experiment] unknown key(s) {unknown}", hint=f"keys: {', '.join(sorted(EXPERIMENT_KEYS))}")
    name = exp.get("name", path.stem)
    if not isinstance(name, str) or not _FOLDER_NAME.match(name) or name in (".", ".."):
        raise bad(f"[experiment] name {plain(name)} must be a plain folder name (letters, digits, . _ + = -; at "
                  "most 100): the tables go to --out/<name>/", hint='e.g. name = "turpault2020"')
    metrics = exp.get("metrics", [exp.get("metric", "f1_macro")])
    metrics = [metrics] if isinstance(metrics, str) else metrics
    known = _grid_metrics()
    if not isinstance(metrics, list) or not metrics or len(set(map(str, metrics))) != len(metrics):
        raise bad(f"[experiment] metrics must be a non-empty list of distinct names, got {plain(metrics)}")
    for metric in metrics:
        if metric not in known:
            raise bad(f"[experiment] unknown metric {plain(metric)}", hint=f"metrics: {', '.join(sorted(known))}")
    bootstrap = exp.get("bootstrap", 0)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise bad(f"[experiment] bootstrap = {plain(bootstrap)}: expected an integer >= 0 (resamples of the reports)")
    if not isinstance(exp.get("split", "eval"), str):
        raise bad(f"[experiment] split = {plain(exp['split'])}: expected a split name such as \"eval\"")
    for key in ("methods", "test_segments", "controls"):
        values = exp.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values) \
                or len(set(values)) != len(values):
            raise bad(f"[experiment] {key} must be a list of distinct names, got {plain(values)}")
    for axis, values in (spec.get("axes") or {}).items() if isinstance(spec.get("axes"), dict) else ():
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values] if isinstance(values, list) else []
        twice = next((v for v, text in zip(values, seen) if seen.count(text) > 1), None) if seen else None
        if twice is not None:
            raise bad(f"[axes] {axis}: the value {plain(twice)} is given twice (two identical rows)")
    for d in spec.get("datasets") or [] if isinstance(spec.get("datasets"), list) else []:
        if not isinstance(d, dict):
            continue
        extra = sorted(set(d) - DATASET_KEYS)
        if extra:
            raise bad(f"[[datasets]] unknown key(s) {extra}", hint=f"keys: {', '.join(sorted(DATASET_KEYS))}")
        if "name" in d and (not isinstance(d["name"], str) or not _FOLDER_NAME.match(d["name"])):
            raise bad(f"[[datasets]] name {plain(d['name'])} must be a plain folder name (letters, digits, "
                      ". _ + = -): runs go to --out/runs/<name>/")
        scale = d.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0 < scale <= 1e6):
            raise bad(f"[[datasets]] {d.get('name')}: scale = {plain(scale)}: expected a number > 0")
        workers = d.get("workers", 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise bad(f"[[datasets]] {d.get('name')}: workers = {plain(workers)}: expected an integer >= 1")
        if not isinstance(d.get("config", {}), dict):
            raise bad(f"[[datasets]] {d.get('name')}: config must be a table of method options")


def _check_dataset_file(d: dict[str, Any], target: Path) -> None:
    """A grid dataset's file at ``path`` must be a render of the grid's ``recipe`` (at its ``scale``), when the
    file records its recipe: another file there would be trained and labelled as this dataset."""
    if "recipe" not in d:
        return
    from wlbench.hashing import canonical_json
    from wlbench.recipes import load_recipe
    from wlbench.dataset.reader import open_dataset

    with open_dataset(target, check_truth=False) as ds:
        stored = ds.attr("recipe_canonical")
    if not stored:
        return
    recipe = load_recipe(Path(d["recipe"]))
    scale = float(d.get("scale", 1.0))
    if canonical_json((recipe.scaled(scale) if scale != 1.0 else recipe).canonical()) != str(stored):
        raise WlbenchError(f"dataset {d['name']!r}: {target} was not rendered from {d['recipe']}"
                           + (f" at scale {plain(scale)}" if scale != 1.0 else "") + " (its stored recipe differs)",
                           hint="point path at a render of that recipe, or remove the file to render it again")


def _decoding(path: Path, table: Any) -> Decoding:
    if not isinstance(table, dict) or set(table) - {"threshold", "median_seconds"}:
        raise WlbenchError(f"{path}: [experiment] decoding must be a table of threshold and median_seconds",
                           hint="e.g. decoding = { threshold = 0.5, median_seconds = 0.45 }")
    try:
        return Decoding(**{k: float(v) for k, v in table.items()})
    except (TypeError, ValueError) as exc:
        raise WlbenchError(f"{path}: [experiment] decoding: {exc}") from None


def _check_keys(exp: Experiment) -> None:
    """Every method exists; every config / axis key is declared by some method of the grid (a typo is an
    error, not a silently ignored value); every control name is known."""
    schemas = {m: get_method(m).config_schema() for m in exp.methods}
    declared = set().union(*schemas.values())
    for where, keys in (("[axes]", exp.axes), ("[config]", exp.config)):
        for key in keys:
            if key not in declared:
                raise WlbenchError(f"{exp.path}: {where} key {key!r} is an option of none of the methods "
                                   f"{list(exp.methods)}", hint=f"options: {', '.join(sorted(declared))}")
    for method, values in exp.method_config.items():
        if method not in schemas:
            raise WlbenchError(f"{exp.path}: [method_config.{method}] names a method that is not in the grid")
        schemas[method].validate(values, f"{exp.path} [method_config.{method}]", method)
    for contrast in (*exp.headroom, *exp.claims):
        for side, arm in zip(("better", "worse") if contrast.kind == "headroom" else ("a", "b"),
                             (contrast.first, contrast.second)):
            where = f"{exp.path}: [[{contrast.kind}]] {contrast.name!r}, side {side}"
            try:
                schema = get_method(arm.method).config_schema()
            except WlbenchError as exc:
                raise WlbenchError(f"{where}: {exc}") from None
            schema.validate(arm.overrides, where, arm.method)
            unset = [k for k in exp.axes if k in schema and k not in arm.overrides]
            if unset:
                raise WlbenchError(f"{where}: does not set the grid axis {unset} that {arm.method} declares (it would "
                                   f"silently take the method's default)",
                                   hint=f"add e.g. {unset[0]} = {plain(exp.axes[unset[0]][0])} to the {side} table")
    if exp.controls is not None:
        known = {PRIOR, ORACLE} | {c for m in exp.methods for c in getattr(get_method(m), "controls", {}) or {}}
        for c in exp.controls:
            if c not in known:
                raise WlbenchError(f"{exp.path}: unknown control {c!r}", hint=f"controls here: {sorted(known)}")


def _wants(exp: Experiment, control: str) -> bool:
    return exp.controls is None or control in exp.controls


def base_config(exp: Experiment, dataset: dict[str, Any], method: str) -> dict[str, Any]:
    """The grid's config values for ``method`` on ``dataset`` before any axis: ``[config]`` (keys the method
    declares), ``[method_config.<method>]``, the dataset's ``config`` (keys the method declares)."""
    schema = get_method(method).config_schema()
    return {**{k: v for k, v in exp.config.items() if k in schema}, **exp.method_config.get(method, {}),
            **{k: v for k, v in dataset.get("config", {}).items() if k in schema}}


@dataclasses.dataclass(frozen=True)
class ArmRuns:
    """The runs of one side of a headroom contrast or claim: a cell's own runs (``cell`` set: its controls
    judge the arm), a control's, or runs of their own under ``runs/<dataset>/<method>/<overrides>/`` (the
    folder a cell with those axis values has, so grids sharing ``--out`` share them)."""

    runs: tuple[Run, ...]
    cell: Cell | None = None


def _config_key(dataset: str, method: str, overrides: dict[str, Any]) -> tuple[str, str, str]:
    config = resolve_config(get_method(method), None, overrides)
    return dataset, method, json.dumps(config, sort_keys=True, default=str)


def plan_arms(exp: Experiment, out: Path, cells: Sequence[Cell]) -> dict[tuple[str, str, int], ArmRuns]:
    """The runs of every arm of every headroom contrast and claim, keyed by (contrast name, dataset, side 0 or
    1). An arm whose resolved config is a cell's (or a control's) reuses those runs; otherwise it gets runs of
    its own (shared by every arm with the same resolved config)."""
    index: dict[tuple[str, str, str], ArmRuns] = {}
    for cell in cells:
        index.setdefault(_config_key(cell.dataset, cell.method, cell.runs[0].overrides), ArmRuns(cell.runs, cell))
        for runs in cell.controls.values():
            index.setdefault(_config_key(cell.dataset, runs[0].method, runs[0].overrides), ArmRuns(runs))
    arms: dict[tuple[str, str, int], ArmRuns] = {}
    for contrast in (*exp.headroom, *exp.claims):
        for name in contrast.datasets:
            keys = []
            for side, arm in enumerate((contrast.first, contrast.second)):
                on = arm.dataset or name
                d = next(x for x in exp.datasets if x["name"] == on)
                over = {**base_config(exp, d, arm.method), **arm.overrides}
                key = _config_key(on, arm.method, over)
                if key in keys:
                    raise WlbenchError(f"{exp.path}: [[{contrast.kind}]] {contrast.name!r}: both sides are the same "
                                       f"runs ({arm.label} on {on})", hint="make the two sides differ")
                keys.append(key)
                if key not in index:
                    # named like a cell with these axis values: a cell of another grid sharing --out is reused
                    where = out / "runs" / on / arm.method / _slug(arm.overrides)
                    index[key] = ArmRuns(tuple(Run(on, arm.method, over, s, where / f"seed-{s}") for s in exp.seeds))
                arms[(contrast.name, name, side)] = index[key]
    return arms


def plan_cells(exp: Experiment, out: Path) -> list[Cell]:
    """Every cell of the grid with its runs and its controls' runs (config values validated here, before
    anything trains)."""
    prior_schema = get_method(PRIOR).config_schema() if _wants(exp, PRIOR) else None
    cells = []
    for d in exp.datasets:
        for method in exp.methods:
            m = get_method(method)
            schema = m.config_schema()
            keys = [k for k in exp.axes if k in schema]
            for values in itertools.product(*(exp.axes[k] for k in keys)):
                axes = dict(zip(keys, values))
                base = {**base_config(exp, d, method), **axes}
                resolve_config(m, None, base)  # validate now
                where = out / "runs" / d["name"] / method / _slug(axes)
                runs = tuple(Run(d["name"], method, base, s, where / f"seed-{s}") for s in exp.seeds)
                controls: dict[str, tuple[Run, ...]] = {}
                for name, extra in (getattr(m, "controls", {}) or {}).items():
                    if _wants(exp, name):
                        over = {**base, **extra}
                        # a control that overrides axes of the cell is the same run for every cell that
                        # differs only in those axes: one shared folder per distinct control config
                        cdir = (out / "runs" / d["name"] / method / f"control-{name}" / _slug({k: over[k] for k in keys})
                                if any(k in extra for k in keys) else where / f"control-{name}")
                        controls[name] = tuple(Run(d["name"], method, over, s, cdir / f"seed-{s}")
                                               for s in exp.seeds)
                config = resolve_config(m, None, base)
                if _wants(exp, ORACLE) and config.get("labels", "true") != "true":
                    over = {**base, "labels": "true"}
                    controls[ORACLE] = tuple(Run(d["name"], method, over, s, where / "control-oracle" / f"seed-{s}")
                                             for s in exp.seeds)
                if prior_schema is not None:
                    over = {k: v for k, v in config.items() if k in prior_schema}
                    pdir = out / "runs" / d["name"] / PRIOR / _slug(over)
                    controls[PRIOR] = tuple(Run(d["name"], PRIOR, over, s, pdir / f"seed-{s}") for s in exp.seeds)
                cells.append(Cell(d["name"], method, axes, runs, controls))
    return cells


def all_runs(cells: Sequence[Cell], arms: dict[Any, ArmRuns] | None = None) -> list[Run]:
    """Every distinct run of the cells and of the contrasts' arms (a run shared by several once)."""
    seen: dict[Path, Run] = {}
    for cell in cells:
        for run in [*cell.runs, *(r for runs in cell.controls.values() for r in runs)]:
            seen.setdefault(run.run_dir, run)
    for arm in (arms or {}).values():
        for run in arm.runs:
            seen.setdefault(run.run_dir, run)
    return list(seen.values())


def dataset_path(d: dict[str, Any], out: Path, echo: Echo, render: bool = True) -> Path:
    """The file of a grid dataset, rendered from its recipe when missing (and ``render``)."""
    target = Path(d["path"]) if "path" in d else out / "data" / f"{d['name']}.h5"
    if target.is_file():
        _check_dataset_file(d, target)
    if target.is_file() or not render:
        return target
    if "recipe" not in d:
        raise WlbenchError(f"dataset {d['name']!r}: {target} not found and no recipe to render it from")
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    recipe = load_recipe(Path(d["recipe"]))
    scale = float(d.get("scale", 1.0))
    if scale != 1.0:
        recipe = recipe.scaled(scale)
    echo(f"rendering {d['name']} from {d['recipe']} (scale {scale}) -> {target}")
    return synthesize(recipe, load_soundbank(d.get("soundbank")), target.parent, workers=int(d.get("workers", 1)),
                      progress=False, filename=target.name).path


def _cost(run: Run) -> float:
    seg = run.overrides.get("train_segment", CLIP)
    return 10.0 if seg == CLIP else _seconds(str(seg))


def _seconds(segment: str) -> float:
    segment = segment_key(segment)
    if segment == CLIP:
        return math.inf
    if segment.endswith("ms"):
        return float(segment[:-2]) / 1000
    return float(segment.rstrip("s"))


def run_experiment(path: str | Path, out: str | Path, jobs: int = 1, echo: Echo = print,
                   only_table: bool = False, *, executor: str = "local", scheduler: str | None = None
                   ) -> dict[str, Any]:
    """Run (or resume) every run of the grid, skipping finished ones (``summary.json`` present, trained with
    the config and dataset the grid asks for: :func:`_check_finished_runs`), then write the tables and figures
    under ``out/<experiment name>/``. Everything is validated before the first run starts. ``executor``:
    ``local`` (``jobs`` processes) or ``dask`` (the cluster at ``scheduler``, else a local cluster of ``jobs``
    workers; see :mod:`wlbench.methods.execution`)."""
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
    todo = [r for r in runs if not is_finished(r.run_dir)] if not only_table else []
    for r in todo:  # a run folder whose recorded hashes do not match is trained again, said so
        if (r.run_dir / SUMMARY).exists():
            echo(f"{r.run_dir}: not reused ({unfinished_reason(r.run_dir)}); it is trained again")
    # the headroom contrasts first (whether the grid can measure anything), then seed by seed (a cut-short
    # experiment holds whole seeds), the most expensive runs first
    first = {r.run_dir for (name, _, _), a in arms.items() if name in {c.name for c in exp.headroom} for r in a.runs}
    todo.sort(key=lambda r: (r.run_dir not in first, exp.seeds.index(r.seed), -_cost(r), str(r.run_dir)))
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
        if "valid_labels" in wanted and "valid_labels" not in stored and stored.get("labels", "true") != "true":
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


# --- results ---------------------------------------------------------------------------------------

def run_values(run: Run, split: str, segment: str, metric: str) -> float | None:
    """The headline ``metric`` of a finished run for ``split`` / ``segment`` (None if absent): from the
    tagging report, else (whole clips of frame-level methods) the decoded event list's report, else the
    score files' threshold-free report (PSDS)."""
    if not is_finished(run.run_dir):
        return None
    stem = output_stem(split, segment)
    names = [stem] + ([f"{split}-{EVENTS}", f"{split}-{FRAME_SCORES}"] if segment == CLIP else [])
    for name in names:
        path = run.run_dir / "reports" / f"{name}.json"
        if path.is_file():
            entry = json.loads(path.read_text(encoding="utf-8"))["headline"].get(metric)
            if entry is not None:
                return None if entry.get("value") is None else float(entry["value"])
    return None


def collect(exp: Experiment, cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """Per cell, test segment and metric: the values of every seed, of every control, and the verdicts."""
    rows = []
    for cell in cells:
        entry = {"dataset": cell.dataset, "method": cell.method, "axes": cell.axes, "label": cell.label,
                 "results": {}}
        for metric in exp.metrics:
            for seg in exp.test_segments:
                values = {r.seed: v for r in cell.runs if (v := run_values(r, exp.split, seg, metric)) is not None}
                res = {"seeds": values, **_stats(values), "controls": {}, "verdicts": {}}
                for name, runs in cell.controls.items():
                    cv = {r.seed: v for r in runs if (v := run_values(r, exp.split, seg, metric)) is not None}
                    res["controls"][name] = {"seeds": cv, **_stats(cv)}
                    if not is_upper_bound(name):
                        res["verdicts"][name] = verdict(values, cv)
                judged = [v for v in res["verdicts"].values() if v != "n/a"]
                res["learned"] = None if not judged else all(v == "learned" for v in judged)
                entry["results"].setdefault(metric, {})[seg] = res
        rows.append(entry)
    return rows


def _stats(values: dict[int, float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "mean": None, "ci95": None}
    a = list(values.values())
    ti = t_interval(a)
    return {"n": len(a), "mean": float(np.mean(a)), "ci95": None if ti is None else ti[1]}


def _fmt(res: dict[str, Any]) -> str:
    if not res or res.get("mean") is None:
        return "-"
    text = f"{100 * res['mean']:.1f}" + (f" ±{100 * res['ci95']:.1f}" if res.get("ci95") is not None else "")
    return text


def render_tables(exp: Experiment, rows: list[dict[str, Any]]) -> str:
    """Markdown: per metric and dataset, every cell (mean ± 95 % t-interval half-width over seeds, %) with its
    controls below it; † marks a cell that does not beat a lower control by its interval ("not learned")."""
    lines = [f"# {exp.name}: results on split {exp.split!r}", "",
             f"Mean ± 95 % t-interval half-width over seeds {list(exp.seeds)}, in %. "
             "† = not learned: the cell does not beat a control (prior or its own, paired by seed) by its "
             "interval. ‡ = too few seeds to judge. Control rows (↳) use the same seeds.", ""]
    axis_names = list(exp.axes)
    for metric in exp.metrics:
        for d in exp.datasets:
            title = d.get("title", d["name"])
            lines += [f"## {metric}: {title}", "",
                      "| Method | " + " | ".join(axis_names or ["config"]) + " | "
                      + " | ".join(f"test {s}" for s in exp.test_segments) + " |",
                      "|---|" + "---|" * max(1, len(axis_names)) + "---|" * len(exp.test_segments)]
            for row in (r for r in rows if r["dataset"] == d["name"]):
                axes = [plain(row["axes"].get(k, "-")).strip('"') for k in axis_names] or ["-"]
                cells = []
                for seg in exp.test_segments:
                    res = row["results"][metric][seg]
                    mark = "" if res["learned"] is True else ("†" if res["learned"] is False else " ‡")
                    cells.append(_fmt(res) + (mark if res.get("mean") is not None else ""))
                lines.append(f"| {row['method']} | " + " | ".join(axes) + " | " + " | ".join(cells) + " |")
                for name in row["results"][metric][exp.test_segments[0]]["controls"]:
                    cc = [_fmt(row["results"][metric][seg]["controls"][name]) for seg in exp.test_segments]
                    lines.append(f"| ↳ {name} | " + " | ".join([""] * len(axes)) + " | " + " | ".join(cc) + " |")
            paper = exp.paper.get(d["name"])
            if paper and metric == exp.paper.get("metric", exp.metrics[0]):
                lines += ["", f"Paper ({exp.paper.get('source', 'reference')}):", "",
                          "| Method | " + " | ".join(axis_names or ["config"]) + " | "
                          + " | ".join(f"test {s}" for s in exp.test_segments) + " |",
                          "|---|" + "---|" * max(1, len(axis_names)) + "---|" * len(exp.test_segments)]
                for method, by_axis in paper.items():
                    for axis_value, cells in by_axis.items():
                        lines.append(f"| {method} | {axis_value} | " + " | ".join(str(c) for c in cells) + " |")
            lines.append("")
    return "\n".join(lines) + "\n"


def evaluate_contrasts(exp: Experiment, cells: Sequence[Cell], rows: list[dict[str, Any]],
                       arms: dict[tuple[str, str, int], ArmRuns]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The judged headroom rows and claim rows (see :mod:`wlbench.methods.findings`) of the finished runs.
    An arm that is a cell is judged against its cell's lower controls; any other arm against the prior of
    its dataset (when the grid runs it); the prior itself is never judged."""
    learned_of = {(r["dataset"], r["method"], r["label"]): r for r in rows}
    priors = {c.dataset: c.controls[PRIOR] for c in cells if PRIOR in c.controls}

    def values(runs: Sequence[Run], contrast: Contrast) -> dict[int, float]:
        return {r.seed: v for r in runs if (v := run_values(r, exp.split, contrast.segment, contrast.metric)) is not None}

    def learned(arm: ArmRuns, contrast: Contrast, own: dict[int, float]) -> bool | None:
        if arm.cell is not None:
            row = learned_of.get((arm.cell.dataset, arm.cell.method, arm.cell.label))
            return row["results"][contrast.metric][contrast.segment]["learned"] if row else None
        prior = priors.get(arm.runs[0].dataset)
        if prior is None or arm.runs[0].method == PRIOR:
            return None
        word = verdict(own, values(prior, contrast))
        return None if word == "n/a" else word == "learned"

    out: dict[str, list[dict[str, Any]]] = {"headroom": [], "claims": []}
    for contrast in (*exp.headroom, *exp.claims):
        for name in contrast.datasets:
            a, b = arms[(contrast.name, name, 0)], arms[(contrast.name, name, 1)]
            va, vb = values(a.runs, contrast), values(b.runs, contrast)
            out[contrast.kind].append({
                "kind": contrast.kind, "name": contrast.name, "dataset": name, "metric": contrast.metric,
                "segment": contrast.segment, "first": va, "second": vb, "first_label": contrast.first.label,
                "second_label": contrast.second.label, "requires": list(contrast.requires), "note": contrast.note,
                "first_learned": learned(a, contrast, va), "second_learned": learned(b, contrast, vb)})
    headroom = judge(out["headroom"])
    return headroom, judge(out["claims"], headroom=headroom)


BUDGET_TAIL = 0.1  # a best epoch in the last 10 % of the budget: the run was still improving


def chosen_epochs_of_cells(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """Per cell and stage: the best (chosen) epoch of every finished seed, the budget, and whether the stage
    is *budget-limited* (best epoch in the last 10 % of ``max_epochs``: training stopped while improving)."""
    out = []
    for cell in cells:
        by_stage: dict[str, dict[str, Any]] = {}
        for run in cell.runs:
            path = run.run_dir / SUMMARY
            if not path.is_file():
                continue
            for st in json.loads(path.read_text(encoding="utf-8")).get("train", {}).get("stages") or []:
                if not isinstance(st, dict) or "best_epoch" not in st:
                    continue
                entry = by_stage.setdefault(st["stage"], {"best": {}, "max": {}})
                entry["best"][run.seed] = st["best_epoch"]
                # a step cap that was reached ends the budget at the last epoch run
                capped = st.get("max_steps") and st.get("steps", 0) >= st["max_steps"]
                entry["max"][run.seed] = st.get("epochs") if capped else st.get("max_epochs")
        for stage, e in by_stage.items():
            limited = [s for s, b in e["best"].items() if e["max"][s] and b > (1 - BUDGET_TAIL) * e["max"][s]]
            out.append({"dataset": cell.dataset, "method": cell.method, "label": cell.label, "stage": stage,
                        "best_epochs": e["best"], "max_epochs": e["max"], "budget_limited_seeds": limited,
                        "kept_initial_seeds": [s for s, b in e["best"].items() if b == 0]})
    return out


def render_epochs(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: the chosen epochs per cell and stage, and the grid's budget verdict."""
    if not rows:
        return ""
    n_limited = sum(bool(r["budget_limited_seeds"]) for r in rows)
    lines = ["## Chosen epochs", "",
             f"Best (chosen) epoch per seed / the stage's maximum. *budget-limited*: a seed chose an epoch in the "
             f"last {100 * BUDGET_TAIL:.0f} % of its budget (still improving when stopped); *initial*: best epoch 0 "
             f"(no epoch beat the untrained weights). {n_limited} of {len(rows)} cell stages are budget-limited.", "",
             "| Method | Cell | Stage | Chosen epochs | Note |", "|---|---|---|---|---|"]
    for r in rows:
        epochs = ", ".join(f"{b}/{r['max_epochs'][s] or '?'}" for s, b in sorted(r["best_epochs"].items()))
        notes = ([f"budget-limited ({len(r['budget_limited_seeds'])} of {len(r['best_epochs'])} seeds)"]
                 if r["budget_limited_seeds"] else []) + (
            [f"initial (seeds {r['kept_initial_seeds']})"] if r["kept_initial_seeds"] else [])
        lines.append(f"| {r['method']} | {r['label']} | {r['stage']} | {epochs} | {'; '.join(notes) or '-'} |")
    return "\n".join(lines) + "\n\n"


def write_experiment_tables(exp: Experiment, cells: Sequence[Cell], out: Path,
                            arms: dict[tuple[str, str, int], ArmRuns] | None = None) -> dict[str, Any]:
    """``table.md``, ``table.json``, ``heatmap-<method>.png`` (first metric) and ``curves/<cell>.png`` under
    ``out/<experiment name>/``: grids that share one ``--out`` (and so their runs) keep their own tables."""
    from wlbench.methods.figures import plot_cell_heatmaps, plot_mean_curves

    arms = plan_arms(exp, out, cells) if arms is None else arms
    out = ensure_writable_dir(out / exp.name)
    rows = collect(exp, cells)
    headroom, claims = evaluate_contrasts(exp, cells, rows, arms)
    epochs = chosen_epochs_of_cells(cells)
    findings = render_findings(headroom, claims)
    table = render_tables(exp, rows)
    head, _, rest = table.partition("\n\n")  # the title stays first; headroom and claims before the cells
    text = head + "\n\n" + findings + rest + ("\n" + render_epochs(epochs) if epochs else "")
    write_text_atomic(out / "table.md", text)
    write_text_atomic(out / "table.json", json.dumps({
        "experiment": exp.name, "split": exp.split, "metrics": list(exp.metrics), "seeds": list(exp.seeds),
        "test_segments": list(exp.test_segments), "axes": exp.axes, "headroom": headroom, "claims": claims,
        "chosen_epochs": epochs, "cells": rows,
        "interval": "95 % Student-t over seeds (ddof 1); verdicts paired by seed"},
        indent=1, allow_nan=False, default=str) + "\n")
    figures = []
    metric = exp.metrics[0]
    for method in exp.methods:
        mrows = [r for r in rows if r["method"] == method]
        labels = list(dict.fromkeys(r["label"] for r in mrows))
        panels = []
        for d in exp.datasets:
            grid, marks = [], []
            for label in labels:
                row = next((r for r in mrows if r["dataset"] == d["name"] and r["label"] == label), None)
                res = [row["results"][metric][s] if row else {} for s in exp.test_segments]
                grid.append([100 * r["mean"] if r.get("mean") is not None else float("nan") for r in res])
                # the seeds' 95 % t half-width under the value, "*" for a cell that is not learned
                marks.append([(f"\n±{100 * r['ci95']:.1f}" if r.get("ci95") is not None else "")
                              + ("*" if r.get("learned") is False else "") for r in res])
            panels.append((d.get("title", d["name"]), grid, marks))
        if any(np.isfinite(v) for _, g, _ in panels for row in g for v in row):
            figures.append(plot_cell_heatmaps(out / f"heatmap-{method}.png", f"{method}: {metric}", panels, labels,
                                              list(exp.test_segments), metric))
    for cell in cells:
        logs = [r.run_dir / LOG for r in cell.runs if is_finished(r.run_dir)]
        target = out / "curves" / f"{cell.dataset}-{cell.method}-{_slug(cell.axes)}.png"
        made = plot_mean_curves(logs, target, f"{cell.method} {cell.label}") if logs else None
        if made:
            figures.append(made)
    return {"table": str(out / "table.md"), "figures": [str(f) for f in figures], "text": text, "rows": rows,
            "headroom": headroom, "claims": claims, "chosen_epochs": epochs}


def submit_experiment(path: str | Path, out: str | Path, board: str | Path, echo: Echo = print) -> list[Path]:
    """Add every finished cell and control of an experiment to a leaderboard: one entry per dataset x method
    x axis point x test segment (x control), its seeds as the entry's runs (a deterministic control, whose
    seeds wrote identical predictions, with its first seed only), named ``<method> [<experiment>]`` or
    ``<method> (<control>) [<experiment>]``, the axes and ``test_segment`` (seconds) in its config. Runs with
    frame scores also get a detection entry on whole clips (their decoded event lists, version ``...; events
    (threshold T, median M s)``, the decoding in its config; seeds whose event lists coincide count once)."""
    from wlbench.hashing import hash_file
    from wlbench.leaderboard import DuplicateEntryError, load_entries, submit_run
    from wlbench.methods.runs import dataset_meta, read_run

    exp = load_experiment(path)
    out, board = Path(out), Path(board)
    cells = plan_cells(exp, out)
    existing = {(e["method"]["name"], e["method"].get("version", ""), e["dataset"]["split_truth_id"])
                for e in load_entries(board)} if (board / "entries").is_dir() else set()
    written, done_dirs = [], set()
    for cell in cells:
        dataset = dataset_path(next(d for d in exp.datasets if d["name"] == cell.dataset), out, echo, render=False)
        truth_id = dataset_meta(dataset)["split_truth_ids"].get(exp.split, "")
        groups = [(f"{cell.method} [{exp.name}]", cell.runs)] + [
            (f"{runs[0].method if name == PRIOR else cell.method} ({name}) [{exp.name}]", runs)
            for name, runs in cell.controls.items()]
        for name, runs in groups:
            finished = [r for r in runs if is_finished(r.run_dir)]
            key = tuple(r.run_dir for r in finished)
            if not finished or key in done_dirs:
                continue
            done_dirs.add(key)
            config = read_run(finished[0].run_dir)["config"]
            untrained = [r.seed for r in finished if kept_initial_weights(
                json.loads((r.run_dir / SUMMARY).read_text(encoding="utf-8")).get("train") or {})]
            note = f" [seeds {untrained} kept their initial weights: best epoch 0]" if untrained else ""
            for seg in exp.test_segments:
                version = "; ".join([*(f"{k} {plain(v).strip(chr(34))}" for k, v in finished[0].overrides.items()
                                       if k in exp.axes), f"test {seg}"])
                entry_config = {**config, "test_segment": None if seg == CLIP else _seconds(seg),
                                **({"train_segment": None if config["train_segment"] == CLIP
                                    else _seconds(config["train_segment"])} if "train_segment" in config else {})}
                # clip scores (tagging); whole clips of frame-level runs also their decoded events (detection)
                kinds = [("tagging", version, f"{output_stem(exp.split, seg)}.csv", "", {})]
                events = f"{exp.split}-{EVENTS}.tsv"
                if seg == CLIP and all((r.run_dir / "predictions" / events).is_file() for r in finished):
                    dec = exp.decoding
                    kinds.append(("detection", f"{version}; events (threshold {dec.threshold}, median "
                                               f"{dec.median_seconds} s)", events,
                                  f", events at threshold {dec.threshold}, median filter {dec.median_seconds} s",
                                  {"decoding": dataclasses.asdict(dec)}))
                for task, label, filename, how, extra in kinds:
                    if (name, label, truth_id) in existing:
                        echo(f"{cell.dataset} {name} {label}: already on the board")
                        continue
                    # identical files (a deterministic control's seeds; seeds whose event lists coincide) once,
                    # under the first seed that wrote them: the board refuses one file twice
                    keep: dict[str, tuple[Path, int]] = {}
                    for r in finished:
                        f = r.run_dir / "predictions" / filename
                        keep.setdefault(hash_file(f), (f, r.seed))
                    try:
                        entry = submit_run(
                            board, dataset, name, [f for f, _ in keep.values()], split=exp.split, task=task,
                            method_version=label,
                            description=f"{name}: {cell.label}, tested on {seg}{how} ({exp.path}){note}",
                            config={**entry_config, **extra}, seeds=[s for _, s in keep.values()])
                    except DuplicateEntryError as exc:
                        echo(f"{cell.dataset} {name} {label}: skipped, {exc}")
                        continue
                    echo(f"{cell.dataset} {name} {label}: {entry.name}")
                    written.append(entry)
    return written

