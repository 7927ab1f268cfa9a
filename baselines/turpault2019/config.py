"""Configuration values of the three methods, with the paper's values as defaults.

``(default, doc)`` pairs; the method classes turn them into their config schema. Values the paper does not
give are marked "(not in the paper)" with the reason for the choice; docs/baselines.md lists them all.
"""

from __future__ import annotations

from typing import Any

CNN: dict[str, tuple[Any, str]] = {
    "filters": ([64, 64, 64], "conv 3x3 filters per layer (paper: 3 layers of 64)"),
    "pools": ([[1, 4], [1, 4], [1, 4]], "(time, freq) max-pool per conv layer (paper: 4 in frequency, none in time)"),
    "activation": ("relu", "conv activation, relu or leaky_relu (not in the paper)"),
    "conv_dropout": (0.0, "dropout after each conv block (not in the paper: none)"),
    "batch_norm": (False, "batch norm in the conv blocks (not in the paper: none; it would make an "
                          "embedding depend on its batch's other triplets)"),
}

TRIPLET: dict[str, tuple[Any, str]] = {
    "strategy": ("S2", "sampling strategy of Table 1: S1 (unsupervised), S2, S3 (semi-supervised), S4, S5"),
    "labeled_triplets": (1.0, "triplets with a labeled anchor, in multiples of the labeled sub-segment count "
                              "(1.0: each labeled sub-segment anchors once, the paper's 15,780)"),
    "unlabeled_triplets": (1.0, "triplets with an unlabeled anchor, in the same unit (Table 2: 1.0, 4.44, "
                                "9.13 = 15,780, 70,000, 144,120 triplets); S4 and S5 give them to labeled anchors"),
    "subsegment_seconds": (0.96, "sub-segment length (s) every clip is cut into (paper: 0.96 s)"),
    "transformations": (["noise", "shift", "mixing", "proximity"],
                        "transformations a transformed positive draws from, uniformly per triplet"),
    "noise_sigma": (0.5, "Gaussian noise standard deviation (paper: 0.5)"),
    "max_freq_shift": (10, "largest frequency shift S in bins (paper: 10)"),
    "mixing_alpha": (0.25, "example mixing weight alpha (paper: 0.25)"),
    "proximity_dt": (10.0, "temporal proximity: largest start-time difference (s), strict (paper: 10 s)"),
    "nearest_exclude_same_clip": (False, "nearest sample: also exclude the anchor's own clip (the paper's "
                                         "argmin excludes only the anchor itself)"),
    "margin": (1.0, "triplet loss margin delta (paper: 1)"),
    "semi_hard_fallback": ("farthest", "when no batch candidate is farther than the positive: 'farthest' "
                                       "admissible candidate, or 'skip' the triplet"),
    "l2_normalize": (False, "L2-normalise embeddings (not in the paper: off)"),
    "triplet_batch_size": (64, "triplets per step; semi-hard candidates are the batch's anchors (not in "
                               "the paper)"),
    "embedding_lr": (1e-3, "Adam learning rate of the embedding CNN (not in the paper)"),
    "embedding_epochs": (20, "most passes over the triplet set; 0 = the untrained-embedding control"),
    "embedding_patience": (5, "early stopping on the validation triplet accuracy (epochs)"),
    "validation_triplets": (2000, "fixed label/label validation triplets; the share ranked right selects "
                                   "the embedding epoch"),
    "rnn_hidden": (64, "classifier BiGRU cells per direction (paper: 64)"),
    "rnn_layers": (2, "classifier BiGRU layers (paper: 2 on embeddings)"),
    "classifier_lr": (1e-3, "Adam learning rate of the classifier (not in the paper)"),
    "classifier_batch_size": (16, "clips per classifier step (not in the paper)"),
    "classifier_epochs": (200, "most classifier epochs; early stopping on validation mAP"),
    "classifier_patience": (30, "classifier early-stopping patience (epochs)"),
}

CRNN: dict[str, tuple[Any, str]] = {
    "rnn_hidden": (64, "BiGRU cells per direction (paper: 64)"),
    "rnn_layers": (1, "BiGRU layers (paper: 1 for the baseline)"),
    "lr": (1e-3, "Adam learning rate (not in the paper)"),
    "batch_size": (16, "clips per step (not in the paper)"),
    "max_epochs": (200, "most epochs; early stopping on validation mAP"),
    "patience": (30, "early-stopping patience (epochs)"),
}

LOGMEL = {**{k: CRNN[k] for k in ("lr", "batch_size", "max_epochs", "patience")},
          "rnn_hidden": (64, "BiGRU cells per direction (paper: 64)"),
          "rnn_layers": (2, "BiGRU layers (paper: 2, the classifier used on embeddings)")}


def defaults(*tables: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """The default values of the merged tables."""
    out: dict[str, Any] = {}
    for t in tables:
        out.update({k: v[0] for k, v in t.items()})
    return out
