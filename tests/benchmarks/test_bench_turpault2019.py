"""Benchmark: the exact nearest-neighbour search of the "nearest sample" positive (Turpault et al. 2019)
beside scikit-learn's brute-force search doing the same work, in the same run.

Full size (``--benchmark-enable``): half the S3 search of the dcase2018-like grid at its largest budget,
3,600 unlabeled sub-segments against a pool of 4,000 (48 frames x 64 bands = 3,072 values each). Normal
test runs (``--benchmark-disable``) run each once on a small pool. docs/performance.md records the ratio.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from wlbench_baselines.turpault2019.neighbours import nearest_neighbours


@pytest.fixture(scope="module")
def pool(request):
    cfg = request.config
    full = bool(cfg.getoption("benchmark_enable", False)) or not cfg.getoption("benchmark_disable", True)
    n, frames = (4000, 48) if full else (300, 8)
    rng = np.random.default_rng(0)
    # clips of 10 correlated sub-segments, like real audio: neighbours are informative, not uniform noise
    clip_mean = rng.normal(size=(n // 10, 1, frames, 64)).astype(np.float32)
    x = (clip_mean + 0.5 * rng.normal(size=(n // 10, 10, frames, 64))).reshape(n, frames, 64)
    return x.astype(np.float32), np.arange(n // 10, n)


def _sklearn(x, rows):
    flat = x.reshape(len(x), -1)
    nn = NearestNeighbors(n_neighbors=2, algorithm="brute", metric="sqeuclidean").fit(flat)
    idx = nn.kneighbors(flat[rows], return_distance=False)
    return np.where(idx[:, 0] == rows, idx[:, 1], idx[:, 0])  # drop the query itself


@pytest.mark.benchmark(group="nearest sample (exact NN)")
def test_bench_nearest_wlbench(benchmark, pool):
    x, rows = pool
    idx, _ = benchmark.pedantic(nearest_neighbours, args=(x, rows), rounds=3, iterations=1)
    np.testing.assert_array_equal(idx, _sklearn(x, rows))


@pytest.mark.benchmark(group="nearest sample (exact NN)")
def test_bench_nearest_sklearn(benchmark, pool):
    x, rows = pool
    benchmark.pedantic(_sklearn, args=(x, rows), rounds=3, iterations=1)
