"""Reading finished experiment runs for the teacher / student reports (tables and figures beyond the grid's).

Run folders are the experiment runner's: ``<out>/runs/<dataset>/<method>/<axes slug>/[control-<name>/]seed-<s>/``
with ``summary.json`` (training summary), ``reports/<split>.json`` (the harness's report) and ``audit.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.experiments.statistics import contrast_text, t_interval


def require_runs(out: Path, dataset: str, methods: tuple[str, ...], grid: str) -> None:
    """The report's input must hold finished runs: a missing ``out`` or one without any run of ``methods``
    on ``dataset`` is a :class:`WlbenchError` (one error line, exit 2), not a report of empty tables."""
    run_first = f"run the grid first: wlbench experiment {grid} --out {out}"
    if not out.is_dir():
        raise WlbenchError(f"{out}: no such folder (the --out of `wlbench experiment`)", hint=run_first)
    roots = [out / "runs" / dataset / m for m in methods]
    if not any(seed_dirs(cell) for root in roots if root.is_dir() for cell in root.iterdir() if cell.is_dir()):
        raise WlbenchError(f"{out}: no finished run of {', '.join(methods)} on {dataset} under {out / 'runs'}",
                           hint=run_first)


def main_guarded(main, argv: list[str] | None) -> int:
    """``main(argv)`` with an expected failure printed as one ``error:`` line on stderr and exit status 2."""
    import sys

    try:
        return main(argv)
    except WlbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def seed_dirs(cell: Path) -> dict[int, Path]:
    """Finished runs of a cell folder (``seed-<s>`` with a ``summary.json``), by seed."""
    out = {}
    for d in sorted(cell.glob("seed-*")):
        if (d / "summary.json").is_file():
            out[int(d.name.split("-", 1)[1])] = d
    return out


def report(run: Path, split: str = "eval") -> dict[str, Any]:
    return json.loads((run / "reports" / f"{split}.json").read_text(encoding="utf-8"))


def headline(run: Path, metric: str, split: str = "eval") -> float | None:
    """A headline metric of the run's report, or ``lwlrap_balanced``: the unweighted mean of the per-class
    lwlrap over classes with a positive (Fonseca et al.'s balanced averaging)."""
    r = report(run, split)
    if metric == "lwlrap_balanced":
        values = [row["lwlrap"] for row in r["per_class"].values() if row.get("n_pos") and row.get("lwlrap") is not None]
        return float(np.mean(values)) if values else None
    return r["headline"].get(metric, {}).get("value")


def train_stages(run: Path) -> dict[str, dict[str, Any]]:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return {s["stage"]: s for s in summary["train"]["stages"]}


def audits(run: Path) -> dict[str, dict[str, Any]]:
    path = run / "audit.jsonl"
    if not path.is_file():
        return {}
    return {row["audit"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if row}


def stats(values: dict[int, float]) -> dict[str, Any]:
    """mean and 95 % t half-width over seeds (None below 2 seeds)."""
    if not values:
        return {"n": 0, "mean": None, "ci95": None, "seeds": {}}
    ti = t_interval(list(values.values()))
    return {"n": len(values), "mean": float(np.mean(list(values.values()))), "ci95": None if ti is None else ti[1],
            "seeds": dict(values)}


def paired(cell: dict[int, float], other: dict[int, float]) -> dict[str, Any]:
    """The per-seed difference cell - other: mean, 95 % t half-width, and the contrast's verdict (``holds``:
    the interval lies above 0, ``reversed``: below, ``not resolved``, ``too few seeds``; uncorrected: the
    grid's own claims table is the Holm-corrected reading)."""
    seeds = sorted(set(cell) & set(other))
    diff = {s: cell[s] - other[s] for s in seeds}
    return {**stats(diff), "verdict": contrast_text(cell, other)[1]}


def fmt(s: dict[str, Any], scale: float = 1.0, digits: int = 3) -> str:
    if not s or s.get("mean") is None:
        return "-"
    text = f"{scale * s['mean']:.{digits}f}"
    return text + (f" ±{scale * s['ci95']:.{digits}f}" if s.get("ci95") is not None else "")
