"""The one training loop (the framework owns the loop, a method owns a step), seeding, devices, checkpoints.

A method describes each optimisation stage as a :class:`Stage` (modules, optimiser, how to draw one epoch
of batches, one step, validation) and hands it to :func:`fit_stage`, which runs epochs, switches train /
eval modes, keeps the best weights by a threshold-free validation metric, stops early, logs a learning-curve
row per epoch (``epoch 0`` is the model before training) and shows a progress bar.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wlbench.atomic import atomic_path
from wlbench.errors import WlbenchError

CHECKPOINT_FORMAT = "wlbench-baseline-checkpoint"
CHECKPOINT_VERSION = 2


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; deterministic algorithms on. Returns the numpy generator every sampler
    of the run draws from.

    On CUDA (``device`` cuda or auto on a GPU machine): cuBLAS gets a fixed workspace
    (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, unless set), cuDNN deterministic kernels without autotuning; a run is
    then deterministic per seed on one GPU model and software stack, not equal to its CPU run.

    Deterministic mode would also fill every new uninitialised tensor with NaN (a debugging aid, on by
    default with it): that is turned off, because it wrote each convolution's output buffer twice (a fifth of
    a CPU training step, docs/performance.md) and changes no value an operator computes."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (CUDA only)
    torch.use_deterministic_algorithms(True, warn_only=False)
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    torch.backends.cudnn.deterministic = True  # CUDA only: no nondeterministic cuDNN kernels
    torch.backends.cudnn.benchmark = False  # and no timing-based kernel choice, which may differ run to run
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
    """Stop when the selection metric (higher is better) has not improved for ``patience`` epochs, counting
    only epochs after ``warmup``; earlier epochs may still set the best weights."""

    def __init__(self, patience: int, warmup: int = 0, min_delta: float = 0.0) -> None:
        self.patience, self.warmup, self.min_delta = int(patience), int(warmup), float(min_delta)
        self.best = -math.inf
        self.best_epoch = -1
        self.bad = 0

    def step(self, epoch: int, value: float | None) -> tuple[bool, bool]:
        """Record ``value`` of ``epoch``; returns (improved, stop)."""
        v = -math.inf if value is None or not math.isfinite(value) else float(value)
        improved = v > self.best + self.min_delta or self.best_epoch < 0
        if improved:
            self.best, self.best_epoch, self.bad = v, epoch, 0
        elif epoch > self.warmup:
            self.bad += 1
        return improved, (epoch >= self.warmup and self.bad >= self.patience)


def adam(params: Iterable[torch.nn.Parameter], *, lr: float) -> torch.optim.Adam:
    """torch's Adam (betas 0.9 / 0.999, eps 1e-8, no weight decay) over ``params``, in its multi-tensor
    (``foreach``) form on every device, the optimiser of every reference method. On CPU the multi-tensor
    form runs the single-tensor form's per-tensor kernels in one call per operation instead of one per
    parameter: the same updates bit for bit (tested), about a fifth less time per step; on CUDA it is torch's
    default. A parameter listed twice is refused (ValueError): the two forms would update it differently."""
    params = list(params)
    if len({id(p) for p in params}) != len(params):
        raise ValueError("a parameter is listed twice: give each parameter to the optimiser once")
    return torch.optim.Adam(params, lr=lr, foreach=True)


@dataclasses.dataclass(kw_only=True)
class Stage:
    """One optimisation stage of a method.

    Attributes:
        name: shown in logs and curves (``"classifier"``, ``"embedding"``...).
        modules: the modules this stage trains (their best state is kept and restored).
        optimizer: over the parameters of ``modules``.
        batches: ``batches(rng) -> iterable`` of one epoch's batches (any objects ``step`` understands).
        step: ``step(batch) -> (loss tensor, number of examples fed)``; the loop does zero_grad / backward /
            optimiser step.
        validate: ``validate() -> {metric: value}`` on the validation data (called in eval mode, no grad).
        selection: the key of ``validate()`` that chooses the checkpoint (higher is better; threshold-free,
            e.g. ``map``).
        max_epochs, patience, warmup: the budget and early stopping (see :class:`EarlyStopping`).
        frozen: modules used by ``step`` but not trained (kept in eval mode).
        max_steps: optimiser steps at most (0: no cap); the epoch in which the cap is reached ends there, is
            validated and ends the stage. With it, grids that compare window lengths (more windows per clip,
            more steps per epoch) give every cell the same number of optimiser steps.
    """

    name: str
    modules: dict[str, torch.nn.Module]
    optimizer: torch.optim.Optimizer
    batches: Callable[[np.random.Generator], Iterable[Any]]
    step: Callable[[Any], tuple[torch.Tensor, int]]
    validate: Callable[[], dict[str, float]]
    selection: str
    max_epochs: int
    patience: int
    warmup: int = 0
    frozen: dict[str, torch.nn.Module] = dataclasses.field(default_factory=dict)
    max_steps: int = 0


def _state(modules: dict[str, torch.nn.Module]) -> dict[str, dict[str, torch.Tensor]]:
    return {k: copy.deepcopy(m.state_dict()) for k, m in modules.items()}


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fit_stage(stage: Stage, *, rng: np.random.Generator, log: Callable[[dict[str, Any]], None],
              progress: bool = False) -> dict[str, Any]:
    """Train ``stage`` and restore its best weights by ``stage.selection``; returns the stage summary
    (epochs run, best epoch, best value, optimiser steps, examples fed, seconds, examples per second).

    Epoch 0 is the model before training (validated, never trained): when no epoch beats it, the initial
    weights are kept and the summary says so (``best_epoch`` 0)."""
    for m in stage.frozen.values():
        m.eval()
    stopper = EarlyStopping(stage.patience, stage.warmup)
    best_state = _state(stage.modules)
    steps = examples = 0
    train_seconds = 0.0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=stage.max_epochs, desc=stage.name, unit="epoch", leave=False)

    def evaluate(epoch: int, loss: float | None, seconds: float) -> bool:
        nonlocal best_state
        for m in stage.modules.values():
            m.eval()
        with torch.no_grad():
            metrics = {k: _finite(v) for k, v in stage.validate().items()}
        if stage.selection not in metrics:
            raise KeyError(f"stage {stage.name!r}: validate() returned {sorted(metrics)}, no {stage.selection!r}")
        improved, stop = stopper.step(epoch, metrics[stage.selection])
        if improved:
            best_state = _state(stage.modules)
        log({"stage": stage.name, "epoch": epoch, "steps": steps, "examples": examples,
             "loss": _finite(loss), **{f"val_{k}": v for k, v in metrics.items()},
             "selection": stage.selection, "best": improved, "seconds": round(seconds, 3)})
        if bar is not None and epoch > 0:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", **{stage.selection: f"{metrics[stage.selection] or float('nan'):.3f}"})
        return stop

    try:
        evaluate(0, None, 0.0)
        epochs = 0
        for epoch in range(1, stage.max_epochs + 1):
            t0 = time.perf_counter()
            for m in stage.modules.values():
                m.train()
            total, n = 0.0, 0
            for batch in stage.batches(rng):
                stage.optimizer.zero_grad(set_to_none=True)
                loss, count = stage.step(batch)
                loss.backward()
                stage.optimizer.step()
                total += float(loss.detach()) * count
                n += count
                steps += 1
                if stage.max_steps and steps >= stage.max_steps:
                    break
            examples += n
            seconds = time.perf_counter() - t0
            train_seconds += seconds
            epochs = epoch
            if evaluate(epoch, total / max(n, 1), seconds) or (stage.max_steps and steps >= stage.max_steps):
                break
    finally:
        if bar is not None:
            bar.close()
    for k, m in stage.modules.items():
        m.load_state_dict(best_state[k])
        m.eval()
    return {"stage": stage.name, "epochs": epochs, "max_epochs": stage.max_epochs, "max_steps": stage.max_steps or None,
            "best_epoch": stopper.best_epoch,
            "selection": stage.selection,
            "best_value": stopper.best if math.isfinite(stopper.best) else None, "steps": steps,
            "examples": examples, "train_seconds": round(train_seconds, 3),
            "examples_per_second": round(examples / train_seconds, 3) if train_seconds > 0 else None,
            "improved_on_initial": stopper.best_epoch > 0}


# --- checkpoints ----------------------------------------------------------------------------------

def save_checkpoint(path: Path, *, method: str, config: dict, classes: list[str], scaler: dict,
                    state: dict[str, dict], extra: dict | None = None) -> None:
    """Weights + scaler + config in one file (written atomically; loadable with ``weights_only=True``; the
    same content gives the same bytes, whatever the file's name)."""
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "method": method,
               "config": json.loads(json.dumps(config)), "classes": list(classes), "scaler": scaler,
               "state": state, "extra": json.loads(json.dumps(extra or {}))}
    buffer = io.BytesIO()  # a file-like target: torch names the archive's records "archive/...", not after the
    torch.save(payload, buffer)  # (temporary, random) file name, so equal weights give equal bytes anywhere
    with atomic_path(Path(path), suffix=".pt.partial") as tmp:
        tmp.write_bytes(buffer.getvalue())


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
