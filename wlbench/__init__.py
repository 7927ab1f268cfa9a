"""wlbench: render weak-label sound event datasets, score systems, train baselines, compare results."""

__version__ = "0.1.0"

HARNESS_VERSION = __version__
