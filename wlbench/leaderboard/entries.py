"""Entry schema: building an entry from score reports, its id and self-hash, the mean +- std summary.

An entry is one method (name + version) on the truth of one dataset split (its split truth id), task and
metric settings, with one run per predictions file (several files = several seeds of the same method).
See docs/leaderboard.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.hashing import hash_json

SCHEMA = "wlbench-leaderboard-entry/2"
SCHEMA_V1 = "wlbench-leaderboard-entry/1"
# /1 pinned an entry to the dataset's content id (which then depended on the CPU's BLAS kernel); /2 pins it to
# the truth id of the split scored. `wlbench leaderboard migrate` re-pins /1 entries after re-scoring them.
HASH_FIELD = "entry_sha256"
REQUIRED = ("schema", "id", "method", "dataset", "split", "task", "harness_version", "settings", "runs",
            "summary", "submitted_at", HASH_FIELD)

# The metric a table is ranked by when none is asked for, per task.
DEFAULT_METRIC = {"tagging": "map", "detection": "event_f1_macro", "embedding": "centroid_accuracy_macro"}
# The per-class metric drawn in the per-class views, per task.
PER_CLASS_METRIC = {"tagging": "ap", "detection": "event_f1", "embedding": "centroid_accuracy"}


def lower_is_better(metric: str) -> bool:
    return "error_rate" in metric


def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s[:limit].strip("-") or "x"


def entry_key(name: str, version: str, split_truth_id: str, split: str, task: str, sha256s: list[str]) -> str:
    return hash_json({"name": name, "version": version, "split_truth_id": split_truth_id, "split": split,
                      "task": task, "submissions": sorted(sha256s)})


def make_id(name: str, version: str, key: str) -> str:
    parts = [slug(name)] + ([slug(version, 16)] if version else []) + [key[:10]]
    return "-".join(parts)


LINK_SCHEMES = ("http", "https")
# characters left as they are in a link; everything else (spaces, parentheses, quotes, <, >, ...) is
# percent-encoded, so that the link survives Markdown ``[label](link)`` and an HTML attribute
_LINK_SAFE = "/:?#[]@!$&*+,;=%~"


def http_link(link: Any) -> str | None:
    """The percent-encoded form of an ``http://`` or ``https://`` link with a host, or None for anything
    else (other schemes such as ``javascript:``, no scheme, control characters, not a string)."""
    if not isinstance(link, str):
        return None
    text = link.strip()
    if not text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return None
    return quote(text, safe=_LINK_SAFE)


# An absolute path in free text: a ``/`` or a drive letter at the start of a word, then path components.
_ABS_PATH = re.compile(r"(?<![\w.~/:-])(?:[A-Za-z]:[\\/]|/)(?:[^\s()\[\]{}<>\"',;:]+[\\/])+[^\s()\[\]{}<>\"',;:]*")
# Folders of a checkout a path is shown from (``/home/me/wlbench/baselines/x.toml`` -> ``baselines/x.toml``).
REPO_FOLDERS = ("baselines", "datasets", "docs", "leaderboard", "runs", "scripts", "tests", "wlbench")


def _portable_path(match: re.Match) -> str:
    parts = re.split(r"[\\/]+", match.group(0))
    for i, part in enumerate(parts):
        if part in REPO_FOLDERS and i + 1 < len(parts):
            return "/".join(parts[i:])
    return parts[-1] or match.group(0)


def portable_text(text: str) -> str:
    """``text`` with every absolute path shortened to its part inside a checkout (from one of
    :data:`REPO_FOLDERS` on), else to its file name: a description must not carry a developer's machine."""
    return _ABS_PATH.sub(_portable_path, text or "")


def check_link(link: str) -> str:
    """``link`` stripped, or :class:`WlbenchError` unless it is empty or an http(s) URL."""
    text = (link or "").strip()
    if text and http_link(text) is None:
        raise WlbenchError(f"--link {link!r} is not an http:// or https:// URL",
                           hint="give the paper or code URL, e.g. https://example.org/paper; other schemes "
                                "(javascript:, data:, file:, ftp:) are refused")
    return text


def self_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the entry without its own hash field."""
    return hash_json({k: v for k, v in entry.items() if k != HASH_FIELD})


def settings_from_dict(d: dict[str, Any]):
    """Rebuild :class:`~wlbench.scoring.Settings` from a recorded settings dict (descriptive keys ignored)."""
    from wlbench.scoring import Settings

    names = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in d.items() if k in names})


# Settings that change only how intervals are estimated, not what is measured: entries that differ only in
# these share a table.
INTERVAL_ONLY_SETTINGS = ("n_resamples", "seed")


def settings_id(settings: dict[str, Any]) -> str:
    """Short hash of the metric settings that define a table (all but :data:`INTERVAL_ONLY_SETTINGS`)."""
    return hash_json({k: v for k, v in settings.items() if k not in INTERVAL_ONLY_SETTINGS})[:8]


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None, int]:
    ok = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not ok:
        return None, None, 0
    mean = float(np.mean(ok))
    std = float(np.std(ok, ddof=1)) if len(ok) > 1 else 0.0
    return mean, std, len(ok)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean +- std over runs of every headline metric (and the mean of the per-run interval bounds), and
    the per-class mean of every per-class metric. With one run, value and interval are that run's."""
    headline: dict[str, Any] = {}
    for metric in runs[0]["headline"]:
        rows = [r["headline"].get(metric, {}) for r in runs]
        mean, std, n = _mean_std([h.get("value") for h in rows])
        lo, _, _ = _mean_std([h.get("ci_low") for h in rows])
        hi, _, _ = _mean_std([h.get("ci_high") for h in rows])
        headline[metric] = {"value": mean, "std": std, "ci_low": lo, "ci_high": hi, "n_runs": n}
    per_class: dict[str, Any] = {}
    for cls, vals in runs[0]["per_class"].items():
        per_class[cls] = {}
        for m, v in vals.items():
            if isinstance(v, bool) or not (v is None or isinstance(v, (int, float))):
                continue
            mean, std, n = _mean_std([r["per_class"].get(cls, {}).get(m) for r in runs])
            per_class[cls][m] = mean
            if len(runs) > 1:
                per_class[cls][f"{m}_std"] = std
    return {"headline": headline, "per_class": per_class}


