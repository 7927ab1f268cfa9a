"""Training methods as plug-ins, and the runs and experiments wlbench builds on them.

- :mod:`~wlbench.methods.protocol`: the :class:`Method` protocol, :class:`TrainContext`,
  :class:`PredictContext`, :class:`Predictions`, :class:`Audit`.
- :mod:`~wlbench.methods.config`: :class:`ConfigSchema` / :class:`Option` and :func:`resolve_config`.
- :mod:`~wlbench.methods.discovery`: the ``wlbench.methods`` entry points.
- :mod:`~wlbench.methods.runs`: one run (train -> predict -> submissions -> reports -> curves).
- :mod:`~wlbench.methods.curves`: learning curves of a run.
- :mod:`~wlbench.methods.controls`: the ``prior`` control method.

wlbench never imports ``wlbench_baselines`` (the repository's baselines/ folder): the reference trainers register
exactly like an outside method.
"""

from wlbench.methods.config import ConfigSchema, Option, parse_override, parse_value, plain, resolve_config
from wlbench.methods.discovery import GROUP, available_methods, get_method
from wlbench.methods.protocol import (
                                      CLIP,
                                      RUN_OPTIONS,
                                      Audit,
                                      Method,
                                      PredictContext,
                                      Predictions,
                                      TrainContext,
                                      run_option,
)
from wlbench.methods.runs import Decoding, predict_run, read_run, segment_key, train_run

__all__ = ["CLIP", "GROUP", "RUN_OPTIONS", "run_option", "Audit", "ConfigSchema", "Method", "Option",
           "PredictContext", "Predictions", "TrainContext", "available_methods", "get_method",
           "parse_override", "parse_value", "plain", "predict_run", "read_run", "resolve_config",
           "segment_key", "train_run", "Decoding"]
