"""Training methods as plug-ins: discovery through the ``wlbench.methods`` entry point, one run = train ->
predict -> submission files -> harness reports, and the experiment grid (train x test segments x datasets x
seeds -> table + heatmaps).

A method is any object (or a class with a no-argument constructor) registered under the entry-point group
``wlbench.methods`` that provides::

    name: str
    description: str
    default_config() -> dict                      # flat {key: JSON value}; every accepted key
    train(dataset, config, run_dir, progress) -> dict   # writes its checkpoint under run_dir; returns a summary
    predict(run_dir, dataset, split, segment) -> (clip_ids, scores (N, C) in [0, 1])
                                                  # segment None: whole clips, else a segment view name

``wlbench`` never imports ``baselines``: the reference trainers register exactly like an outside method.
Predictions are written as clip-score CSVs (the harness's tagging format, keyed by clip id) and scored with
the harness: whole clips with :func:`wlbench.scoring.score_file`, segment views with
:func:`wlbench.scoring.score_tagging` against the segment view's labels.
"""

from __future__ import annotations

import json
import math
import os
import time
import tomllib
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.atomic import atomic_path, ensure_writable_dir, write_text_atomic
from wlbench.errors import WlbenchError

GROUP = "wlbench.methods"
CLIP = "clip"
RUN_CONFIG = "run.json"
SUMMARY = "summary.json"
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"
REQUIRED = ("name", "default_config", "train", "predict")


# --- discovery ------------------------------------------------------------------------------------

def available_methods() -> dict[str, Any]:
    """{name: entry point} of every registered method."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def get_method(name: str):
    eps = available_methods()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none (install wlbench with `pip install -e .`)"
        raise WlbenchError(f"unknown method {name!r}; registered methods: {known}",
                           hint="register an outside method under the 'wlbench.methods' entry point")
    try:
        obj = eps[name].load()
    except Exception as exc:  # noqa: BLE001 - a broken plug-in must not crash the CLI with a traceback
        raise WlbenchError(f"method {name!r} ({eps[name].value}) cannot be loaded: "
                           f"{type(exc).__name__}: {exc}") from exc
    if isinstance(obj, type):
        obj = obj()
    missing = [a for a in REQUIRED if not hasattr(obj, a)]
    if missing:
        raise WlbenchError(f"method {name!r} ({eps[name].value}) lacks {', '.join(missing)}",
                           hint="see the protocol in wlbench/methods.py")
    return obj


# --- configuration --------------------------------------------------------------------------------

def parse_value(text: str) -> Any:
    """``--set`` values: a TOML value (``3``, ``1e-3``, ``true``, ``[16, 32]``, ``"x"``), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _read_config_file(path: Path) -> dict[str, Any]:
    if not Path(path).is_file():
        raise WlbenchError(f"config file {path} not found")
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text) if str(path).endswith(".json") else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise WlbenchError(f"config file {path}: {exc}") from None


def parse_override(item: str) -> tuple[str, Any]:
    """``"key=value"`` (a ``--set`` argument) -> ``(key, parsed value)``; see :func:`parse_value`."""
    if "=" not in item:
        raise WlbenchError(f"--set {item!r}: expected key=value", hint="e.g. --set max_epochs=5")
    key, value = item.split("=", 1)
    return key.strip(), parse_value(value.strip())


def resolve_config(method, config_file: Path | None = None, overrides: Sequence[str] | dict = ()) -> dict:
    """Defaults of the method <- config file <- ``key=value`` overrides; unknown keys are refused."""
    config = dict(method.default_config())
    layers: list[tuple[str, dict]] = []
    if config_file is not None:
        layers.append((str(config_file), _read_config_file(config_file)))
    if isinstance(overrides, dict):
        layers.append(("overrides", dict(overrides)))
    else:
        layers.append(("--set", dict(parse_override(item) for item in overrides)))
    for where, values in layers:
        for k, v in values.items():
            if k not in config:
                raise WlbenchError(f"{where}: unknown config key {k!r} for method {method.name!r}",
                                   hint=f"valid keys: {', '.join(sorted(config))}")
            config[k] = v
    return config


# --- one run --------------------------------------------------------------------------------------

def _segment_key(segment: str | None) -> str:
    if segment is None or str(segment) in (CLIP, "", "none"):
        return CLIP
    from wlbench.labels import segment_name

    try:
        return segment_name(float(segment))
    except ValueError:
        return str(segment)


