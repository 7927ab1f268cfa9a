"""An experiment grid's finished cells and controls as leaderboard entries (:func:`submit_experiment`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from wlbench.experiments.datasets import dataset_path
from wlbench.experiments.grid import PRIOR, Echo, load_experiment
from wlbench.experiments.planning import plan_cells, segment_seconds
from wlbench.methods.config import plain
from wlbench.methods.protocol import CLIP
from wlbench.methods.runs import EVENTS, SUMMARY, is_finished, kept_initial_weights, output_stem, require_finished


def submit_experiment(path: str | Path, out: str | Path, board: str | Path, echo: Echo = print) -> list[Path]:
    """Add every finished cell and control of an experiment to a leaderboard: one entry per dataset x method
    x axis point x test segment (x control), its seeds as the entry's runs (a deterministic control, whose
    seeds wrote identical predictions, with its first seed only), named ``<method> [<experiment>]`` or
    ``<method> (<control>) [<experiment>]`` (``[<experiment>: <dataset>]`` in a grid over several datasets: their
    splits may share one truth, as a no-gap control's do), the axes and ``test_segment`` (seconds) in its config. Runs with
    frame scores also get a detection entry on whole clips (their decoded event lists, version ``...; events
    (threshold T, median M s)``, the decoding in its config; seeds whose event lists coincide count once). A
    run folder that holds only its record (adopted from ``--records``: no predictions) is one error, raised
    before any entry is written."""
    from wlbench.hashing import hash_file
    from wlbench.leaderboard.board import DuplicateEntryError, load_entries, submit_run
    from wlbench.methods.runs import dataset_meta, read_run

    exp = load_experiment(path)
    out, board = Path(out), Path(board)
    cells = plan_cells(exp, out)
    for cell in cells:  # before any entry: a run folder holding only its record has no predictions to submit
        for run in [*cell.runs, *(r for runs in cell.controls.values() for r in runs)]:
            require_finished(run.run_dir, "a leaderboard entry (--submit)")
    existing = {(e["method"]["name"], e["method"].get("version", ""), e["dataset"]["split_truth_id"])
                for e in load_entries(board)} if (board / "entries").is_dir() else set()
    written, done_dirs = [], set()
    for cell in cells:
        dataset = dataset_path(next(d for d in exp.datasets if d["name"] == cell.dataset), out, echo, render=False)
        truth_id = dataset_meta(dataset)["split_truth_ids"].get(exp.split, "")
        # a grid over several datasets whose splits share their truth (a no-gap control: other inputs, the same
        # eval clips) would give two cells one name on one truth: the name says the dataset then
        tag = exp.name if len(exp.datasets) == 1 else f"{exp.name}: {cell.dataset}"
        groups = [(f"{cell.method} [{tag}]", cell.runs)] + [
            (f"{runs[0].method if name == PRIOR else cell.method} ({name}) [{tag}]", runs)
            for name, runs in cell.controls.items()]
        for name, runs in groups:
            finished = [r for r in runs if is_finished(r.run_dir)]
            key = tuple(r.run_dir for r in finished)
            if not finished or key in done_dirs:
                continue
            done_dirs.add(key)
            config = read_run(finished[0].run_dir)["config"]
            untrained = [r.seed for r in finished if kept_initial_weights(
                json.loads((r.run_dir / SUMMARY).read_text(encoding="utf-8")).get("train") or {})]
            note = f" [seeds {untrained} kept their initial weights: best epoch 0]" if untrained else ""
            for seg in exp.test_segments:
                version = "; ".join([*(f"{k} {plain(v).strip(chr(34))}" for k, v in finished[0].overrides.items()
                                       if k in exp.axes), f"test {seg}"])
                entry_config = {**config, "test_segment": None if seg == CLIP else segment_seconds(seg),
                                **({"train_segment": None if config["train_segment"] == CLIP
                                    else segment_seconds(config["train_segment"])} if "train_segment" in config else {})}
                # clip scores (tagging); whole clips of frame-level runs also their decoded events (detection)
                kinds = [("tagging", version, f"{output_stem(exp.split, seg)}.csv", "", {})]
                events = f"{exp.split}-{EVENTS}.tsv"
                if seg == CLIP and all((r.run_dir / "predictions" / events).is_file() for r in finished):
                    dec = exp.decoding
                    kinds.append(("detection", f"{version}; events (threshold {dec.threshold}, median "
                                               f"{dec.median_seconds} s)", events,
                                  f", events at threshold {dec.threshold}, median filter {dec.median_seconds} s",
                                  {"decoding": dataclasses.asdict(dec)}))
                for task, label, filename, how, extra in kinds:
                    if (name, label, truth_id) in existing:
                        echo(f"{cell.dataset} {name} {label}: already on the board")
                        continue
                    # identical files (a deterministic control's seeds; seeds whose event lists coincide) once,
                    # under the first seed that wrote them: the board refuses one file twice
                    keep: dict[str, tuple[Path, int]] = {}
                    for r in finished:
                        f = r.run_dir / "predictions" / filename
                        keep.setdefault(hash_file(f), (f, r.seed))
                    try:
                        entry = submit_run(
                            board, dataset, name, [f for f, _ in keep.values()], split=exp.split, task=task,
                            method_version=label,
                            description=f"{name}: {cell.label}, tested on {seg}{how} ({exp.path}){note}",
                            config={**entry_config, **extra}, seeds=[s for _, s in keep.values()])
                    except DuplicateEntryError as exc:
                        echo(f"{cell.dataset} {name} {label}: skipped, {exc}")
                        continue
                    echo(f"{cell.dataset} {name} {label}: {entry.name}")
                    written.append(entry)
    return written
