"""Pseudo strong labels (Dinkel et al., ICASSP 2022) on wlbench's framework: the machine annotator (teacher) on
10 s clips with SpecAugment and mixup, relabelling of n-second chunks, the student on the chunks with
``alpha BCE(student, y_PSL) + (1 - alpha) BCE(student, y_weak)``, the top-k student checkpoints averaged.
docs/baselines.md states every convention and deviation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from wlbench.dataset.training_data import TrainingData
from wlbench.methods import ConfigSchema, Option
from wlbench.training.fit import Stage
from wlbench_baselines.dinkel2022.analysis import count_shares, label_coverage, labels_per_item
from wlbench_baselines.teacher_student.augment import SpecAugment, mixup
from wlbench_baselines.teacher_student.losses import bce, psl_loss
from wlbench_baselines.teacher_student.method import TeacherStudent, WindowedTagger
from wlbench_baselines.teacher_student.relabel import relabel

MAX_LABELS = 9  # Fig. 2: labels per chunk 0 ... 9+


class PseudoStrongLabels(TeacherStudent):
    name = "dinkel-psl"
    description = ("Pseudo strong labels: a teacher on 10 s clips relabels n-second chunks, a student learns "
                   "alpha BCE(y_PSL) + (1 - alpha) BCE(y_weak) (Dinkel et al. 2022)")
    family = "dinkel2022"
    options = TeacherStudent.options | ConfigSchema({
        "chunk": Option(2.0, kind=float, min=0, min_inclusive=False, doc="chunk length n (s), hop n (paper: 2, 5, 10)"),
        "alpha": Option(1.0, kind=float, min=0, max=1, doc="weight of the teacher's labels (1: PSL, 0.5: teacher-"
                                                           "student, 0: weak labels copied to the chunks)"),
        # the paper's machine annotator: SpecAugment and mixup (sizes not given; PANNs' masks, see docs)
        "time_masks": Option(2, kind=int, min=0, doc="SpecAugment time masks per example (teacher only)"),
        "freq_masks": Option(2, kind=int, min=0, doc="SpecAugment frequency masks per example (teacher only)"),
        "mixup_alpha": Option(0.4, kind=float, min=0, doc="mixup Beta parameter of the teacher (0: no mixup)"),
        "top_k": Option(4, kind=int, min=1, doc="the student's k best checkpoints (validation mAP) are averaged"),
        "batch_size": Option(32, kind=int, min=1, doc="student chunks per step (paper: 32)"),
    })

    def teacher_windows(self, config):
        return {"chunk": 1e9}  # the whole clip: one window

    def student_windows(self, config):
        return {"chunk": config["chunk"]}

    def teacher_stage(self, teacher: WindowedTagger, train: TrainingData, valid: TrainingData, run) -> Stage:
        c = run.config
        aug = SpecAugment(time_masks=c["time_masks"], time_width=c["time_width"], freq_masks=c["freq_masks"],
                          freq_width=c["freq_width"])
        w = teacher.windows(len(train), train.features.shape[1])
        x = train.features
        y = torch.from_numpy(train.labels.astype(np.float32))
        known = torch.from_numpy(train.known.astype(np.float32))

        def step(idx):
            xb = torch.from_numpy(w.gather(x, idx)).to(run.device)
            yb, kb = y[w.clip[idx]].to(run.device), known[w.clip[idx]].to(run.device)
            xb = aug.train()(xb)
            if c["mixup_alpha"] > 0:
                state = run.rng.bit_generator.state  # one draw mixes inputs, labels and the known mask alike
                xb, yb = mixup(xb, yb, alpha=c["mixup_alpha"], rng=run.rng)
                run.rng.bit_generator.state = state
                _, kb = mixup(torch.zeros(len(idx), 1, device=kb.device), kb, alpha=c["mixup_alpha"], rng=run.rng)
            return bce(teacher.tagger(xb)[0], yb, kb), len(idx)

        return self.windows_stage(teacher, w, step, valid, run)

    def fit(self, modules, train, valid, run):
        c = run.config
        self.set_timing(modules, train, run)
        teacher, student = modules["teacher"], modules["student"]
        stages: list[dict[str, Any]] = []
        if c["alpha"] > 0:  # alpha = 0 never looks at the teacher
            stages.append({"stage": "teacher", **self.train_teacher(modules, train, valid, run)})
        rows = self.student_rows(train, c)
        sub = train.subset(rows)
        w = student.windows(len(sub), sub.features.shape[1])
        y_weak = torch.from_numpy(w.expand(sub.labels).astype(np.float32))
        known = torch.from_numpy(w.expand(sub.known).astype(np.float32))
        if c["alpha"] > 0:
            soft = relabel(teacher, sub.features, w, batch_size=c["eval_batch_size"], device=run.device)
            stages.append(self.audit_chunks(run, soft, w, sub, rows))
        else:
            soft = np.zeros(y_weak.shape, dtype=np.float32)
        y_psl = torch.from_numpy(soft)
        x = sub.features
        srun = self.student_run(run)

        def step(idx):
            xb = torch.from_numpy(w.gather(x, idx)).to(run.device)
            out = student.tagger(xb)[0]
            return psl_loss(out, y_psl[idx].to(run.device), y_weak[idx].to(run.device), c["alpha"],
                            known[idx].to(run.device)), len(idx)

        stages.append(self.fit_student(student, lambda rng: w.batches(c["batch_size"], rng), step, valid, srun))
        return stages

    def audit_chunks(self, run, soft: np.ndarray, w, sub: TrainingData, rows: np.ndarray) -> dict[str, Any]:
        """Section 4.3 on the student's training chunks: labels per chunk at 0.5, label coverage against the
        propagated weak labels, and (audit, against the truth) chunk labels vs true chunk labels and the share
        of the view's dropped positives recovered by the union of a clip's chunk labels."""
        c = run.config
        split = c["train_split"]
        hard = soft >= 0.5
        per_chunk = labels_per_item(soft)
        coverage = label_coverage(hard, w.expand(sub.labels))
        defined = coverage[~np.isnan(coverage)]
        union = w.pool(hard.astype(np.uint8), "max")
        clip_audit = run.ctx.audit.labels("teacher_chunk_union", split, union, clip_ids=sub.clip_ids, chunk=c["chunk"])
        summary = {"stage": "relabel", "chunks": int(len(w)), "chunk": c["chunk"],
                   "labels_per_chunk_shares": count_shares(per_chunk, MAX_LABELS).round(6).tolist(),
                   "weak_labels_per_chunk_shares": count_shares(w.expand(sub.labels).sum(1), MAX_LABELS).round(6).tolist(),
                   "coverage_mean": float(defined.mean()) if defined.size else None,
                   "coverage_zero_share": float((defined == 0).mean()) if defined.size else None,
                   "coverage_full_share": float((defined == 1).mean()) if defined.size else None,
                   "dropped_recovered": clip_audit.get("implicit_recall"),
                   "union_precision": clip_audit.get("precision"), "union_recall": clip_audit.get("recall")}
        lengths = np.unique(w.lengths)
        if lengths.size == 1:  # the audit's windows are equally long
            chunk_audit = run.ctx.audit.windows("teacher_chunks", split, soft.reshape(len(sub), w.per_clip, -1),
                                                window_frames=int(lengths[0]), hop_frames=int(lengths[0]),
                                                clip_ids=sub.clip_ids, chunk=c["chunk"])
            summary.update({"chunk_precision": chunk_audit.get("precision"), "chunk_recall": chunk_audit.get("recall"),
                            "true_labels_per_chunk": chunk_audit.get("true_labels_per_window")})
        return summary


PSL = PseudoStrongLabels()
