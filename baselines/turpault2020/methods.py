"""The three methods of Turpault, Serizel, Vincent (ICASSP 2020) on wlbench's framework: the end-to-end
classifier G(E(x)) (BCE), the triplet network (E by the triplet loss, then G on frozen embeddings) and the
prototypical network (E by episodes, then G on frozen embeddings). docs/baselines.md states every
convention and deviation."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch

from wlbench.dataset.training_data import TrainingData
from wlbench.methods import ConfigSchema, Option
from wlbench.training.fit import Stage, adam
from wlbench.training.method import MAX_WIDTH, WIDTH, Run, TorchMethod
from wlbench.training.sampling import batches, episode, label_triplets
from wlbench.training.validation import centroid_map, score_metrics
from wlbench_baselines.common.losses import masked_bce, prototypical_loss, triplet_loss
from wlbench_baselines.common.nets import MLP, PatchEmbedder

_POOL_PAIR = Option([2, 2], kind=list, length=2, items=Option(1, kind=int, min=1))

E_OPTIONS = ConfigSchema({
    "train_segment": Option("1s", kind=str, doc="segment view the model is trained on ('clip': whole clips)"),
    "patch": Option(20, kind=int, min=1, doc="frames per patch of E (20 = 200 ms at a 10 ms hop)"),
    "filters": Option([16, 16, 32, 65], kind=list, items=WIDTH,
                      doc="conv channels per layer of E (walle's; 65 x 2 bands = the paper's 130-d embedding)"),
    "pools": Option([[2, 2], [2, 2], [1, 4], [1, 2]], kind=list, items=_POOL_PAIR,
                    doc="(time, frequency) max-pool per conv layer"),
    "activation": Option("leaky_relu", kind=str, choices=("leaky_relu", "relu")),
    "dropout": Option(0.2, kind=float, min=0, max=0.95),
    "batch_norm": Option(False, kind=bool),
    "embedding_dim": Option(130, kind=int, min=1, max=MAX_WIDTH, doc="a linear projection is added when the trunk output differs"),
    "pooling": Option("mean", kind=str, choices=("mean", "max"),
                      doc="pooling of patch embeddings into the embedding of a longer input (paper: mean)"),
    "hidden": Option([32], kind=list, items=WIDTH, doc="hidden layers of the classifier G"),
})

G_OPTIONS = ConfigSchema({  # G trained on frozen embeddings (triplet / prototypical networks)
    "train_embedding": Option(True, kind=bool, doc="false: keep E at its random initialisation (the "
                                                   "untrained-trunk control) and train only G"),
    "classifier_lr": Option(1e-3, kind=float, min=0, min_inclusive=False),
    "classifier_batch_size": Option(20, kind=int, min=1),
    "classifier_max_epochs": Option(200, kind=int, min=1),
    "classifier_patience": Option(30, kind=int, min=1),
    "classifier_warmup": Option(20, kind=int, min=0),
})


def _embedder(config: dict, n_freq: int, normalise: str = "none") -> PatchEmbedder:
    return PatchEmbedder(n_freq, config["patch"], config["filters"], config["pools"], config["activation"],
                         config["dropout"], config["batch_norm"], config["embedding_dim"], normalise=normalise,
                         pooling=config["pooling"], channels_last=config["channels_last"])


class _Turpault(TorchMethod):
    options = E_OPTIONS

    def normalise(self, config: dict) -> str:
        return "none"

    def build(self, config, n_freq, n_classes):
        e = _embedder(config, n_freq, self.normalise(config))
        return {"embedder": e, "classifier": MLP(e.out_dim, config["hidden"], n_classes, config["activation"])}

    def forward(self, modules, x):
        return torch.sigmoid(modules["classifier"](modules["embedder"](x))), None

    def load_train(self, ctx) -> TrainingData:
        """The labeled clips of the training split (these methods use no unlabeled data)."""
        train = super().load_train(ctx)
        return train.subset(train.labeled)


class Classifier(_Turpault):
    name = "turpault-classifier"
    description = "End-to-end classifier G(E(x)) trained with BCE on weak labels (Turpault et al. 2020)"

    def fit(self, modules, train, valid, run: Run):
        e, g = modules["embedder"], modules["classifier"]
        c = run.config
        x = torch.from_numpy(train.features)
        y = torch.from_numpy(train.labels.astype(np.float32))
        known = torch.from_numpy(train.known.astype(np.float32))

        def step(idx):
            xb = x[idx].to(run.device)
            return masked_bce(g(e(xb)), y[idx].to(run.device), known[idx].to(run.device)), len(idx)

        def validate():
            s = run.batched(lambda xb: torch.sigmoid(g(e(xb))), valid.features)
            return score_metrics(s.numpy(), valid.labels, c["threshold"])

        stage = Stage(name="classifier", modules=modules,
                      optimizer=adam(list(e.parameters()) + list(g.parameters()), lr=c["lr"]),
                      batches=lambda rng: batches(len(x), c["batch_size"], rng), step=step, validate=validate,
                      selection="map", max_epochs=c["max_epochs"], patience=c["patience"], warmup=c["warmup"])
        return [run.fit(stage)]


class _EmbeddingMethod(_Turpault):
    """E learnt by a metric loss (checkpoint: validation centroid mAP, centroids from the training set), then
    G on frozen E (checkpoint: validation mAP)."""

    options = E_OPTIONS | G_OPTIONS
    controls = {"untrained": {"train_embedding": False}}

    @abc.abstractmethod
    def sample(self, labels: np.ndarray, config: dict, rng: np.random.Generator) -> Any:
        """The clips of one step, drawn by the labels a sampler may use (N, C)."""

    @abc.abstractmethod
    def embedding_step(self, e, x: torch.Tensor, batch: Any, config: dict, device) -> tuple[torch.Tensor, int]:
        """The metric loss of one step on ``batch`` and the number of training examples it fed through E."""

    @abc.abstractmethod
    def steps_per_epoch(self, train: TrainingData, config: dict) -> int:
        """Optimiser steps in one epoch of E."""

    def fit(self, modules, train, valid, run: Run):
        e = modules["embedder"]
        c = run.config
        stages = []
        if c["train_embedding"]:
            x = torch.from_numpy(train.features)
            labels = train.labels * train.known  # the labels a sampler may use

            def embed(features):
                return run.batched(e, features).numpy()

            def validate():
                return {"centroid_map": centroid_map(embed(train.features), labels, embed(valid.features),
                                                     valid.labels)}

            n_steps = self.steps_per_epoch(train, c)
            stage = Stage(name="embedding", modules={"embedder": e},
                          optimizer=adam(e.parameters(), lr=c["lr"]),
                          batches=lambda rng: [self.sample(labels, c, rng) for _ in range(n_steps)],
                          step=lambda b: self.embedding_step(e, x, b, c, run.device), validate=validate,
                          selection="centroid_map", max_epochs=c["max_epochs"], patience=c["patience"],
                          warmup=c["warmup"])
            stages.append(run.fit(stage))
        stages.append(self.fit_classifier(modules, train, valid, run))
        return stages

    def fit_classifier(self, modules, train, valid, run: Run) -> dict[str, Any]:
        """G on frozen embeddings (masked BCE); checkpoint on validation mAP."""
        e, g = modules["embedder"], modules["classifier"]
        c = run.config
        e.eval()
        et = run.batched(e, train.features).to(run.device)
        ev = run.batched(e, valid.features).to(run.device)
        y = torch.from_numpy(train.labels.astype(np.float32)).to(run.device)
        known = torch.from_numpy(train.known.astype(np.float32)).to(run.device)

        def step(idx):
            return masked_bce(g(et[idx]), y[idx], known[idx]), len(idx)

        def validate():
            return score_metrics(torch.sigmoid(g(ev)).cpu().numpy(), valid.labels, c["threshold"])

        stage = Stage(name="classifier", modules={"classifier": g},
                      optimizer=adam(g.parameters(), lr=c["classifier_lr"]),
                      batches=lambda rng: batches(len(et), c["classifier_batch_size"], rng), step=step,
                      validate=validate, selection="map", max_epochs=c["classifier_max_epochs"],
                      patience=c["classifier_patience"], warmup=c["classifier_warmup"], frozen={"embedder": e})
        return run.fit(stage)


class Triplet(_EmbeddingMethod):
    name = "turpault-triplet"
    description = "Triplet network (squared-distance hinge loss), then G on frozen embeddings (Turpault et al. 2020)"
    options = _EmbeddingMethod.options | ConfigSchema({
        "margin": Option(0.5, kind=float, min=0, doc="hinge margin delta of eq. 2"),
        "squared": Option(True, kind=bool, doc="squared Euclidean distances (eq. 2) or plain ones"),
        "normalise": Option("after_mean", kind=str, choices=PatchEmbedder.NORMALISE,
                            doc="where E's output is L2-normalised: after the mean over frames and patches (the "
                                "paper's wording), per frame (walle) or not at all"),
        "anchor_only_gradients": Option(False, kind=bool,
                                        doc="only the anchor's embedding carries gradients (walle); else all three"),
        "triplets_per_epoch": Option(0, kind=int, min=0, doc="0: N/3 triplets (an epoch feeds N clips)"),
    })

    def normalise(self, config):
        return config["normalise"]

    def steps_per_epoch(self, train, config):
        n = config["triplets_per_epoch"] or max(1, len(train) // 3)
        return max(1, -(-n // config["batch_size"]))

    def sample(self, labels, config, rng):
        return label_triplets(labels, config["batch_size"], rng)

    def embedding_step(self, e, x, batch, config, device):
        a, p, n = batch
        k = len(a)
        if config["anchor_only_gradients"]:
            anchor = e(x[a].to(device))
            with torch.no_grad():
                others = e(x[np.concatenate([p, n])].to(device))
            positive, negative = others[:k], others[k:]
        else:
            out = e(x[np.concatenate([a, p, n])].to(device))
            anchor, positive, negative = out[:k], out[k:2 * k], out[2 * k:]
        return triplet_loss(anchor, positive, negative, config["margin"], config["squared"]), 3 * k


class Protonet(_EmbeddingMethod):
    name = "turpault-protonet"
    description = "Prototypical network (episodes over all classes), then G on frozen embeddings (Turpault et al. 2020)"
    options = _EmbeddingMethod.options | ConfigSchema({
        "n_support": Option(5, kind=int, min=1),
        "n_query": Option(5, kind=int, min=1),
        "episodes_per_epoch": Option(0, kind=int, min=0, doc="0: N / (clips per episode), an epoch feeds ~N clips"),
    })

    def steps_per_epoch(self, train, config):
        if config["episodes_per_epoch"]:
            return config["episodes_per_epoch"]
        n_classes = int((train.labels.sum(axis=0) > 0).sum())
        per = (config["n_support"] + config["n_query"]) * n_classes
        return max(1, len(train) // max(per, 1))

    def sample(self, labels, config, rng):
        return episode(labels, config["n_support"], config["n_query"], rng)

    def embedding_step(self, e, x, batch, config, device):
        idx, n_classes = batch
        out = e(x[idx].to(device))
        return prototypical_loss(out, n_classes, config["n_support"], config["n_query"]), len(idx)


CLASSIFIER = Classifier()
TRIPLET = Triplet()
PROTONET = Protonet()
