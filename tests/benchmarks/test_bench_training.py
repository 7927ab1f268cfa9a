"""Benchmark: training throughput (examples per second through E) of the Turpault 2020 baselines on CPU,
today's code beside the code path before issue 23, in the same process.

Normal test runs (``--benchmark-disable``) train one small epoch per case as a plain test. Measure with::

    .venv/bin/pytest tests/benchmarks/test_bench_training.py -p no:xdist --benchmark-enable \\
        --benchmark-group-by=group -s

Each case trains one epoch of the paper's network (E: 4 conv layers 16/16/32/65, G: FC 32) through the
framework's loop on random log-mel inputs of the training segment length, one torch thread, batch 20,
deterministic algorithms on (as ``wlbench train`` runs), in a process whose malloc is tuned like
``wlbench train``'s, in three arms measured alternately (best of the rounds):

- ``before``: the code path before issue 23, rebuilt from today's modules by :func:`_before` (activation
  before the max-pool, torch's ``nn.Dropout``, contiguous weights, which made ``channels_last`` a no-op
  because a one-channel input cannot carry the format, deterministic mode's NaN fill of new tensors, and
  torch's single-tensor Adam, the CPU default, in place of ``wlbench.training.fit.adam``);
- ``contiguous`` and ``channels_last``: today's code with either memory format.

It prints examples/s of the first stage (validation excluded), the ratio to ``before`` and the achieved
convolution rate (the trunk's convolution FLOPs of forward + backward per example x examples/s) beside the
rate of a one-thread fp32 2048 x 2048 matmul measured in the same process, and the **layer floor**: the
examples/s the first stage would reach if only its convolutions, max-pools and activations (forward and
backward, torch's CPU kernels) took time and everything else (dropout, the head, the loss, Adam, the loop)
cost nothing: today's channels-last examples/s divided by those kernels' share of the first stage's training
time (their self time under torch.profiler, in one more epoch of that arm: an estimate). The floor over
``before`` estimates the largest ratio these kernels allow. docs/performance.md records the
numbers. No time is asserted; the test asserts that the rebuilt old path and today's compute the same
embeddings from the same weights (the reorder is value-preserving).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

from wlbench.dataset.training_data import TrainingData
from wlbench.methods import get_method
from wlbench.methods.runtime import tune_malloc_for_training
from wlbench.training.method import Run
from wlbench_baselines.common.nets import ConvTrunk, Dropout

METHODS = ["turpault-classifier", "turpault-triplet", "turpault-protonet"]
SEGMENTS = {"200ms": 20, "1s": 100, "10s": 1000}
ARMS = ("before", "contiguous", "channels_last")


@pytest.fixture(scope="module")
def full_size(request) -> bool:
    cfg = request.config
    return bool(cfg.getoption("benchmark_enable", False)) or not cfg.getoption("benchmark_disable", True)


@pytest.fixture(scope="module")
def matmul_gflops(full_size) -> float:
    """One-thread fp32 matmul rate (GFLOP/s) of 2048 x 2048 operands in this process (best of 3)."""
    torch.set_num_threads(1)
    n = 2048 if full_size else 256
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(3))
    return 2 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


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


def _before(modules: dict[str, nn.Module]) -> None:
    """Turn today's conv trunks into the pre-issue-23 ones in place, same weights: activation before the
    pool, torch's Bernoulli dropout, contiguous weights."""
    for module in modules.values():
        for trunk in (m for m in module.modules() if isinstance(m, ConvTrunk)):
            layers, out = list(trunk.net), []
            for layer in layers:
                if isinstance(layer, Dropout):
                    layer = nn.Dropout(layer.p)
                if out and isinstance(out[-1], nn.MaxPool2d) and isinstance(layer, (nn.LeakyReLU, nn.ReLU)):
                    out.insert(len(out) - 1, layer)
                else:
                    out.append(layer)
            trunk.net = nn.Sequential(*out).to(memory_format=torch.contiguous_format)


LAYER_OPS = frozenset({"aten::mkldnn_convolution", "aten::convolution_backward", "aten::max_pool2d_with_indices",
                       "aten::max_pool2d_with_indices_backward", "aten::leaky_relu", "aten::leaky_relu_backward",
                       "aten::relu", "aten::clamp_min", "aten::threshold_backward"})


def _layer_share(fit) -> float:
    """Run ``fit()`` (returning the stages' summaries) under torch.profiler: the share of the first stage's
    training time (its ``train_seconds``: the epoch's batches drawn, its steps, not its validations) that the
    :data:`LAYER_OPS` on 4-D tensors (the trunk's, not a loss's ``relu``) take, by their self CPU time between
    the stage's first ``zero_grad`` and the end of its last optimiser step. An estimate: the profiler's own
    cost per operation lowers the share (most on the smallest operations), one epoch stands for the rounds."""
    from torch.profiler import profile

    with profile(record_shapes=True) as prof:
        first = fit()[0]
    events = prof.events()

    def marks(name: str) -> list:
        return sorted((e for e in events if e.name.startswith(name)), key=lambda e: e.time_range.start)

    start = marks("Optimizer.zero_grad")[0].time_range.start
    end = marks("Optimizer.step")[first["steps"] - 1].time_range.end
    layers = sum(e.self_cpu_time_total for e in events
                 if e.name in LAYER_OPS and e.input_shapes and len(e.input_shapes[0]) == 4
                 and start <= e.time_range.start and e.time_range.end <= end)
    return layers / 1e6 / first["train_seconds"]


