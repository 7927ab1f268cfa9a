"""The method's own options (beside the framework's shared ones: labels, oracle, lr, max_epochs, patience,
warmup, device, threads, ...), its six presets (the rows of the paper's Table 1) and the checks a per-key
schema cannot express.

The presets' two switches (``adversarial``, ``tri_training``) are fixed by the entry point, not configuration
keys, so a run's method name always says what it trained.
"""

from __future__ import annotations

from typing import Any

from wlbench.errors import WlbenchError
from wlbench.methods import ConfigSchema, Option
from wlbench.training.method import MAX_WIDTH, WIDTH

# entry point name -> (adversarial, tri_training, description)
VARIANTS: dict[str, tuple[str, bool, str]] = {
    "park-baseline": ("none", False, "CRNN F + Ft on strong synthetic and weak real clips (Park et al. 2019 baseline)"),
    "park-adv-whole": ("whole", False, "baseline + clip-level adversarial domain adaptation (Adv.whole, Park et al. 2019)"),
    "park-adv-time": ("time", False, "baseline + frame-level adversarial domain adaptation (Adv.time, Park et al. 2019)"),
    "park-tri": ("none", True, "tri-training: labelers F1, F2 pseudo-label W and U for Ft (Park et al. 2019)"),
    "park-adv-whole-tri": ("whole", True, "Adv.whole + tri-training (Park et al. 2019)"),
    "park-adv-time-tri": ("time", True, "Adv.time + tri-training (Park et al. 2019, the paper's best row)"),
}

# Controls declared by the tri-training presets: the same two phases without pseudo-labels (the lower
# control), and with the true labels in place of the pseudo-labels (the upper bound of any pseudo-labelling:
# an oracle, named so).
# Neither depends on the agreement threshold (it then only sets the pseudo-label audit), so both pin the
# paper's 0.5: a grid over pseudo_threshold shares one run of each control between its cells.
TRI_CONTROLS: dict[str, dict[str, Any]] = {"no-pseudo": {"pseudo_labels": False, "pseudo_threshold": 0.5},
                                           "oracle-pseudo": {"pseudo_oracle": True, "pseudo_threshold": 0.5}}

_INT = Option(1, kind=int, min=1)
_POOL = Option([1, 1], kind=list, length=2, items=_INT)

