"""The findings of Turpault, Serizel, Vincent (ICASSP 2020, section 5) as paired contrasts of grid cells.

The paper reads its Tables 2 and 3 as: on WAA, training and testing on 1 s is best for every method; testing
on 200 ms, training on 1 s does at least as well as training on 200 ms; on the 200 ms dataset, training on
longer (weakly labelled) segments hurts the embedding methods far more than the end-to-end classifier; and
10 s segments make the embedding methods unreliable. This module reads the ``table.json`` that
``wlbench experiment`` writes for a turpault2020 grid and gives, per contrast and metric, the mean of the
per-seed differences ``a - b`` (paired by seed) with its 95 % Student-t half-width and a paired t-test,
judged by :func:`wlbench.experiments.findings.judge`: "trained E beats untrained E" rows are the headroom family,
every other finding a claim (Holm-corrected within each family; a finding about an embedding method
presupposes that its E learns at 1 s / 1 s on the same metric; a finding between cells either of which does
not beat its lower controls reads ``below controls``, never holds or reversed).

    python -m wlbench_baselines.turpault2020.findings TABLE_JSON [TABLE_JSON ...] > findings.md

A cell is written ``method train/test``, e.g. ``triplet 1s/200ms``: trained on 1 s segments, tested on the
200 ms segment view.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from wlbench.experiments.findings import CLAIMS, HEADROOM, findings_table, judge

METHODS = ("turpault-classifier", "turpault-triplet", "turpault-protonet")
SEGMENTS = ("200ms", "1s", "10s")
Cell = tuple[str, str, str, str]  # dataset, method, train segment, test segment


def seed_values(table: dict, metric: str) -> tuple[dict[Cell, dict[int, float]], dict[Cell, bool | None]]:
    """``{(dataset, method, train, test): {seed: value}}`` of every cell, and ``(dataset, method + " (control)",
    train, test)`` for each control of a cell (``turpault-triplet (untrained)``, ``prior (prior)``); and
    whether each cell beats its lower controls (``learned``; None for controls and unjudged cells)."""
    out: dict[Cell, dict[int, float]] = {}
    learned: dict[Cell, bool | None] = {}
    for cell in table["cells"]:
        train = cell["axes"].get("train_segment", "")
        for test, res in cell["results"][metric].items():
            key = (cell["dataset"], cell["method"], train, test)
            out[key] = {int(s): v for s, v in res["seeds"].items()}
            learned[key] = res.get("learned")
            for name, control in res["controls"].items():
                owner = "prior" if name == "prior" else cell["method"]
                out[(cell["dataset"], f"{owner} ({name})", train, test)] = \
                    {int(s): v for s, v in control["seeds"].items()}
    return out, learned


def contrasts(dataset: str) -> list[tuple[str, Cell, Cell]]:
    """``(finding, cell a, cell b)`` of every contrast of one dataset, read ``a - b``."""
    rows = []
    short = {m: m.removeprefix("turpault-") for m in METHODS}
    for m in METHODS:
        name = short[m]
        for train, test in (("200ms", "200ms"), ("10s", "10s"), ("200ms", "1s"), ("10s", "1s")):
            rows.append((f"1 s / 1 s is best ({name}): vs {train}/{test}", (dataset, m, "1s", "1s"),
                         (dataset, m, train, test)))
        rows.append((f"testing on 200 ms, training on 1 s does at least as well ({name})",
                     (dataset, m, "1s", "200ms"), (dataset, m, "200ms", "200ms")))
        rows.append((f"longer training segments hurt at 200 ms test ({name}): 200ms - 10s",
                     (dataset, m, "200ms", "200ms"), (dataset, m, "10s", "200ms")))
    for m in METHODS[1:]:
        name = short[m]
        rows.append((f"10 s hurts embeddings more than the classifier: classifier - {name}, 10s/10s",
                     (dataset, METHODS[0], "10s", "10s"), (dataset, m, "10s", "10s")))
        for seg in SEGMENTS:
            rows.append((f"trained E beats untrained E ({name}, {seg}/{seg})", (dataset, m, seg, seg),
                         (dataset, f"{m} (untrained)", seg, seg)))
    return rows


def _headroom_name(method: str, metric: str) -> str:
    return f"trained E beats untrained E ({method.removeprefix('turpault-')}, 1s/1s) [{metric}]"


def judged(tables: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(headroom rows, claim rows) of every contrast of every table, judged (Holm within each family)."""
    headroom, claims = [], []
    for table in tables:
        datasets = list(dict.fromkeys(c["dataset"] for c in table["cells"]))
        for metric in table["metrics"]:
            values, learned = seed_values(table, metric)
            for dataset in datasets:
                for finding, a, b in contrasts(dataset):
                    if a not in values or b not in values:
                        continue
                    row = {"dataset": dataset, "finding": finding, "metric": metric, "first": values[a],
                           "second": values[b]}
                    if finding.startswith("trained E beats untrained E"):
                        headroom.append({**row, "kind": HEADROOM, "name": _headroom_name(a[1], metric)
                                         if a[2:] == ("1s", "1s") else f"{finding} [{metric}]"})
                        continue
                    needs = [_headroom_name(m, metric) for m in {a[1], b[1]} if m in METHODS[1:]]
                    claims.append({**row, "kind": CLAIMS, "name": f"{finding} [{metric}]", "requires": needs,
                                   "first_learned": learned.get(a), "second_learned": learned.get(b)})
    headroom = judge(headroom)
    return headroom, judge(claims, headroom=headroom)


def render(tables: Sequence[dict]) -> str:
    """Markdown: the headroom rows, then the claims: per contrast and metric the paired difference in points
    (%), the Holm-adjusted p-value and the verdict."""
    headroom, claims = judged(tables)
    return findings_table(headroom, claims, (("dataset", "dataset"), ("finding", "finding"), ("metric", "metric")))


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m wlbench_baselines.turpault2020.findings TABLE_JSON [TABLE_JSON ...]", file=sys.stderr)
        return 2
    sys.stdout.write(render([json.loads(Path(p).read_text(encoding="utf-8")) for p in argv]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
