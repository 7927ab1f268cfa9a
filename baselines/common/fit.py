"""The one fit loop: seeding, device selection, early stopping, best weights, JSONL log, checkpoints."""

from __future__ import annotations

import copy
import json
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wlbench.atomic import atomic_path
from wlbench.errors import WlbenchError

CHECKPOINT_FORMAT = "wlbench-baseline-checkpoint"
CHECKPOINT_VERSION = 1


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; deterministic algorithms on. Returns a numpy generator for sampling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (CUDA only)
    torch.use_deterministic_algorithms(True, warn_only=False)
    return np.random.default_rng(seed)


def select_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise WlbenchError(f"unknown device {name!r}", hint="use auto, cpu or cuda") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise WlbenchError("device cuda requested but CUDA is not available", hint="use --set device=cpu")
    return dev


class EarlyStopping:
    """Stop when ``metric`` (higher is better) has not improved for ``patience`` epochs after ``warmup`` epochs.

    Epochs before ``warmup`` may still set the best weights but never stop the run."""

    def __init__(self, patience: int, warmup: int = 0, min_delta: float = 0.0) -> None:
        self.patience, self.warmup, self.min_delta = int(patience), int(warmup), float(min_delta)
        self.best = -math.inf
        self.best_epoch = -1
        self.bad = 0

    def step(self, epoch: int, value: float) -> tuple[bool, bool]:
        """Returns (improved, stop)."""
        v = -math.inf if value is None or not math.isfinite(value) else float(value)
        improved = v > self.best + self.min_delta or self.best_epoch < 0
        if improved:
            self.best, self.best_epoch, self.bad = v, epoch, 0
        elif epoch + 1 > self.warmup:
            self.bad += 1
        return improved, (epoch + 1 > self.warmup and self.bad >= self.patience)


def fit(modules: dict[str, torch.nn.Module], train_epoch: Callable[[int], float],
        validate: Callable[[], float], *, max_epochs: int, patience: int, warmup: int,
        log_path: Path | None = None, stage: str = "train", metric_name: str = "metric",
        progress: bool = False) -> dict[str, Any]:
    """Run ``train_epoch(epoch) -> mean loss`` and ``validate() -> metric`` per epoch with early stopping.

    The best weights of ``modules`` (by the validation metric) are restored at the end. Each epoch appends
    one JSON line to ``log_path``: stage, epoch, loss, metric name and value, best, seconds."""
    stopper = EarlyStopping(patience, warmup)
    best_state = {k: copy.deepcopy(m.state_dict()) for k, m in modules.items()}
    history = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max_epochs, desc=stage, unit="epoch", leave=False)
    try:
        for epoch in range(max_epochs):
            t0 = time.perf_counter()
            for m in modules.values():
                m.train()
            loss = float(train_epoch(epoch))
            for m in modules.values():
                m.eval()
            with torch.no_grad():
                value = float(validate())
            improved, stop = stopper.step(epoch, value)
            if improved:
                best_state = {k: copy.deepcopy(m.state_dict()) for k, m in modules.items()}
            row = {"stage": stage, "epoch": epoch, "loss": loss, "metric": metric_name,
                   "value": value if math.isfinite(value) else None, "best": improved,
                   "seconds": round(time.perf_counter() - t0, 3)}
            history.append(row)
            if log_path is not None:
                with open(log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", **{metric_name: f"{value:.3f}"})
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    for k, m in modules.items():
        m.load_state_dict(best_state[k])
        m.eval()
    return {"stage": stage, "epochs": len(history), "best_epoch": stopper.best_epoch,
            "best_value": stopper.best if math.isfinite(stopper.best) else None, "metric": metric_name,
            "losses": [h["loss"] for h in history]}


# --- checkpoints ----------------------------------------------------------------------------------

def save_checkpoint(path: Path, *, method: str, config: dict, classes: list[str], scaler: dict,
                    state: dict[str, dict], extra: dict | None = None) -> None:
    """Weights + scaler + config in one file (written atomically; loadable with ``weights_only=True``)."""
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "method": method,
               "config": json.loads(json.dumps(config)), "classes": list(classes), "scaler": scaler,
               "state": state, "extra": json.loads(json.dumps(extra or {}))}
    with atomic_path(Path(path), suffix=".pt.partial") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, method: str | None = None) -> dict:
    """Load a checkpoint safely (``weights_only=True``); a missing, corrupted or foreign file, or one of
    another method, raises :class:`WlbenchError`."""
    path = Path(path)
    if not path.is_file():
        raise WlbenchError(f"checkpoint {path} not found", hint="train the run first with `wlbench train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise WlbenchError(f"checkpoint {path} is unreadable or corrupted ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:160] if str(exc) else ''})",
                           hint="train the run again") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise WlbenchError(f"checkpoint {path} is not a wlbench baseline checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise WlbenchError(f"checkpoint {path} has version {payload.get('version')}; this wlbench reads "
                           f"version {CHECKPOINT_VERSION}", hint="train the run again")
    if method is not None and payload.get("method") != method:
        raise WlbenchError(f"checkpoint {path} belongs to method {payload.get('method')!r}, not {method!r}")
    return payload


def load_state(module: torch.nn.Module, state: dict, path: Path, name: str) -> None:
    """``load_state_dict`` with a clear error when the weights do not fit the network of the config."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        raise WlbenchError(f"checkpoint {path}: weights of {name!r} do not match the network built from its "
                           f"config ({first[1].strip() if len(first) > 1 else first[0][:200]})",
                           hint="the file was edited or comes from another version; train again") from None
