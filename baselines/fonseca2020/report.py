"""Fig. 2 / Table 3 of Fonseca et al. on wlbench runs, and what the paper could not measure (flag precision and
recall against the truly dropped positives).

    python -m wlbench_baselines.fonseca2020.report runs/ts baselines/experiments/results/fonseca2020

reads the finished runs of ``fonseca2020.toml`` and ``fonseca2020-bounds.toml`` under ``runs/ts`` and writes
``fonseca2020.md`` (tables), ``fonseca2020.json`` and ``fig2-performance-vs-discard.png``,
``flags-precision-recall.png`` into the results folder.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.atomic import write_text_atomic
from wlbench.plotting import pyplot, save_png
from wlbench_baselines.teacher_student.report import (
    audits,
    compare_family,
    diff_text,
    fmt,
    headline,
    main_guarded,
    require_runs,
    seed_dirs,
    stats,
    train_stages,
)

METHOD = "fonseca-masking"
METRICS = ("dprime_mean_of_classes", "lwlrap_balanced", "lwlrap", "map")
TITLES = {"dprime_mean_of_classes": "d' (mean of classes)", "lwlrap_balanced": "lwlrap (balanced)",
          "lwlrap": "lwlrap (label-weighted)", "map": "mAP"}


def collect(out: Path, dataset: str = "missing-labels") -> dict[str, Any]:
    root = out / "runs" / dataset / METHOD
    cells: dict[int, dict[float, dict[str, Any]]] = {}
    bounds: dict[int, dict[str, dict[str, Any]]] = {}
    for cell in sorted(root.iterdir()) if root.is_dir() else []:
        m = re.fullmatch(r"discard_percent-([0-9.]+)_student_clips-([0-9]+)", cell.name)
        if not m:
            continue
        p, size = float(m.group(1)), int(m.group(2))
        runs = seed_dirs(cell)
        entry: dict[str, Any] = {"metrics": {k: {s: v for s, r in runs.items() if (v := headline(r, k)) is not None}
                                             for k in METRICS}}
        flags = {s: train_stages(r).get("flags") for s, r in runs.items()}
        flags = {s: f for s, f in flags.items() if f}
        if flags:
            entry["flag_precision"] = {s: f["flag_precision"] for s, f in flags.items() if f["flag_precision"] is not None}
            entry["flag_recall"] = {s: f["flag_recall"] for s, f in flags.items() if f["flag_recall"] is not None}
            entry["flagged"] = {s: f["flagged"] for s, f in flags.items()}
            per_class = [audits(r)["flags"]["per_class"] for r in runs.values() if "flags" in audits(r)]
            entry["per_class_precision"] = _nanmean([pc["implicit_precision"] for pc in per_class])
            entry["per_class_recall"] = _nanmean([pc["implicit_recall"] for pc in per_class])
        cells.setdefault(size, {})[p] = entry
        for control in ("oracle", "oracle-mask"):
            cruns = seed_dirs(cell / f"control-{control}")
            if cruns:
                bounds.setdefault(size, {})[control] = {k: {s: v for s, r in cruns.items()
                                                            if (v := headline(r, k)) is not None} for k in METRICS}
    prior = {}
    for pdir in (out / "runs" / dataset / "prior").glob("*"):
        pruns = seed_dirs(pdir)
        if pruns:
            prior = {k: {s: v for s, r in pruns.items() if (v := headline(r, k)) is not None} for k in METRICS}
    return {"cells": cells, "bounds": bounds, "prior": prior}


def _nanmean(rows: list[list[float | None]]) -> list[float | None]:
    if not rows:
        return []
    a = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)
    with np.errstate(invalid="ignore"):
        m = np.nanmean(a, axis=0)
    return [None if np.isnan(v) else float(v) for v in m]


def tables(data: dict[str, Any], sizes: dict[int, str]) -> tuple[str, dict[str, Any]]:
    lines = ["# Fonseca et al. (2020) on wlbench: loss masking against the discarded share p", "",
             "Mean ± 95 % t half-width over seeds (eval split, true labels). Flag precision / recall: the flagged "
             "entries against the view's truly dropped positives (the framework's audit).", ""]
    summary: dict[str, Any] = {}
    for size, name in sizes.items():
        cells = data["cells"].get(size, {})
        if not cells:
            continue
        lines += [f"## {name} ({size} clips)", "",
                  "| p (%) | " + " | ".join(TITLES[k] for k in METRICS) + " | flagged | flag precision | flag recall |",
                  "|---|" + "---|" * (len(METRICS) + 3)]
        for p in sorted(cells):
            e = cells[p]
            row = [fmt(stats(e["metrics"][k])) for k in METRICS]
            fl = [fmt(stats(e.get("flagged", {})), digits=0), fmt(stats(e.get("flag_precision", {}))),
                  fmt(stats(e.get("flag_recall", {})))] if "flagged" in e else ["0", "-", "-"]
            lines.append(f"| {p:g} | " + " | ".join(row + fl) + " |")
        for control, label in (("oracle-mask", "oracle mask"), ("oracle", "true labels")):
            b = data["bounds"].get(size, {}).get(control)
            if b:
                lines.append(f"| ↳ {label} | " + " | ".join(fmt(stats(b[k])) for k in METRICS) + " | | | |")
        if data["prior"]:
            lines.append("| ↳ prior | " + " | ".join(fmt(stats(data["prior"][k])) for k in METRICS) + " | | | |")
        lines.append("")
        base = cells.get(0.0)
        if base:  # Table 3: baseline vs best operating point (by mean), paired difference over seeds
            lines += ["| metric | baseline (p = 0) | best p | best | best - baseline (paired over seeds) | verdict (Holm over the table's metrics) |",
                      "|---|---|---|---|---|---|"]
            summary[name] = {}
            best = {}
            for k in METRICS:
                means = {p: stats(e["metrics"][k])["mean"] for p, e in cells.items() if e["metrics"][k]}
                best[k] = max(means, key=means.get)
            judged = compare_family({k: (cells[best[k]]["metrics"][k], base["metrics"][k]) for k in METRICS
                                     if best[k] != 0})  # one Holm family: the table's metrics
            for k in METRICS:
                best_p, d = best[k], judged.get(k)
                word = "p = 0 is best" if best_p == 0 else d["verdict"]
                lines.append(f"| {TITLES[k]} | {fmt(stats(base['metrics'][k]))} | {best_p:g} | "
                             f"{fmt(stats(cells[best_p]['metrics'][k]))} | {diff_text(d)} | {word} |")
                summary[name][k] = {"best_p": best_p, "baseline": stats(base["metrics"][k]),
                                    "best": stats(cells[best_p]["metrics"][k]), "difference": _judged(d)}
            lines.append("")
    return "\n".join(lines) + "\n", summary


def _judged(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A judged comparison for summary.json: mean and half-width of the paired difference, p (Holm), verdict."""
    if row is None:
        return None
    mean, half = row["diff"] if row["diff"] else (None, None)
    return {"mean": mean, "ci95": half, "p_holm": row["p_holm"], "verdict": row["verdict"]}


