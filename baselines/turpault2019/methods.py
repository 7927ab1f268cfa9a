"""The methods of Turpault, Serizel, Vincent (ICASSP 2019) on wlbench's framework:

- ``turpault2019-triplet``: the embedding CNN trained with the triplet loss under one sampling strategy
  (S1-S5, Table 1) on the labeled and unlabeled sub-segments of the training split, then the 2-layer BiGRU
  classifier on the frozen embeddings of the labeled clips;
- ``turpault2019-crnn``: the baseline CRNN, trained on the labeled clips;
- ``turpault2019-logmel``: the 2-layer BiGRU classifier on log-mel frames, trained on the labeled clips.

docs/baselines.md states every convention and deviation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from wlbench.dataset.training_data import TrainingData
from wlbench.errors import WlbenchError
from wlbench.methods import ConfigSchema, Option
from wlbench.training.fit import Stage, adam
from wlbench.training.method import MAX_WIDTH, WIDTH, Run, TorchMethod
from wlbench.training.sampling import batches
from wlbench.training.validation import score_metrics
from wlbench_baselines.common.losses import masked_bce_probs
from wlbench_baselines.common.nets import CRNN, PatchEmbedder
from wlbench_baselines.turpault2019 import mining, subsegments
from wlbench_baselines.turpault2019.batches import TransformSettings, batch_loss, build_batch, plan_accuracy, plan_loss
from wlbench_baselines.turpault2019.neighbours import nearest_neighbours
from wlbench_baselines.turpault2019.nets import SequenceClassifier
from wlbench_baselines.turpault2019.sampling import (
    STRATEGIES,
    TRANSFORMATIONS,
    MaskedLabels,
    PoolIndex,
    TripletPlan,
    plan_triplets,
)

_POOL_PAIR = Option([1, 4], kind=list, length=2, items=Option(1, kind=int, min=1))

CNN_OPTIONS = ConfigSchema({
    "filters": Option([64, 64, 64], kind=list, items=WIDTH,
                      doc="conv 3x3 channels per layer (paper: 3 layers of 64)"),
    "pools": Option([[1, 4], [1, 4], [1, 4]], kind=list, items=_POOL_PAIR,
                    doc="(time, frequency) max-pool per conv layer (paper: 4 in frequency, none in time)"),
    "activation": Option("relu", kind=str, choices=("relu", "leaky_relu"), doc="not in the paper"),
    "dropout": Option(0.0, kind=float, min=0, max=0.95, doc="dropout after each conv block (not in the paper)"),
    "batch_norm": Option(False, kind=bool, doc="not in the paper; it would tie an embedding to its batch"),
})

CLASSIFIER_OPTIONS = ConfigSchema({
    "rnn_hidden": Option(64, kind=int, min=1, max=MAX_WIDTH, doc="BiGRU cells per direction (paper: 64)"),
    "rnn_layers": Option(2, kind=int, min=1, doc="BiGRU layers (paper: 2 on embeddings and on log-mel)"),
})

STAGE_2_OPTIONS = ConfigSchema({  # the classifier on frozen embeddings
    "classifier_lr": Option(1e-3, kind=float, min=0, min_inclusive=False, doc="Adam (not in the paper)"),
    "classifier_batch_size": Option(16, kind=int, min=1, doc="clips per step (not in the paper)"),
    "classifier_max_epochs": Option(200, kind=int, min=1),
    "classifier_patience": Option(30, kind=int, min=1),
    "classifier_warmup": Option(20, kind=int, min=0),
})

TRIPLET_OPTIONS = ConfigSchema({
    "strategy": Option("S2", kind=str, choices=STRATEGIES, doc="sampling strategy of Table 1"),
    "triplets": Option([1.0, 1.0], kind=list, length=2, items=Option(1.0, kind=float, min=0),
                       doc="[labeled, unlabeled] triplets per pass, in multiples of the number of labeled "
                           "sub-segments (the paper's 31,560 = [1, 1]); S4 and S5 give both to labeled anchors"),
    "subsegment_seconds": Option(0.96, kind=float, min=0, min_inclusive=False,
                                 doc="length of the sub-segments every clip is cut into (paper: 0.96 s)"),
    "transformations": Option(list(TRANSFORMATIONS), kind=list, items=Option("noise", kind=str,
                                                                             choices=tuple(TRANSFORMATIONS)),
                              doc="transformations a transformed positive draws from, uniformly per triplet"),
    "noise_sigma": Option(0.5, kind=float, min=0, doc="Gaussian noise standard deviation (paper: 0.5)"),
    "max_freq_shift": Option(10, kind=int, min=0, doc="largest frequency shift S in bands (paper: 10)"),
    "mixing_alpha": Option(0.25, kind=float, min=0, doc="example mixing weight alpha (paper: 0.25)"),
    "proximity_dt": Option(10.0, kind=float, min=0, min_inclusive=False,
                           doc="temporal proximity: largest start difference (s), strict (paper: 10 s)"),
    "nearest_exclude_same_clip": Option(False, kind=bool, doc="nearest sample: also exclude the anchor's clip "
                                                              "(the paper excludes only the anchor)"),
    "margin": Option(1.0, kind=float, min=0, doc="triplet loss margin (paper: 1)"),
    "semi_hard_fallback": Option("farthest", kind=str, choices=mining.FALLBACKS,
                                 doc="no candidate farther than the positive: take the farthest, or skip"),
    "l2_normalize": Option(False, kind=bool, doc="L2-normalise the embeddings (the paper does not)"),
    "validation_triplets": Option(2000, kind=int, min=1,
                                  doc="fixed label/label validation triplets; the share ranked right (triplet "
                                      "accuracy) chooses the embedding epoch"),
    "train_embedding": Option(True, kind=bool, doc="false: the classifier on the untrained CNN (the control)"),
})

CLIP_CLASSIFIER_OPTIONS = ConfigSchema({"batch_size": Option(16, kind=int, min=1, doc="clips per step"),
                                        "max_epochs": Option(200, kind=int, min=1)})


def _fit_classifier(run: Run, name: str, model: torch.nn.Module, x: torch.Tensor, y: np.ndarray,
                    known: np.ndarray, valid_x: torch.Tensor, valid_y: np.ndarray, *, lr: float, batch_size: int,
                    max_epochs: int, patience: int, warmup: int, frozen: dict | None = None) -> dict[str, Any]:
    """A clip classifier ``model(x) -> (clip probabilities, frames)`` trained with the masked BCE of its clip
    probabilities; checkpoint on validation mAP. ``x`` and ``valid_x`` are whole-clip inputs on the CPU."""
    yt = torch.from_numpy(y.astype(np.float32))
    kt = torch.from_numpy(known.astype(np.float32))

    def step(idx):
        probs, _ = model(x[idx].to(run.device))
        return masked_bce_probs(probs, yt[idx].to(run.device), kt[idx].to(run.device)), len(idx)

    def validate():
        scores = run.batched(lambda xb: model(xb)[0], valid_x.numpy())
        return score_metrics(scores.numpy(), valid_y, run.config["threshold"])

    stage = Stage(name=name, modules={name: model}, optimizer=adam(model.parameters(), lr=lr),
                  batches=lambda rng: batches(len(x), batch_size, rng), step=step, validate=validate,
                  selection="map", max_epochs=max_epochs, patience=patience, warmup=warmup, frozen=frozen or {})
    return run.fit(stage)


class _ClipClassifier(TorchMethod):
    """A classifier of whole clips trained on the labeled clips only (the baseline and the log-mel one)."""

    options = CLIP_CLASSIFIER_OPTIONS

    def load_train(self, ctx) -> TrainingData:
        train = super().load_train(ctx)
        return train.subset(train.labeled)

    def forward(self, modules, x):
        return modules["classifier"](x)

    def fit(self, modules, train, valid, run: Run):
        c = run.config
        return [_fit_classifier(run, "classifier", modules["classifier"], torch.from_numpy(train.features),
                                train.labels, train.known, torch.from_numpy(valid.features), valid.labels,
                                lr=c["lr"], batch_size=c["batch_size"], max_epochs=c["max_epochs"],
                                patience=c["patience"], warmup=c["warmup"])]


class BaselineCRNN(_ClipClassifier):
    name = "turpault2019-crnn"
    description = "Baseline CRNN (3 conv layers, BiGRU, mean of frame probabilities) on the labeled clips " \
                  "(Turpault et al. 2019)"
    options = CNN_OPTIONS | CLASSIFIER_OPTIONS | CLIP_CLASSIFIER_OPTIONS | ConfigSchema({
        "rnn_layers": Option(1, kind=int, min=1, doc="BiGRU layers (paper: 1 for the baseline)")})

    def build(self, config, n_freq, n_classes):
        if any(p[0] != 1 for p in config["pools"]):
            raise WlbenchError("turpault2019-crnn pools in frequency only: every pool must be [1, k]")
        return {"classifier": CRNN(n_freq, n_classes, config["filters"], config["pools"],
                                   rnn_hidden=config["rnn_hidden"], rnn_layers=config["rnn_layers"],
                                   act=config["activation"], dropout=config["dropout"],
                                   batch_norm=config["batch_norm"], pooling="mean",
                                   channels_last=config["channels_last"])}


class LogmelClassifier(_ClipClassifier):
    name = "turpault2019-logmel"
    description = "2-layer BiGRU classifier on log-mel frames, on the labeled clips (Turpault et al. 2019)"
    options = CLASSIFIER_OPTIONS | CLIP_CLASSIFIER_OPTIONS

    def build(self, config, n_freq, n_classes):
        return {"classifier": SequenceClassifier(n_freq, n_classes, hidden=config["rnn_hidden"],
                                                 layers=config["rnn_layers"])}


class SemiSupervisedTriplet(TorchMethod):
    name = "turpault2019-triplet"
    description = "Embedding CNN by the triplet loss with sampling strategy S1-S5, then a BiGRU classifier on " \
                  "frozen embeddings (Turpault et al. 2019)"
    options = (CNN_OPTIONS | CLASSIFIER_OPTIONS | STAGE_2_OPTIONS | TRIPLET_OPTIONS
               | ConfigSchema({"batch_size": Option(64, kind=int, min=1,
                                                    doc="triplets per step; semi-hard candidates are the batch's "
                                                        "anchors (not in the paper)"),
                               "max_epochs": Option(20, kind=int, min=1, doc="passes over the triplet set")}))
    # the classifier on the untrained CNN does not depend on the strategy or the budget: every cell shares it
    controls = {"untrained": {"train_embedding": False, "strategy": "S2", "triplets": [1.0, 1.0]}}

    @staticmethod
    def frames(config: dict, frame_rate: float) -> int:
        n = int(round(config["subsegment_seconds"] * frame_rate))
        if n < 1:
            raise WlbenchError(f"subsegment_seconds {config['subsegment_seconds']} is shorter than one frame "
                               f"({1 / frame_rate:.3f} s)")
        return n

    def build(self, config, n_freq, n_classes):
        e = PatchEmbedder(n_freq, config["patch_frames"], config["filters"], config["pools"], config["activation"],
                          config["dropout"], config["batch_norm"], None,
                          normalise="after_mean" if config["l2_normalize"] else "none",
                          channels_last=config["channels_last"])
        return {"embedder": e, "classifier": SequenceClassifier(e.out_dim, n_classes, hidden=config["rnn_hidden"],
                                                                layers=config["rnn_layers"])}

    def frame_pool(self, config):
        return config["patch_frames"]

    def forward(self, modules, x):
        return modules["classifier"](modules["embedder"].patch_embeddings(x))

    def train(self, ctx):
        """Adds ``patch_frames`` (the sub-segment length in the dataset's frames) to the run's config, so the
        checkpoint rebuilds the same network on any dataset."""
        from wlbench.dataset.reader import opened

        if ctx.config["train_clips"]:
            raise WlbenchError("turpault2019-triplet does not take train_clips: the split's roles decide which "
                               "clips are labeled", hint="use --set train_clips=0")
        with opened(ctx.dataset) as ds:
            rate = ds.split(ctx.config["train_split"]).frame_rate
        return super().train(dataclasses.replace(ctx, config={**ctx.config,
                                                              "patch_frames": self.frames(ctx.config, rate)}))

    def fit(self, modules, train, valid, run: Run):
        c = run.config
        e, g = modules["embedder"], modules["classifier"]
        frames, hop_s = c["patch_frames"], 1.0 / train.frame_rate
        stages: list[dict[str, Any]] = []
        segs = subsegments.cut(train.features, frames)
        pool = PoolIndex.of(segs, train.labeled, hop_s)
        audit = self._audit_inherited_labels(run, train, frames, segs.per_clip)
        if c["train_embedding"]:
            plan, plan_info = self._plan(run, train, segs, pool)
            stages.append({**self._fit_embedding(run, e, segs, pool, plan, valid, frames), "plan": plan_info})
        stages.append(self._fit_classifier(run, e, g, train, valid))
        if audit is not None:
            stages.append({"stage": "audit", "inherited_labels": audit})
        return stages

    # --- the triplet set --------------------------------------------------------------------------
    def _plan(self, run: Run, train: TrainingData, segs: subsegments.SubSegments, pool: PoolIndex
              ) -> tuple[TripletPlan, dict[str, Any]]:
        c = run.config
        labeled_rows = pool.labeled
        observed = np.repeat(train.labels * train.known, segs.per_clip, axis=0)
        labels = MaskedLabels(observed, labeled_rows)
        n_l = int(labeled_rows.sum())
        info: dict[str, Any] = {}

        groups = pool.clip if c["nearest_exclude_same_clip"] else None

        def nearest(rows: np.ndarray) -> np.ndarray:
            uniq, inverse = np.unique(rows, return_inverse=True)
            idx, _ = nearest_neighbours(segs.features, uniq, groups=groups)
            info["nearest_same_clip"] = float((pool.clip[uniq] == pool.clip[idx]).mean())
            info["nearest_in_labeled_clip"] = float(pool.labeled[idx].mean())
            return idx[inverse]

        plan = plan_triplets(c["strategy"], pool, labels, labeled=int(round(c["triplets"][0] * n_l)),
                             unlabeled=int(round(c["triplets"][1] * n_l)), rng=run.rng,
                             transformations=c["transformations"], proximity_dt=c["proximity_dt"],
                             nearest=nearest)
        if c["strategy"] == "S3":
            info.update(self._nearest_label_agreement(segs, pool, labels, groups))
        return plan, {**plan.summary(), "labeled_subsegments": n_l, **info}

    @staticmethod
    def _nearest_label_agreement(segs: subsegments.SubSegments, pool: PoolIndex, labels: MaskedLabels,
                                 groups: np.ndarray | None) -> dict[str, Any]:
        """How good a positive the nearest sample is, measured where the method may read labels: for labeled
        sub-segments whose nearest sample lies in another labeled clip, the share sharing a label with it
        (the unlabeled anchors' neighbours are judged by nobody during training)."""
        rows = np.flatnonzero(pool.labeled)
        idx, _ = nearest_neighbours(segs.features, rows, groups=groups)
        both = pool.labeled[idx] & (pool.clip[idx] != pool.clip[rows])
        shared = (labels.rows(rows[both]) & labels.rows(idx[both])).any(axis=1).mean() if both.any() else None
        return {"labeled_nearest_pairs": int(both.sum()),
                "labeled_nearest_sharing_a_label": None if shared is None else float(shared)}

    # --- stage 1: the embedding -------------------------------------------------------------------
    def _fit_embedding(self, run: Run, e: PatchEmbedder, segs: subsegments.SubSegments, pool: PoolIndex,
                       plan: TripletPlan, valid: TrainingData, frames: int) -> dict[str, Any]:
        c = run.config
        features = torch.from_numpy(np.ascontiguousarray(segs.features)).to(run.device)
        settings = TransformSettings(c["noise_sigma"], c["max_freq_shift"], c["mixing_alpha"])
        generator = torch.Generator().manual_seed(int(run.rng.integers(2**62)))
        vsegs = subsegments.cut(valid.features, frames)
        vpool = PoolIndex.of(vsegs, np.ones(len(valid), dtype=bool), 1.0 / valid.frame_rate)
        vplan = plan_triplets("S5", vpool, MaskedLabels(np.repeat(valid.labels, vsegs.per_clip, axis=0),
                                                        vpool.labeled),
                              labeled=c["validation_triplets"], unlabeled=0,
                              rng=np.random.default_rng([run.ctx.seed, 2019]))
        epochs: list[dict[str, int]] = []

        def epoch_batches(rng):
            epochs.append({"triplets": 0, "active": 0, "semi_hard": 0, "fallback": 0, "skipped": 0,
                           "no_candidate": 0})
            return batches(len(plan), c["batch_size"], rng)

        def step(idx):
            loss, stats = batch_loss(e, build_batch(features, pool.clip, plan, idx, settings, generator),
                                     margin=c["margin"], fallback=c["semi_hard_fallback"])
            for k, v in stats.items():
                epochs[-1][k] += v
            if loss is None:  # no triplet of the batch has a negative: nothing to learn from it
                return torch.zeros((), device=run.device, requires_grad=True), 0
            return loss, stats["triplets"]

        def validate():
            emb = run.batched(e, vsegs.features)
            return {"triplet_accuracy": plan_accuracy(emb, vplan), "triplet_loss": plan_loss(emb, vplan, c["margin"])}

        stage = Stage(name="embedding", modules={"embedder": e},
                      optimizer=adam(e.parameters(), lr=c["lr"]), batches=epoch_batches, step=step,
                      validate=validate, selection="triplet_accuracy", max_epochs=c["max_epochs"],
                      patience=c["patience"], warmup=c["warmup"])
        return {**run.fit(stage), "epochs_detail": epochs}

    # --- stage 2: the classifier on frozen embeddings ---------------------------------------------------
    def _fit_classifier(self, run: Run, e: PatchEmbedder, g: SequenceClassifier, train: TrainingData,
                        valid: TrainingData) -> dict[str, Any]:
        c = run.config
        e.eval()
        lab = train.subset(train.labeled)
        x = run.batched(e.patch_embeddings, lab.features)
        vx = run.batched(e.patch_embeddings, valid.features)
        return _fit_classifier(run, "classifier", g, x, lab.labels, lab.known, vx, valid.labels,
                               lr=c["classifier_lr"], batch_size=c["classifier_batch_size"],
                               max_epochs=c["classifier_max_epochs"], patience=c["classifier_patience"],
                               warmup=c["classifier_warmup"], frozen={"embedder": e})

    @staticmethod
    def _audit_inherited_labels(run: Run, train: TrainingData, frames: int, per_clip: int) -> dict | None:
        """How often a labeled clip's label is absent from the sub-segment that inherits it (the truth stays
        with the audit)."""
        lab = np.flatnonzero(train.labeled)
        if not len(lab):
            return None
        inherited = np.repeat((train.labels * train.known)[lab][:, None, :], per_clip, axis=1)
        row = run.ctx.audit.windows("inherited_subsegment_labels", run.config["train_split"], inherited,
                                    window_frames=frames, hop_frames=frames, clip_ids=train.clip_ids[lab])
        return {k: row[k] for k in ("predicted", "correct", "precision", "labels_per_window",
                                    "true_labels_per_window")}


CRNN_METHOD = BaselineCRNN()
LOGMEL = LogmelClassifier()
TRIPLET = SemiSupervisedTriplet()
