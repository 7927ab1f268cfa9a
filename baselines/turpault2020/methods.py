"""Classifier (E + G, BCE), triplet network (E by triplet margin loss, then G on frozen embeddings) and
prototypical network (E by episodes, then G on frozen embeddings). See docs/baselines.md."""

from __future__ import annotations

import abc

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from baselines.common import data
from baselines.common.fit import fit
from baselines.common.method import TorchMethod, run_batched
from baselines.common.nets import MLP, PatchEmbedder
from wlbench.metrics.embedding import centroid_accuracy_macro
from wlbench.metrics.tagging import binarize, f1_macro

E_DEFAULTS: dict[str, Any] = {
    # walle's CNN: 4 conv 3x3, LeakyReLU 0.2, dropout 0.2; 65 x 2 remaining bands = the paper's 130-d embedding
    "patch": 20,  # frames per patch (200 ms at a 10 ms hop)
    "filters": [16, 16, 32, 65],
    "pools": [[2, 2], [2, 2], [1, 4], [1, 2]],
    "activation": "leaky_relu",
    "dropout": 0.2,
    "batch_norm": False,
    "embedding_dim": 130,  # a linear projection is added when the trunk output differs
    "hidden": [32],  # classifier G
}

G_DEFAULTS: dict[str, Any] = {  # G trained on frozen embeddings (triplet / prototypical)
    "classifier_lr": 1e-3,
    "classifier_batch_size": 20,
    "classifier_max_epochs": 200,
    "classifier_patience": 30,
    "classifier_warmup": 20,
}


def _embedder(config: dict, n_freq: int, l2: bool) -> PatchEmbedder:
    return PatchEmbedder(n_freq, config["patch"], config["filters"], config["pools"], config["activation"],
                         float(config["dropout"]), bool(config["batch_norm"]), int(config["embedding_dim"]), l2)


def _val_f1(scores: np.ndarray, y: np.ndarray, threshold: float) -> float:
    """Validation macro F1 with the harness's metric functions."""
    return f1_macro(binarize(scores, threshold), y.astype(bool))


def _centroid(emb: torch.Tensor, valid: data.SplitData) -> float:
    """Validation centroid accuracy (macro) with the harness's embedding metric, single-label clips."""
    keep = valid.class_index >= 0
    return centroid_accuracy_macro(emb.numpy()[keep].astype(np.float64), valid.class_index[keep],
                                   valid.y.shape[1])


class _Turpault(TorchMethod):
    l2 = False

    def build(self, config, n_freq, n_classes):
        e = _embedder(config, n_freq, self.l2)
        return {"embedder": e, "classifier": MLP(e.out_dim, config["hidden"], n_classes, config["activation"])}

    def scores(self, modules, x):
        return torch.sigmoid(modules["classifier"](modules["embedder"](x)))

    def embed(self, modules, x: np.ndarray, config: dict, device) -> torch.Tensor:
        modules["embedder"].eval()
        return run_batched(modules["embedder"], x, int(config["eval_batch_size"]), device)

    def fit_classifier_on_embeddings(self, modules, train, valid, config, rng, device, log_path, progress):
        """G on frozen embeddings (BCE), early stopping on validation macro F1."""
        et = self.embed(modules, train.x, config, device).to(device)
        ev = self.embed(modules, valid.x, config, device).to(device)
        yt = torch.from_numpy(train.y).to(device)
        g = modules["classifier"]
        opt = torch.optim.Adam(g.parameters(), lr=float(config["classifier_lr"]))
        bs = int(config["classifier_batch_size"])

        def train_epoch(epoch):
            total, n = 0.0, 0
            for idx in data.batches(len(et), bs, rng):
                opt.zero_grad()
                loss = F.binary_cross_entropy_with_logits(g(et[idx]), yt[idx])
                loss.backward()
                opt.step()
                total, n = total + float(loss.detach()) * len(idx), n + len(idx)
            return total / max(n, 1)

        def validate():
            return _val_f1(torch.sigmoid(g(ev)).cpu().numpy(), valid.y, float(config["threshold"]))

        for p in modules["embedder"].parameters():
            p.requires_grad_(False)
        try:
            return fit({"classifier": g}, train_epoch, validate, max_epochs=int(config["classifier_max_epochs"]),
                       patience=int(config["classifier_patience"]), warmup=int(config["classifier_warmup"]),
                       log_path=log_path, stage="classifier", metric_name="f1_macro", progress=progress)
        finally:
            for p in modules["embedder"].parameters():
                p.requires_grad_(True)


