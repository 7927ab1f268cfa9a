"""What the Park et al. (DCASE 2019) grids say: the paper's claims as paired contrasts, and what
pseudo-labelling did, measured against the truth the store keeps.

    python -m wlbench_baselines.park2019.findings OUT [--figure rows.png] > findings.md

``OUT`` is the ``--out`` of ``wlbench experiment`` for ``park2019.toml`` (and, when run, its no-gap control
``park2019-nogap.toml``): the tables are read from ``OUT/<grid name>/table.json``, the pseudo-label counts
from each tri-training run's ``summary.json`` and ``audit.jsonl`` under ``OUT/runs/``.

Contrasts are read ``a - b`` with the mean of the per-seed differences, its 95 % Student-t half-width and a
paired t-test, judged by :func:`wlbench.experiments.findings.judge` (headroom first: the baseline beats the prior,
the gap costs the baseline; Holm-corrected within each family; claims between cells that do not beat the
prior read ``below controls``; :func:`judged_claims` says which claim presupposes which headroom). The
gain of an adversarial row on the gap dataset and on its no-gap control is paired by seed number (same seed,
same clips and batches; only the acoustics of the synthetic domain differ).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.experiments.findings import CLAIMS, HEADROOM, findings_table, judge
from wlbench.experiments.statistics import t_interval

GRIDS = ("park2019", "park2019-nogap", "park2019-tau")
# the tri-training grids whose claims are judged in their own table.md: v3 (at most 40 epochs per phase) and
# v4 (park2019-converged: at most 100)
TRI_GRIDS = ("park2019-tri", "park2019-converged")
STRICT = 0.9  # the agreement threshold of park2019-tau.toml
BASELINE, ADV_WHOLE, ADV_TIME = "park-baseline", "park-adv-whole", "park-adv-time"
TRI, ADV_WHOLE_TRI, ADV_TIME_TRI = "park-tri", "park-adv-whole-tri", "park-adv-time-tri"
ROWS = (BASELINE, ADV_WHOLE, ADV_TIME, TRI, ADV_WHOLE_TRI, ADV_TIME_TRI)
NO_PSEUDO = "no-pseudo"
# the audit rows of a tri-training run: (audit name, what it labels)
PSEUDO_AUDITS = (("pseudo-clip-U", "U, clip level"), ("pseudo-frame-W", "W, frame level"),
                 ("pseudo-frame-U", "U, frame level"))
Key = tuple[str, str]  # dataset, method (or "method (control)")


def cell_name(cell: dict[str, Any]) -> str:
    """``method``, or ``method [key=value]`` for a cell on an axis (``park-tri [pseudo_threshold=0.9]``)."""
    return cell["method"] + (f" [{cell['label']}]" if cell.get("axes") else "")


def not_learned(table: dict[str, Any], metric: str) -> set[Key]:
    """The cells whose ``metric`` does not beat the class prior by its interval (their contrasts are not
    findings)."""
    out = set()
    for cell in table["cells"]:
        res = cell["results"].get(metric, {}).get("clip")
        if res is not None and res.get("verdicts", {}).get("prior") == "not learned":
            out.add((cell["dataset"], cell_name(cell)))
    return out


def seed_values(table: dict[str, Any], metric: str) -> dict[Key, dict[int, float]]:
    """``{(dataset, method): {seed: value}}`` of every cell on whole clips, and ``(dataset, "method
    (control)")`` for each of its controls (``park-tri (no-pseudo)``, ``prior (prior)``)."""
    out: dict[Key, dict[int, float]] = {}
    for cell in table["cells"]:
        res = cell["results"].get(metric, {}).get("clip")
        if res is None:
            continue
        out[(cell["dataset"], cell_name(cell))] = {int(s): v for s, v in res["seeds"].items() if v is not None}
        for name, control in res["controls"].items():
            # a control is keyed by its owner's method, not the cell: park2019-tau's no-pseudo runs repeat the
            # main grid's (the threshold is unused without pseudo-labels) and wrote the same predictions
            owner = "prior" if name == "prior" else cell["method"]
            out[(cell["dataset"], f"{owner} ({name})")] = \
                {int(s): v for s, v in control["seeds"].items() if v is not None}
    return out


Side = tuple[str, str, str | None]  # dataset, method a, method b (None: the level of a, not a - b)


def side_values(values: dict[Key, dict[int, float]], side: Side) -> dict[int, float]:
    """Per-seed level of a method, or its difference to another on the same dataset (seeds both have)."""
    dataset, a, b = side
    va = values.get((dataset, a), {})
    if b is None:
        return dict(va)
    vb = values.get((dataset, b), {})
    return {s: va[s] - vb[s] for s in sorted(set(va) & set(vb))}


def claims(gap: str, nogap: str | None) -> list[tuple[str, Side, Side | None]]:
    """``(claim, first, second)``: the claim is ``first - second > 0`` per seed (``second`` None: > 0)."""
    rows: list[tuple[str, Side, Side | None]] = [
        ("Adv.whole beats the baseline", (gap, ADV_WHOLE, BASELINE), None),
        ("Adv.time beats the baseline", (gap, ADV_TIME, BASELINE), None),
        ("Adv.time beats Adv.whole", (gap, ADV_TIME, ADV_WHOLE), None),
        ("Tri-training beats the baseline", (gap, TRI, BASELINE), None),
        ("Adv.whole + Tri beats Adv.whole", (gap, ADV_WHOLE_TRI, ADV_WHOLE), None),
        ("Adv.time + Tri beats Adv.time", (gap, ADV_TIME_TRI, ADV_TIME), None),
        ("Adv.time + Tri beats Tri-training", (gap, ADV_TIME_TRI, TRI), None),
        ("Adv.time + Tri beats the baseline (the paper's best row)", (gap, ADV_TIME_TRI, BASELINE), None),
    ]
    for row in (TRI, ADV_WHOLE_TRI, ADV_TIME_TRI):
        rows.append((f"pseudo-labels help: {row} - the same two phases without them",
                     (gap, row, f"{row} ({NO_PSEUDO})"), None))
    strict = f"{TRI} [pseudo_threshold={STRICT}]"
    rows.append((f"stricter agreement helps: tri-training at tau {STRICT} - at 0.5", (gap, strict, TRI), None))
    rows.append((f"pseudo-labels at tau {STRICT} help: {strict} - the same two phases without them",
                 (gap, strict, f"{TRI} ({NO_PSEUDO})"), None))
    if nogap is not None:
        rows.append(("the gap costs the baseline: no gap - gap", (nogap, BASELINE, None), (gap, BASELINE, None)))
        for row, name in ((ADV_WHOLE, "Adv.whole"), (ADV_TIME, "Adv.time")):
            rows.append((f"{name} beats the baseline without the gap", (nogap, row, BASELINE), None))
            rows.append((f"{name}'s gain shrinks without the gap: gain(gap) - gain(no gap)", (gap, row, BASELINE),
                         (nogap, row, BASELINE)))
    return rows


HEADROOM_BASELINE = "the baseline beats the prior detector"
HEADROOM_GAP = "the gap costs the baseline: no gap - gap"
# the claims that adaptation helps *with the gap* presuppose that the gap costs something
NEED_GAP = {"Adv.whole beats the baseline", "Adv.time beats the baseline", "Adv.time beats Adv.whole",
            "Adv.time + Tri beats Tri-training"}


def judged_claims(tables: dict[str, dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """(headroom rows, claim rows) of every metric, judged by :func:`wlbench.experiments.findings.judge` (Holm
    within each family). Headroom: the baseline beats the prior; the gap costs the baseline (with the no-gap
    grid). A claim about adversarial adaptation presupposes both (same metric), every other claim the first;
    a claim involving a cell that does not beat the prior reads ``below controls``."""
    gap_table = tables["park2019"]
    gap = gap_table["cells"][0]["dataset"]
    nogap = tables["park2019-nogap"]["cells"][0]["dataset"] if "park2019-nogap" in tables else None
    headroom, rows = [], []
    for metric in gap_table["metrics"]:
        values: dict[Key, dict[int, float]] = {}
        unlearned: set[Key] = set()
        for table in tables.values():
            values.update(seed_values(table, metric))
            unlearned |= not_learned(table, metric)
        base = {"kind": HEADROOM, "metric": metric, "dataset": gap, "claim": HEADROOM_BASELINE,
                "name": f"{HEADROOM_BASELINE} [{metric}]", "first": side_values(values, (gap, BASELINE, None)),
                "second": side_values(values, (gap, "prior (prior)", None))}
        headroom.append(base)
        for claim, first, second in claims(gap, nogap):
            a = side_values(values, first)
            b = side_values(values, second) if second is not None else {s: 0.0 for s in a}
            learned = [not any((side[0], m) in unlearned for m in side[1:] if m) if side else True
                       for side in (first, second)]
            row = {"metric": metric, "dataset": gap, "claim": claim, "name": f"{claim} [{metric}]", "first": a,
                   "second": b, "first_learned": learned[0], "second_learned": learned[1]}
            if claim == HEADROOM_GAP:
                headroom.append({**row, "kind": HEADROOM})
                continue
            needs = [f"{HEADROOM_BASELINE} [{metric}]"] + ([f"{HEADROOM_GAP} [{metric}]"] if claim in NEED_GAP else [])
            rows.append({**row, "kind": CLAIMS, "requires": needs})
    headroom = judge(headroom)
    return headroom, judge(rows, headroom=headroom)


def render_claims(tables: dict[str, dict[str, Any]]) -> str:
    """Markdown: the headroom rows, then every claim and metric the tables can answer, with the paired
    difference, the Holm-adjusted p-value and the verdict."""
    headroom, rows = judged_claims(tables)
    return findings_table(headroom, rows, (("claim", "claim"), ("metric", "metric")))


def pseudo_label_rows(out: Path, dataset: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{method: {audit name: [audit row per seed]}}`` of the tri-training runs of ``dataset`` under
    ``out/runs`` (finished runs only; the no-pseudo controls make pseudo-labels too, but do not use them)."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for method in (TRI, ADV_WHOLE_TRI, ADV_TIME_TRI):
        for cell_dir in sorted(p for p in (out / "runs" / dataset / method).glob("*") if p.is_dir()
                               and not p.name.startswith("control-")):
            # the folder of a cell on one axis is "key-value": named like its table cell, "method [key=value]"
            name = method if cell_dir.name == "default" else f"{method} [{cell_dir.name.replace('-', '=', 1)}]"
            for run in sorted(cell_dir.glob("seed-*")):
                audit = run / "audit.jsonl"
                if not (run / "summary.json").is_file() or not audit.is_file():
                    continue
                for line in audit.read_text(encoding="utf-8").splitlines():
                    row = json.loads(line)
                    found.setdefault(name, {}).setdefault(row["audit"], []).append(row)
    return found


def _mean_ci(values: Sequence[float | None], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    ti = t_interval(values)
    return f"{float(np.mean(values)):.{digits}f}" + (f" ±{ti[1]:.{digits}f}" if ti is not None else "")


@dataclasses.dataclass(frozen=True)
class RoleTruth:
    """Of one role of the train split (W or U): its clips, its truly positive (clip, class) pairs, and the
    dataset's feature frame rate (frames per second)."""

    clips: int
    positive_pairs: int
    frame_rate: float


def role_truth(out: Path, dataset: str) -> dict[str, RoleTruth]:
    """``{"W": ..., "U": ...}`` read from the dataset file the runs of ``dataset`` trained on ({} if gone)."""
    from wlbench.dataset.reader import open_dataset

    for summary in sorted((out / "runs" / dataset).glob("*/default/seed-*/summary.json")):
        path = Path(json.loads(summary.read_text(encoding="utf-8"))["dataset"]["path"])
        if not path.is_file():
            continue
        with open_dataset(path) as ds:
            train = ds.split("train")
            roles, weak = train.roles(), train.weak_labels()
            return {short: RoleTruth(int((roles == train.role_names.index(role)).sum()),
                                     int(weak[roles == train.role_names.index(role)].sum()), float(train.frame_rate))
                    for short, role in (("W", "weak"), ("U", "unlabeled")) if role in train.role_names}
    return {}


def base_rate(row: dict[str, Any], truth: dict[str, RoleTruth]) -> float | None:
    """The precision of labelling at random. U's clip level: the share of true positives among all (clip,
    class) entries. Frame level: the share of active windows among the windows of the role's truly positive
    (clip, class) pairs (a labeller that knows the clip labels and places frames at random), since frame
    pseudo-labels are only given inside positive clip labels."""
    if "n_clips" in row:
        entries = row["n_clips"] * len(row["per_class"]["true"])
        return row["true"] / entries if entries else None
    role = truth.get(row["audit"].rsplit("-", 1)[-1])
    if role is None or not role.clips or not role.positive_pairs:
        return None
    return row["true"] / (role.positive_pairs * row["n_windows"] / role.clips)


def render_pseudo_labels(out: Path, dataset: str) -> str:
    """Markdown: per tri-training row and audit, positives per seed, their precision and recall against the
    truth, and the precision of labelling at random (:func:`base_rate`)."""
    rows = pseudo_label_rows(out, dataset)
    if not rows:
        return (f"No finished tri-training run under {out / 'runs'} (the audits live in the run folders: pass the "
                f"grid's --out, e.g. runs/park2019).\n")
    truth = role_truth(out, dataset)
    lines = ["| row | pseudo-labels | seeds | labels (positive or negative) | positives | precision | recall | "
             "base rate |", "|---|---|---|---|---|---|---|---|"]
    for method, audits in rows.items():
        for name, what in PSEUDO_AUDITS:
            got = audits.get(name, [])
            if not got:
                continue
            base = [base_rate(r, truth) for r in got]
            role = truth.get(name.rsplit("-", 1)[-1])
            if "window_frames" in got[0] and role is not None:
                what = f"{what} ({1000 * got[0]['window_frames'] / role.frame_rate:.0f} ms windows)"
            lines.append(f"| {method} | {what} | {len(got)} | {_mean_ci([r['n_pseudo'] for r in got], digits=0)} | "
                         f"{_mean_ci([r['predicted'] for r in got], digits=0)} | "
                         f"{_mean_ci([r['precision'] for r in got])} | {_mean_ci([r['recall'] for r in got])} | "
                         f"{_mean_ci(base)} |")
    return "\n".join(lines) + "\n"


# The paper's Table 1 (DCASE 2019 task 4 validation set): event-based, segment-based macro F1 (%)
PAPER = {BASELINE: (24.15, 57.70), ADV_WHOLE: (30.65, 59.06), ADV_TIME: (31.33, 59.26), TRI: (30.23, 62.86),
         ADV_WHOLE_TRI: (32.64, 60.48), ADV_TIME_TRI: (35.10, 60.67)}
FIGURE_METRICS = (("event_f1_macro", "event-based F1 (%)"), ("segment_f1_macro", "segment-based F1 (%)"),
                  ("psds1", "PSDS1 (%)"))


def plot_rows(tables: dict[str, dict[str, Any]], target: Path) -> Path:
    """One panel per detection metric: each row of Table 1 (mean and 95 % t interval over seeds) on the gap
    dataset and, where run, its no-gap control, with the rows' controls (prior, no-pseudo) as open marks."""
    from wlbench.plotting import pyplot, save_png

    plt = pyplot()
    fig, axes = plt.subplots(1, len(FIGURE_METRICS), figsize=(4.2 * len(FIGURE_METRICS), 3.6), sharey=True)
    grids = [("park2019", "gap", "tab:red", -0.17), ("park2019-nogap", "no gap", "tab:blue", 0.17)]
    for ax, (metric, label) in zip(axes, FIGURE_METRICS):
        for grid, name, color, shift in grids:
            if grid not in tables:
                continue
            values = seed_values(tables[grid], metric)
            dataset = tables[grid]["cells"][0]["dataset"]
            for y, row in enumerate(ROWS):
                seeds = list(values.get((dataset, row), {}).values())
                if not seeds:
                    continue
                ti = t_interval(seeds)
                ax.errorbar(100 * float(np.mean(seeds)), y + shift, xerr=None if ti is None else 100 * ti[1],
                            fmt="o", color=color, label=name if y == 0 else None, capsize=2)
                control = values.get((dataset, f"{row} ({NO_PSEUDO})"))
                if control:
                    ax.plot(100 * float(np.mean(list(control.values()))), y + shift, "s", mfc="none", color=color,
                            label=f"{NO_PSEUDO} ({name})" if row == TRI else None)
            prior = values.get((dataset, "prior (prior)"))
            if prior:
                ax.axvline(100 * float(np.mean(list(prior.values()))), color=color, ls=":", lw=1,
                           label=f"prior ({name})")
        if metric in ("event_f1_macro", "segment_f1_macro"):
            column = 0 if metric == "event_f1_macro" else 1
            ax.plot([PAPER[r][column] for r in ROWS], range(len(ROWS)), "x", color="black", label="paper")
        ax.set_yticks(range(len(ROWS)), [r.removeprefix("park-") for r in ROWS])
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle("Park et al. 2019, Table 1 on wlbench data (mean, 95 % t over seeds)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_png(fig, target)


PSEUDO_LABELS_INTRO = ("Positives: (clip, class) entries of U pseudo-labelled positive at clip level; (window, class) "
                       "entries of W and U at the model's frame rate. Precision and recall against the true labels "
                       "the store keeps (the method never reads them). Base rate: the precision of labelling at "
                       "random (clip level: the share of true positives among all entries; frame level: the share of "
                       "active windows inside the truly positive (clip, class) pairs, where frame pseudo-labels can "
                       "fall).\n\n")


def render_tri_grid(out: Path, grid: str, table: dict[str, Any]) -> str:
    """Markdown: the pseudo-label audits of the runs of a tri-training grid of :data:`TRI_GRIDS` (its claims
    are in its table.md)."""
    dataset = table["cells"][0]["dataset"]
    return (f"## Pseudo-labels of the tri-training runs on {dataset} ({grid}; mean ±95 % t over seeds)\n\n"
            f"The claims and their headroom are judged in {grid}/table.md. Phase 1 does not depend on the "
            f"threshold: the runs of one seed share it, and the controls (tau pinned to 0.5) make the 0.5 cell's "
            f"pseudo-labels, which no-pseudo leaves out of phase 2 and oracle-pseudo replaces by the truth.\n\n"
            + PSEUDO_LABELS_INTRO + render_pseudo_labels(out, dataset))


def render(out: Path) -> str:
    """Markdown findings of the grids under ``out``: the v1 grids (``park2019``, with its no-gap and threshold
    grids) as paired claims and pseudo-label audits; or, for a tri-training grid of :data:`TRI_GRIDS` (whose
    claims are judged in its own table.md; the first found), the pseudo-label audits of its runs."""
    tables = {}
    for grid in GRIDS:
        path = out / grid / "table.json"
        if path.is_file():
            tables[grid] = json.loads(path.read_text(encoding="utf-8"))
    tri = [out / grid / "table.json" for grid in TRI_GRIDS]
    if "park2019" not in tables:
        for grid, path in zip(TRI_GRIDS, tri):
            if path.is_file():
                return render_tri_grid(out, grid, json.loads(path.read_text(encoding="utf-8")))
        raise WlbenchError(f"neither {out / 'park2019' / 'table.json'} nor {' nor '.join(map(str, tri))} found",
                           hint=f"run `wlbench experiment baselines/experiments/park2019.toml --out {out}` (or "
                                f"park2019-tri.toml or park2019-converged.toml) first")
    gap = tables["park2019"]["cells"][0]["dataset"]
    return ("## Claims of Park et al. (2019) as paired contrasts\n\n"
            + "Per-seed differences a - b in points of %, paired by seed; headroom rows first. A claim involving a "
              "cell that does not beat the class prior on that metric reads `below controls`.\n\n"
            + render_claims(tables)
            + f"\n## Pseudo-labels of the tri-training rows on {gap} (mean ±95 % t over seeds)\n\n"
            + PSEUDO_LABELS_INTRO + render_pseudo_labels(out, gap))


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--figure"):
        print("usage: python -m wlbench_baselines.park2019.findings OUT [--figure PNG]   (OUT: the --out of "
              "`wlbench experiment`)", file=sys.stderr)
        return 2
    out = Path(argv[0])
    try:
        sys.stdout.write(render(out))
    except WlbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(argv) == 3:
        tables = {g: json.loads((out / g / "table.json").read_text(encoding="utf-8")) for g in GRIDS
                  if (out / g / "table.json").is_file()}
        plot_rows(tables, Path(argv[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
