"""Base class of torch methods (the reference baselines and outside ones): shared options, data, scaler, device,
checkpoint and prediction plumbing.

A method subclasses :class:`TorchMethod` and implements

- ``options`` (class attribute): its own :class:`~wlbench.methods.ConfigSchema`, merged over ``SHARED``;
- ``build(config, n_freq, n_classes) -> {name: module}``;
- ``fit(modules, train, valid, run) -> [stage summaries]``: declares its stages and hands each to
  ``run.fit(stage)`` (the framework's loop, :func:`wlbench.training.fit.fit_stage`);
- ``forward(modules, x) -> (clip scores (B, C), frame scores (B, T', C) or None)`` on standardised inputs;
  methods with frame scores also set ``frame_pool(config)`` (input frames per output frame).

Optionally ``load_train`` / ``load_valid`` (what data to ask the dataset layer for) and ``controls``.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wlbench.dataset.reader import Dataset, opened
from wlbench.dataset.training_data import TrainingData
from wlbench.errors import WlbenchError
from wlbench.methods import ConfigSchema, Option, PredictContext, Predictions, TrainContext
from wlbench.methods.protocol import RUN_OPTIONS
from wlbench.training import data
from wlbench.training.fit import (
    Stage,
    fit_stage,
    load_checkpoint,
    load_state,
    save_checkpoint,
    seed_everything,
    select_device,
)
from wlbench.training.sampling import balanced_subset

CHECKPOINT = "checkpoint.pt"

MAX_WIDTH = 4096
"""The most channels / units a layer of a reference network may have: a wider one is refused by the config
schema before anything is built (``filters=[100000, ...]`` would otherwise exhaust memory mid-run)."""
WIDTH = Option(1, kind=int, min=1, max=MAX_WIDTH, doc=f"a layer's channels or units (1-{MAX_WIDTH})")

SHARED = ConfigSchema({
    "labels": RUN_OPTIONS["labels"],
    "oracle": Option("none", kind=str, choices=("none", "labels", "mask"),
                     doc="oracle upper bound: 'labels' trains on the true labels, 'mask' masks the view's dropped "
                         "positives out of the loss"),
    "device": Option("auto", kind=str, doc="auto (CUDA when present, else CPU), cpu, cuda or cuda:N"),
    "threads": RUN_OPTIONS["threads"],
    "train_split": RUN_OPTIONS["train_split"],
    "valid_split": RUN_OPTIONS["valid_split"],
    "valid_labels": RUN_OPTIONS["valid_labels"],
    "train_clips": Option(0, kind=int, min=0, doc="0: every labeled training clip; else a seeded class-balanced "
                                                  "subset of this size, drawn on the true clip labels so that "
                                                  "every label view, oracle and training segment of a seed trains "
                                                  "on the same clips"),
    "lr": Option(1e-3, kind=float, min=0, min_inclusive=False, doc="Adam learning rate"),
    "batch_size": Option(20, kind=int, min=1, doc="examples per optimiser step"),
    "max_epochs": Option(100, kind=int, min=1, doc="training epochs at most"),
    "patience": Option(30, kind=int, min=1, doc="early stopping: epochs without improvement (after warmup)"),
    "warmup": Option(50, kind=int, min=0, doc="early stopping: epochs that never stop the run"),
    "eval_batch_size": Option(64, kind=int, min=1, doc="batch size of inference"),
    "threshold": Option(0.5, kind=float, min=0, max=1, doc="decision threshold of the logged validation F1"),
    "channels_last": Option(True, kind=bool, doc="run the conv trunk in channels-last memory format (its weights "
                                                 "stored so; 1.3-2x faster on CPU; outputs equal to ~1e-6)"),
})


@dataclasses.dataclass
class Run:
    """What a method's ``fit`` gets: the context, config, device, the run's seeded generator."""

    ctx: TrainContext
    config: dict[str, Any]
    device: torch.device
    rng: np.random.Generator
    n_classes: int

    def fit(self, stage: Stage) -> dict[str, Any]:
        """Run one stage with the framework's loop (see :func:`wlbench.training.fit.fit_stage`)."""
        return fit_stage(stage, rng=self.rng, log=self.ctx.log, progress=self.ctx.progress)

    def batched(self, fn, x: np.ndarray, batch_size: int | None = None) -> torch.Tensor:
        """``fn`` over (N, ...) numpy inputs in batches on the run's device, without gradients; result on CPU."""
        return run_batched(fn, x, batch_size or int(self.config["eval_batch_size"]), self.device)