class Classifier(_Turpault):
    name = "turpault-classifier"
    description = "End-to-end classifier G(E(x)) trained with BCE on weak labels (Turpault et al. 2020)"
    defaults = {**E_DEFAULTS}

    def fit_modules(self, modules, train, valid, config, rng, device, log_path, progress):
        e, g = modules["embedder"], modules["classifier"]
        params = list(e.parameters()) + list(g.parameters())
        opt = torch.optim.Adam(params, lr=float(config["lr"]))
        bs = int(config["batch_size"])
        x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)

        def train_epoch(epoch):
            total, n = 0.0, 0
            for idx in data.batches(len(x), bs, rng):
                xb, yb = x[idx].to(device), y[idx].to(device)
                opt.zero_grad()
                loss = F.binary_cross_entropy_with_logits(g(e(xb)), yb)
                loss.backward()
                opt.step()
                total, n = total + float(loss.detach()) * len(idx), n + len(idx)
                self.clips_seen += len(idx)
            return total / max(n, 1)

        def validate():
            s = run_batched(lambda xb: torch.sigmoid(g(e(xb))), valid.x, int(config["eval_batch_size"]), device)
            return _val_f1(s.numpy(), valid.y, float(config["threshold"]))

        return [fit(modules, train_epoch, validate, max_epochs=int(config["max_epochs"]),
                    patience=int(config["patience"]), warmup=int(config["warmup"]), log_path=log_path,
                    stage="classifier", metric_name="f1_macro", progress=progress)]


class _EmbeddingMethod(_Turpault):
    """E learnt by a metric loss (early stopping on the validation centroid metric), then G on frozen E."""

    @abc.abstractmethod
    def embedding_loss(self, e, x, labels, config, rng, device) -> tuple[torch.Tensor, int]:
        """The metric loss of one step and the number of training examples it used."""

    @abc.abstractmethod
    def steps_per_epoch(self, train, config) -> int:
        """Optimiser steps in one epoch."""

    def fit_modules(self, modules, train, valid, config, rng, device, log_path, progress):
        e = modules["embedder"]
        opt = torch.optim.Adam(e.parameters(), lr=float(config["lr"]))
        x = torch.from_numpy(train.x)
        labels = train.class_index
        steps = self.steps_per_epoch(train, config)

        def train_epoch(epoch):
            total = 0.0
            for _ in range(steps):
                opt.zero_grad()
                loss, n = self.embedding_loss(e, x, labels, config, rng, device)
                loss.backward()
                opt.step()
                total += float(loss.detach())
                self.clips_seen += n
            return total / max(steps, 1)

        def validate():
            return _centroid(self.embed(modules, valid.x, config, device), valid)

        first = fit({"embedder": e}, train_epoch, validate, max_epochs=int(config["max_epochs"]),
                    patience=int(config["patience"]), warmup=int(config["warmup"]), log_path=log_path,
                    stage="embedding", metric_name="centroid_accuracy_macro", progress=progress)
        second = self.fit_classifier_on_embeddings(modules, train, valid, config, rng, device, log_path, progress)
        return [first, second]


