"""Building blocks the reference baselines share: networks and losses (the loop, data and checkpoints are
wlbench's training framework, :mod:`wlbench.training`)."""
