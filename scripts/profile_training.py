"""Where one training run's time goes: ``wlbench train`` of one method under cProfile and torch.profiler.

    PYTHONPATH=$PWD .venv/bin/python scripts/profile_training.py turpault-classifier DATASET.h5 \
        --set max_epochs=2 --set warmup=0 [--ops 12] [--seed 0]

Prints (1) the run's wall time split into phases (data loading and scaler, the training loop's forward +
loss, backward, optimiser steps, batch drawing, validation, checkpoint, prediction and scoring, file opens)
from cProfile's cumulative times, and (2) torch's operator table of the whole run (self CPU time per aten
operator: convolutions, pooling, dropout's random masks, activations...). Numbers are of one run on one
machine: read them as shares. docs/performance.md ("Training: where the time goes") records them.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

# (phase, function names (as cProfile names them, optionally with their file), how: "first" counts the first
# name found (alternatives, possibly nested), "sum" adds them all (functions that never call each other))
PHASES = [
    ("dataset check (intact)", ["require_intact"], "first"),
    ("method.train (all)", ["train (baselines/turpault2019/methods.py)", "train (wlbench/training/method.py)"], "first"),
    ("load data + scaler", ["load_training", "training_scaler", "true_labels_of", "dataset_info"], "sum"),
    ("train: forward + loss", ["step", "embedding_step"], "sum"),
    ("train: backward", ["backward (torch/_tensor.py)"], "first"),
    ("train: optimiser", ["wrapper (torch/optim/optimizer.py)"], "first"),
    ("train: draw batches", ["batches", "label_triplets", "episode"], "sum"),
    ("validation (+ log row)", ["evaluate (wlbench/training/fit.py)"], "first"),
    ("checkpoint", ["save_checkpoint"], "first"),
    ("predict + score", ["predict_run"], "first"),
    ("  of which predict", ["predict"], "first"),
    ("learning-curve figure", ["plot_learning_curves"], "first"),
    ("h5py file opens", ["__init__ (h5py/_hl/files.py)"], "first"),
]


def _cumulative(stats: pstats.Stats) -> dict[str, tuple[int, float]]:
    """function name (and 'name (file)') -> (primitive calls, cumulative seconds), summed over definitions."""
    out: dict[str, tuple[int, float]] = {}
    for (filename, _, name), (cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        parts = Path(filename).parts
        for key in (name, f"{name} ({'/'.join(parts[-2:])})", f"{name} ({'/'.join(parts[-3:])})"):
            calls, seconds = out.get(key, (0, 0.0))
            out[key] = (calls + cc, seconds + ct)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method")
    parser.add_argument("dataset")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", type=int, default=12, help="rows of the operator table")
    parser.add_argument("--top", type=int, default=0, help="also print the top functions by cumulative time")
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from wlbench.methods.runs import train_run

    with tempfile.TemporaryDirectory() as tmp:
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as ops:
            prof.enable()
            summary = train_run(args.method, args.dataset, Path(tmp) / "run", overrides=args.overrides,
                                seed=args.seed, bootstrap=0)
            prof.disable()
        wall = time.perf_counter() - t0
    cum = _cumulative(pstats.Stats(prof))
    print(f"{args.method}: {wall:.2f} s wall (under both profilers), torch threads {torch.get_num_threads()}")
    for stage in summary.get("train", {}).get("stages", []) if isinstance(summary.get("train"), dict) else []:
        print(f"  stage {stage.get('stage')}: {stage.get('epochs')} epochs, {stage.get('steps')} steps, "
              f"{stage.get('examples')} examples, {stage.get('examples_per_second')} examples/s")
    print(f"{'phase':<24}{'calls':>8}{'seconds':>10}{'share':>8}")
    for phase, names, how in PHASES:
        found = [cum[n] for n in names if n in cum][: 1 if how == "first" else None]
        if found:
            calls, seconds = sum(c for c, _ in found), sum(t for _, t in found)
            print(f"{phase:<24}{calls:>8}{seconds:>10.2f}{seconds / wall:>8.1%}")
    if args.top:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
    print(ops.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.ops))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
