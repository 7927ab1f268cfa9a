"""Grouping entries into tables (one per dataset, split truth, task, metric settings and test condition),
ranking them by one metric, and marking ties: going down the ranking, a row whose interval overlaps the
interval of the first row of the current tie group joins that group and shares its rank (shown ``2=``);
otherwise it starts a new group. (Leader-based, so a long chain of overlapping neighbours does not tie first
with last.)

A table is titled by what it holds: dataset name, scale, clip count, split, task and test condition (the
segment the predictions were made on, ``whole clips`` when none is declared or the segment is as long as
the clip); hashes stay in its details.
Detection tables also hold ``frame_scores`` entries (their PSDS columns; event lists have none).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.leaderboard.entries import DEFAULT_METRIC, lower_is_better

# tasks ranked in one table: threshold-free frame scores beside the event lists they are decoded into
TABLE_TASK = {"frame_scores": "detection"}
CLIP_CONDITION = "whole clips"
_SCALE = re.compile(r"-scale([0-9.]+)\.h5$")
# ``<method> (<control>) [<experiment>]``: the names experiments give their controls
_CONTROL = re.compile(r"^(?P<method>.+?) \((?P<control>[A-Za-z0-9_.-]+)\) \[(?P<experiment>[^\]]+)\]$")
_EXPERIMENT = re.compile(r"\[(?P<experiment>[^\]]+)\]\s*$")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 entry``, ``2 entries``: ``words`` is the plural (default ``word + "s"``)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def segment_seconds(entry: dict[str, Any]) -> float | None:
    """The length (s) of the segments the entry's predictions were made on: the ``# segment:`` its first
    file declared (``200ms``, ``1s``), else ``test_segment`` of its config; None for whole clips."""
    runs = entry.get("runs") or [{}]
    declared = ((runs[0].get("submission") or {}).get("declared") or {}).get("segment")
    if declared and declared != "clip":
        m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s)\s*", str(declared))
        if m:
            return float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    seg = (entry.get("method", {}).get("config") or {}).get("test_segment")
    if isinstance(seg, (int, float)) and not isinstance(seg, bool):
        return float(seg)
    return None


def condition_of(entry: dict[str, Any], clip_duration: float | None = None) -> str:
    """The test condition: ``<s> s segments``, or :data:`CLIP_CONDITION` for whole clips and for segments as
    long as the clip (``clip_duration``: the entry's, else one known for its split truth)."""
    secs = segment_seconds(entry)
    duration = entry["dataset"].get("clip_duration", clip_duration)
    if secs is None or (duration is not None and abs(secs - float(duration)) < 1e-9):
        return CLIP_CONDITION
    return f"{secs * 1000:g} ms segments" if secs < 1 else f"{secs:g} s segments"


def dataset_scale(entry: dict[str, Any]) -> str | None:
    """The render scale the scored file's name records (``<name>-scale0.2.h5``; ``<name>.h5`` is scale 1)."""
    name = entry["dataset"].get("file") or ""
    m = _SCALE.search(name)
    if m:
        return m.group(1)
    return "1" if name == f"{entry['dataset']['name']}.h5" else None


def control_kind(entry: dict[str, Any]) -> str | None:
    """``"control"`` for an experiment's lower control (e.g. ``prior (prior) [park2019]``), ``"upper bound"``
    for an oracle (``(oracle)``, ``(oracle-<x>)``), None for a method."""
    m = _CONTROL.match(entry["method"]["name"])
    if not m:
        return None
    c = m.group("control")
    return "upper bound" if c == "oracle" or c.startswith("oracle-") else "control"


def experiment_of(entry: dict[str, Any]) -> str | None:
    """The experiment an entry came from (``[<experiment>]`` at the end of its name), else None."""
    m = _EXPERIMENT.search(entry["method"]["name"])
    return m.group("experiment") if m else None


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

    @property
    def top(self) -> bool:
        """In the first tie group: not distinguishable from the best within intervals."""
        return self.tie_group == 1 and self.value is not None

    @property
    def kind(self) -> str | None:
        """``"control"``, ``"upper bound"`` or None (:func:`control_kind`)."""
        return control_kind(self.entry)


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
    condition: str = CLIP_CONDITION
    scale: str | None = None
    n_clips: list[int] = field(default_factory=list)
    suffix: str = ""  # set when another table would carry the same title (settings / truth)

    @property
    def key(self) -> str:
        return (f"{self.dataset}-{self.split_truth_id[:12]}-{self.split}-{self.task}-{self.settings_id}-"
                f"{self.condition}")

    @property
    def title(self) -> str:
        """``waa, scale 0.2, 150 clips: eval split, tagging, 1s segments``."""
        parts = [self.dataset]
        if self.scale is not None:
            parts.append(f"scale {self.scale}")
        if self.n_clips:
            lo, hi = min(self.n_clips), max(self.n_clips)
            parts.append(plural(hi, "clip") if lo == hi else f"{lo}-{hi} clips")
        return (", ".join(parts) + f": {self.split} split, {self.task}, {self.condition}"
                + (f" ({self.suffix})" if self.suffix else ""))


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
    """One ranked :class:`Table` per dataset name, task, split, split truth, spec id (the inputs), settings and
    test condition
    (``dataset``: keep only a dataset name or truth-id prefix; ``metric``: rank by it, leaving out tables
    without it)."""
    entries = list(entries)
    # one split truth, one set of clips: a clip duration recorded by any entry holds for all of them
    durations = {e["dataset"]["split_truth_id"]: e["dataset"]["clip_duration"] for e in entries
                 if e["dataset"].get("clip_duration") is not None}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for e in entries:
        truth = e["dataset"]["split_truth_id"]
        if dataset is not None and dataset != e["dataset"]["name"] and not truth.startswith(dataset):
            continue
        task = TABLE_TASK.get(e["task"], e["task"])
        cond = condition_of(e, durations.get(truth))
        # the spec id (recipe + soundbank + format: what decides the audio and features) keeps two renders
        # with the same labels but other inputs (e.g. a domain-gap control) out of one ranking
        key = (e["dataset"]["name"], task, e["split"], truth, e["dataset"].get("spec_id", ""), e.get("settings_id", ""),
               _condition_key(cond), cond)
        groups.setdefault(key, []).append(e)
    tables = []
    for (name, task, split, truth, _, sid, _, cond), members in sorted(groups.items()):
        metrics: list[str] = []
        for e in members:
            metrics += [m for m in e["summary"]["headline"] if m not in metrics]
        m = metric or DEFAULT_METRIC.get(task, metrics[0] if metrics else "")
        if metric is not None and metric not in metrics:
            continue
        scales = {dataset_scale(e) for e in members}
        t = Table(name, truth, members[0]["dataset"].get("spec_id", ""), split, task, sid, m, metrics,
                  condition=cond, scale=scales.pop() if len(scales) == 1 else None,
                  n_clips=sorted({int(r["n_clips"]) for e in members for r in e["runs"] if "n_clips" in r}))
        t.rows = rank_rows(members, m)
        tables.append(t)
    _disambiguate(tables)
    if metric is not None and not tables and groups:
        raise WlbenchError(f"no table has metric {metric!r}",
                           hint="metrics are e.g. map, lwlrap, f1_macro, event_f1_macro, centroid_accuracy_macro")
    return tables


def _condition_key(cond: str) -> tuple[int, float]:
    """Sort key of a test condition: whole clips first, then segments from short to long."""
    if cond == CLIP_CONDITION:
        return (0, 0.0)
    m = re.match(r"([0-9.]+) (ms|s) segments", cond)
    return (1, (float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)) if m else float("inf"))


