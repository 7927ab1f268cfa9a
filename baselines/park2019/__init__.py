"""Tri-training with adversarial domain adaptation for sound event detection (Park et al., DCASE 2019).

Six entry points, the rows of the paper's Table 1 (:mod:`.methods`); the pieces: gradient reversal and its
schedule (:mod:`.grl`), the networks F, F1, F2, Ft, D (:mod:`.nets`), the losses and the orthogonality
penalty (:mod:`.losses`), what may enter a loss (:mod:`.targets`), pseudo-labelling by agreement
(:mod:`.pseudo`), role-composed batches (:mod:`.sampling`), the loss of a mini-batch (:mod:`.steps`), the
options (:mod:`.config`) and the domain-gap probe of the docs (:mod:`.gap`). See docs/baselines.md.
"""

from wlbench_baselines.park2019.methods import (
                                        ADV_TIME,
                                        ADV_TIME_TRI,
                                        ADV_WHOLE,
                                        ADV_WHOLE_TRI,
                                        BASELINE,
                                        METHODS,
                                        TRI,
                                        ParkMethod,
)

__all__ = ["ADV_TIME", "ADV_TIME_TRI", "ADV_WHOLE", "ADV_WHOLE_TRI", "BASELINE", "METHODS", "TRI", "ParkMethod"]
