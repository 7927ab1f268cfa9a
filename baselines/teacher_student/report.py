"""Reading finished experiment runs for the teacher / student reports (tables and figures beyond the grid's).

Run folders are the experiment runner's: ``<out>/runs/<dataset>/<method>/<axes slug>/[control-<name>/]seed-<s>/``
with ``summary.json`` (training summary), ``reports/<split>.json`` (the harness's report) and ``audit.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.experiments.findings import CLAIMS, judge
from wlbench.experiments.statistics import t_interval


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


def compare_family(pairs: Mapping[Any, tuple[dict[int, float], dict[int, float]]]) -> dict[Any, dict[str, Any]]:
    """The comparisons of one report table as one family of claims, judged by the grids' one verdict API
    (:func:`wlbench.experiments.findings.judge`): per key, ``first - second`` paired by seed (``diff``: mean and
    95 % t half-width), the Holm-adjusted p-value over the family and the verdict (``holds``, ``reversed``,
    ``not resolved``, or ``too few seeds`` below 5 paired seeds)."""
    rows = [{"kind": CLAIMS, "name": str(key), "dataset": "", "first": dict(a), "second": dict(b)}
            for key, (a, b) in pairs.items()]
    judge(rows)
    return dict(zip(pairs, rows))


def diff_text(row: dict[str, Any] | None, scale: float = 1.0, digits: int = 3) -> str:
    """A judged row's paired difference as ``+x ±h`` (``-`` without one)."""
    if not row or row.get("diff") is None:
        return "-"
    mean, half = row["diff"]
    return f"{scale * mean:+.{digits}f} ±{scale * half:.{digits}f}"


def fmt(s: dict[str, Any], scale: float = 1.0, digits: int = 3) -> str:
    if not s or s.get("mean") is None:
        return "-"
    text = f"{scale * s['mean']:.{digits}f}"
    return text + (f" ±{scale * s['ci95']:.{digits}f}" if s.get("ci95") is not None else "")