class TorchMethod(abc.ABC):
    name = "base"
    description = ""
    options: ConfigSchema = ConfigSchema({})
    controls: dict[str, dict[str, Any]] = {}

    def config_schema(self) -> ConfigSchema:
        return SHARED | self.options

    # --- to implement -------------------------------------------------------------------------
    @abc.abstractmethod
    def build(self, config: dict, n_freq: int, n_classes: int) -> dict[str, torch.nn.Module]:
        """The method's modules (name -> module) for inputs of ``n_freq`` bands and ``n_classes`` classes."""

    @abc.abstractmethod
    def fit(self, modules: dict[str, torch.nn.Module], train: TrainingData, valid: TrainingData, run: Run
            ) -> list[dict[str, Any]]:
        """Train the modules in place (each stage through ``run.fit``); returns the stage summaries."""

    @abc.abstractmethod
    def forward(self, modules: dict[str, torch.nn.Module], x: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(clip probabilities (B, C), frame probabilities (B, T', C) or None) of standardised inputs (B, L, F)."""

    def frame_pool(self, config: dict) -> int:
        """Input feature frames per output frame of ``forward``'s frame scores (frame methods override)."""
        return 1

    # --- data (override to ask the dataset layer for more) ---------------------------------------------
    def load_train(self, ctx: TrainContext) -> TrainingData:
        c = ctx.config
        return data.load_training(ctx.dataset, c["train_split"], labels=c["labels"], oracle=c["oracle"],
                                  segment=c.get("train_segment"))

    def load_valid(self, ctx: TrainContext) -> TrainingData:
        """The validation split through the same label condition as training (:func:`validation_labels`),
        labeled clips only, through the same segment view as training."""
        c = ctx.config
        valid = data.load_training(ctx.dataset, c["valid_split"], labels=validation_labels(ctx.dataset, c),
                                   segment=c.get("train_segment"))
        return valid.subset(valid.labeled)

    def subset_seed(self, config: dict, seed: int) -> int:
        """Seed of the ``train_clips`` subset: the run's seed (methods with a fixed data seed override)."""
        return seed

    # --- shared -------------------------------------------------------------------------------
    def train(self, ctx: TrainContext) -> dict[str, Any]:
        config = dict(ctx.config)
        info = data.dataset_info(ctx.dataset)
        for s in (config["train_split"], config["valid_split"]):
            data.check_split(info, s)
        if config["threads"] > 0:
            torch.set_num_threads(config["threads"])
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        was_filling = torch.utils.deterministic.fill_uninitialized_memory  # type: ignore[attr-defined]
        try:
            return self._train(ctx, config, info)
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.utils.deterministic.fill_uninitialized_memory = was_filling  # type: ignore[attr-defined]

    def _train(self, ctx: TrainContext, config: dict, info: data.DatasetInfo) -> dict[str, Any]:
        rng = seed_everything(ctx.seed)
        device = select_device(config["device"])
        train, valid = self.load_train(ctx), self.load_valid(ctx)
        if config["train_clips"] > 0:
            # drawn on the whole-clip truth of the same clips (never on the labels this run reads, nor on a segment
            # window), so the oracle, every label view and every training segment of one seed use the same clips
            design = data.true_labels_of(ctx.dataset, config["train_split"], train.clip_ids)
            train = train.subset(balanced_subset(design, config["train_clips"],
                                                 self.subset_seed(config, ctx.seed)))
        if len(train) == 0 or len(valid) == 0:
            raise WlbenchError(f"{ctx.dataset}: {'no training clips' if len(train) == 0 else 'no labeled validation clips'}"
                               f" for method {self.name!r}", hint="check train_split, valid_split and labels")
        scaler = data.training_scaler(ctx.dataset, config["train_split"])
        assert train.features is not None and valid.features is not None  # asked for with features
        train.features, valid.features = scaler.transform(train.features), scaler.transform(valid.features)
        modules = self.build(config, train.features.shape[-1], len(info.classes))
        for m in modules.values():
            m.to(device)
        run = Run(ctx, config, device, rng, len(info.classes))
        t0 = time.perf_counter()
        stages = self.fit(modules, train, valid, run)
        seconds = time.perf_counter() - t0
        save_checkpoint(Path(ctx.run_dir) / CHECKPOINT, method=self.name, config=config, classes=info.classes,
                        scaler=scaler.to_dict(), state={k: m.state_dict() for k, m in modules.items()},
                        extra={"dataset": info.name, "content_id": info.content_id,
                               "n_freq": int(train.features.shape[-1])})
        return {"stages": stages, "train_seconds": round(seconds, 3), "n_train": len(train), "n_valid": len(valid),
                "train_clips_id": clip_set_id(train.clip_ids), "valid_labels": valid.view,
                "device": str(device), "threads": torch.get_num_threads()}

    def load(self, run_dir: str | Path) -> tuple[dict, dict, data.Scaler, dict]:
        path = Path(run_dir) / CHECKPOINT
        ck = load_checkpoint(path, self.name)
        config = {**self.config_schema().defaults(), **ck["config"]}
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

    def predict(self, ctx: PredictContext) -> dict[tuple[str, str], Predictions]:
        ck, modules, scaler, config = self.load(ctx.run_dir)
        info = data.dataset_info(ctx.dataset)
        if list(info.classes) != list(ck["classes"]):
            raise WlbenchError(f"{ctx.dataset}: classes {info.classes[:4]}... do not match the run's classes "
                               f"{ck['classes'][:4]}...", hint="predict on a dataset with the training classes")
        device = select_device(config["device"])
        for m in modules.values():
            m.to(device)
        reader = data.FeatureReader(ctx.dataset)
        frame_rate = _frame_rate(ctx.dataset)
        out: dict[tuple[str, str], Predictions] = {}
        for split, segment in ctx.requests:
            ids, x = reader.features(split, segment)
            if x.shape[-1] != scaler.mean.shape[0]:
                raise WlbenchError(f"{ctx.dataset}: features have {x.shape[-1]} bands; the run was trained on "
                                   f"{scaler.mean.shape[0]}")
            clip, frames = self._infer(modules, scaler.transform(x), int(config["eval_batch_size"]), device,
                                       len(info.classes))
            hop = self.frame_pool(config) / frame_rate if frames is not None else None
            out[(split, segment)] = Predictions(ids, clip, frames, hop)
        return out

    def _infer(self, modules, x: np.ndarray, batch_size: int, device: torch.device, n_classes: int
               ) -> tuple[np.ndarray, np.ndarray | None]:
        clips, frames = [], []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                c, f = self.forward(modules, torch.from_numpy(x[i:i + batch_size]).to(device))
                clips.append(c.cpu().numpy())
                if f is not None:
                    frames.append(f.cpu().numpy())
        clip = np.concatenate(clips).astype(np.float64) if clips else np.zeros((0, n_classes))
        return clip, (np.concatenate(frames).astype(np.float64) if frames else None)


def validation_labels(dataset: Dataset | str | Path, config: Mapping[str, Any]) -> str:
    """The label view model selection reads on the validation split: the training view (so checkpoint choice
    and early stopping see the same label noise as training); the truth for oracle runs (``oracle`` labels or
    mask) and for ``valid_labels = "true"`` (truth-based selection is itself an oracle). A view the validation
    split does not hold is one error naming the two ways out."""
    view = config.get("labels", "true")
    if view == "true" or config.get("oracle", "none") not in ("none", None) or config.get("valid_labels") == "true":
        return "true"
    split = config["valid_split"]
    if view not in data.view_names(dataset, split):
        raise WlbenchError(f"{dataset}: the validation split {split!r} has no label view {view!r}, so model "
                           f"selection cannot read the labels the run trains on",
                           hint="render the view on the validation split too (the recipe's [views] splits) or set "
                                "valid_labels=true (truth-based selection: an oracle)")
    return view


def clip_set_id(clip_ids: np.ndarray) -> str:
    """A short id of a set of clips (order-free): two runs trained on the same clips have the same id."""
    import hashlib

    text = "\n".join(sorted(np.asarray(clip_ids).astype(str).tolist()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _frame_rate(dataset: Dataset | Path) -> float:
    with opened(dataset) as ds:
        return ds.split(ds.splits[0]).frame_rate


def run_batched(fn, x: np.ndarray, batch_size: int, device: torch.device) -> torch.Tensor:
    """Apply ``fn`` to (N, ...) numpy inputs in batches without gradients; result on CPU."""
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(fn(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu())
    return torch.cat(outs)