def _single_tensor_adam(params, *, lr: float) -> torch.optim.Adam:
    """The methods' optimiser before issue 23: torch's Adam in its CPU default, the single-tensor form."""
    return torch.optim.Adam(params, lr=lr, foreach=False)


def _conv_flops(modules: dict[str, nn.Module], length: int) -> float:
    """Convolution FLOPs of one training example through the trunk: forward, weight gradient and input
    gradient (none for the first layer, whose input needs no gradient), 2 FLOPs per multiply-add."""
    counts: list[float] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: counts.append(  # out: every patch of the example
        2.0 * out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]))
        for mod in modules.values() for m in mod.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            modules["embedder"].eval()(torch.zeros(1, length, 64))
    finally:
        for h in hooks:
            h.remove()
    return 3 * sum(counts) - counts[0]


@pytest.mark.parametrize("segment", list(SEGMENTS))
@pytest.mark.parametrize("name", METHODS)
def test_training_throughput(benchmark, full_size, matmul_gflops, name, segment):
    tune_malloc_for_training()
    torch.set_num_threads(1)
    method = get_method(name)
    n = {"200ms": 400, "1s": 200, "10s": 40}[segment] if full_size else 20
    length = SEGMENTS[segment] if full_size else min(SEGMENTS[segment], 100)
    train, valid = _data(n, length, 0), _data(10, length, 1)
    base = {**method.config_schema().defaults(), "max_epochs": 1, "warmup": 0, "patience": 1,
            "classifier_max_epochs": 1, "n_support": 1, "n_query": 1}
    benchmark.group = f"train {segment}"
    eps: dict[str, list[float]] = {arm: [] for arm in ARMS}
    was = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory)

    def build(arm: str) -> dict[str, nn.Module]:
        torch.manual_seed(0)
        mods = method.build({**base, "channels_last": arm == "channels_last"}, 64, 10)
        if arm == "before":
            _before(mods)
        return mods

    def fit(arm: str) -> list[dict]:
        mods = build(arm)
        torch.use_deterministic_algorithms(True)
        torch.utils.deterministic.fill_uninitialized_memory = arm == "before"
        cfg = {**base, "channels_last": arm == "channels_last"}
        optimiser = _single_tensor_adam if arm == "before" else sys.modules[type(method).__module__].adam
        with mock.patch.object(sys.modules[type(method).__module__], "adam", optimiser):
            return method.fit(mods, train, valid, Run(_Ctx(), cfg, torch.device("cpu"), np.random.default_rng(0), 10))

    def one_epoch(arm: str) -> None:
        eps[arm].append(fit(arm)[0]["examples_per_second"])

    def run():
        for arm in ARMS:
            one_epoch(arm)

    try:
        for arm in ARMS if full_size else ():  # warm-up: oneDNN set-up, allocator
            one_epoch(arm)
        for measured in eps.values():
            measured.clear()
        benchmark.pedantic(run, rounds=2 if full_size else 1, iterations=1)
        share = _layer_share(lambda: fit("channels_last"))
    finally:
        torch.use_deterministic_algorithms(was[0])
        torch.utils.deterministic.fill_uninitialized_memory = was[1]

    # the rebuilt old path and today's compute the same embeddings from the same weights
    old, new = build("before"), build("channels_last")
    x = torch.from_numpy(valid.features)
    with torch.no_grad():
        np.testing.assert_allclose(new["embedder"].eval()(x).numpy(), old["embedder"].eval()(x).numpy(),
                                   rtol=1e-4, atol=1e-5)

    best = {arm: max(v) for arm, v in eps.items()}
    gflops = _conv_flops(new, length) * best["channels_last"] / 1e9
    floor = best["channels_last"] / share
    benchmark.extra_info.update({f"examples_per_second_{arm}": round(v, 1) for arm, v in best.items()})
    benchmark.extra_info.update({"speedup": round(best["channels_last"] / best["before"], 2),
                                 "conv_gflops": round(gflops, 2), "matmul_gflops": round(matmul_gflops, 1),
                                 "layer_floor_examples_per_second": round(floor, 1),
                                 "floor_ratio": round(floor / best["before"], 2)})
    print(f"\n{name:<20} {segment:>5}: before {best['before']:7.1f}, contiguous {best['contiguous']:7.1f}, "
          f"channels_last {best['channels_last']:7.1f} examples/s = {best['channels_last'] / best['before']:.2f}x; "
          f"conv {gflops:5.1f} GFLOP/s = {gflops / matmul_gflops:.0%} of the one-thread matmul "
          f"({matmul_gflops:.1f} GFLOP/s); layer floor {floor:7.1f} examples/s = about "
          f"{floor / best['before']:.2f}x")
    assert all(v > 0 for v in best.values())
    assert 0 < share < 1  # the layers are a part of the training steps' time
