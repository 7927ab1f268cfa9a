"""Cells, their controls and the contrasts' arms as runs (:func:`plan_cells`, :func:`plan_arms`), each run
folder named once; the order runs are trained in."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.experiments.grid import ORACLE, PRIOR, Cell, Experiment, Run, base_config, slug, wants
from wlbench.methods.config import resolve_config
from wlbench.methods.discovery import get_method
from wlbench.methods.protocol import CLIP, run_option
from wlbench.methods.runs import segment_key


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
                    where = out / "runs" / on / arm.method / slug(arm.overrides)
                    index[key] = ArmRuns(tuple(Run(on, arm.method, over, s, where / f"seed-{s}") for s in exp.seeds))
                arms[(contrast.name, name, side)] = index[key]
    return arms


def plan_cells(exp: Experiment, out: Path) -> list[Cell]:
    """Every cell of the grid with its runs and its controls' runs (config values validated here, before
    anything trains)."""
    prior_schema = get_method(PRIOR).config_schema() if wants(exp, PRIOR) else None
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
                where = out / "runs" / d["name"] / method / slug(axes)
                runs = tuple(Run(d["name"], method, base, s, where / f"seed-{s}") for s in exp.seeds)
                controls: dict[str, tuple[Run, ...]] = {}
                for name, extra in (getattr(m, "controls", {}) or {}).items():
                    if wants(exp, name):
                        over = {**base, **extra}
                        # a control that overrides axes of the cell is the same run for every cell that
                        # differs only in those axes: one shared folder per distinct control config
                        cdir = (out / "runs" / d["name"] / method / f"control-{name}" / slug({k: over[k] for k in keys})
                                if any(k in extra for k in keys) else where / f"control-{name}")
                        controls[name] = tuple(Run(d["name"], method, over, s, cdir / f"seed-{s}")
                                               for s in exp.seeds)
                config = resolve_config(m, None, base)
                if wants(exp, ORACLE) and run_option(config, "labels") != "true":
                    over = {**base, "labels": "true"}
                    controls[ORACLE] = tuple(Run(d["name"], method, over, s, where / "control-oracle" / f"seed-{s}")
                                             for s in exp.seeds)
                if prior_schema is not None:
                    over = {k: v for k, v in config.items() if k in prior_schema}
                    pdir = out / "runs" / d["name"] / PRIOR / slug(over)
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


def run_cost(run: Run) -> float:
    seg = run.overrides.get("train_segment", CLIP)
    return 10.0 if seg == CLIP else segment_seconds(str(seg))


def segment_seconds(segment: str) -> float:
    segment = segment_key(segment)
    if segment == CLIP:
        return math.inf
    if segment.endswith("ms"):
        return float(segment[:-2]) / 1000
    return float(segment.rstrip("s"))
