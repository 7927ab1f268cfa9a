"""Benchmarks: rendering and feature extraction, beside a bare scaper ``generate`` on the same clips.

Normal test runs (``--benchmark-disable``) run each once on a few clips. Measure with::

    .venv/bin/pytest tests/benchmarks/test_bench_render.py -p no:xdist --benchmark-enable \
        --benchmark-group-by=group

Groups: "render one clip" (bare scaper generate vs wlbench render_clip, same planned clip), "log-mel"
(the front end beside librosa computing the same features) and "render N clips" (whole renders into a file:
1 and 2 local workers, pool start-up included, and a Dask LocalCluster of 2 processes, one file or 2 shards).
The ratios are recorded in docs/performance.md; tests never assert wall-clock times.
"""

from __future__ import annotations

import dataclasses
import shutil
import warnings

import numpy as np
import pytest

from wlbench.features import LogMelParams, log_mel
from wlbench.recipes import load_recipe
from wlbench.soundbank import load_soundbank
from wlbench.synth.pipeline import render_settings
from wlbench.synth.plan import plan_dataset
from wlbench.synth.render import build_scaper, render_clip


@pytest.fixture(scope="module")
def full_size(request) -> bool:
    return bool(request.config.getoption("benchmark_enable", False))


@pytest.fixture(scope="module")
def planned(full_size, tone_bank):
    """WAA clips planned on the default soundbank (tone bank for quick runs)."""
    bank = load_soundbank(None if full_size else tone_bank)
    recipe = load_recipe("datasets/waa.toml").scaled(0.02 if full_size else 0.004)
    if not full_size:
        recipe = dataclasses.replace(recipe, classes=bank.classes)
    specs = [spec for specs in plan_dataset(recipe, bank).values() for spec in specs]
    return recipe, bank, specs


def _bare_scaper(specs, settings):
    for spec in specs:
        sc = build_scaper(spec, settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.generate(fix_clipping=settings.fix_clipping, quick_pitch_time=settings.quick_pitch_time,
                        disable_sox_warnings=True, disable_instantiation_warnings=True)


def _wlbench(specs, settings):
    return [render_clip(spec, settings) for spec in specs]


@pytest.mark.benchmark(group="render one clip")
def test_bench_bare_scaper_generate(benchmark, planned):
    recipe, bank, specs = planned
    benchmark.extra_info["clips"] = len(specs)
    benchmark.pedantic(_bare_scaper, args=(specs, render_settings(recipe, bank)), rounds=3, iterations=1)


@pytest.mark.benchmark(group="render one clip")
def test_bench_wlbench_render_without_features(benchmark, planned):
    recipe, bank, specs = planned
    settings = dataclasses.replace(render_settings(recipe, bank), store_features=False)
    clips = benchmark.pedantic(_wlbench, args=(specs, settings), rounds=3, iterations=1)
    benchmark.extra_info["clips"] = len(specs)
    assert all(len(c.events) == 1 for c in clips)


@pytest.mark.benchmark(group="render one clip")
def test_bench_wlbench_render_with_features(benchmark, planned):
    recipe, bank, specs = planned
    clips = benchmark.pedantic(_wlbench, args=(specs, render_settings(recipe, bank)), rounds=3, iterations=1)
    benchmark.extra_info["clips"] = len(specs)
    assert all(c.features.shape == (1001, 64) for c in clips)


@pytest.mark.benchmark(group="log-mel")
def test_bench_log_mel(benchmark, full_size):
    n = 100 if full_size else 5
    audio = np.random.default_rng(0).standard_normal((n, 160000)) * 0.01
    params = LogMelParams()
    feats = benchmark.pedantic(lambda: [log_mel(a, params) for a in audio], rounds=3, iterations=1)
    benchmark.extra_info["clips"] = n
    assert feats[0].shape == (1001, 64)


@pytest.mark.benchmark(group="log-mel")
def test_bench_log_mel_librosa(benchmark, full_size):
    """The reference: librosa's STFT magnitude, its HTK mel bank (BLAS product) and np.log, same parameters."""
    import librosa

    n = 100 if full_size else 5
    audio = np.random.default_rng(0).standard_normal((n, 160000)) * 0.01
    p = LogMelParams()
    bank = librosa.filters.mel(sr=p.sample_rate, n_fft=p.n_fft, n_mels=p.n_mels, fmin=p.fmin, fmax=p.fmax, htk=True,
                               norm=None)

    def reference(a):
        spectrum = np.abs(librosa.stft(a, n_fft=p.n_fft, hop_length=p.hop_length, win_length=p.win_length,
                                       window="hann", center=True, pad_mode="reflect"))
        return np.log(bank @ spectrum + p.log_offset).T

    feats = benchmark.pedantic(lambda: [reference(a) for a in audio], rounds=3, iterations=1)
    benchmark.extra_info["clips"] = n
    assert feats[0].shape == (1001, 64)


@pytest.fixture(scope="module")
def render_recipe(full_size, tone_bank, tmp_path_factory):
    """WAA at scale 0.1 (375 clips, features) on the default soundbank; 12 clips of the tone bank for quick runs."""
    bank = load_soundbank(None if full_size else tone_bank)
    recipe = load_recipe("datasets/waa.toml").scaled(0.1 if full_size else 0.0032)
    if not full_size:
        recipe = dataclasses.replace(recipe, classes=bank.classes)
    return recipe, bank, tmp_path_factory.mktemp("bench-render")


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        yield cluster


def _synthesize(recipe, bank, out, **kwargs):
    from wlbench.synth.pipeline import synthesize

    shutil.rmtree(out, ignore_errors=True)
    return synthesize(recipe, bank, out, progress=False, **kwargs)


def _record(benchmark, result, **info) -> None:
    """Clips and clips per second (median round) beside the timings; the render's ids must be those of 1 worker."""
    clips = sum(result.clips.values())
    benchmark.extra_info.update(clips=clips, content_id=result.content_id, **info)
    if benchmark.stats is not None:  # None when benchmarks are disabled (the normal test run)
        benchmark.extra_info["clips_per_s"] = clips / benchmark.stats.stats.median


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.benchmark(group="render N clips")
def test_bench_render_local_workers(benchmark, render_recipe, workers):
    """End to end into one file: plan, render, write, hash (pool start-up included)."""
    recipe, bank, tmp = render_recipe
    result = benchmark.pedantic(_synthesize, args=(recipe, bank, tmp / f"local{workers}"),
                                kwargs={"workers": workers}, rounds=2, iterations=1)
    _record(benchmark, result, workers=workers)


@pytest.mark.parametrize("shards", [None, 2])
@pytest.mark.benchmark(group="render N clips")
def test_bench_render_dask_local_cluster(benchmark, render_recipe, dask_cluster, shards):
    """The same on a Dask LocalCluster of 2 processes (started once, outside the timing): one file gathered by
    the client, or 2 shards written by the workers."""
    from wlbench.synth.executors import DaskExecutor

    recipe, bank, tmp = render_recipe
    result = benchmark.pedantic(
        lambda: _synthesize(recipe, bank, tmp / f"dask{shards}", shards=shards,
                            executor=DaskExecutor(scheduler=dask_cluster.scheduler_address)), rounds=2, iterations=1)
    _record(benchmark, result, workers=2, shards=shards)
