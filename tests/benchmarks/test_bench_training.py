"""Benchmark: training throughput (clips per second) of each reference baseline on CPU.

Normal test runs (``--benchmark-disable``) train one small epoch per case as a plain test. Measure with::

    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296 \
    .venv/bin/pytest tests/benchmarks/test_bench_training.py -p no:xdist --benchmark-enable \
        --benchmark-group-by=group -s

Each case trains one epoch of the paper's network (E: 4 conv layers 16/16/32/65, G: FC 32) on random
log-mel patches of the training segment length, one torch thread, batch 20, and prints clips/s (clips fed
to E per second, validation included). docs/baselines.md records the measured numbers; no time is asserted.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from baselines.common.data import SplitData
from wlbench.methods import get_method

METHODS = ["turpault-classifier", "turpault-triplet", "turpault-protonet"]
SEGMENTS = {"200ms": 20, "1s": 100, "10s": 1000}


@pytest.fixture(scope="module")
def full_size(request) -> bool:
    cfg = request.config
    return bool(cfg.getoption("benchmark_enable", False)) or not cfg.getoption("benchmark_disable", True)


def _data(n: int, length: int, split: str, seed: int) -> SplitData:
    rng = np.random.default_rng(seed)
    y = np.zeros((n, 10), dtype=np.float32)
    y[np.arange(n), np.arange(n) % 10] = 1
    return SplitData(np.array([f"{split}_{i}" for i in range(n)]), rng.normal(size=(n, length, 64)).astype(np.float32),
                     y, "bench", split)


@pytest.mark.parametrize("segment", list(SEGMENTS))
@pytest.mark.parametrize("name", METHODS)
def test_training_throughput(benchmark, full_size, name, segment, tmp_path):
    torch.set_num_threads(1)
    method = get_method(name)
    n = {"200ms": 400, "1s": 200, "10s": 40}[segment] if full_size else 20
    length = SEGMENTS[segment] if full_size else min(SEGMENTS[segment], 100)
    train, valid = _data(n, length, "train", 0), _data(10, length, "validation", 1)
    cfg = {**method.default_config(), "max_epochs": 1, "warmup": 0, "patience": 1, "classifier_max_epochs": 1,
           "n_support": 1, "n_query": 1}
    benchmark.group = f"train {segment}"
    result = {}

    def run():
        torch.manual_seed(0)
        mods = method.build(cfg, 64, 10)
        method.clips_seen = 0
        t0 = time.perf_counter()
        method.fit_modules(mods, train, valid, cfg, np.random.default_rng(0), torch.device("cpu"),
                           tmp_path / "log.jsonl", False)
        result["cps"] = method.clips_seen / (time.perf_counter() - t0)

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=1 if full_size else 0)  # warm-up: oneDNN set-up
    benchmark.extra_info["clips_per_second"] = round(result["cps"], 1)
    print(f"\n{name:<22} train {segment:>5}: {result['cps']:8.1f} clips/s")
    assert result["cps"] > 0