def build_entry(*, reports: list[dict[str, Any]], stored: list[dict[str, Any]], name: str, method_version: str,
                description: str, link: str, config: dict[str, Any], seeds: list[int | None],
                submitted_at: str) -> dict[str, Any]:
    """Assemble an entry from score reports (one per run, same dataset/split/task/settings)."""
    first = reports[0]
    for r in reports[1:]:
        for key in ("task", "split", "harness_version", "settings"):
            if r[key] != first[key]:
                raise WlbenchError(f"runs of one entry disagree on {key}: {r[key]!r} vs {first[key]!r}")
        if r["dataset"]["split_truth_id"] != first["dataset"]["split_truth_id"]:
            raise WlbenchError("runs of one entry were scored against different truths (split truth ids)")
    ds = first["dataset"]
    sha = [s["sha256"] for s in stored]
    key = entry_key(name, method_version, ds["split_truth_id"], first["split"], first["task"], sha)
    runs = []
    for report, sub, seed in zip(reports, stored, seeds):
        runs.append({"seed": seed, "submission": sub, "n_clips": report["n_clips"],
                     "headline": report["headline"], "per_class": report["per_class"],
                     "excluded_classes": report["excluded_classes"], "notes": report["notes"]})
    entry = {
        "schema": SCHEMA,
        "id": make_id(name, method_version, key),
        "key": key,
        "method": {"name": name, "version": method_version, "description": description, "link": link,
                   "config": config, "seeds": list(seeds)},
        "dataset": {"name": ds["name"], "split_truth_id": ds["split_truth_id"], "truth_id": ds["truth_id"],
                    "spec_id": ds["spec_id"], "content_id": ds["content_id"], "file": ds.get("file"),
                    **({"clip_duration": ds["clip_duration"]} if ds.get("clip_duration") is not None else {})},
        "split": first["split"],
        "labels": first.get("labels", "true"),
        "task": first["task"],
        "harness_version": first["harness_version"],
        "settings": first["settings"],
        "settings_id": settings_id(first["settings"]),
        "classes": first.get("classes"),
        "runs": runs,
        "summary": summarize(runs),
        "submitted_at": submitted_at,
    }
    entry[HASH_FIELD] = self_hash(entry)
    return entry


def structure_problems(entry: Any, schemas: tuple[str, ...] = (SCHEMA,)) -> list[str]:
    """Missing or mistyped top-level fields (an empty list when the entry is well formed). ``schemas``: the
    schemas accepted (``wlbench leaderboard migrate`` also reads :data:`SCHEMA_V1`)."""
    if not isinstance(entry, dict):
        return ["not a JSON object"]
    out = [f"missing field {k!r}" for k in REQUIRED if k not in entry]
    if out:
        return out
    if entry["schema"] not in schemas:
        out.append(f"schema {entry['schema']!r}, expected {SCHEMA!r}"
                   + (" (an entry pinned to a content id: run `wlbench leaderboard migrate`)"
                      if entry["schema"] == SCHEMA_V1 else ""))
        return out
    for k in ("method", "dataset", "settings", "summary"):
        if not isinstance(entry[k], dict):
            out.append(f"'{k}' must be a JSON object, got {type(entry[k]).__name__}")
    if not isinstance(entry["runs"], list) or not entry["runs"]:
        out.append("'runs' must be a non-empty list")
    else:
        for i, run in enumerate(entry["runs"]):
            out += [f"run {i}: {p}" for p in run_problems(run)]
    for k in ("name", "split_truth_id" if entry["schema"] == SCHEMA else "content_id"):
        src = entry["method"] if k == "name" else entry["dataset"]
        if not isinstance(src, dict) or not src.get(k):
            out.append(f"missing {k}")
    return out


RUN_FIELDS = ("headline", "per_class", "submission")


def run_problems(run: Any) -> list[str]:
    """Missing or mistyped fields of one run of an entry (an empty list when it is well formed)."""
    if not isinstance(run, dict):
        return [f"must be a JSON object, got {type(run).__name__}"]
    out = []
    for k in RUN_FIELDS:
        if k not in run:
            out.append(f"missing {k!r}")
        elif not isinstance(run[k], dict):
            out.append(f"{k!r} must be a JSON object, got {type(run[k]).__name__}")
    return out
