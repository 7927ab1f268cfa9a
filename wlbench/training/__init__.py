"""The training framework methods build on: the framework owns the loop, a method owns a step.

Modules, bottom to top::

    sampling     seeded batches, class-balanced subsets, episodes and triplets (numpy)
    validation   threshold-free validation metrics (mAP, F1 at a threshold, centroid mAP)
    data         what a torch method reads: training data of a label condition, the scaler, features to predict
    fit          Stage and fit_stage (the one loop: epochs, modes, best weights, early stopping, curves),
                 seeding, devices, checkpoints
    method       TorchMethod: the Method protocol for torch models (options, data, scaler, device,
                 checkpoint and prediction plumbing); a method implements build / fit / forward

An outside method subclasses :class:`TorchMethod`, declares its stages as :class:`Stage` objects (keyword
arguments) and registers under the ``wlbench.methods`` entry point; it needs only ``wlbench``.
"""

from wlbench.training.fit import Stage, fit_stage
from wlbench.training.method import MAX_WIDTH, SHARED, WIDTH, Run, TorchMethod

__all__ = ["MAX_WIDTH", "SHARED", "WIDTH", "Run", "Stage", "TorchMethod", "fit_stage"]
