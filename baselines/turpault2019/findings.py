"""The paper's findings as paired contrasts between cells of the experiment tables.

Each finding of Turpault et al. (2019, section 4.6) compares cells: "S2 beats S1", "the transformation beats
the nearest sample", "S4 is worst", "S3 collapses when labels are scarce", "the benefit of unlabeled data
saturates". This module reads the ``table.json`` files ``wlbench experiment`` writes and gives, per finding and
metric, the mean of the per-seed differences (paired by seed) with its 95 % Student-t half-width and a paired
t-test, judged by :func:`wlbench.experiments.findings.judge`: the "beats the untrained CNN" rows are the headroom
family, every other finding a claim ``a > b`` that presupposes the headroom of a's triplet strategy (same
metric); Holm-corrected within each family; a claim between cells either of which does not beat its lower
controls reads ``below controls``, never holds or reversed.

    python -m wlbench_baselines.turpault2019.findings TABLE2_JSON TABLE3_JSON > findings.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from wlbench.experiments.findings import CLAIMS, HEADROOM, findings_table, judge

TRIPLET = "turpault2019-triplet"
BUDGETS = ([1.0, 1.0], [1.0, 4.44], [1.0, 9.0])
RATIOS = ([1.5, 0.5], [1.0, 1.0], [0.75, 1.25], [0.5, 1.5])
Key = tuple[str, str | None, tuple[float, ...] | None]


def seed_values(table: dict, metric: str, segment: str = "clip"
                ) -> tuple[dict[Key, dict[int, float]], dict[Key, bool | None]]:
    """``{(method, strategy, budget): {seed: value}}`` of every cell, and ``(control name, None, None)`` for the
    controls (the same runs for every cell of a grid); and whether each cell beats its lower controls."""
    out: dict[Key, dict[int, float]] = {}
    learned: dict[Key, bool | None] = {}
    for cell in table["cells"]:
        res = cell["results"][metric][segment]
        budget = cell["axes"].get("triplets")
        key = (cell["method"], cell["axes"].get("strategy"), tuple(budget) if budget else None)
        out[key] = {int(s): v for s, v in res["seeds"].items()}
        learned[key] = res.get("learned")
        for name, control in res["controls"].items():
            out.setdefault((name, None, None), {int(s): v for s, v in control["seeds"].items()})
    return out, learned


def _t(strategy: str, budget: Sequence[float]) -> Key:
    return (TRIPLET, strategy, tuple(float(x) for x in budget))


def contrasts(table2: dict, table3: dict | None = None) -> list[tuple[str, str, str, Key, Key]]:
    """``(finding, metric, label, cell a, cell b)`` of every contrast, ``a - b``."""
    rows = []
    for metric in table2["metrics"]:
        for b in BUDGETS:
            name = f"[{b[0]:g}, {b[1]:g}]"
            rows += [("S2 beats S1 (labels help)", metric, name, _t("S2", b), _t("S1", b)),
                     ("S2 beats S3 (transformation beats nearest)", metric, name, _t("S2", b), _t("S3", b)),
                     ("S4 is worst: S2 - S4", metric, name, _t("S2", b), _t("S4", b)),
                     ("S4 is worst: S5 - S4", metric, name, _t("S5", b), _t("S4", b))]
        for s in ("S1", "S2", "S3", "S4", "S5"):
            more = f"adding unlabeled triplets helps ({s})"
            rows += [(more, metric, "[1, 4.44] - [1, 1]", _t(s, BUDGETS[1]), _t(s, BUDGETS[0])),
                     (more, metric, "[1, 9] - [1, 4.44]", _t(s, BUDGETS[2]), _t(s, BUDGETS[1])),
                     (f"beats the untrained CNN ({s})", metric, "[1, 1]", _t(s, BUDGETS[0]), ("untrained", None, None))]
        rows.append(("the baseline CRNN beats the log-mel classifier", metric, "-",
                     ("turpault2019-crnn", None, None), ("turpault2019-logmel", None, None)))
        if table3 is not None:
            for s in ("S2", "S3"):
                rows.append((f"scarce labels hurt ({s})", metric, "[1.5, 0.5] - [0.5, 1.5]", _t(s, RATIOS[0]),
                             _t(s, RATIOS[3])))
            for r in RATIOS:
                rows.append(("S2 beats S3 (Table 3)", metric, f"[{r[0]:g}, {r[1]:g}]", _t("S2", r), _t("S3", r)))
    return rows


def _headroom(strategy: str, metric: str) -> str:
    return f"beats the untrained CNN ({strategy}) [{metric}]"


def judged(table2: dict, table3: dict | None = None) -> tuple[list[dict], list[dict]]:
    """(headroom rows, claim rows) of every contrast, judged (Holm within each family)."""
    values = {m: seed_values(table2, m) for m in table2["metrics"]}
    values3 = {m: seed_values(table3, m) for m in table3["metrics"]} if table3 is not None else {}
    headroom, claims = [], []
    for finding, metric, label, a, b in contrasts(table2, table3):
        source, learned = values3[metric] if finding.startswith(("scarce", "S2 beats S3 (Table 3)")) else values[metric]
        if a not in source or b not in source:
            continue
        row = {"dataset": "-", "finding": finding, "metric": metric, "cells": label, "first": source[a],
               "second": source[b]}
        if finding.startswith("beats the untrained CNN"):
            headroom.append({**row, "kind": HEADROOM, "name": _headroom(a[1], metric)})
            continue
        needs = [_headroom(a[1], metric)] if a[0] == TRIPLET else []  # the side claimed better must learn
        claims.append({**row, "kind": CLAIMS, "name": f"{finding} {label} [{metric}]", "requires": needs,
                       "first_learned": learned.get(a), "second_learned": learned.get(b)})
    headroom = judge(headroom)
    return headroom, judge(claims, headroom=headroom)


def render(table2: dict, table3: dict | None = None) -> str:
    """Markdown: the headroom rows, then the claims: per contrast the paired difference in points (%), the
    Holm-adjusted p-value and the verdict."""
    headroom, claims = judged(table2, table3)
    return findings_table(headroom, claims, (("finding", "finding"), ("metric", "metric"), ("cells", "cells")))


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m wlbench_baselines.turpault2019.findings TABLE2_JSON [TABLE3_JSON]", file=sys.stderr)
        return 2
    tables = [json.loads(Path(p).read_text(encoding="utf-8")) for p in argv]
    sys.stdout.write(render(tables[0], tables[1] if len(tables) > 1 else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
