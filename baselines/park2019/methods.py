"""Tri-training with adversarial domain adaptation for sound event detection (Park et al., DCASE 2019) on
wlbench's framework: six presets (the rows of the paper's Table 1) of one method. docs/baselines.md states
every convention and deviation.

Phase 1 trains F, Ft (+ F1, F2 with tri-training, + D with an adversarial variant) on S, W and U; phase 2
(tri-training only) pseudo-labels W and U with F1 and F2 and trains F, Ft (+ D) on S, W and U_psl. Each
phase is one framework stage (best weights by the validation split's frame-level macro AP). Outputs: Ft's
frame scores (``frame_pool`` input frames per output frame) and clip scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from wlbench.dataset.training_data import TrainingData
from wlbench.errors import WlbenchError
from wlbench.metrics.ranking import map_macro
from wlbench.training import data
from wlbench.training.fit import Stage, adam
from wlbench.training.method import Run, TorchMethod, validation_labels
from wlbench_baselines.park2019.config import OPTIONS, TRI_CONTROLS, VARIANTS, check, time_pool, variant_options
from wlbench_baselines.park2019.grl import alpha_at
from wlbench_baselines.park2019.nets import build_networks
from wlbench_baselines.park2019.phase1_cache import fit_phase1, phase1_key
from wlbench_baselines.park2019.pseudo import PseudoLabels, pseudo_label
from wlbench_baselines.park2019.sampling import role_batches
from wlbench_baselines.park2019.steps import Batch, batch_loss
from wlbench_baselines.park2019.targets import STRONG, UNLABELED, WEAK, Targets, build_targets, with_pseudo_labels

TRI_HEADS = ("final", "labeler1", "labeler2")
ROLES = (STRONG, WEAK, UNLABELED)


def frame_map(frame_scores: np.ndarray, frame_labels: np.ndarray) -> float:
    """Macro AP over all (clip, frame) pairs: scores and labels (N, T, C); classes without a positive frame
    are left out (the harness's rule)."""
    c = frame_scores.shape[-1]
    return float(map_macro(frame_scores.reshape(-1, c).astype(np.float64), frame_labels.reshape(-1, c).astype(bool)))


class ParkMethod(TorchMethod):
    options = OPTIONS

    def __init__(self, name: str) -> None:
        if name not in VARIANTS:
            raise ValueError(f"unknown Park et al. variant {name!r}")
        self.name = name
        self.adversarial, self.tri_training, self.description = VARIANTS[name]
        self.controls = dict(TRI_CONTROLS) if self.tri_training else {}
        self.options = variant_options(self.adversarial, self.tri_training)

    # --- framework hooks -----------------------------------------------------------------------
    def build(self, config, n_freq, n_classes):
        check(config, n_freq)
        return build_networks({**config, "adversarial": self.adversarial, "tri_training": self.tri_training},
                              n_freq, n_classes)

    def frame_pool(self, config):
        return time_pool(config)

    def forward(self, modules, x):
        out = modules["final"](modules["extractor"](x))
        return out.clip_scores, out.frame_scores

    def load_train(self, ctx) -> TrainingData:
        """Every clip of the training split (S, W and U) with the strong clips' frame labels."""
        c = ctx.config
        if c["train_clips"]:
            raise WlbenchError(f"train_clips = {c['train_clips']}: {self.name} trains on every strong, weak and "
                               f"unlabeled clip of the split", hint="leave train_clips at 0")
        return data.load_training(ctx.dataset, c["train_split"], labels=c["labels"], oracle=c["oracle"], frames=True)

    def load_valid(self, ctx) -> TrainingData:
        valid = data.load_training(ctx.dataset, ctx.config["valid_split"], frames=True,
                                   labels=validation_labels(ctx.dataset, ctx.config))
        valid = valid.subset(valid.labeled)
        if not valid.frame_known.all():
            raise WlbenchError(f"{ctx.dataset}: split {ctx.config['valid_split']!r} has clips without strong labels; "
                               f"the frame-level validation needs a strongly labeled split",
                               hint="use a validation split without roles (every clip strong)")
        return valid

    # --- training ------------------------------------------------------------------------------
    def fit(self, modules, train: TrainingData, valid: TrainingData, run: Run) -> list[dict[str, Any]]:
        c = run.config
        pool = self.frame_pool(c)
        n_out = train.features.shape[1] // pool
        try:
            targets = build_targets(labels=train.labels, known=train.known, roles=train.roles,
                                    role_names=train.role_names, frame_labels=train.frame_labels_at(pool)[:, :n_out],
                                    frame_known=train.frame_known, domains=train.domains,
                                    domain_names=train.domain_names, where=f"{run.ctx.dataset} [{c['train_split']}]")
        except ValueError as exc:
            raise WlbenchError(str(exc), hint="train on a split with strong clips of one domain") from None
        groups = {r: np.flatnonzero(train.role_mask(r)) for r in ROLES}
        if self.adversarial != "none" and np.all(targets.domain == 0):
            raise WlbenchError(f"{run.ctx.dataset}: every clip of split {c['train_split']!r} is in the strong clips' "
                               f"domain; {self.name} needs clips of another domain", hint="use park-baseline or park-tri")
        if self.tri_training and len(groups[WEAK]) + len(groups[UNLABELED]) == 0:
            raise WlbenchError(f"{run.ctx.dataset}: split {c['train_split']!r} has no weak or unlabeled clip to "
                               f"pseudo-label", hint="use park-baseline")
        per = {r: (k if len(groups[r]) else 0) for r, k in zip(ROLES, c["batch_roles"])}
        steps_per_epoch = -(-len(groups[STRONG]) // per[STRONG])
        phase2_epochs = (c["phase2_max_epochs"] or c["max_epochs"]) if self.tri_training else 0
        budget = steps_per_epoch * (c["max_epochs"] + phase2_epochs)
        trainer = _Trainer(modules, train.features, run, budget)
        valid_frames = valid.frame_labels_at(pool)[:, : valid.features.shape[1] // pool]

        heads = TRI_HEADS if self.tri_training else ("final",)

        def phase1() -> Stage:
            return trainer.stage("phase1", heads, targets, groups, per, c["max_epochs"], valid, valid_frames)

        if self.tri_training and c["phase1_cache"]:
            summaries = [fit_phase1(c["phase1_cache"], phase1_key(self.name, run, train), modules, trainer, run,
                                    phase1)]
        else:
            summaries = [run.fit(phase1())]
        if not self.tri_training:
            return summaries

        rows = np.concatenate([groups[WEAK], groups[UNLABELED]])
        pl = trainer.pseudo_labels(rows, targets)
        summaries.append(self.audit_pseudo_labels(run, train, rows, groups, pl, pool))
        if c["pseudo_oracle"]:
            pl = true_labels_as_pseudo(run, train, rows, targets, pool, n_out)
        u_part = np.isin(rows, groups[UNLABELED])
        labelled_u = pl.clip_known[u_part].any(axis=1) | pl.frame_known[u_part].any(axis=(1, 2))
        groups2 = {STRONG: groups[STRONG], WEAK: groups[WEAK], UNLABELED: rows[u_part][labelled_u]}
        per2 = {r: (per[r] if len(groups2[r]) else 0) for r in ROLES}
        targets2 = with_pseudo_labels(targets, rows, pl) if c["pseudo_labels"] else targets
        for name in ("labeler1", "labeler2"):
            modules[name].eval()
        summaries.append(run.fit(trainer.stage("phase2", ("final",), targets2, groups2, per2, phase2_epochs, valid,
                                               valid_frames)))
        return summaries

    def audit_pseudo_labels(self, run: Run, train: TrainingData, rows: np.ndarray, groups: dict[str, np.ndarray],
                            pl, pool: int) -> dict[str, Any]:
        """Counts of the pseudo-labels and their precision against the store's truth (through the run's audit:
        the method never sees the truth). Clip level: U's clip pseudo-labels; frame level: W's and U's frame
        pseudo-labels at the model's frame rate."""
        ids = train.clip_ids[rows]
        u_part = np.isin(rows, groups[UNLABELED])
        summary: dict[str, Any] = {"stage": "pseudo-labels", "threshold": run.config["pseudo_threshold"],
                                   "used": bool(run.config["pseudo_labels"]) and not run.config["pseudo_oracle"],
                                   "replaced_by_truth": bool(run.config["pseudo_oracle"]), **pl.counts(),
                                   "clips_pseudo_labelled": {"weak": int((~u_part).sum()),
                                                             "unlabeled": int(u_part.sum())}}
        audit = run.ctx.audit
        if u_part.any():
            clip_positive = (pl.clip[u_part] == 1) & pl.clip_pseudo[u_part]
            row = audit.labels("pseudo-clip-U", run.config["train_split"], clip_positive.astype(np.uint8),
                               clip_ids=ids[u_part], n_pseudo=int(pl.clip_pseudo[u_part].sum()))
            summary["clip_U"] = {k: row[k] for k in ("predicted", "correct", "precision")}
        for part, mask in (("W", ~u_part), ("U", u_part)):
            if mask.any():
                positive = ((pl.frame[mask] == 1) & pl.frame_known[mask]).astype(np.uint8)
                row = audit.windows(f"pseudo-frame-{part}", run.config["train_split"], positive, window_frames=pool,
                                    hop_frames=pool, clip_ids=ids[mask],
                                    n_pseudo=int(pl.frame_known[mask].sum()))
                summary[f"frame_{part}"] = {k: row[k] for k in ("predicted", "correct", "precision")}
        return summary


def true_labels_as_pseudo(run: Run, train: TrainingData, rows: np.ndarray, targets: Targets, pool: int,
                          n_out: int) -> PseudoLabels:
    """The ``oracle-pseudo`` control: what perfect labelers would give the clips ``rows`` (W and U). Like the
    pseudo-labels, the clip labels the view gives (W's weak labels) are kept as given; every other clip entry
    takes the truth; every entry is known. Frame labels (at the model's frame rate, ``n_out`` frames) are the
    true frames of the clip's positive labels, zero elsewhere. The truth is read through the training-data
    API's named oracle (``oracle="roles"``) and matched to ``train``'s clips by id; ``clip_pseudo`` marks the
    entries the oracle labels. A clip missing from the truth is one :class:`WlbenchError`."""
    truth = data.load_training(run.ctx.dataset, run.config["train_split"], oracle="roles", frames=True,
                               features=False)
    where = {cid: i for i, cid in enumerate(np.asarray(truth.clip_ids).astype(str))}
    ids = np.asarray(train.clip_ids).astype(str)[rows]
    missing = [cid for cid in ids if cid not in where]
    if missing:
        raise WlbenchError(f"{run.ctx.dataset} [{run.config['train_split']}]: {len(missing)} training clip(s) are not in "
                           f"the split's truth (first: {missing[0]})", hint="the dataset file changed under the run: "
                                                                            "train it again")
    at = np.array([where[cid] for cid in ids], dtype=np.int64)  # clips are matched by id, never by position
    given = targets.clip_known[rows].astype(bool)
    clip = np.where(given, targets.clip[rows], truth.labels[at]).astype(np.uint8)
    frames = truth.frame_labels_at(pool)[at, :n_out] & clip[:, None, :]
    return PseudoLabels(clip=clip, clip_known=np.ones(clip.shape, bool), clip_pseudo=~given,
                        frame=frames.astype(np.uint8), frame_known=np.ones(frames.shape, bool))


class _Trainer:
    """The pieces both phases share: inputs, device, the global step count of the alpha schedule."""

    def __init__(self, modules: dict[str, torch.nn.Module], features: np.ndarray, run: Run, budget: int) -> None:
        self.modules, self.x, self.run, self.budget = modules, features, run, max(int(budget), 1)
        self.steps = 0

    def alpha(self) -> float:
        c = self.run.config
        return alpha_at(self.steps / self.budget, schedule=c["alpha_schedule"], alpha=c["alpha"])

    def stage(self, name: str, heads: tuple[str, ...], targets: Targets, groups: dict[str, np.ndarray],
              per: dict[str, int], max_epochs: int, valid: TrainingData, valid_frames: np.ndarray) -> Stage:
        c, run = self.run.config, self.run
        trained = {k: m for k, m in self.modules.items() if k in heads or k in ("extractor", "domain")}
        params = [p for m in trained.values() for p in m.parameters()]
        step_modules = {k: self.modules[k] for k in trained}
        parts_sum: dict[str, float] = {}
        parts_n = [0]

        def step(idx):
            batch = Batch.from_arrays(self.x[idx], targets.rows(idx), run.device)
            # the domain loss exists only with adaptation, the penalty only with both labelers (tri-training)
            loss, parts = batch_loss(step_modules, batch, heads=heads,
                                     alpha=self.alpha() if "domain" in step_modules else 0.0,
                                     penalty_weight=c.get("penalty_weight", 0.0))
            self.steps += 1
            for k, v in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + v
            parts_n[0] += 1
            return loss, len(idx)

        selected = ("labeler1", "labeler2") if "labeler1" in heads else ("final",)

        def validate():
            if parts_n[0]:
                run.ctx.log({"stage": name, "steps": self.steps, "loss_parts": {k: round(v / parts_n[0], 6)
                                                                                for k, v in parts_sum.items()}})
                parts_sum.clear()
                parts_n[0] = 0
            metrics: dict[str, float] = {}
            for head, (frames, clips) in self.scores(tuple(dict.fromkeys(selected + ("final",))),
                                                     valid.features).items():
                metrics[f"{head}_frame_map"] = frame_map(frames, valid_frames)
                metrics[f"{head}_clip_map"] = float(map_macro(clips.astype(np.float64), valid.labels.astype(bool)))
            for kind in ("frame_map", "clip_map"):
                metrics[kind] = float(np.mean([metrics[f"{h}_{kind}"] for h in selected]))
            return metrics

        return Stage(name=name, modules=trained, optimizer=adam(params, lr=c["lr"]),
                     batches=lambda rng: role_batches(groups, per, rng, epoch_group=STRONG), step=step,
                     validate=validate, selection=c["selection"], max_epochs=max_epochs, patience=c["patience"],
                     warmup=c["warmup"])

    def scores(self, heads: tuple[str, ...], x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{head: (frame scores (N, T, C), clip scores (N, C))} of several heads in one pass of F, without
        gradients, in eval mode (the modules' modes are restored)."""
        used = {k: self.modules[k] for k in ("extractor", *heads)}
        modes = {k: m.training for k, m in used.items()}
        for m in used.values():
            m.eval()
        try:
            def fn(xb):
                features = used["extractor"](xb)
                outs = [used[h](features) for h in heads]
                return torch.stack([torch.cat([o.frame_scores, o.clip_scores[:, None, :]], dim=1) for o in outs], 1)
            both = self.run.batched(fn, x).numpy()  # (N, heads, T + 1, C)
        finally:
            for k, m in used.items():
                m.train(modes[k])
        return {h: (both[:, i, :-1], both[:, i, -1]) for i, h in enumerate(heads)}

    def pseudo_labels(self, rows: np.ndarray, targets: Targets):
        out = self.scores(("labeler1", "labeler2"), self.x[rows])
        (f1, c1), (f2, c2) = out["labeler1"], out["labeler2"]
        return pseudo_label(clip1=c1, clip2=c2, frame1=f1, frame2=f2, labels=targets.clip[rows],
                            known=targets.clip_known[rows], threshold=self.run.config["pseudo_threshold"])


METHODS = {name: ParkMethod(name) for name in VARIANTS}
BASELINE = METHODS["park-baseline"]
ADV_WHOLE = METHODS["park-adv-whole"]
ADV_TIME = METHODS["park-adv-time"]
TRI = METHODS["park-tri"]
ADV_WHOLE_TRI = METHODS["park-adv-whole-tri"]
ADV_TIME_TRI = METHODS["park-adv-time-tri"]
