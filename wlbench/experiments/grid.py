"""The grid file: its schema, checks and the cells and runs it names (:func:`load_experiment`).

Experiment grids: methods x axes x datasets x seeds, each cell beside its controls.

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
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.experiments.findings import Contrast, parse_contrasts
from wlbench.methods.config import plain, read_table_file
from wlbench.methods.discovery import get_method
from wlbench.methods.protocol import CLIP
from wlbench.methods.runs import Decoding, segment_key

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


def slug(values: dict[str, Any]) -> str:
    """The folder name of a run's axis values: ``key-value`` pairs joined by ``_`` (string quotes dropped).
    When that is not the whole story (a character that cannot be in a folder name was removed, or the name
    passed 120 characters), a digest of the values is appended, so two different settings never share a
    folder; names that lose nothing stay as they were."""
    if not values:
        return "default"
    text = "_".join(f"{k}-{plain(v)}" for k, v in values.items())
    unquoted = text.replace('"', "")
    name = re.sub(r"[^A-Za-z0-9.=+_-]+", "", unquoted)
    if name != unquoted or len(name) > 120:
        name = name[:100] + "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return name


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


def check_dataset_file(d: dict[str, Any], target: Path) -> None:
    """A grid dataset's file at ``path`` must be a render of the grid's ``recipe`` (at its ``scale``), when the
    file records its recipe: another file there would be trained and labelled as this dataset."""
    if "recipe" not in d:
        return
    from wlbench.dataset.reader import open_dataset
    from wlbench.hashing import canonical_json
    from wlbench.recipes import load_recipe

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


def wants(exp: Experiment, control: str) -> bool:
    return exp.controls is None or control in exp.controls


def base_config(exp: Experiment, dataset: dict[str, Any], method: str) -> dict[str, Any]:
    """The grid's config values for ``method`` on ``dataset`` before any axis: ``[config]`` (keys the method
    declares), ``[method_config.<method>]``, the dataset's ``config`` (keys the method declares)."""
    schema = get_method(method).config_schema()
    return {**{k: v for k, v in exp.config.items() if k in schema}, **exp.method_config.get(method, {}),
            **{k: v for k, v in dataset.get("config", {}).items() if k in schema}}
