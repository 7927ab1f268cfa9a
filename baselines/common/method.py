"""Base class of the torch baselines: config, data, scaler, checkpoint and prediction plumbing.

A method (see :mod:`wlbench.methods` for the protocol every ``wlbench.methods`` entry point follows)
has ``name``, ``description``, ``default_config()``, ``train(dataset, config, run_dir, progress)``
and ``predict(run_dir, dataset, split, segment) -> (clip_ids, scores)``.
"""

from __future__ import annotations

import abc

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.common import data
from baselines.common.fit import load_checkpoint, load_state, save_checkpoint, seed_everything, select_device
from wlbench.errors import WlbenchError

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"

SHARED_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "device": "auto",  # auto: CUDA when present, else CPU
    "threads": 0,  # torch CPU threads (0: leave torch's default)
    "train_split": "train",
    "valid_split": "validation",
    "train_segment": "1s",  # segment view the model is trained on ("clip" for whole clips)
    "threshold": 0.5,  # decision threshold of the validation F1
    "lr": 1e-3,
    "batch_size": 20,
    "max_epochs": 100,
    "patience": 30,
    "warmup": 50,
    "eval_batch_size": 64,
    "train_clips": 0,  # 0: every training clip; else a seeded class-balanced subset of this size
}


class TorchMethod(abc.ABC):
    name = "base"
    description = ""
    defaults: dict[str, Any] = {}

    def default_config(self) -> dict[str, Any]:
        return {**SHARED_DEFAULTS, **self.defaults}

    # --- to implement -------------------------------------------------------------------------
    @abc.abstractmethod
    def build(self, config: dict, n_freq: int, n_classes: int) -> dict[str, torch.nn.Module]:
        """The method's modules (name -> module) for inputs of ``n_freq`` bands and ``n_classes`` classes."""

    @abc.abstractmethod
    def fit_modules(self, modules, train: data.SplitData, valid: data.SplitData, config: dict,
                    rng: np.random.Generator, device: torch.device, log_path: Path, progress: bool) -> dict:
        """Train the modules in place (keeping the best weights); returns a summary of the training."""

    @abc.abstractmethod
    def scores(self, modules, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C) of standardised inputs (B, L, F)."""

    # --- shared -------------------------------------------------------------------------------
    def train(self, dataset: str | Path, config: dict, run_dir: str | Path, progress: bool = False) -> dict:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        info = data.dataset_info(dataset)
        for s in (config["train_split"], config["valid_split"]):
            data.check_split(info, s)
        if int(config.get("threads") or 0) > 0:
            torch.set_num_threads(int(config["threads"]))
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            return self._train(dataset, config, run_dir, info, progress)
        finally:
            torch.use_deterministic_algorithms(was_deterministic)

    def _train(self, dataset, config: dict, run_dir: Path, info: data.DatasetInfo, progress: bool) -> dict:
        rng = seed_everything(int(config["seed"]))
        device = select_device(str(config["device"]))
        scaler = data.training_scaler(dataset, config["train_split"])
        train = data.load_split(dataset, config["train_split"], config["train_segment"])
        valid = data.load_split(dataset, config["valid_split"], config["train_segment"])
        if int(config.get("train_clips") or 0) > 0:
            train = data.subset(train, data.balanced_subset(train.class_index, int(config["train_clips"]),
                                                            int(config["seed"])))
        train.x, valid.x = scaler.transform(train.x), scaler.transform(valid.x)
        modules = self.build(config, train.x.shape[-1], len(info.classes))
        for m in modules.values():
            m.to(device)
        log_path = run_dir / LOG
        log_path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        self.clips_seen = 0
        stages = self.fit_modules(modules, train, valid, config, rng, device, log_path, progress)
        seconds = time.perf_counter() - t0
        save_checkpoint(run_dir / CHECKPOINT, method=self.name, config=config, classes=info.classes,
                        scaler=scaler.to_dict(), state={k: m.state_dict() for k, m in modules.items()},
                        extra={"dataset": info.name, "content_id": info.content_id, "n_freq": train.x.shape[-1]})
        return {"stages": stages, "train_seconds": round(seconds, 3), "clips_seen": int(self.clips_seen),
                "clips_per_second": round(self.clips_seen / seconds, 3) if seconds > 0 else None,
                "n_train": len(train), "n_valid": len(valid), "device": str(device)}

    def load(self, run_dir: str | Path) -> tuple[dict, dict, data.Scaler, dict]:
        path = Path(run_dir) / CHECKPOINT
        ck = load_checkpoint(path, self.name)
        config = {**self.default_config(), **ck["config"]}
        try:
            modules = self.build(config, int(ck["extra"]["n_freq"]), len(ck["classes"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise WlbenchError(f"checkpoint {path}: its config cannot build the network ({exc})") from None
        if set(modules) != set(ck["state"]):
            raise WlbenchError(f"checkpoint {path}: holds weights for {sorted(ck['state'])}, the method needs "
                               f"{sorted(modules)}")
        for k, m in modules.items():
            load_state(m, ck["state"][k], path, k)
            m.eval()
        return ck, modules, data.Scaler.from_dict(ck["scaler"]), config

    def predict(self, run_dir: str | Path, dataset: str | Path, split: str, segment: str | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        ck, modules, scaler, config = self.load(run_dir)
        info = data.dataset_info(dataset)
        if list(info.classes) != list(ck["classes"]):
            raise WlbenchError(f"{dataset}: classes {info.classes[:4]}... do not match the run's classes "
                               f"{ck['classes'][:4]}...", hint="predict on a dataset with the training classes")
        if scaler.mean.shape[0] != int(ck["extra"]["n_freq"]):
            raise WlbenchError(f"checkpoint {Path(run_dir) / CHECKPOINT}: scaler has {scaler.mean.shape[0]} bands, "
                               f"the network {ck['extra']['n_freq']}")
        d = data.load_split(dataset, split, segment)
        if d.x.shape[-1] != scaler.mean.shape[0]:
            raise WlbenchError(f"{dataset}: features have {d.x.shape[-1]} bands; the run was trained on "
                               f"{scaler.mean.shape[0]}")
        x = scaler.transform(d.x)
        out = []
        bs = int(config["eval_batch_size"])
        with torch.no_grad():
            for i in range(0, len(x), bs):
                out.append(self.scores(modules, torch.from_numpy(x[i:i + bs])).cpu().numpy())
        scores = np.concatenate(out) if out else np.zeros((0, len(info.classes)), dtype=np.float32)
        return d.clip_ids, scores.astype(np.float64)


def run_batched(fn, x: np.ndarray, batch_size: int, device: torch.device) -> torch.Tensor:
    """Apply ``fn`` to (N, ...) numpy inputs in batches without gradients; result on CPU."""
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(fn(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu())
    return torch.cat(outs)
