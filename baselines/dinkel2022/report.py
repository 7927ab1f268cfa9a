"""Tables 2 / 3 and section 4.3 of Dinkel et al. on wlbench runs, with the truth the paper did not have.

    python -m wlbench_baselines.dinkel2022.report runs/ts baselines/experiments/results/dinkel2022

reads the finished runs of ``dinkel2022.toml`` (and ``dinkel2022-oracle.toml``) under ``runs/ts`` and writes
``dinkel2022.md``, ``dinkel2022.json``, ``fig2-labels-per-chunk.png`` and ``fig3-coverage-recovery.png``.
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

METHOD = "dinkel-psl"
METRICS = ("map", "dprime_of_mean_auc", "dprime_mean_of_classes")
PAPER = {(10.0, 0.0): (17.69, 1.994), (5.0, 0.0): (19.76, 2.072), (2.0, 0.0): (20.21, 2.030),
         (10.0, 0.5): (27.12, 2.190), (5.0, 0.5): (28.24, 2.273), (2.0, 0.5): (28.13, 2.203),
         (10.0, 1.0): (31.13, 2.454), (5.0, 1.0): (34.11, 2.549), (2.0, 1.0): (35.48, 2.588)}
RELABEL_KEYS = ("coverage_mean", "coverage_zero_share", "coverage_full_share", "dropped_recovered",
                "chunk_precision", "chunk_recall", "union_precision", "union_recall", "true_labels_per_chunk")


def collect(out: Path, dataset: str = "missing-labels") -> dict[tuple[float, float], dict[str, Any]]:
    root = out / "runs" / dataset / METHOD
    cells: dict[tuple[float, float], dict[str, Any]] = {}
    for cell in sorted(root.iterdir()) if root.is_dir() else []:
        m = re.fullmatch(r"chunk-([0-9.]+)_alpha-([0-9.]+)", cell.name)
        if not m:
            continue
        key = (float(m.group(1)), float(m.group(2)))
        runs = seed_dirs(cell)
        entry: dict[str, Any] = {"metrics": {k: {s: v for s, r in runs.items() if (v := headline(r, k)) is not None}
                                             for k in METRICS}}
        relabel = {s: train_stages(r).get("relabel") for s, r in runs.items()}
        relabel = {s: v for s, v in relabel.items() if v}
        if relabel:
            entry["relabel"] = {k: {s: v[k] for s, v in relabel.items() if v.get(k) is not None} for k in RELABEL_KEYS}
            entry["labels_per_chunk"] = np.mean([v["labels_per_chunk_shares"] for v in relabel.values()], axis=0).tolist()
            entry["weak_labels_per_chunk"] = np.mean([v["weak_labels_per_chunk_shares"] for v in relabel.values()],
                                                     axis=0).tolist()
        stages = {s: train_stages(r) for s, r in runs.items()}
        entry["teacher_valid_map"] = {s: st["teacher"]["best_value"] for s, st in stages.items()
                                      if st.get("teacher", {}).get("best_value") is not None}
        entry["student_valid_map"] = {s: st["student"]["best_value"] for s, st in stages.items()
                                      if st.get("student", {}).get("best_value") is not None}
        oracle = seed_dirs(cell / "control-oracle")
        if oracle:
            entry["oracle"] = {k: {s: v for s, r in oracle.items() if (v := headline(r, k)) is not None} for k in METRICS}
        cells[key] = entry
    return cells


def prior(out: Path, dataset: str = "missing-labels") -> dict[str, dict[int, float]]:
    for pdir in (out / "runs" / dataset / "prior").glob("*"):
        runs = seed_dirs(pdir)
        if runs:
            return {k: {s: v for s, r in runs.items() if (v := headline(r, k)) is not None} for k in METRICS}
    return {}


def relabelled(cells, chunk: float) -> dict[str, Any] | None:
    """The cell whose runs relabelled chunks of ``chunk`` s (alpha 1, else 0.5: the same teacher and chunks)."""
    for alpha in (1.0, 0.5):
        e = cells.get((chunk, alpha))
        if e and "relabel" in e:
            return e
    return None


def tables(cells, prior_metrics) -> tuple[str, dict[str, Any]]:
    lines = ["# Dinkel et al. (ICASSP 2022) on wlbench: pseudo strong labels", "",
             "Mean ± 95 % t half-width over seeds, eval split (true labels); mAP in %. Paper: AudioSet balanced "
             "subset, MobileNetV2 (mAP %, d' of the macro AUC).", "",
             "| chunk (s) | alpha | mAP | d' (of mean AUC) | d' (mean of classes) | vs weak baseline (mAP, paired; Holm over the table) | "
             "true labels (mAP) | paper mAP | paper d' |", "|---|---|---|---|---|---|---|---|---|"]
    base = cells.get((10.0, 0.0))
    summary: dict[str, Any] = {}
    versus = compare_family({key: (e["metrics"]["map"], base["metrics"]["map"]) for key, e in sorted(cells.items())
                             if base and key != (10.0, 0.0)})  # one Holm family: every cell vs the weak baseline
    for alpha in (0.0, 0.5, 1.0):
        for chunk in (10.0, 5.0, 2.0):
            e = cells.get((chunk, alpha))
            if not e:
                continue
            vs = versus.get((chunk, alpha))
            oracle = fmt(stats(e["oracle"]["map"]), 100, 1) if "oracle" in e else "-"
            paper = PAPER.get((chunk, alpha), ("-", "-"))
            lines.append(f"| {chunk:g} | {alpha:g} | {fmt(stats(e['metrics']['map']), 100, 1)} | "
                         f"{fmt(stats(e['metrics']['dprime_of_mean_auc']))} | "
                         f"{fmt(stats(e['metrics']['dprime_mean_of_classes']))} | "
                         f"{diff_text(vs, 100, 1) + ' (' + vs['verdict'] + ')' if vs else '(baseline)'} | {oracle} | "
                         f"{paper[0]} | {paper[1]} |")
            summary[f"chunk {chunk:g}, alpha {alpha:g}"] = {k: stats(v) for k, v in e["metrics"].items()}
    if prior_metrics:
        lines.append(f"| ↳ prior | | {fmt(stats(prior_metrics['map']), 100, 1)} | "
                     f"{fmt(stats(prior_metrics['dprime_of_mean_auc']))} | "
                     f"{fmt(stats(prior_metrics['dprime_mean_of_classes']))} | | | | |")
    teacher = next((e["teacher_valid_map"] for e in cells.values() if e.get("teacher_valid_map")), None)
    if teacher:
        lines += ["", "## Is the teacher stronger than its students? (validation mAP through the training view, %)", "",
                  "The paper's teacher is far stronger than its students (mAP 40.5 vs 17.7 for the weak baseline); "
                  "pseudo strong labels can only help when it is. One teacher per seed serves every cell.", "",
                  "| model | validation mAP (chosen epoch) |", "|---|---|",
                  f"| teacher (10 s clips, all training clips) | {fmt(stats(teacher), 100, 1)} |"]
        for (chunk, alpha), e in sorted(cells.items()):
            if e.get("student_valid_map"):
                lines.append(f"| student, chunk {chunk:g} s, alpha {alpha:g} | {fmt(stats(e['student_valid_map']), 100, 1)} |")
    lines += ["", "## Section 4.3 on the students' training chunks (teacher labels at 0.5)", "",
              "| chunk (s) | labels / chunk (teacher) | true labels / chunk | coverage of weak labels (mean) | "
              "coverage 0 | coverage 1 | chunk precision | chunk recall | dropped positives recovered |",
              "|---|---|---|---|---|---|---|---|---|"]
    for chunk in (10.0, 5.0, 2.0):
        e = relabelled(cells, chunk)
        if not e:
            continue
        r = e["relabel"]
        mean_labels = float(np.dot(np.arange(len(e["labels_per_chunk"])), e["labels_per_chunk"]))
        lines.append(f"| {chunk:g} | {mean_labels:.2f} | {fmt(stats(r['true_labels_per_chunk']), digits=2)} | "
                     f"{fmt(stats(r['coverage_mean']))} | {fmt(stats(r['coverage_zero_share']))} | "
                     f"{fmt(stats(r['coverage_full_share']))} | {fmt(stats(r['chunk_precision']))} | "
                     f"{fmt(stats(r['chunk_recall']))} | {fmt(stats(r['dropped_recovered']))} |")
    lines.append("")
    return "\n".join(lines) + "\n", summary


def figures(cells, results: Path) -> list[Path]:
    plt = pyplot()
    out = []
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.2
    bins = None
    for i, chunk in enumerate((10.0, 5.0, 2.0)):
        e = relabelled(cells, chunk)
        if not e:
            continue
        shares = np.asarray(e["labels_per_chunk"])
        bins = np.arange(len(shares))
        ax.bar(bins + (i - 1.5) * width, shares, width, label=f"teacher, {chunk:g} s chunks")
        if chunk == 10.0:
            ax.bar(bins + 1.5 * width, np.asarray(e["weak_labels_per_chunk"]), width, color="grey",
                   label="observed weak labels (10 s)")
    if bins is not None:
        ax.set_xticks(bins, [str(b) if b < len(bins) - 1 else f"{b}+" for b in bins])
    ax.set_xlabel("labels per chunk (teacher score >= 0.5)")
    ax.set_ylabel("share of chunks")
    ax.set_title("Dinkel et al. Fig. 2 on wlbench (missing-20, mean over seeds)")
    ax.legend(fontsize=8)
    out.append(save_png(fig, results / "fig2-labels-per-chunk.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    keys = (("coverage_mean", "coverage of the weak labels (mean)"), ("coverage_zero_share", "share with coverage 0"),
            ("chunk_precision", "chunk labels: precision vs truth"), ("chunk_recall", "chunk labels: recall vs truth"),
            ("dropped_recovered", "dropped positives recovered"))
    chunks = [c for c in (10.0, 5.0, 2.0) if relabelled(cells, c)]
    for j, (k, label) in enumerate(keys):
        st = [stats(relabelled(cells, c)["relabel"][k]) for c in chunks]
        ax.bar(np.arange(len(chunks)) + (j - 2) * 0.16, [s["mean"] or 0 for s in st], 0.16,
               yerr=[s["ci95"] or 0 for s in st], capsize=2, label=label)
    ax.set_xticks(np.arange(len(chunks)), [f"{c:g} s" for c in chunks])
    ax.set_ylim(0, 1)
    ax.set_title("Teacher chunk labels: Fig. 3 (coverage) and the truth (mean ± 95 % t)")
    ax.legend(fontsize=7)
    out.append(save_png(fig, results / "fig3-coverage-recovery.png"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the report; a missing OUT, or one without a finished run, is one error line and exit 2."""
    return main_guarded(_main, sys.argv[1:] if argv is None else argv)


def _main(args: list[str]) -> int:
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, results = Path(args[0]), Path(args[1])
    require_runs(out, "missing-labels", (METHOD,), "baselines/experiments/dinkel2022.toml")
    results.mkdir(parents=True, exist_ok=True)
    cells = collect(out)
    text, summary = tables(cells, prior(out))
    write_text_atomic(results / "dinkel2022.md", text)
    write_text_atomic(results / "dinkel2022.json", json.dumps(
        {"summary": summary, "cells": {f"{c:g}/{a:g}": e for (c, a), e in cells.items()}}, indent=1, default=str) + "\n")
    figures(cells, results)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
