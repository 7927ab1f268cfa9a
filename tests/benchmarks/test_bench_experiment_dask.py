"""Benchmark: an experiment grid on local processes (``--jobs 2``) beside a Dask LocalCluster of 2 workers.

Skipped in normal test runs (a grid is minutes of training, and tests/test_experiment_dask.py already checks
that both give the same run folders). Measure with::

    .venv/bin/pytest tests/benchmarks/test_bench_experiment_dask.py -p no:xdist --benchmark-enable \
        --benchmark-group-by=group -s

Each case trains the same 12 runs (6 seeds of the end-to-end classifier on 100 whole 10 s clips, 3 epochs,
and the 6 priors) into a fresh ``--out``, one torch thread per run, pool or cluster start-up included. The
ratio is recorded in docs/cluster.md; no time is asserted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wlbench.experiments.runner import run_experiment

GRID = """
[experiment]
name = "dask-overhead"
methods = ["turpault-classifier"]
seeds = [0, 1, 2, 3, 4, 5]
metrics = ["map"]
controls = ["prior"]
bootstrap = 0

[config]
threads = 1
max_epochs = 3
warmup = 3
patience = 3
train_clips = 100
train_segment = "clip"

[[datasets]]
name = "ml"
path = "{path}"
"""


@pytest.fixture(scope="module")
def grid(request, tmp_path_factory) -> Path:
    if not request.config.getoption("benchmark_enable", False):
        pytest.skip("a benchmark of whole grids: run with --benchmark-enable")
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    d = tmp_path_factory.mktemp("dask_bench")
    data = synthesize(load_recipe(Path("datasets/missing-labels.toml")).scaled(0.4), load_soundbank(None), d,
                      workers=2, progress=False).path
    path = d / "grid.toml"
    path.write_text(GRID.format(path=json.dumps(str(data))[1:-1]))
    return path


@pytest.mark.benchmark(group="12-run grid")
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_grid_wall_time(benchmark, grid, executor, tmp_path):
    counter = iter(range(100))

    def run():
        out = tmp_path / f"{executor}-{next(counter)}"
        run_experiment(grid, out, 2, echo=lambda _: None, executor=executor)
        shutil.rmtree(out)

    benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=0)
