"""The findings of Turpault, Serizel, Vincent (ICASSP 2020, section 5) as paired contrasts of grid cells.

The paper reads its Tables 2 and 3 as: on WAA, training and testing on 1 s is best for every method; testing
on 200 ms, training on 1 s does at least as well as training on 200 ms; on the 200 ms dataset, training on
longer (weakly labelled) segments hurts the embedding methods far more than the end-to-end classifier; and
10 s segments make the embedding methods unreliable. This module reads the ``table.json`` that
``wlbench experiment`` writes for a turpault2020 grid and gives, per contrast and metric, the mean of the
per-seed differences ``a - b`` (paired by seed) with its 95 % Student-t half-width. A finding *holds* when
the interval lies above 0, is *reversed* when it lies below, and is *not resolved* otherwise.

    python -m baselines.turpault2020.findings TABLE_JSON [TABLE_JSON ...] > findings.md

A cell is written ``method train/test``, e.g. ``triplet 1s/200ms``: trained on 1 s segments, tested on the
200 ms segment view.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from wlbench.methods.experiments import contrast_text

METHODS = ("turpault-classifier", "turpault-triplet", "turpault-protonet")
SEGMENTS = ("200ms", "1s", "10s")
Cell = tuple[str, str, str, str]  # dataset, method, train segment, test segment


def seed_values(table: dict, metric: str) -> dict[Cell, dict[int, float]]:
    """``{(dataset, method, train, test): {seed: value}}`` of every cell, and ``(dataset, method + " (control)",
    train, test)`` for each control of a cell (``turpault-triplet (untrained)``, ``prior (prior)``)."""
    out: dict[Cell, dict[int, float]] = {}
    for cell in table["cells"]:
        train = cell["axes"].get("train_segment", "")
        for test, res in cell["results"][metric].items():
            out[(cell["dataset"], cell["method"], train, test)] = {int(s): v for s, v in res["seeds"].items()}
            for name, control in res["controls"].items():
                owner = "prior" if name == "prior" else cell["method"]
                out[(cell["dataset"], f"{owner} ({name})", train, test)] = \
                    {int(s): v for s, v in control["seeds"].items()}
    return out


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


def render(tables: Sequence[dict]) -> str:
    """Markdown: one row per contrast and metric, the paired difference in points (%) and the verdict."""
    lines = ["| dataset | finding | metric | a - b (points, 95 % t over seeds) | verdict |",
             "|---|---|---|---|---|"]
    for table in tables:
        datasets = list(dict.fromkeys(c["dataset"] for c in table["cells"]))
        for metric in table["metrics"]:
            values = seed_values(table, metric)
            for dataset in datasets:
                for finding, a, b in contrasts(dataset):
                    if a not in values or b not in values:
                        continue
                    text, verdict = contrast_text(values[a], values[b])
                    lines.append(f"| {dataset} | {finding} | {metric} | {text} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m baselines.turpault2020.findings TABLE_JSON [TABLE_JSON ...]", file=sys.stderr)
        return 2
    sys.stdout.write(render([json.loads(Path(p).read_text(encoding="utf-8")) for p in argv]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