OPTIONS = ConfigSchema({
    "filters": Option([16, 32, 64], kind=list, items=WIDTH,
                      doc="output channels of F's conv blocks, one per block (the paper has 7 blocks)"),
    "pools": Option([[2, 4], [1, 4], [1, 4]], kind=list, items=_POOL,
                    doc="(time, freq) max-pool of each conv block; the product of the time pools is the number "
                        "of input frames per output frame"),
    "activation": Option("relu", kind=str, choices=("relu", "leaky_relu"), doc="activation of F, the heads and D"),
    "dropout": Option(0.0, kind=float, min=0, max=0.95, doc="dropout after each conv block"),
    "batch_norm": Option(True, kind=bool, doc="batch norm in the conv blocks"),
    "rnn_hidden": Option(32, kind=int, min=1, max=MAX_WIDTH, doc="BiGRU units per direction (F's features: twice this)"),
    "rnn_layers": Option(2, kind=int, min=1, doc="BiGRU layers (the paper: 2)"),
    "rnn_dropout": Option(0.0, kind=float, min=0, max=0.95, doc="dropout between BiGRU layers"),
    "head_hidden": Option([], kind=list, items=WIDTH,
                          doc="hidden frame-wise layers of F1, F2 and Ft; [] = one dense layer to the classes (the "
                              "CRNN head), whose weights are then the 'first layer' of the orthogonality penalty"),
    "pooling": Option("attention", kind=str, choices=("attention", "mean", "max"),
                      doc="frame -> clip pooling of each head"),
    "domain_hidden": Option([64], kind=list, items=WIDTH, doc="hidden layers of the domain classifier D"),
    "alpha": Option(1.0, kind=float, min=0, doc="gradient reversal coefficient (its final value under 'dann')"),
    "alpha_schedule": Option("dann", kind=str, choices=("fixed", "dann"),
                             doc="fixed: alpha throughout; dann: alpha * (2 / (1 + exp(-10 p)) - 1), p = steps done / "
                                 "step budget of the whole run (both phases)"),
    "penalty_weight": Option(1.0, kind=float, min=0, doc="lambda of the orthogonality penalty (the paper: 1.0)"),
    "pseudo_threshold": Option(0.5, kind=float, min=0.5, max=0.999,
                               doc="agreement threshold tau: positive when both labelers > tau, negative when both "
                                   "< 1 - tau (the paper: 0.5)"),
    "pseudo_labels": Option(True, kind=bool,
                            doc="tri-training: phase 2 learns from the pseudo-labels; false = the same phase 2 "
                                "without them (the control separating pseudo-labels from extra epochs)"),
    "pseudo_oracle": Option(False, kind=bool,
                            doc="oracle upper bound of tri-training: phase 2 learns from the true clip and frame "
                                "labels of every W and U clip instead of the pseudo-labels (phase 1 and the "
                                "pseudo-label audit unchanged)"),
    "batch_roles": Option([16, 16, 32], kind=list, length=3, items=Option(0, kind=int, min=0),
                          doc="clips per mini-batch from S (strong), W (weak) and U (unlabeled; in phase 2 the "
                              "pseudo-labelled U clips); one epoch = one pass over S"),
    "phase2_max_epochs": Option(0, kind=int, min=0, doc="epoch budget of phase 2 (0: max_epochs)"),
    "phase1_cache": Option("", kind=str, identity=False,
                           doc="folder where runs that differ only in phase 2 (tau, the controls) share phase 1 "
                               "('': off; bit for bit the same run either way; docs/baselines.md)"),
    "selection": Option("frame_map", kind=str, choices=("frame_map", "clip_map"),
                        doc="threshold-free validation metric choosing the best weights: macro AP over the validation "
                            "split's (clip, frame) pairs at the model's frame rate, or over its clips"),
})


# options only some presets use: a preset's schema leaves the others out, so setting one is refused
ADVERSARIAL_KEYS = ("alpha", "alpha_schedule", "domain_hidden")
TRI_TRAINING_KEYS = ("penalty_weight", "pseudo_threshold", "pseudo_labels", "pseudo_oracle", "phase2_max_epochs",
                     "phase1_cache")


def variant_options(adversarial: str, tri_training: bool) -> ConfigSchema:
    """The options a preset uses: every option but the adversarial ones without adaptation and the
    tri-training ones without tri-training."""
    unused = set(() if adversarial != "none" else ADVERSARIAL_KEYS) | set(() if tri_training else TRI_TRAINING_KEYS)
    return ConfigSchema({k: v for k, v in OPTIONS.items() if k not in unused})


def time_pool(config: dict[str, Any]) -> int:
    """Input feature frames per output frame of F."""
    pool = 1
    for p in config["pools"]:
        pool *= int(p[0])
    return pool


def check(config: dict[str, Any], n_freq: int) -> None:
    """Cross-key checks, one :class:`WlbenchError` naming the keys and the fix."""
    filters, pools = config["filters"], config["pools"]
    if len(filters) != len(pools):
        raise WlbenchError(f"filters has {len(filters)} blocks but pools has {len(pools)}",
                           hint="give one [time, freq] pool per conv block")
    bands = n_freq
    for p in pools:
        bands //= int(p[1])
    if bands < 1:
        raise WlbenchError(f"the frequency pools {[p[1] for p in pools]} reduce the {n_freq} mel bands to none",
                           hint="pool less in frequency (the second number of each pools entry)")
    if config.get("pseudo_oracle") and not config.get("pseudo_labels", True):
        raise WlbenchError("pseudo_oracle = true with pseudo_labels = false: the oracle replaces the pseudo-labels "
                           "phase 2 learns from", hint="set one of them (the controls oracle-pseudo and no-pseudo)")
    roles = config["batch_roles"]
    if roles[0] < 1:
        raise WlbenchError(f"batch_roles = {roles}: a batch needs at least one strong clip (an epoch is a pass over S)")
