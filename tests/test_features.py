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