def figures(data: dict[str, Any], sizes: dict[int, str], results: Path) -> list[Path]:
    plt = pyplot()
    out = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = {size: c for size, c in zip(sizes, ("tab:orange", "tab:blue"))}
    for ax, k in zip(axes, ("dprime_mean_of_classes", "lwlrap_balanced", "map")):
        for size, name in sizes.items():
            cells = data["cells"].get(size, {})
            ps = sorted(cells)
            st = [stats(cells[p]["metrics"][k]) for p in ps]
            xs = [p for p, s in zip(ps, st) if s["mean"] is not None]
            ys = [s["mean"] for s in st if s["mean"] is not None]
            es = [s["ci95"] or 0.0 for s in st if s["mean"] is not None]
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, color=colors[size], label=f"{name} ({size} clips)")
            for control, style in (("oracle-mask", "--"), ("oracle", ":")):
                b = data["bounds"].get(size, {}).get(control)
                if b and b[k]:
                    ax.axhline(stats(b[k])["mean"], ls=style, color=colors[size], lw=1,
                               label=f"{name}: {'oracle mask' if control == 'oracle-mask' else 'true labels'}")
        if data["prior"] and data["prior"][k]:
            ax.axhline(stats(data["prior"][k])["mean"], color="grey", lw=1, label="prior")
        all_p = sorted({p for cells in data["cells"].values() for p in cells})
        if all_p:
            ax.set_xticks(all_p)
            ax.set_xlim(min(all_p) - 0.5, max(all_p) + 0.5)
        ax.set_xlabel("discarded top-scored implicit negatives p (%)")
        ax.set_title(TITLES[k])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Fonseca et al. Fig. 2 on wlbench (missing-20; mean ± 95 % t over seeds)")
    out.append(save_png(fig, results / "fig2-performance-vs-discard.png"))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, title in ((axes[0], "precision", "precision of the flags"), (axes[1], "recall", "recall of the flags")):
        for size, name in sizes.items():
            cells = data["cells"].get(size, {})
            ps = [p for p in sorted(cells) if "flagged" in cells[p]]
            if not ps:
                continue
            pcs = np.array([[np.nan if v is None else v for v in cells[p][f"per_class_{key}"]] for p in ps])
            for c in range(pcs.shape[1]):
                ax.plot(ps, pcs[:, c], color=colors[size], alpha=0.25, lw=0.8)
            st = [stats(cells[p][f"flag_{key}"]) for p in ps]
            ax.errorbar(ps, [np.nan if s["mean"] is None else s["mean"] for s in st],
                        yerr=[s["ci95"] or 0.0 for s in st], marker="o", capsize=3,
                        color=colors[size], lw=2, label=f"{name}: all classes (thin: per class)")
        ax.set_xlabel("p (%)")
        ax.set_title(title + " vs the truly dropped positives")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    out.append(save_png(fig, results / "flags-precision-recall.png"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the report; a missing OUT, or one without a finished run, is one error line and exit 2."""
    return main_guarded(_main, sys.argv[1:] if argv is None else argv)


def _main(args: list[str]) -> int:
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, results = Path(args[0]), Path(args[1])
    require_runs(out, "missing-labels", (METHOD,), "baselines/experiments/fonseca2020.toml")
    results.mkdir(parents=True, exist_ok=True)
    data = collect(out)
    found = sorted(data["cells"])  # student_clips: the smallest is tr_small, the largest tr_large
    sizes = {size: ("tr_small" if i == 0 and len(found) > 1 else "tr_large") for i, size in enumerate(found)}
    text, summary = tables(data, sizes)
    write_text_atomic(results / "fonseca2020.md", text)
    write_text_atomic(results / "fonseca2020.json", json.dumps({"summary": summary, "data": data}, indent=1,
                                                               default=str) + "\n")
    figures(data, sizes, results)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
