"""The method's own configuration keys (beside the shared ones of the training framework: lr, batch
budget, max_epochs, patience, warmup, device, threads, labels, oracle, ...), with defaults, kinds, ranges
and documentation, and the checks a per-key schema cannot express.

The six rows of the paper's Table 1 are six registered presets of one method (``VARIANTS``); their two
switches (``adversarial``, ``tri_training``) are fixed by the preset, not configuration keys, so a run's
name always says what it trained.
"""

from __future__ import annotations

from typing import Any

# name -> (adversarial, tri_training, description)
VARIANTS: dict[str, tuple[str, bool, str]] = {
    "park-baseline": ("none", False, "CRNN F + Ft on strong synthetic and weak real clips (Park et al. 2019 baseline)"),
    "park-adv-whole": ("whole", False, "baseline + clip-level adversarial domain adaptation (Adv.whole)"),
    "park-adv-time": ("time", False, "baseline + frame-level adversarial domain adaptation (Adv.time)"),
    "park-tri": ("none", True, "tri-training: labelers F1, F2 pseudo-label W and U for Ft"),
    "park-adv-whole-tri": ("whole", True, "Adv.whole + tri-training"),
    "park-adv-time-tri": ("time", True, "Adv.time + tri-training (the paper's best row)"),
}

# Control variants declared by the tri-training presets (config overrides, run beside every cell).
TRI_CONTROLS: dict[str, dict[str, Any]] = {"no-pseudo": {"pseudo_labels": False}}

# key -> dict(default, kind, doc, [min, max, choices, items]); maps one to one onto the framework's Option.
OPTIONS: dict[str, dict[str, Any]] = {
    "filters": dict(default=[16, 32, 64], kind=list, items=int, min=1,
                    doc="output channels of F's conv blocks (one per block; the paper has 7 blocks)"),
    "pools": dict(default=[[2, 4], [1, 4], [1, 4]], kind=list,
                  doc="(time, freq) max-pool of each conv block; the product of the time pools is F's time_pool"),
    "activation": dict(default="relu", kind=str, choices=["relu", "leaky_relu"], doc="activation of F, the heads and D"),
    "dropout": dict(default=0.0, kind=float, min=0.0, max=1.0, max_inclusive=False, doc="dropout after each conv block"),
    "batch_norm": dict(default=True, kind=bool, doc="batch norm in the conv blocks"),
    "rnn_hidden": dict(default=32, kind=int, min=1, doc="BiGRU units per direction (F's features: 2 x this)"),
    "rnn_layers": dict(default=2, kind=int, min=1, doc="BiGRU layers (the paper: 2)"),
    "rnn_dropout": dict(default=0.0, kind=float, min=0.0, max=1.0, max_inclusive=False, doc="dropout between BiGRU layers"),
    "head_hidden": dict(default=[], kind=list, items=int, min=1,
                        doc="hidden frame-wise layers of F1, F2, Ft; [] = one dense layer to the classes (the CRNN "
                            "head), whose weights are then the 'first layer' of eq. 8"),
    "pooling": dict(default="attention", kind=str, choices=["attention", "mean", "max"], doc="frame -> clip pooling of each head"),
    "domain_hidden": dict(default=[64], kind=list, items=int, min=1, doc="hidden layers of the domain classifier D"),
    "alpha": dict(default=1.0, kind=float, min=0.0, doc="gradient reversal coefficient (its final value under 'dann')"),
    "alpha_schedule": dict(default="dann", kind=str, choices=["fixed", "dann"],
                           doc="fixed: alpha throughout; dann: alpha * (2 / (1 + exp(-10 p)) - 1), p = step / step budget "
                               "of the whole run (both phases)"),
    "penalty_weight": dict(default=1.0, kind=float, min=0.0, doc="lambda of the orthogonality penalty (eq. 8; the paper: 1.0)"),
    "pseudo_threshold": dict(default=0.5, kind=float, min=0.5, max=1.0, max_inclusive=False,
                             doc="agreement threshold tau: positive when both labelers > tau, negative when both < 1 - tau "
                                 "(the paper: 0.5)"),
    "batch_roles": dict(default=[16, 16, 32], kind=list, items=int, min=0,
                        doc="clips per mini-batch from S (strong), W (weak) and U (unlabeled; in phase 2 the "
                            "pseudo-labelled U clips); one epoch = one pass over S"),
    "pseudo_labels": dict(default=True, kind=bool,
                          doc="tri-training only: phase 2 learns from the pseudo-labels; false = the same phase 2 on "
                              "S and W alone (the control that separates the pseudo-labels from the extra epochs)"),
    "phase2_max_epochs": dict(default=0, kind=int, min=0, doc="epoch budget of phase 2 (0: max_epochs)"),
    "selection": dict(default="frame_map", kind=str, choices=["frame_map", "clip_map"],
                      doc="threshold-free validation metric the best weights are chosen on: macro AP over the "
                          "validation split's (clip, frame) pairs at the model's frame rate, or over its clips"),
}


def defaults() -> dict[str, Any]:
    return {k: (list(v["default"]) if isinstance(v["default"], list) else v["default"]) for k, v in OPTIONS.items()}


def check(config: dict[str, Any], n_freq: int | None = None) -> None:
    """Cross-key checks (``ValueError`` naming the keys and the fix): one pool per filter, pools of two
    positive integers, frequency pools that leave at least one band, three batch_roles with S and W > 0."""
    filters, pools = config["filters"], config["pools"]
    if len(filters) != len(pools):
        raise ValueError(f"filters has {len(filters)} blocks but pools {len(pools)}: give one [time, freq] pool per block")
    for i, p in enumerate(pools):
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, int) and v >= 1 for v in p)):
            raise ValueError(f"pools[{i}] = {p!r}: each pool is [time, freq], two integers >= 1")
    if n_freq is not None:
        bands = n_freq
        for p in pools:
            bands //= p[1]
        if bands < 1:
            raise ValueError(f"the frequency pools {[p[1] for p in pools]} reduce {n_freq} bands to none: pool less")
    roles = config["batch_roles"]
    if len(roles) != 3 or roles[0] < 1 or roles[1] < 1:
        raise ValueError(f"batch_roles = {roles!r}: give [strong, weak, unlabeled] clips per batch, strong and weak >= 1")
