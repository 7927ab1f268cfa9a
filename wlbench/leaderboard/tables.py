"""Grouping entries into tables (one per split truth, task and metric settings), ranking them
by one metric, and marking ties: going down the ranking, a row whose interval overlaps the interval of the
first row of the current tie group joins that group and shares its rank (shown ``2=``); otherwise it starts
a new group. (Leader-based, so a long chain of overlapping neighbours does not tie first with last.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.leaderboard.entries import DEFAULT_METRIC, lower_is_better


@dataclass
class Row:
    entry: dict[str, Any]
    rank: int
    tied: bool
    tie_group: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    std: float | None
    n_runs: int


@dataclass
class Table:
    dataset: str
    split_truth_id: str
    spec_id: str
    split: str
    task: str
    settings_id: str
    metric: str
    metrics: list[str]
    rows: list[Row] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.dataset}-{self.split_truth_id[:12]}-{self.split}-{self.task}-{self.settings_id}"

    @property
    def title(self) -> str:
        return (f"{self.dataset} / {self.split} (truth {self.split_truth_id[:12]}) / {self.task}"
                + (f" / settings {self.settings_id}" if self.settings_id else ""))


def _overlap(a: Row, b: Row) -> bool:
    if None in (a.ci_low, a.ci_high, b.ci_low, b.ci_high):
        return a.value is not None and a.value == b.value
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


def rank_rows(entries: list[dict[str, Any]], metric: str) -> list[Row]:
    rows = []
    for e in entries:
        h = e["summary"]["headline"].get(metric, {})
        rows.append(Row(e, 0, False, 0, h.get("value"), h.get("ci_low"), h.get("ci_high"), h.get("std"),
                        h.get("n_runs", len(e["runs"]))))
    sign = 1.0 if lower_is_better(metric) else -1.0
    rows.sort(key=lambda r: (r.value is None, sign * (r.value or 0.0), r.entry["method"]["name"], r.entry["id"]))
    group, leader = 0, None
    for i, r in enumerate(rows):
        # a row is tied with the first row of the current group when their intervals overlap
        if leader is not None and leader.value is not None and r.value is not None and _overlap(leader, r):
            r.tie_group, r.rank = leader.tie_group, leader.rank
        else:
            group += 1
            r.tie_group, r.rank = group, i + 1
            leader = r
    sizes: dict[int, int] = {}
    for r in rows:
        sizes[r.tie_group] = sizes.get(r.tie_group, 0) + 1
    for r in rows:
        r.tied = sizes[r.tie_group] > 1
    return rows


def build_tables(entries: Iterable[dict[str, Any]], dataset: str | None = None,
                 metric: str | None = None) -> list[Table]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for e in entries:
        truth = e["dataset"]["split_truth_id"]
        if dataset is not None and dataset != e["dataset"]["name"] and not truth.startswith(dataset):
            continue
        key = (e["dataset"]["name"], e["task"], e["split"], truth, e.get("settings_id", ""))
        groups.setdefault(key, []).append(e)
    tables = []
    for (name, task, split, truth, sid), members in sorted(groups.items()):
        metrics: list[str] = []
        for e in members:
            metrics += [m for m in e["summary"]["headline"] if m not in metrics]
        m = metric or DEFAULT_METRIC.get(task, metrics[0] if metrics else "")
        if metric is not None and metric not in metrics:
            continue
        t = Table(name, truth, members[0]["dataset"].get("spec_id", ""), split, task, sid, m, metrics)
        t.rows = rank_rows(members, m)
        tables.append(t)
    if metric is not None and not tables and groups:
        raise WlbenchError(f"no table has metric {metric!r}",
                           hint="metrics are e.g. map, lwlrap, f1_macro, event_f1_macro, centroid_accuracy_macro")
    return tables


def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def cell(row_or_h: Any, digits: int = 3) -> str:
    """``value [lo, hi]`` and ``+-std`` when several runs were averaged."""
    if isinstance(row_or_h, Row):
        v, lo, hi, sd, n = row_or_h.value, row_or_h.ci_low, row_or_h.ci_high, row_or_h.std, row_or_h.n_runs
    else:
        h = row_or_h or {}
        v, lo, hi, sd, n = h.get("value"), h.get("ci_low"), h.get("ci_high"), h.get("std"), h.get("n_runs", 1)
    if v is None:
        return "-"
    s = fmt(v, digits)
    if n and n > 1 and sd is not None:
        s += f" ±{fmt(sd, digits)}"
    if lo is not None and hi is not None:
        s += f" [{fmt(lo, digits)}, {fmt(hi, digits)}]"
    return s


def rank_label(r: Row) -> str:
    return f"{r.rank}=" if r.tied else str(r.rank)


def render_text(tables: list[Table]) -> str:
    if not tables:
        return "the leaderboard has no entries (add one with 'wlbench leaderboard submit')"
    out = []
    for t in tables:
        ci = t.rows[0].entry["settings"].get("ci", 0.95) if t.rows else 0.95
        out.append(f"== {t.title}")
        out.append(f"   ranked by {t.metric} ({'lower' if lower_is_better(t.metric) else 'higher'} is better); "
                   f"{int(round(100 * ci))}% bootstrap intervals; '=' marks ranks tied within intervals")
        width = max([len(r.entry["method"]["name"]) + len(r.entry["method"].get("version") or "") + 1
                     for r in t.rows] + [6])
        out.append(f"   {'rank':<5} {'method':<{width}}  {'runs':>4}  {t.metric}")
        for r in t.rows:
            m = r.entry["method"]
            label = m["name"] + (f" {m['version']}" if m.get("version") else "")
            out.append(f"   {rank_label(r):<5} {label:<{width}}  {r.n_runs:>4}  {cell(r)}")
        out.append("")
    return "\n".join(out).rstrip()


def show_board(board_dir: Path, dataset: str | None = None, metric: str | None = None) -> str:
    """The ranked terminal tables of a board."""
    from wlbench.leaderboard.board import load_entries

    entries = load_entries(board_dir)
    tables = build_tables(entries, dataset, metric)
    if dataset is not None and entries and not tables:
        names = sorted({e["dataset"]["name"] for e in entries})
        raise WlbenchError(f"--dataset {dataset!r}: no entry of the board ({len(entries)} entries) is on a dataset "
                           f"of that name or content id prefix; its datasets: {', '.join(names)}",
                           hint="give one of those names, or leave --dataset out")
    return render_text(tables)