def write_clip_scores(path: Path, clip_ids: Sequence[str], scores: np.ndarray, classes: Sequence[str],
                      meta: dict[str, str]) -> None:
    """A wide clip-score CSV (``filename,<classes>``) with ``# key: value`` header lines, atomically."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(clip_ids), len(classes)):
        raise WlbenchError(f"method returned scores {scores.shape} for {len(clip_ids)} clips x {len(classes)} classes")
    lines = [f"# {k}: {v}" for k, v in meta.items()]
    lines.append(",".join(["filename", *classes]))
    for cid, row in zip(clip_ids, scores):
        lines.append(",".join([str(cid), *(f"{v:.6f}" for v in row)]))
    write_text_atomic(Path(path), "\n".join(lines) + "\n")


def _dataset_meta(dataset: Path) -> dict[str, Any]:
    from wlbench.store import open_dataset

    with open_dataset(dataset) as ds:
        first = ds.split(ds.splits[0]) if ds.splits else None
        return {"name": ds.name, "content_id": ds.content_id, "spec_id": ds.spec_id, "classes": ds.classes,
                "split_truth_ids": {name: ds.split(name).truth_id for name in ds.splits},
                "splits": list(ds.splits), "segments": first.segment_names if first is not None else []}


def predict_run(run_dir: str | Path, dataset: str | Path, splits: Sequence[str] | None = None,
                segments: Sequence[str] | None = None, bootstrap: int = 1000, method=None,
                echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Predict every split x segment with a trained run, write submissions and the harness's reports.

    ``segments``: ``"clip"`` and/or segment view names (default: the whole clip and every segment view).
    Files: ``predictions/<split>[-<segment>].csv`` and ``reports/<split>[-<segment>].json``. Returns
    ``{split: {segment: headline}}``."""
    from wlbench.scoring import Settings, score_file, write_report

    run_dir, dataset = Path(run_dir), Path(dataset)
    info = _read_run(run_dir)
    method = method or get_method(info["method"])
    meta = _dataset_meta(dataset)
    cfg = info.get("config", {})
    if splits is None:
        splits = [s for s in dict.fromkeys([cfg.get("valid_split", "validation"), "eval"]) if s in meta["splits"]]
    segs = [_segment_key(s) for s in (segments or [CLIP, *meta["segments"]])]
    settings = Settings(n_resamples=int(bootstrap))
    results: dict[str, dict[str, Any]] = {}
    for split in splits:
        if split not in meta["splits"]:
            raise WlbenchError(f"{dataset} has no split {split!r}; it has {', '.join(meta['splits'])}")
        results[split] = {}
        for seg in segs:
            stem = split if seg == CLIP else f"{split}-{seg}"
            clip_ids, scores = method.predict(run_dir, dataset, split, None if seg == CLIP else seg)
            scores = np.asarray(scores, dtype=np.float64)
            if not np.all(np.isfinite(scores)):
                raise WlbenchError(f"method {info['method']!r} predicted NaN or infinite scores on {split} "
                                   f"({seg}); the run in {run_dir} diverged",
                                   hint="train again with a lower lr or another seed")
            sub = run_dir / "predictions" / f"{stem}.csv"
            ensure_writable_dir(sub.parent)
            write_clip_scores(sub, clip_ids, np.clip(scores, 0.0, 1.0), meta["classes"],
                              {"dataset": meta["name"], "split_truth_id": meta["split_truth_ids"][split],
                               "content_id": meta["content_id"], "split": split,
                               "segment": seg, "method": info["method"]})
            report = score_file(dataset, sub, split=split, task="tagging", settings=settings, segment=seg)
            report["segment"] = seg
            report["method"] = info["method"]
            write_report(report, run_dir / "reports" / f"{stem}.json")
            results[split][seg] = report["headline"]
            if echo is not None:
                f1 = report["headline"].get("f1_macro", {}).get("value")
                echo(f"  {stem:<22} f1_macro {f1 if f1 is None else f'{f1:.3f}'}  "
                     f"mAP {report['headline'].get('map', {}).get('value') or float('nan'):.3f}")
    return results


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_CONFIG
    if not path.is_file():
        raise WlbenchError(f"{run_dir} is not a wlbench run (no {RUN_CONFIG})", hint="train one with `wlbench train`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise WlbenchError(f"{path} is not valid JSON ({exc})") from None


def train_run(method_name: str, dataset: str | Path, run_dir: str | Path, config_file: Path | None = None,
              overrides: Sequence[str] | dict = (), bootstrap: int = 1000, progress: bool = False,
              segments: Sequence[str] | None = None, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``method_name`` on ``dataset``, then predict and score validation and eval (every segment view).
    Writes ``run.json`` (method, dataset ids, resolved config), the method's checkpoint, submissions,
    reports and finally ``summary.json`` (its presence marks a finished run)."""
    method = get_method(method_name)
    config = resolve_config(method, config_file, overrides)
    dataset, run_dir = Path(dataset), Path(run_dir)
    meta = _dataset_meta(dataset)
    ensure_writable_dir(run_dir)
    (run_dir / SUMMARY).unlink(missing_ok=True)
    run_info = {"method": method_name, "dataset": {"path": str(dataset), **{k: meta[k] for k in
                                                                            ("name", "content_id", "spec_id")}},
                "config": config}
    write_text_atomic(run_dir / RUN_CONFIG, json.dumps(run_info, indent=2, sort_keys=True) + "\n")
    t0 = time.perf_counter()
    train_summary = method.train(dataset, config, run_dir, progress) or {}
    t1 = time.perf_counter()
    scores = predict_run(run_dir, dataset, segments=segments, bootstrap=bootstrap, method=method, echo=echo)
    summary = {**run_info, "train": train_summary, "seconds": {"train": round(t1 - t0, 3),
                                                                "predict": round(time.perf_counter() - t1, 3)},
               "f1_macro": {sp: {seg: h.get("f1_macro", {}).get("value") for seg, h in v.items()}
                            for sp, v in scores.items()}}
    write_text_atomic(run_dir / SUMMARY, json.dumps(summary, indent=2, sort_keys=True, allow_nan=False,
                                                     default=str) + "\n")
    return summary


# --- the experiment grid --------------------------------------------------------------------------

def load_experiment(path: str | Path) -> dict[str, Any]:
    """Read an experiment file (see baselines/experiments/turpault2020.toml); paths relative to the file."""
    path = Path(path)
    spec = _read_config_file(path)
    exp = spec.get("experiment", {})
    for key in ("methods", "train_segments", "test_segments", "seeds"):
        if not exp.get(key):
            raise WlbenchError(f"{path}: [experiment] needs a non-empty {key!r}")
    datasets = spec.get("datasets", [])
    if not datasets:
        raise WlbenchError(f"{path}: needs at least one [[datasets]] table (name and path or recipe)")
    for d in datasets:
        if "name" not in d or not ("path" in d or "recipe" in d):
            raise WlbenchError(f"{path}: every [[datasets]] needs name and path (a rendered file) or recipe")
        if "recipe" in d and not Path(d["recipe"]).is_absolute():  # recipes: relative to the grid file
            d["recipe"] = str((path.parent / d["recipe"]).resolve())  # paths: to the working directory
    return {"path": str(path), "name": exp.get("name", path.stem), "methods": list(exp["methods"]),
            "train_segments": [_segment_key(s) for s in exp["train_segments"]],
            "test_segments": [_segment_key(s) for s in exp["test_segments"]],
            "seeds": [int(s) for s in exp["seeds"]], "split": exp.get("split", "eval"),
            "metric": exp.get("metric", "f1_macro"), "bootstrap": int(exp.get("bootstrap", 0)),
            "config": spec.get("config", {}), "method_config": spec.get("method_config", {}),
            "datasets": datasets, "paper": spec.get("paper", {})}


def _dataset_path(d: dict, out: Path, echo) -> Path:
    if "path" in d:
        p = Path(d["path"])
        if p.is_file():
            return p
        if "recipe" not in d:
            raise WlbenchError(f"dataset {d['name']!r}: {p} not found and no recipe to render it from")
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    recipe = load_recipe(Path(d["recipe"]))
    scale = float(d.get("scale", 1.0))
    if scale != 1.0:
        recipe = recipe.scaled(scale)
    target = Path(d["path"]) if "path" in d else out / "data" / f"{d['name']}.h5"
    if target.is_file():
        return target
    echo(f"rendering {d['name']} from {d['recipe']} (scale {scale}) -> {target}")
    res = synthesize(recipe, load_soundbank(d.get("soundbank")), target.parent, workers=int(d.get("workers", 1)),
                     progress=False, filename=target.name)
    return res.path


def _run_one(args: tuple) -> tuple[str, str]:
    method, dataset, run_dir, overrides, bootstrap, segments = args
    import torch

    torch.set_num_threads(int(overrides.get("threads", 1)) or 1)
    try:
        train_run(method, dataset, run_dir, overrides=overrides, bootstrap=bootstrap, segments=segments)
        return str(run_dir), "done"
    except WlbenchError as exc:
        return str(run_dir), f"error: {exc}"


def run_experiment(path: str | Path, out: str | Path, jobs: int = 1, echo: Callable[[str], None] = print,
                   only_table: bool = False, metric: str | None = None) -> dict[str, Any]:
    """Run (or resume) every run of the grid, skipping finished ones (``summary.json`` present), then write
    ``table.md``, ``table.json`` and one heatmap per method under ``out``. ``metric``: tabulate another
    headline metric of the reports (e.g. ``map``) into ``table-<metric>.md`` / ``heatmap-<method>-<metric>.png``."""
    exp = load_experiment(path)
    suffix = ""
    if metric and metric != exp["metric"]:
        exp["metric"], suffix = metric, f"-{metric}"
    exp["suffix"] = suffix
    out = ensure_writable_dir(Path(out))
    todo = []
    paths = {}
    for d in exp["datasets"]:
        paths[d["name"]] = _dataset_path(d, out, echo) if not only_table else Path(d.get("path", ""))
        for method in exp["methods"]:
            for seg in exp["train_segments"]:
                for seed in exp["seeds"]:
                    run_dir = out / "runs" / d["name"] / method / f"train-{seg}" / f"seed-{seed}"
                    if (run_dir / SUMMARY).is_file() or only_table:
                        continue
                    known = get_method(method).default_config()
                    shared = {k: v for k, v in exp["config"].items() if k in known}  # shared keys it knows
                    overrides = {**shared, **exp["method_config"].get(method, {}),
                                 **d.get("config", {}), "train_segment": seg, "seed": seed}
                    todo.append((method, str(paths[d["name"]]), str(run_dir), overrides, exp["bootstrap"],
                                 exp["test_segments"]))
    # seed by seed (a cut-short experiment still has whole seeds), longest training segments first
    todo.sort(key=lambda t: (exp["seeds"].index(t[3]["seed"]), -_seconds(t[3]["train_segment"])))
    total = len(exp["datasets"]) * len(exp["methods"]) * len(exp["train_segments"]) * len(exp["seeds"])
    echo(f"{exp['name']}: {total} runs, {total - len(todo)} finished, {len(todo)} to run with {jobs} job(s)")
    t0 = time.perf_counter()
    if todo:
        if jobs <= 1:
            results = map(_run_one, todo)
        else:
            import multiprocessing as mp

            # glibc returns big conv buffers to the OS after every step (page faults: ~35% of CPU time on
            # 10 s inputs); keeping them in the heap is a pure speed-up. Workers inherit the environment.
            os.environ.setdefault("GLIBC_TUNABLES", MALLOC_TUNABLES)

            pool = mp.get_context("spawn").Pool(jobs, maxtasksperchild=1)
            results = pool.imap_unordered(_run_one, todo)
        for i, (run_dir, status) in enumerate(results, 1):
            echo(f"[{i}/{len(todo)} {time.perf_counter() - t0:7.0f}s] {run_dir}: {status}")
        if jobs > 1:
            pool.close()
            pool.join()
    return write_experiment_tables(exp, out)


def submit_experiment(path: str | Path, out: str | Path, board: str | Path,
                      echo: Callable[[str], None] = print) -> list[Path]:
    """Add every cell of a finished experiment to a leaderboard: one entry per dataset x method x training
    segment x test segment, the seeds as its runs, named ``<method> [<experiment>]`` with
    ``train_segment`` / ``test_segment`` (seconds) in its config, so the board draws the heatmaps.
    Cells already on the board (same name and version on the same dataset version) are skipped."""
    from wlbench.leaderboard import DuplicateEntryError, load_entries, submit_run

    exp = load_experiment(path)
    out, board = Path(out), Path(board)
    existing = {(e["method"]["name"], e["method"].get("version", ""), e["dataset"]["split_truth_id"])
                for e in load_entries(board)} if (board / "entries").is_dir() else set()
    written = []
    for d in exp["datasets"]:
        dataset = _dataset_path(d, out, echo)
        truth_id = _dataset_meta(dataset)["split_truth_ids"].get(exp["split"], "")
        for method in exp["methods"]:
            name = f"{method} [{exp['name']}]"
            for tr in exp["train_segments"]:
                runs = [out / "runs" / d["name"] / method / f"train-{tr}" / f"seed-{seed}" for seed in exp["seeds"]]
                done = [(seed, run) for seed, run in zip(exp["seeds"], runs) if (run / SUMMARY).is_file()]
                if not done:
                    continue
                config = _read_run(done[0][1]).get("config", {})
                for te in exp["test_segments"]:
                    version = f"train {tr} test {te}"
                    if (name, version, truth_id) in existing:
                        echo(f"{d['name']} {name} {version}: already on the board")
                        continue
                    stem = exp["split"] if te == CLIP else f"{exp['split']}-{te}"
                    files = [run / "predictions" / f"{stem}.csv" for _, run in done]
                    try:
                        entry = submit_run(
                            board, dataset, name, files, split=exp["split"], task="tagging",
                            method_version=version,
                            description=f"{method} trained on {tr} segments, tested on {te} segments "
                                        f"({exp['name']} grid, {exp['path']})",
                            config={**config, "train_segment": _segment_seconds(tr),
                                    "test_segment": _segment_seconds(te)},
                            seeds=[seed for seed, _ in done])
                    except DuplicateEntryError as exc:  # e.g. two grids whose runs predicted the same
                        echo(f"{d['name']} {name} {version}: skipped, {exc}")
                        continue
                    echo(f"{d['name']} {name} {version}: {entry.name}")
                    written.append(entry)
    return written


def _segment_seconds(segment: str) -> float | None:
    """Length of a segment view in seconds for leaderboard configs; None for the whole clip."""
    return None if segment == CLIP else _seconds(segment)


def _seconds(segment: str) -> float:
    if segment == CLIP:
        return math.inf
    if segment.endswith("ms"):
        return float(segment[:-2]) / 1000
    return float(segment.rstrip("s"))


def collect(exp: dict, out: Path) -> dict[str, Any]:
    """{dataset: {method: {train_seg: {test_seg: [values over seeds]}}}} of the experiment's metric."""
    table: dict[str, Any] = {}
    for d in exp["datasets"]:
        for method in exp["methods"]:
            for tr in exp["train_segments"]:
                for seed in exp["seeds"]:
                    p = out / "runs" / d["name"] / method / f"train-{tr}" / f"seed-{seed}" / SUMMARY
                    if not p.is_file():
                        continue
                    for te in exp["test_segments"]:
                        stem = exp["split"] if te == CLIP else f"{exp['split']}-{te}"
                        rp = p.parent / "reports" / f"{stem}.json"
                        if not rp.is_file():
                            continue
                        v = json.loads(rp.read_text())["headline"].get(exp["metric"], {}).get("value")
                        (table.setdefault(d["name"], {}).setdefault(method, {}).setdefault(tr, {})
                         .setdefault(te, [])).append(float("nan") if v is None else float(v))
    return table


def _fmt(values: list[float] | None) -> str:
    if not values:
        return "-"
    a = np.asarray(values, dtype=float) * 100
    return f"{np.nanmean(a):.1f}±{np.nanstd(a):.1f}" if np.isfinite(a).any() else "nan"


def render_table(exp: dict, table: dict) -> str:
    lines = [f"# {exp['name']}: {exp['metric']} (%) on split {exp['split']!r}, mean±std over seeds "
             f"{exp['seeds']}", ""]
    for d in exp["datasets"]:
        title = d.get("title", d["name"])
        lines += [f"## {title}", "", "| Method | Training segment | " + " | ".join(
            f"test {t}" for t in exp["test_segments"]) + " |",
                  "|---|---|" + "---|" * len(exp["test_segments"])]
        for method in exp["methods"]:
            for tr in exp["train_segments"]:
                cells = [_fmt(table.get(d["name"], {}).get(method, {}).get(tr, {}).get(te))
                         for te in exp["test_segments"]]
                n = max((len(table.get(d["name"], {}).get(method, {}).get(tr, {}).get(te, []))
                         for te in exp["test_segments"]), default=0)
                lines.append(f"| {method} | {tr} (n={n}) | " + " | ".join(cells) + " |")
        paper = exp.get("paper", {}).get(d["name"])
        if paper:
            lines += ["", f"Paper ({exp['paper'].get('source', 'reference')}):", "",
                      "| Method | Training segment | " + " | ".join(f"test {t}" for t in exp["test_segments"]) + " |",
                      "|---|---|" + "---|" * len(exp["test_segments"])]
            for method, rows in paper.items():
                for tr, cells in rows.items():
                    lines.append(f"| {method} | {tr} | " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot_heatmaps(exp: dict, table: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for method in exp["methods"]:
        n = len(exp["datasets"])
        fig, axes = plt.subplots(1, n, figsize=(3.8 * n + 1.0, 3.6), squeeze=False)
        for ax, d in zip(axes[0], exp["datasets"]):
            rows = table.get(d["name"], {}).get(method, {})
            m = np.full((len(exp["train_segments"]), len(exp["test_segments"])), np.nan)
            for i, tr in enumerate(exp["train_segments"]):
                for j, te in enumerate(exp["test_segments"]):
                    v = rows.get(tr, {}).get(te)
                    if v:
                        m[i, j] = np.nanmean(v) * 100
            im = ax.imshow(m, vmin=0, vmax=100, cmap="viridis")
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    if np.isfinite(m[i, j]):
                        ax.text(j, i, f"{m[i, j]:.1f}", ha="center", va="center",
                                color="white" if m[i, j] < 50 else "black", fontsize=9)
            ax.set_xticks(range(len(exp["test_segments"])), exp["test_segments"])
            ax.set_yticks(range(len(exp["train_segments"])), exp["train_segments"])
            ax.set_xlabel("test segment")
            if ax is axes[0][0]:
                ax.set_ylabel("training segment")
            else:
                ax.tick_params(labelleft=False)
            ax.set_title(d.get("title", d["name"]), fontsize=9)
        fig.colorbar(im, ax=axes[0].tolist(), label=f"{exp['metric']} (%)")
        fig.suptitle(method, fontsize=10)
        target = out / f"heatmap-{method}{exp.get('suffix', '')}.png"
        with atomic_path(target, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        files.append(target)
    return files


def write_experiment_tables(exp: dict, out: Path) -> dict[str, Any]:
    table = collect(exp, out)
    text = render_table(exp, table)
    suffix = exp.get("suffix", "")
    write_text_atomic(out / f"table{suffix}.md", text)
    stats = {ds: {m: {tr: {te: {"values": v, "mean": float(np.nanmean(v)) if v else None,
                               "std": float(np.nanstd(v)) if v else None}
                          for te, v in trs.items()} for tr, trs in ms.items()} for m, ms in dss.items()}
             for ds, dss in table.items()}
    write_text_atomic(out / f"table{suffix}.json", json.dumps({"experiment": exp["name"], "metric": exp["metric"],
                                                      "split": exp["split"], "seeds": exp["seeds"],
                                                      "results": stats}, indent=2, allow_nan=True) + "\n")
    figures = plot_heatmaps(exp, table, out)
    return {"table": str(out / f"table{suffix}.md"), "figures": [str(f) for f in figures], "text": text}


# --- a quick baseline (README tour, ``wlbench demo``) ---------------------------------------------

QUICK_METHOD = "turpault-classifier"
QUICK_CONFIG: dict[str, Any] = {"train_segment": "1s", "max_epochs": 30, "warmup": 30, "patience": 30,
                                "lr": 3e-3, "threads": 1}


def quick_baseline(dataset: str | Path, run_dir: str | Path, method: str = QUICK_METHOD,
                   echo: Callable[[str], None] | None = None, **overrides: Any) -> dict[str, Any]:
    """Train a small reference baseline in under a minute on one CPU core for a scale-0.1 WAA render (the
    end-to-end classifier of Turpault et al. on 1 s segments, 30 epochs) and write its submissions and
    reports under ``run_dir``; same as ``wlbench train turpault-classifier --dataset D --set
    train_segment=1s --set max_epochs=30 --set warmup=30 --set lr=3e-3 --out RUN``. Returns the run summary
    (``summary["f1_macro"][split][segment]``). Trained on 1 s windows, it scores well on 1 s / 200 ms
    segments and poorly on whole 10 s clips (the paper's point)."""
    os.environ.setdefault("GLIBC_TUNABLES", MALLOC_TUNABLES)  # only affects processes started later
    return train_run(method, dataset, run_dir, overrides={**QUICK_CONFIG, **overrides}, bootstrap=200,
                     echo=echo)