class Triplet(_EmbeddingMethod):
    name = "turpault-triplet"
    description = "Triplet network (margin loss on L2-normalised embeddings), then G on frozen embeddings"
    defaults = {**E_DEFAULTS, **G_DEFAULTS, "margin": 0.5, "triplets_per_epoch": 0}
    # triplets_per_epoch 0: N/3 triplets, so an epoch feeds N clips like the classifier's
    l2 = True

    def steps_per_epoch(self, train, config):
        n = int(config["triplets_per_epoch"]) or max(1, len(train) // 3)
        return max(1, -(-n // int(config["batch_size"])))

    def embedding_loss(self, e, x, labels, config, rng, device):
        a, p, n = sample_triplets(labels, int(config["batch_size"]), rng)
        out = e(x[np.concatenate([a, p, n])].to(device))  # L2-normalised (l2 = True)
        k = len(a)
        return F.triplet_margin_loss(out[:k], out[k:2 * k], out[2 * k:], margin=float(config["margin"])), 3 * k


class Protonet(_EmbeddingMethod):
    name = "turpault-protonet"
    description = "Prototypical network (episodes over all classes), then G on frozen embeddings"
    defaults = {**E_DEFAULTS, **G_DEFAULTS, "n_support": 5, "n_query": 5, "episodes_per_epoch": 0}  # 0: N/episode

    def steps_per_epoch(self, train, config):
        n = int(config["episodes_per_epoch"])
        if n:
            return n
        n_classes = len(np.unique(train.class_index[train.class_index >= 0]))
        per = (int(config["n_support"]) + int(config["n_query"])) * n_classes
        return max(1, len(train) // max(per, 1))

    def embedding_loss(self, e, x, labels, config, rng, device):
        idx, n_classes = sample_episode(labels, int(config["n_support"]), int(config["n_query"]), rng)
        ns, nq = int(config["n_support"]), int(config["n_query"])
        out = e(x[idx].to(device))
        return prototypical_loss(out, n_classes, ns, nq), len(idx)


def sample_triplets(labels: np.ndarray, k: int, rng: np.random.Generator):
    """``k`` (anchor, positive, negative) index triples: positive of the anchor's class (another clip when
    the class has one), negative of another class. Clips without a label are never drawn."""
    ok = np.flatnonzero(labels >= 0)
    by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels[ok])}
    usable = np.concatenate([v for v in by_class.values()]) if len(by_class) > 1 else ok
    anchors = rng.choice(usable, size=k, replace=len(usable) < k)
    pos, neg = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
    for j, i in enumerate(anchors):
        same = by_class[labels[i]]
        others = same[same != i]
        pos[j] = rng.choice(others) if len(others) else i
        diff = ok[labels[ok] != labels[i]]
        neg[j] = rng.choice(diff) if len(diff) else i
    return anchors, pos, neg


def sample_episode(labels: np.ndarray, n_support: int, n_query: int, rng: np.random.Generator):
    """One episode over all classes present, support-major: indices
    ``[support of class 0..K-1 (n_support each), query of class 0..K-1 (n_query each)]``.
    Clips are drawn without replacement when the class has enough, else with replacement."""
    classes = np.unique(labels[labels >= 0])
    sup, qry = [], []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        pick = rng.choice(pool, size=n_support + n_query, replace=len(pool) < n_support + n_query)
        sup.append(pick[:n_support])
        qry.append(pick[n_support:])
    return np.concatenate(sup + qry), len(classes)


def prototypical_loss(emb: torch.Tensor, n_classes: int, n_support: int, n_query: int) -> torch.Tensor:
    """Cross-entropy of each query over negative squared distances to the prototypes (support means);
    ``emb`` is support-major (see :func:`sample_episode`)."""
    k = n_classes * n_support
    protos = emb[:k].reshape(n_classes, n_support, -1).mean(dim=1)
    queries = emb[k:]
    logits = -torch.cdist(queries, protos).pow(2)
    target = torch.arange(n_classes, device=emb.device).repeat_interleave(n_query)
    return F.cross_entropy(logits, target)


CLASSIFIER = Classifier()
TRIPLET = Triplet()
PROTONET = Protonet()
