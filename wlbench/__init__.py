"""wlbench: render weak-label sound event datasets, score systems, train baselines, compare results."""

__version__ = "0.1.0"

HARNESS_VERSION = __version__

NUMERICS_VERSION = 2
"""What trained numbers a run's code gives: bumped by every change meant to alter them (the golden record,
tests/data/golden.json, is re-recorded with it). Each run's summary.json records it; a grid does not reuse a
finished run of another numerics version (it trains it again), so no grid mixes code that trains differently.
1: every run before the training-speed changes of 2026-12-05 (no field); 2: channels-last trunk, pool
before activation, numpy-drawn dropout masks."""
