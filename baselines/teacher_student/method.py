"""The teacher / student method skeleton on the training framework: options, the windowed tagger, the teacher
stage (optionally cached across the runs of an experiment), the student's own seeded generator.

Both baselines train a teacher first (its own stage), freeze it, derive targets or masks from its scores, then
train a student (another stage). Only the student predicts. The teacher's weights are saved in the checkpoint
beside the student's.

**Teacher cache** (``teacher_cache``, off by default): the cells of an experiment that share a seed, a label
view and the teacher's options train the same teacher; with a cache folder the first run trains it and saves
its weights under a key hashing everything it depends on (dataset content id, training split, labels, oracle,
every teacher option, the seed, the method family), and the others load it (a file lock serialises parallel
runs). The student's draws come from a generator derived from the seed (``[seed, 1]``) and torch is reseeded
before the student, so a run gives the same student whether its teacher was trained or loaded.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wlbench.atomic import atomic_path
from wlbench.dataset.training_data import TrainingData
from wlbench.methods import ConfigSchema, Option
from wlbench.training.fit import Stage, adam
from wlbench.training.method import MAX_WIDTH, WIDTH, Run, TorchMethod, clip_set_id, validation_labels
from wlbench.training.validation import score_metrics
from wlbench_baselines.teacher_student.averaging import TopK
from wlbench_baselines.teacher_student.nets import DEFAULT_NET, FramePoolingTagger, build_tagger
from wlbench_baselines.teacher_student.windows import Windows, chunk_windows, clip_frames, patch_windows

_POOL_PAIR = Option([2, 2], kind=list, length=2, items=Option(1, kind=int, min=1))

NET_OPTIONS = ConfigSchema({
    "filters": Option(DEFAULT_NET["filters"], kind=list, items=WIDTH,
                      doc="conv channels per block (teacher and student share the architecture)"),
    "pools": Option(DEFAULT_NET["pools"], kind=list, items=_POOL_PAIR, doc="(time, frequency) max-pool per block"),
    "activation": Option(DEFAULT_NET["activation"], kind=str, choices=("relu", "leaky_relu")),
    "conv_dropout": Option(DEFAULT_NET["conv_dropout"], kind=float, min=0, max=0.95),
    "batch_norm": Option(DEFAULT_NET["batch_norm"], kind=bool),
    "rnn_hidden": Option(DEFAULT_NET["rnn_hidden"], kind=int, min=0, max=MAX_WIDTH, doc="BiGRU units after the trunk (0: none)"),
    "hidden": Option(DEFAULT_NET["hidden"], kind=list, items=WIDTH,
                     doc="hidden layers of the frame-wise classifier"),
    "head_dropout": Option(DEFAULT_NET["head_dropout"], kind=float, min=0, max=0.95,
                           doc="dropout before the frame-wise classifier"),
})

TEACHER_OPTIONS = ConfigSchema({
    "teacher_lr": Option(1e-3, kind=float, min=0, min_inclusive=False, doc="Adam learning rate of the teacher"),
    "teacher_batch_size": Option(16, kind=int, min=1),
    "teacher_max_epochs": Option(30, kind=int, min=1),
    "teacher_patience": Option(10, kind=int, min=1),
    "teacher_warmup": Option(0, kind=int, min=0),
    "time_masks": Option(0, kind=int, min=0, doc="SpecAugment time masks per example (teacher only)"),
    "time_width": Option(64, kind=int, min=0, doc="frames, at most, of each time mask"),
    "freq_masks": Option(0, kind=int, min=0, doc="SpecAugment frequency masks per example (teacher only)"),
    "freq_width": Option(8, kind=int, min=0, doc="bands, at most, of each frequency mask"),
    "mixup_alpha": Option(0.0, kind=float, min=0, doc="mixup Beta parameter of the teacher (0: no mixup)"),
    "teacher_cache": Option("", kind=str, identity=False, doc="folder where teachers are shared between runs ('': off; see "
                                              "docs/baselines.md)"),
})

STUDENT_OPTIONS = ConfigSchema({
    "student_clips": Option(0, kind=int, min=0, doc="0: the student trains on every training clip; else on a "
                                                    "nested seeded subset of this size (the teacher keeps all)"),
    "subset_seed": Option(0, kind=int, min=0, doc="seed of the train_clips and student subsets (fixed across run "
                                                  "seeds)"),
    "top_k": Option(1, kind=int, min=1, doc="the student's k best checkpoints (validation mAP) are averaged"),
    "student_steps": Option(0, kind=int, min=0, doc="the student's optimiser steps at most (0: no cap); equal "
                                                   "steps for every chunk length of a grid (max_epochs must "
                                                   "then allow them)"),
})


class WindowedTagger(nn.Module):
    """A :class:`FramePoolingTagger` applied to windows of each input clip (chunks of ``chunk`` s with hop
    ``chunk``, or patches of ``patch_frames`` every ``patch_hop``); the clip score is the length-weighted
    mean of the window scores. The frame rate and clip duration are buffers set by :meth:`set_timing` before
    training (saved with the weights); an input of L frames is taken as ``min(clip_duration, L / frame_rate)``
    seconds."""

    def __init__(self, tagger: FramePoolingTagger, *, chunk: float = 0.0, patch_frames: int = 0,
                 patch_hop: int = 0) -> None:
        super().__init__()
        if (chunk > 0) == (patch_frames > 0):
            raise ValueError("give either a chunk length or a patch length")
        self.tagger, self.chunk, self.patch_frames, self.patch_hop = tagger, float(chunk), int(patch_frames), int(patch_hop)
        self.register_buffer("timing", torch.zeros(2, dtype=torch.float64))  # frame rate, clip duration

    def set_timing(self, frame_rate: float, clip_duration: float) -> None:
        self.timing.copy_(torch.tensor([float(frame_rate), float(clip_duration)], dtype=torch.float64))

    def windows(self, n_clips: int, n_frames: int) -> Windows:
        fps, duration = float(self.timing[0]), float(self.timing[1])
        if fps <= 0:
            raise RuntimeError("set_timing() was never called on this tagger")
        duration = min(duration, n_frames / fps)
        if self.chunk > 0:
            return chunk_windows(n_clips, clip_duration=duration, frame_rate=fps, chunk=min(self.chunk, duration),
                                 n_frames=n_frames)
        return patch_windows(n_clips, n_frames=clip_frames(duration, fps, n_frames), length=self.patch_frames,
                             hop=self.patch_hop)

    def score_windows(self, x: torch.Tensor, windows: Windows, index: np.ndarray) -> torch.Tensor:
        """Clip probabilities (len(index), C) of windows ``index`` (of one length) of the clips ``x``."""
        length = int(windows.lengths[index[0]])
        frames = torch.from_numpy(windows.start[index, None] + np.arange(length)[None, :]).to(x.device)
        rows = torch.from_numpy(windows.clip[index, None]).to(x.device)
        return self.tagger(x[rows, frames])[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.windows(x.shape[0], x.shape[1])
        scores = torch.empty((len(w), self.tagger.head.net[-1].out_features), dtype=x.dtype, device=x.device)
        for index in w.batches(len(w)):
            scores[torch.from_numpy(index).to(x.device)] = self.score_windows(x, w, index)
        weight = torch.from_numpy(w.lengths.astype(np.float64)).to(device=x.device, dtype=x.dtype)
        clip = torch.from_numpy(w.clip).to(x.device)
        total = torch.zeros((w.n_clips, scores.shape[1]), dtype=x.dtype, device=x.device)
        total.index_add_(0, clip, scores * weight[:, None])
        norm = torch.zeros(w.n_clips, dtype=x.dtype, device=x.device).index_add_(0, clip, weight)
        return total / norm[:, None]


def clip_duration_of(dataset: Path) -> float:
    from wlbench.dataset.reader import opened

    with opened(dataset) as ds:
        return float(ds.attr("clip_duration"))


class TeacherStudent(TorchMethod):
    """Shared plumbing; subclasses define the windows, the teacher's step and the student stage."""

    options = NET_OPTIONS | TEACHER_OPTIONS | STUDENT_OPTIONS
    family = "teacher-student"  # part of the teacher cache key

    # --- windows of each role (subclasses) ----------------------------------------------------
    @abc.abstractmethod
    def teacher_windows(self, config: dict) -> dict[str, Any]:
        """Window settings (``WindowedTagger`` keywords) of the teacher."""

    @abc.abstractmethod
    def student_windows(self, config: dict) -> dict[str, Any]:
        """Window settings (``WindowedTagger`` keywords) of the student."""

    def build(self, config, n_freq, n_classes):
        return {"teacher": WindowedTagger(build_tagger(config, n_freq, n_classes), **self.teacher_windows(config)),
                "student": WindowedTagger(build_tagger(config, n_freq, n_classes), **self.student_windows(config))}

    def forward(self, modules, x):
        return modules["student"](x), None

    def load_train(self, ctx) -> TrainingData:
        train = super().load_train(ctx)
        return train.subset(train.labeled)

    # --- teacher ------------------------------------------------------------------------------
    def teacher_key(self, run: Run, train: TrainingData) -> str:
        from wlbench.training.data import dataset_info

        c = run.config
        keys = sorted(set(NET_OPTIONS.defaults()) | set(TEACHER_OPTIONS.defaults()) - {"teacher_cache"})
        # everything the teacher's data and selection depend on: the clips it trains on (by id) and the labels
        # its checkpoint is chosen on (key version 2: teachers cached before view-validated selection differ)
        payload = {"key_version": 2, "family": self.family, "content_id": dataset_info(run.ctx.dataset).content_id,
                   "train_split": c["train_split"], "labels": c["labels"], "oracle": c["oracle"],
                   "train_clips": c["train_clips"], "clips": clip_set_id(train.clip_ids), "seed": run.ctx.seed,
                   "n_train": len(train), "valid": [c["valid_split"], validation_labels(run.ctx.dataset, c)],
                   "teacher_windows": self.teacher_windows(c), "options": {k: c[k] for k in keys}}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]

    @abc.abstractmethod
    def teacher_stage(self, teacher: WindowedTagger, train: TrainingData, valid: TrainingData, run: Run) -> Stage:
        """The teacher's training stage on ``train``, selected on ``valid``."""

    def windows_stage(self, teacher: WindowedTagger, windows: Windows, step, valid: TrainingData, run: Run) -> Stage:
        """The teacher's stage: ``step(index batch)`` over the training ``windows``, checkpoint by validation mAP
        of the teacher's clip scores."""
        c = run.config

        def validate():
            return score_metrics(run.batched(teacher, valid.features).numpy(), valid.labels, c["threshold"])

        return Stage(name="teacher", modules={"teacher": teacher},
                     optimizer=adam(teacher.parameters(), lr=c["teacher_lr"]),
                     batches=lambda rng: windows.batches(c["teacher_batch_size"], rng), step=step, validate=validate,
                     selection="map", max_epochs=c["teacher_max_epochs"], patience=c["teacher_patience"],
                     warmup=c["teacher_warmup"])

    def train_teacher(self, modules, train: TrainingData, valid: TrainingData, run: Run) -> dict[str, Any]:
        """Train the teacher (or load it from the cache), then leave it in eval mode."""
        teacher = modules["teacher"]
        folder = run.config["teacher_cache"]
        if not folder:
            return run.fit(self.teacher_stage(teacher, train, valid, run))
        from filelock import FileLock

        cache = Path(folder)
        cache.mkdir(parents=True, exist_ok=True)
        key = self.teacher_key(run, train)
        path = cache / f"{key}.pt"
        with FileLock(str(cache / f"{key}.lock")):
            if path.is_file():
                saved = torch.load(path, map_location="cpu", weights_only=True)
                teacher.load_state_dict(saved["state"])
                teacher.to(run.device).eval()
                return {**json.loads(saved["summary"]), "cached": key}
            summary = run.fit(self.teacher_stage(teacher, train, valid, run))
            with atomic_path(path, suffix=".pt.partial") as tmp:
                torch.save({"state": teacher.state_dict(), "summary": json.dumps(summary)}, tmp)
            return {**summary, "cached": None}

    def student_run(self, run: Run) -> Run:
        """The run with the student's own generator (independent of the teacher's draws)."""
        torch.manual_seed(run.ctx.seed + 104729)
        return dataclasses.replace(run, rng=np.random.default_rng([run.ctx.seed, 1]))

    def subset_seed(self, config: dict, seed: int) -> int:
        """The teacher's ``train_clips`` subset is drawn with ``subset_seed`` like the student's: fixed across
        run seeds, so every seed (and every view and oracle) of a grid trains on the same clips."""
        return int(config["subset_seed"])

    def student_rows(self, train: TrainingData, config: dict) -> np.ndarray:
        from wlbench_baselines.teacher_student.subsets import nested_subset

        return nested_subset(len(train), config["student_clips"], config["subset_seed"])

    def set_timing(self, modules, train: TrainingData, run: Run) -> None:
        duration = clip_duration_of(run.ctx.dataset)
        for m in modules.values():
            m.set_timing(train.frame_rate, duration)

    # --- the student's stage with top-k averaging --------------------------------------------
    def fit_student(self, student: WindowedTagger, batches, step, valid: TrainingData, run: Run
                    ) -> dict[str, Any]:
        """The student's stage (checkpoint by validation mAP); with ``top_k`` > 1 the k best validated states
        are weight-averaged into the student at the end (see :mod:`wlbench_baselines.teacher_student.averaging`)."""
        from wlbench_baselines.teacher_student.averaging import average_states

        c = run.config
        top = TopK(c["top_k"])
        calls = [0]

        def validate():
            scores = run.batched(student, valid.features).numpy()
            metrics = score_metrics(scores, valid.labels, c["threshold"])
            top.offer(metrics["map"], calls[0], student.state_dict())
            calls[0] += 1
            return metrics

        stage = Stage(name="student", modules={"student": student},
                      optimizer=adam(student.parameters(), lr=c["lr"]), batches=batches, step=step,
                      validate=validate, selection="map", max_epochs=c["max_epochs"], patience=c["patience"],
                      warmup=c["warmup"], max_steps=c["student_steps"])
        summary = run.fit(stage)
        if c["top_k"] > 1 and len(top) > 1:
            student.load_state_dict(average_states(top.states()))
            student.eval()
            with torch.no_grad():
                averaged = score_metrics(run.batched(student, valid.features).numpy(), valid.labels, c["threshold"])
            run.ctx.log({"stage": "student-average", "epoch": summary["epochs"], "averaged_epochs": top.epochs(),
                         **{f"val_{k}": v for k, v in averaged.items()}, "selection": "map"})
            summary = {**summary, "averaged_epochs": top.epochs(), "averaged_values": top.values(),
                       "averaged_map": averaged["map"]}
        return summary
