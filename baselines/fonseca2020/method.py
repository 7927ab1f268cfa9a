"""Loss masking for missing labels (Fonseca et al., 2020) on wlbench's framework: a teacher on 0.96 s patches
of the observed labels scores every training clip (mean of its patch scores); per class the top p % of the
implicit negatives are flagged; the student is trained on the patches with the flagged negative terms masked.
docs/baselines.md states every convention and deviation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from wlbench.dataset.training_data import TrainingData
from wlbench.methods import ConfigSchema, Option
from wlbench.training.fit import Stage
from wlbench_baselines.fonseca2020.masking import NORMALISATIONS, flag_top_negatives, implicit_negatives, masked_bce
from wlbench_baselines.teacher_student.method import TeacherStudent, WindowedTagger
from wlbench_baselines.teacher_student.relabel import relabel


class LossMasking(TeacherStudent):
    name = "fonseca-masking"
    description = ("Teacher-student loss masking: the top p % of each class's implicit negatives by teacher score "
                   "are masked out of the student's BCE (Fonseca et al. 2020)")
    family = "fonseca2020"
    options = TeacherStudent.options | ConfigSchema({
        "discard_percent": Option(1.0, kind=float, min=0, max=100, doc="p: share (%) of each class's implicit "
                                                                       "negatives flagged and masked"),
        "normalise": Option("all", kind=str, choices=NORMALISATIONS,
                            doc="loss denominator: all entries (the paper) or the unmasked ones"),
        "patch_frames": Option(96, kind=int, min=1, doc="patch length in frames (0.96 s at 100 frames/s)"),
        "patch_hop": Option(48, kind=int, min=1, doc="patch hop in frames (50 % overlap)"),
        "batch_size": Option(64, kind=int, min=1, doc="student patches per step"),
        "teacher_batch_size": Option(64, kind=int, min=1, doc="teacher patches per step"),
    })
    controls = {"oracle-mask": {"oracle": "mask", "discard_percent": 0.0}}

    def teacher_windows(self, config):
        return {"patch_frames": config["patch_frames"], "patch_hop": config["patch_hop"]}

    student_windows = teacher_windows

    def teacher_stage(self, teacher: WindowedTagger, train: TrainingData, valid: TrainingData, run) -> Stage:
        w = teacher.windows(len(train), train.features.shape[1])
        x = train.features
        y = torch.from_numpy(w.expand(train.labels).astype(np.float32))
        known = torch.from_numpy(w.expand(train.known).astype(np.float32))

        def step(idx):
            out = teacher.tagger(torch.from_numpy(w.gather(x, idx)).to(run.device))[0]
            return masked_bce(out, y[idx].to(run.device), known=known[idx].to(run.device)), len(idx)

        return self.windows_stage(teacher, w, step, valid, run)

    def fit(self, modules, train, valid, run):
        c = run.config
        self.set_timing(modules, train, run)
        teacher, student = modules["teacher"], modules["student"]
        stages: list[dict[str, Any]] = []
        rows = self.student_rows(train, c)
        sub = train.subset(rows)
        # the oracle mask ("mask") marks the dropped positives unknown: they become flags of the same mask
        oracle_flags = (sub.known == 0) & (sub.labels == 0)
        implicit = implicit_negatives(sub.labels, known=sub.known)
        flagged = np.zeros_like(implicit)
        if c["discard_percent"] > 0:
            stages.append({"stage": "teacher", **self.train_teacher(modules, train, valid, run)})
            tw = teacher.windows(len(sub), sub.features.shape[1])
            scores = tw.pool(relabel(teacher, sub.features, tw, batch_size=c["eval_batch_size"], device=run.device))
            flags = flag_top_negatives(scores, implicit, c["discard_percent"])
            flagged = flags.flagged
            audit = run.ctx.audit.labels("flags", c["train_split"], flagged.astype(np.uint8), clip_ids=sub.clip_ids,
                                         percent=c["discard_percent"])
            write_flags(Path(run.ctx.run_dir) / FLAGS_FILE, sub.clip_ids, flagged, run.ctx.dataset)
            stages.append({"stage": "flags", "percent": c["discard_percent"], "flagged": int(flagged.sum()),
                           "flagged_per_class": flags.counts.tolist(), "candidates_per_class": flags.candidates.tolist(),
                           "thresholds": [None if not np.isfinite(t) else float(t) for t in flags.thresholds],
                           "flag_precision": audit.get("implicit_precision"), "flag_recall": audit.get("implicit_recall")})
        if oracle_flags.any():
            stages.append({"stage": "oracle-mask", "flagged": int(oracle_flags.sum())})
        mask_clips = (~(flagged | oracle_flags)).astype(np.float32)
        w = student.windows(len(sub), sub.features.shape[1])
        x = sub.features
        y = torch.from_numpy(w.expand(sub.labels).astype(np.float32))
        mask = torch.from_numpy(w.expand(mask_clips))
        srun = self.student_run(run)

        def step(idx):
            out = student.tagger(torch.from_numpy(w.gather(x, idx)).to(run.device))[0]
            return masked_bce(out, y[idx].to(run.device), mask[idx].to(run.device), normalise=c["normalise"]), len(idx)

        stages.append(self.fit_student(student, lambda rng: w.batches(c["batch_size"], rng), step, valid, srun))
        return stages


FLAGS_FILE = "flags.tsv"


def write_flags(path: Path, clip_ids: np.ndarray, flagged: np.ndarray, dataset: Path) -> None:
    """The flagged (clip, class) entries as a TSV (``clip_id``, ``event_label``), by clip id, so anyone can
    check them against the dataset's dropped positives."""
    from wlbench.training.data import dataset_info

    classes = dataset_info(dataset).classes
    rows, cols = np.nonzero(flagged)
    lines = ["clip_id\tevent_label"] + [f"{clip_ids[r]}\t{classes[c]}" for r, c in zip(rows, cols)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


MASKING = LossMasking()
