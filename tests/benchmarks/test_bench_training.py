"""Benchmark: training throughput (examples per second through E) of each reference baseline on CPU.

Normal test runs (``--benchmark-disable``) train one small epoch per case as a plain test. Measure with::

    .venv/bin/pytest tests/benchmarks/test_bench_training.py -p no:xdist --benchmark-enable \
        --benchmark-group-by=group -s

Each case trains one epoch of the paper's network (E: 4 conv layers 16/16/32/65, G: FC 32) through the
framework's loop (``fit_stage``) on random log-mel inputs of the training segment length, one torch thread,
batch 20, with and without ``channels_last``, in a process whose malloc is tuned like ``wlbench train``'s
(:func:`wlbench.methods.runtime.tune_malloc_for_training`), and prints examples/s of the first stage
(validation excluded). docs/baselines.md records the measured numbers; no time is asserted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from wlbench.training.method import Run
from wlbench.methods import get_method
from wlbench.methods.runtime import tune_malloc_for_training
from wlbench.dataset.training_data import TrainingData

METHODS = ["turpault-classifier", "turpault-triplet", "turpault-protonet"]
SEGMENTS = {"200ms": 20, "1s": 100, "10s": 1000}


@pytest.fixture(scope="module")
def full_size(request) -> bool:
    cfg = request.config
    return bool(cfg.getoption("benchmark_enable", False)) or not cfg.getoption("benchmark_disable", True)


def _data(n: int, length: int, seed: int) -> TrainingData:
    rng = np.random.default_rng(seed)
    y = np.zeros((n, 10), dtype=np.uint8)
    y[np.arange(n), np.arange(n) % 10] = 1
    return TrainingData(clip_ids=np.array([f"c{i}" for i in range(n)]),
                        features=rng.normal(size=(n, length, 64)).astype(np.float32), labels=y,
                        known=np.ones_like(y), roles=np.zeros(n, np.uint8), role_names=("strong",),
                        domains=np.zeros(n, np.int16), domain_names=("default",), frame_labels=None,
                        frame_known=None, chunk_labels=None, chunk=None, view="true", oracle=None, segment=None,
                        frame_rate=100.0)


@dataclasses.dataclass
class _Ctx:  # the parts of a TrainContext the loop uses
    progress: bool = False

    @staticmethod
    def log(row):
        return None


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("segment", list(SEGMENTS))
@pytest.mark.parametrize("name", METHODS)
def test_training_throughput(benchmark, full_size, name, segment, channels_last):
    tune_malloc_for_training()
    torch.set_num_threads(1)
    method = get_method(name)
    n = {"200ms": 400, "1s": 200, "10s": 40}[segment] if full_size else 20
    length = SEGMENTS[segment] if full_size else min(SEGMENTS[segment], 100)
    train, valid = _data(n, length, 0), _data(10, length, 1)
    cfg = {**method.config_schema().defaults(), "max_epochs": 1, "warmup": 0, "patience": 1,
           "classifier_max_epochs": 1, "n_support": 1, "n_query": 1, "channels_last": channels_last}
    benchmark.group = f"train {segment}"
    result = {}

    def run():
        torch.manual_seed(0)
        mods = method.build(cfg, 64, 10)
        stages = method.fit(mods, train, valid, Run(_Ctx(), cfg, torch.device("cpu"), np.random.default_rng(0), 10))
        result["eps"] = stages[0]["examples_per_second"]

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=1 if full_size else 0)  # warm-up: oneDNN set-up
    benchmark.extra_info["examples_per_second"] = round(result["eps"], 1)
    print(f"\n{name:<22} train {segment:>5} {'channels_last' if channels_last else 'contiguous':>13}: "
          f"{result['eps']:8.1f} examples/s")
    assert result["eps"] > 0
