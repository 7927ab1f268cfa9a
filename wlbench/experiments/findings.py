"""Headroom contrasts and claims of a grid: declared in the grid file, judged with Holm's correction.

A benchmark can only test a method's claim where the condition the claim is about costs something
measurable. A grid therefore declares two kinds of paired contrasts between *arms* (a method with config
overrides on top of the grid's config, one run per seed):

``[[headroom]]`` -- a sensitivity contrast: ``better`` should beat ``worse`` if the benchmark can measure the
condition at all (the true labels vs a missing-label view, no domain gap vs the gap, a trained trunk vs an
untrained one, an oracle vs the baseline on the view)::

    [[headroom]]
    name = "missing-20 costs the baseline"
    method = "fonseca-masking"                 # optional when the grid has one method
    better = { labels = "true", discard_percent = 0.0 }
    worse = { discard_percent = 0.0 }          # an arm may name another method ({ method = "prior" }) or
                                               # another dataset of the grid ({ dataset = "nogap" })
    metric = "map"                             # default: the grid's first metric
    segment = "clip"                           # default: the grid's first test segment
    dataset = "missing-labels"                 # default: every dataset of the grid (one contrast each)

An arm's overrides go over the grid's ``[config]`` for its method; they must set every grid axis the method
declares (an axis left out would silently take the method's default), and the two arms of a contrast must
not be the same runs.

``[[claims]]`` -- a paper's claim ``a > b``, with the headroom contrasts it presupposes (declared for the
claim's datasets)::

    [[claims]]
    name = "masking 8 % beats p = 0 (tr_large)"
    a = { discard_percent = 8.0 }
    b = { discard_percent = 0.0 }
    requires = ["missing-20 costs the baseline"]

Verdicts (each table is one family, Holm-corrected at alpha 0.05 over the contrasts it tests; the paired
t-test is over the seeds both arms have):

- headroom: ``resolved`` (better > worse), ``reversed`` (the condition helps), ``not resolved``,
  ``too few seeds``;
- claims: ``no headroom`` when a presupposed headroom contrast (same dataset) is not ``resolved``;
  ``below controls`` when an arm does not beat its lower controls (its cell's, or the prior's) by its
  interval -- never holds / reversed between such arms; ``too few seeds`` with fewer than
  :data:`MIN_CLAIM_SEEDS` paired seeds (the project's standard for a claim; the difference and its
  seeds are still shown); otherwise ``holds``, ``reversed`` or ``not resolved``. Claims not
  tested are not part of the family. Headroom contrasts are tested from two seeds on: they check that a
  grid can measure at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.experiments.statistics import ALPHA, holm, paired_difference, paired_p_value

HEADROOM = "headroom"
CLAIMS = "claims"
MIN_CLAIM_SEEDS = 5
_KEYS = {HEADROOM: {"name", "method", "better", "worse", "metric", "segment", "dataset", "note"},
         CLAIMS: {"name", "method", "a", "b", "requires", "metric", "segment", "dataset", "note"}}
_SIDES = {HEADROOM: ("better", "worse"), CLAIMS: ("a", "b")}


@dataclasses.dataclass(frozen=True)
class Arm:
    """One side of a contrast: ``method`` trained with ``overrides`` over the grid's config for it."""

    method: str
    overrides: dict[str, Any]
    dataset: str | None = None  # another dataset of the grid than the contrast's (e.g. the no-gap control)

    @property
    def label(self) -> str:
        from wlbench.methods.config import plain

        text = ", ".join([f"{k}={plain(v).strip(chr(34))}" for k, v in self.overrides.items()]
                         + ([f"on {self.dataset}"] if self.dataset else []))
        return f"{self.method}" + (f" ({text})" if text else "")


@dataclasses.dataclass(frozen=True)
class Contrast:
    """A declared headroom contrast or claim (``kind``); ``first`` should beat ``second``."""

    kind: str
    name: str
    first: Arm
    second: Arm
    metric: str
    segment: str
    datasets: tuple[str, ...]
    requires: tuple[str, ...] = ()
    note: str = ""


