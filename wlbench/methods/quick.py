"""The quick baseline of the README tour and ``wlbench demo``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wlbench.methods.runs import train_run

QUICK_METHOD = "turpault-classifier"
QUICK_CONFIG: dict[str, Any] = {"train_segment": "1s", "max_epochs": 30, "warmup": 30, "patience": 30,
                                "lr": 3e-3, "threads": 1}


def quick_baseline(dataset: str | Path, run_dir: str | Path, method: str = QUICK_METHOD,
                   echo: Callable[[str], None] | None = None, force: bool = False, **overrides: Any) -> dict[str, Any]:
    """Train a small reference baseline in under a minute on one CPU core for a scale-0.2 WAA render (the
    end-to-end classifier of Turpault et al. on 1 s segments, 30 epochs) and write its submissions and
    reports under ``run_dir``; same as ``wlbench train turpault-classifier --dataset D --set
    train_segment=1s --set max_epochs=30 --set warmup=30 --set lr=3e-3 --set threads=1 --out RUN``. Returns
    the run summary (``summary["map"][split][segment]``). Trained on 1 s windows, it scores well on 1 s /
    200 ms segments and less well on whole 10 s clips (the paper's point)."""
    return train_run(method, dataset, run_dir, overrides={**QUICK_CONFIG, **overrides}, bootstrap=200,
                     echo=echo, force=force)
