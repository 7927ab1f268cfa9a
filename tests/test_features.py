"""The log-mel front end against librosa (the reference implementation of the same definition)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from wlbench.errors import WlbenchError
from wlbench.features import LogMelParams, log_mel


def _librosa_log_mel(audio: np.ndarray, p: LogMelParams) -> np.ndarray:
    spectrum = np.abs(librosa.stft(audio, n_fft=p.n_fft, hop_length=p.hop_length, win_length=p.win_length,
                                   window="hann", center=True, pad_mode="reflect")) ** p.power
    bank = librosa.filters.mel(sr=p.sample_rate, n_fft=p.n_fft, n_mels=p.n_mels, fmin=p.fmin, fmax=p.fmax,
                               htk=True, norm=None)
    return np.log(bank @ spectrum + p.log_offset).T


@pytest.mark.parametrize("n_samples", [160000, 16001, 1234])
@pytest.mark.parametrize("power", [1.0, 2.0])
def test_log_mel_matches_librosa(n_samples, power):
    params = LogMelParams(power=power)
    audio = np.random.default_rng(n_samples).standard_normal(n_samples) * 0.05
    ours = log_mel(audio, params)
    assert ours.dtype == np.float32 and ours.shape == (params.n_frames(n_samples), 64)
    assert np.abs(ours - _librosa_log_mel(audio, params)).max() < 1e-4


def test_frames_are_centred_on_the_hop():
    params = LogMelParams()
    assert params.n_frames(160000) == 1001 and params.frame_rate == 100.0
    audio = np.zeros(16000)
    audio[8000] = 1.0  # a click at 0.5 s lights up frame 50 most
    energy = log_mel(audio, params).sum(axis=1)
    assert int(np.argmax(energy)) == 50


@pytest.mark.parametrize("audio, message", [
    (np.zeros((2, 100)), "mono audio"), (np.zeros(1), "at least 2 samples"),
    (np.array([0.0, np.nan, 0.0]), "NaN or infinite"),
])
def test_bad_audio_is_refused(audio, message):
    with pytest.raises(WlbenchError, match=message):
        log_mel(audio)


def test_bad_parameters_are_refused():
    with pytest.raises(WlbenchError, match="win_length"):
        LogMelParams(win_length=1024)
    with pytest.raises(WlbenchError, match="fmax"):
        LogMelParams(fmax=9000)


def test_features_do_not_depend_on_blas_threads():
    from threadpoolctl import threadpool_limits

    audio = np.random.default_rng(3).standard_normal(160000) * 0.05
    with threadpool_limits(limits=1):
        one = log_mel(audio)
    with threadpool_limits(limits=4):
        many = log_mel(audio)
    assert np.array_equal(one, many)


def test_log_is_the_correctly_rounded_float32_log_almost_everywhere():
    from wlbench.features import _log

    x = np.exp(np.random.default_rng(1).uniform(np.log(1e-3), np.log(1e6), 1_000_000)).astype(np.float32)
    x[:6] = [1.0, 2.0, 0.5, np.float32(np.sqrt(0.5)), np.float32(np.sqrt(2.0)), 0.01]
    work = tuple(np.empty(x.shape) for _ in range(3))
    got = _log(x, work)
    exact = np.log(x.astype(np.float64))
    ulps = np.abs(got - exact) / np.spacing(np.abs(exact).astype(np.float32))
    assert got.dtype == np.float32 and got[0] == 0.0
    assert ulps.max() <= 0.5 + 1e-3  # never worse than the correctly rounded value's neighbour tie
    assert (got == exact.astype(np.float32)).mean() > 0.9999


def test_mel_sum_is_the_filterbank_product():
    from wlbench.features import _mel_sum, mel_filterbank

    params = LogMelParams()
    spectrum = np.random.default_rng(2).random((257, 50)).astype(np.float32)
    acc, scratch = np.empty((64, 50), np.float32), np.empty((64, 50), np.float32)
    mel = _mel_sum(params)(spectrum, acc, scratch)[_mel_sum(params).unsort]
    reference = mel_filterbank(params).T.astype(np.float64) @ spectrum
    assert np.abs(mel - reference).max() <= 1e-5 * np.abs(reference).max()


def test_features_are_bit_identical_under_other_blas_kernels_and_numpy_simd_paths():
    """Each setting of tests/cpu_variants.py computes the features in a fresh process: same bytes."""
    import hashlib
    import os
    import subprocess
    import sys

    from cpu_variants import cpu_variants

    script = ("import hashlib, numpy as np\nfrom wlbench.features import log_mel, LogMelParams\n"
              "rng = np.random.default_rng(0)\nh = hashlib.sha256()\n"
              "for n, power in ((160000, 1.0), (16001, 2.0), (1234, 1.0)):\n"
              "    a = rng.standard_normal(n) * np.exp(2 * rng.standard_normal(n)) * 0.05\n"
              "    h.update(log_mel(a, LogMelParams(power=power)).tobytes())\n"
              "print(h.hexdigest())\n")
    variants = cpu_variants()
    assert variants, "no BLAS kernel or numpy SIMD path could be simulated on this CPU"
    digests = {}
    for env in ({},) + variants:
        done = subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=300, check=True)
        digests[str(env)] = done.stdout.strip()
    assert len(set(digests.values())) == 1, digests
    rng = np.random.default_rng(0)
    here = hashlib.sha256()
    for n, power in ((160000, 1.0), (16001, 2.0), (1234, 1.0)):
        a = rng.standard_normal(n) * np.exp(2 * rng.standard_normal(n)) * 0.05
        here.update(log_mel(a, LogMelParams(power=power)).tobytes())
    assert here.hexdigest() in digests.values()


@pytest.mark.parametrize("audio, message", [(np.array([0.0, 1e16, 0.0]), "plausible amplitude")])
def test_implausible_amplitude_is_refused(audio, message):
    with pytest.raises(WlbenchError, match=message):
        log_mel(audio)