def parse_contrasts(path: Path, spec: Mapping[str, Any], *, methods: Sequence[str], metrics: Sequence[str],
                    segments: Sequence[str], datasets: Sequence[str]) -> tuple[tuple[Contrast, ...], tuple[Contrast, ...]]:
    """The ``[[headroom]]`` and ``[[claims]]`` tables of a grid file, checked (unknown keys, names unique,
    metrics / segments / datasets / required headroom known); config keys of the arms are checked by the
    caller against each method's schema."""
    from wlbench.methods.runs import segment_key

    out: dict[str, list[Contrast]] = {HEADROOM: [], CLAIMS: []}
    names: set[str] = set()
    for kind in (HEADROOM, CLAIMS):
        tables = spec.get(kind, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise WlbenchError(f"{path}: [[{kind}]] must be an array of tables", hint=f"write [[{kind}]] per contrast")
        for i, t in enumerate(tables, 1):
            where = f"{path}: [[{kind}]] #{i}"
            unknown = sorted(set(t) - _KEYS[kind])
            if unknown:
                raise WlbenchError(f"{where}: unknown key(s) {unknown}", hint=f"keys are {sorted(_KEYS[kind])}")
            name = t.get("name")
            if not isinstance(name, str) or not name.strip():
                raise WlbenchError(f"{where}: needs a name")
            if name in names:
                raise WlbenchError(f"{where}: the name {name!r} is used twice", hint="give every contrast its own name")
            names.add(name)
            method = t.get("method", methods[0] if len(methods) == 1 else None)
            if method is None:
                raise WlbenchError(f"{where} ({name!r}): the grid has several methods; name the method")
            arms = []
            for side in _SIDES[kind]:
                table = t.get(side)
                if not isinstance(table, dict):
                    raise WlbenchError(f"{where} ({name!r}): needs a table {side!r} of config overrides",
                                       hint=f"e.g. {side} = {{ labels = \"true\" }}")
                table = dict(table)
                arm_dataset = table.pop("dataset", None)
                if arm_dataset is not None and arm_dataset not in datasets:
                    raise WlbenchError(f"{where} ({name!r}): {side}.dataset {arm_dataset!r} is not a dataset of the "
                                       f"grid {list(datasets)}")
                arms.append(Arm(str(table.pop("method", method)), table, arm_dataset))
            metric = t.get("metric", metrics[0])
            if metric not in metrics:
                raise WlbenchError(f"{where} ({name!r}): metric {metric!r} is not one of the grid's metrics {list(metrics)}")
            segment = segment_key(t.get("segment", segments[0]))
            if segment not in segments:
                raise WlbenchError(f"{where} ({name!r}): segment {segment!r} is not a test segment of the grid "
                                   f"{list(segments)}")
            ds = t.get("dataset", list(datasets))
            ds = [ds] if isinstance(ds, str) else ds
            if not isinstance(ds, list) or not ds or any(d not in datasets for d in ds):
                raise WlbenchError(f"{where} ({name!r}): dataset {ds!r} is not a dataset of the grid {list(datasets)}")
            requires = t.get("requires", [])
            if kind == CLAIMS:
                declared = {c.name: c for c in out[HEADROOM]}
                if not isinstance(requires, list):
                    raise WlbenchError(f"{where} ({name!r}): requires must be a list of [[headroom]] names",
                                       hint=f'e.g. requires = ["{next(iter(declared), "...")}"]')
                for r in requires:
                    if r not in declared:
                        raise WlbenchError(f"{where} ({name!r}): requires {r!r}, which is not a [[headroom]] name "
                                           f"(declared before this claim)", hint=f"headroom contrasts: {list(declared)}")
                    missing = [d for d in ds if d not in declared[r].datasets]
                    if missing:
                        raise WlbenchError(f"{where} ({name!r}): covers dataset(s) {missing} but requires {r!r}, "
                                           f"declared for {list(declared[r].datasets)} only",
                                           hint="give the claim the same dataset = ..., or declare the headroom "
                                                "for those datasets too")
            out[kind].append(Contrast(kind, name, arms[0], arms[1], metric, segment, tuple(ds), tuple(requires),
                                      str(t.get("note", ""))))
    return tuple(out[HEADROOM]), tuple(out[CLAIMS])


def judge(rows: list[dict[str, Any]], *, headroom: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Add ``diff`` (mean, half-width), ``p``, ``p_holm`` and ``verdict`` to each row of one family.

    A row holds ``kind``, ``name``, ``dataset``, ``first`` / ``second`` (``{seed: value}``) and, for claims,
    ``requires`` and ``first_learned`` / ``second_learned`` (True / False / None: not known). ``headroom``:
    the judged headroom rows the claims' ``requires`` refer to."""
    status = {(h["name"], h["dataset"]): h["verdict"] for h in headroom}
    tested = []
    for row in rows:
        row["diff"] = paired_difference(row["first"], row["second"])
        row["p"] = paired_p_value(row["first"], row["second"])
        row["p_holm"] = None
        missing = [r for r in row.get("requires", ()) if status.get((r, row["dataset"])) != "resolved"]
        if row["kind"] == CLAIMS and missing:
            row["verdict"] = "no headroom"
            row["why"] = "; ".join(f"{r}: {status.get((r, row['dataset']), 'not run')}" for r in missing)
        elif row["kind"] == CLAIMS and False in (row.get("first_learned"), row.get("second_learned")):
            row["verdict"] = "below controls"
            row["why"] = "an arm does not beat its lower controls"
        elif row["p"] is None:
            row["verdict"] = "too few seeds"
        elif row["kind"] == CLAIMS and len(set(row["first"]) & set(row["second"])) < MIN_CLAIM_SEEDS:
            row["verdict"] = "too few seeds"
            row["why"] = f"{len(set(row['first']) & set(row['second']))} paired seeds; a claim needs {MIN_CLAIM_SEEDS}"
        else:
            tested.append(row)
    for row, p in zip(tested, holm([r["p"] for r in tested])):
        row["p_holm"] = p
        mean = row["diff"][0]
        if p is not None and p < ALPHA:  # a tested row always has its p-value
            better, worse = ("resolved", "reversed") if row["kind"] == HEADROOM else ("holds", "reversed")
            row["verdict"] = better if mean > 0 else worse
        else:
            row["verdict"] = "not resolved"
    for row in rows:
        row["family"] = len(tested)
    return rows


def pct(diff: tuple[float, float] | None) -> str:
    """A judged row's paired difference as ``"+12.3 ±4.5"`` (points of %), ``-`` without one."""
    return "-" if diff is None else f"{100 * diff[0]:+.1f} ±{100 * diff[1]:.1f}"


def p_text(row: dict[str, Any]) -> str:
    """A judged row's Holm-adjusted p-value (``-`` when it was not tested)."""
    return _p(row.get("p_holm"))


def findings_table(headroom: Sequence[dict[str, Any]], claims: Sequence[dict[str, Any]],
                   columns: Sequence[tuple[str, str]]) -> str:
    """Markdown for a findings module: the families sentence, then one table of the judged headroom rows and
    claims, the row keys ``columns`` ((header, key) pairs) first, then a - b, the Holm-adjusted p-value and
    the verdict (``no runs`` where an arm has no finished run)."""
    lines = [families_text(headroom, claims), "",
             "| " + " | ".join(h for h, _ in columns) + " | a - b (points, 95 % t over seeds) | p (Holm) | verdict |",
             "|" + "---|" * (len(columns) + 3)]
    for row in [*headroom, *claims]:
        verdict = row["verdict"] if row["first"] and row["second"] else "no runs"
        lines.append("| " + " | ".join(str(row[k]) for _, k in columns)
                     + f" | {pct(row['diff'])} | {p_text(row)} | {verdict} |")
    return "\n".join(lines) + "\n"


def families_text(headroom: Sequence[dict[str, Any]], claims: Sequence[dict[str, Any]]) -> str:
    """One sentence stating the two Holm families of a findings table."""
    h = headroom[0]["family"] if headroom else 0
    c = claims[0]["family"] if claims else 0
    return (f"p: paired t-test over seeds, Holm-corrected at 0.05 within each family: the {h} headroom "
            f"contrast(s) with >= 2 seeds, and the {c} claim(s) tested (a claim whose headroom is not resolved "
            f"reads `no headroom`; one with an arm that does not beat its lower controls `below controls`; "
            f"neither is tested).")


def _mean(values: Mapping[int, float]) -> str:
    return "-" if not values else f"{100 * sum(values.values()) / len(values):.1f}"


def _p(p: float | None) -> str:
    return "-" if p is None else (f"{p:.3f}" if p >= 0.001 else f"{p:.0e}")


def render(headroom: Sequence[dict[str, Any]], claims: Sequence[dict[str, Any]]) -> str:
    """Markdown: the headroom table first, then the claims, each with its family stated."""
    lines: list[str] = []
    if headroom:
        n = headroom[0]["family"]
        lines += ["## Headroom: can the grid measure the conditions?", "",
                  f"Paired by seed, 95 % t-interval of better - worse in points of %; p: paired t-test, Holm-"
                  f"corrected over the family of the {n} headroom contrast(s) of this table that have >= 2 seeds. "
                  "A claim that presupposes a contrast that is not `resolved` reads `no headroom`.", "",
                  "| Headroom contrast | Dataset | Metric (test) | Better | Worse | Better - worse | p (Holm) | Verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in headroom:
            lines.append(f"| {r['name']} | {r['dataset']} | {r['metric']} ({r['segment']}) | {r['first_label']} "
                         f"{_mean(r['first'])} | {r['second_label']} {_mean(r['second'])} | {pct(r['diff'])} | "
                         f"{_p(r['p_holm'] if r['p_holm'] is not None else r['p'])} | **{r['verdict']}** |")
        lines.append("")
    if claims:
        n = claims[0]["family"]
        lines += ["## Claims", "",
                  f"a - b paired by seed (points of %); p: paired t-test, Holm-corrected over the family of the {n} "
                  "claim(s) of this table that were tested (claims without headroom or with an arm below its "
                  "controls are not tested).", "",
                  "| Claim | Dataset | Metric (test) | a | b | a - b | p (Holm) | Verdict |", "|---|---|---|---|---|---|---|---|"]
        for r in claims:
            why = f" ({r['why']})" if r.get("why") else ""
            if not r["first"] or not r["second"]:
                r = {**r, "verdict": "no runs"}
                why = ""
            lines.append(f"| {r['name']} | {r['dataset']} | {r['metric']} ({r['segment']}) | {r['first_label']} "
                         f"{_mean(r['first'])} | {r['second_label']} {_mean(r['second'])} | {pct(r['diff'])} | "
                         f"{_p(r['p_holm'])} | **{r['verdict']}**{why} |")
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")
