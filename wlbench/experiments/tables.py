"""Results of a grid: each cell's values per seed beside its controls, the headroom and claims (verdicts),
the chosen epochs, written as table.md / table.json with heatmaps and mean learning curves."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.atomic import ensure_writable_dir, write_text_atomic
from wlbench.experiments.findings import CLAIMS, Contrast, judge
from wlbench.experiments.findings import render as render_findings
from wlbench.experiments.grid import PRIOR, Cell, Experiment, Run, is_upper_bound, slug
from wlbench.experiments.planning import ArmRuns, plan_arms
from wlbench.experiments.statistics import t_interval, verdict
from wlbench.methods.config import plain
from wlbench.methods.protocol import CLIP
from wlbench.methods.runs import EVENTS, FRAME_SCORES, LOG, SUMMARY, is_recorded, output_stem


def run_values(run: Run, split: str, segment: str, metric: str) -> float | None:
    """The headline ``metric`` of a finished or recorded run for ``split`` / ``segment`` (None if absent): from the
    tagging report, else (whole clips of frame-level methods) the decoded event list's report, else the
    score files' threshold-free report (PSDS)."""
    if not is_recorded(run.run_dir):
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


def learned_by(verdicts: Mapping[str, str], *, besides: Collection[str] = ()) -> bool | None:
    """Whether a cell beats its lower controls: ``verdicts`` maps a control to ``learned``, ``not learned`` or
    ``n/a`` (too few seeds); the controls in ``besides`` are set aside. True when every judged control says
    ``learned``, False when one does not, None when none is left to judge by."""
    judged = [v for name, v in verdicts.items() if name not in besides and v != "n/a"]
    return None if not judged else all(v == "learned" for v in judged)


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
                res["learned"] = learned_by(res["verdicts"])
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
    """The judged headroom rows and claim rows (see :mod:`wlbench.experiments.findings`) of the finished runs.
    An arm that is a cell is judged against its cell's lower controls, except (in a claim) the control that is
    the claim's other arm (a claim "tri-training beats its no-pseudo control" asks that question itself: it
    can then read ``reversed``, not only ``below controls``); any other arm against the prior of its dataset
    (when the grid runs it); the prior itself is never judged."""
    learned_of = {(r["dataset"], r["method"], r["label"]): r for r in rows}
    priors = {c.dataset: c.controls[PRIOR] for c in cells if PRIOR in c.controls}

    def values(runs: Sequence[Run], contrast: Contrast) -> dict[int, float]:
        return {r.seed: v for r in runs if (v := run_values(r, exp.split, contrast.segment, contrast.metric)) is not None}

    def learned(arm: ArmRuns, contrast: Contrast, own: dict[int, float], other: ArmRuns) -> bool | None:
        if arm.cell is not None:
            row = learned_of.get((arm.cell.dataset, arm.cell.method, arm.cell.label))
            if row is None:
                return None
            other_dirs = {r.run_dir for r in other.runs}
            compared = {name for name, runs in arm.cell.controls.items()
                        if {r.run_dir for r in runs} == other_dirs} if contrast.kind == CLAIMS else set()
            return learned_by(row["results"][contrast.metric][contrast.segment]["verdicts"], besides=compared)
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
                "first_learned": learned(a, contrast, va, b), "second_learned": learned(b, contrast, vb, a)})
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
    several = len({r["dataset"] for r in rows}) > 1  # a grid over several datasets: say which one each row is on
    if several:
        lines[-2:] = ["| Dataset | Method | Cell | Stage | Chosen epochs | Note |", "|---|---|---|---|---|---|"]
    for r in rows:
        epochs = ", ".join(f"{b}/{r['max_epochs'][s] or '?'}" for s, b in sorted(r["best_epochs"].items()))
        notes = ([f"budget-limited ({len(r['budget_limited_seeds'])} of {len(r['best_epochs'])} seeds)"]
                 if r["budget_limited_seeds"] else []) + (
            [f"initial (seeds {r['kept_initial_seeds']})"] if r["kept_initial_seeds"] else [])
        where = f"| {r['dataset']} " if several else ""
        lines.append(f"{where}| {r['method']} | {r['label']} | {r['stage']} | {epochs} | {'; '.join(notes) or '-'} |")
    return "\n".join(lines) + "\n\n"


def write_experiment_tables(exp: Experiment, cells: Sequence[Cell], out: Path,
                            arms: dict[tuple[str, str, int], ArmRuns] | None = None) -> dict[str, Any]:
    """``table.md``, ``table.json``, ``heatmap-<method>.png`` (first metric) and ``curves/<cell>.png`` under
    ``out/<experiment name>/``: grids that share one ``--out`` (and so their runs) keep their own tables."""
    from wlbench.experiments.figures import plot_cell_heatmaps, plot_mean_curves

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
        logs = [r.run_dir / LOG for r in cell.runs if is_recorded(r.run_dir)]
        target = out / "curves" / f"{cell.dataset}-{cell.method}-{slug(cell.axes)}.png"
        made = plot_mean_curves(logs, target, f"{cell.method} {cell.label}") if logs else None
        if made:
            figures.append(made)
    return {"table": str(out / "table.md"), "figures": [str(f) for f in figures], "text": text, "rows": rows,
            "headroom": headroom, "claims": claims, "chosen_epochs": epochs}