def _disambiguate(tables: list[Table]) -> None:
    """Tables that would share a title (same dataset and condition, other settings or truth) name what
    differs."""
    by_title: dict[str, list[Table]] = {}
    for t in tables:
        by_title.setdefault(t.title, []).append(t)
    for same in by_title.values():
        if len(same) < 2:
            continue
        for t in same:
            parts = []
            if len({x.split_truth_id for x in same}) > 1:
                parts.append(f"truth {t.split_truth_id[:12]}")
            if len({x.spec_id for x in same}) > 1:
                parts.append(f"spec {t.spec_id[:12]}")
            if len({x.settings_id for x in same}) > 1:
                parts.append(f"settings {t.settings_id}")
            t.suffix = ", ".join(parts)


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
                   f"{int(round(100 * ci))}% bootstrap intervals; '=' marks ranks tied within intervals; "
                   "[control] rows are controls to beat, [upper bound] rows oracles")
        labels = []
        for r in t.rows:
            m = r.entry["method"]
            labels.append(m["name"] + (f" {m['version']}" if m.get("version") else "")
                          + (f" [{r.kind}]" if r.kind else ""))
        width = max([len(label) for label in labels] + [6])
        out.append(f"   {'rank':<5} {'method':<{width}}  {'runs':>4}  {t.metric}")
        for r, label in zip(t.rows, labels):
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
