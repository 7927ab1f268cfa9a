"""The log-mel front end.

Defaults follow the weak-label papers (Turpault et al. 2020): 16 kHz audio, 25 ms Hann window (400
samples) zero-padded to a 512-point FFT, 10 ms hop (160 samples), magnitude spectrum, 64 HTK-scale mel
bands between 125 and 7500 Hz (triangles of peak 1), natural log of ``mel + log_offset``.

Framing is centred: the signal is reflect-padded by ``n_fft // 2`` on both sides, so frame ``t`` is
centred on sample ``t * hop_length`` (time ``t * hop_length / sample_rate`` seconds) and a clip of ``n``
samples gives ``1 + n // hop_length`` frames (1001 frames for 10 s at 16 kHz).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import scipy.fft
from threadpoolctl import ThreadpoolController

from wlbench.errors import WlbenchError


@dataclasses.dataclass(frozen=True)
class LogMelParams:
    """Parameters of :func:`log_mel`; stored as attributes next to the features they produced."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 125.0
    fmax: float = 7500.0
    power: float = 1.0
    log_offset: float = 0.01

    def __post_init__(self) -> None:
        checks = [
            (self.sample_rate > 0, "sample_rate must be positive"),
            (0 < self.win_length <= self.n_fft, "win_length must be in (0, n_fft]"),
            (self.hop_length > 0, "hop_length must be positive"),
            (self.n_mels > 0, "n_mels must be positive"),
            (0 <= self.fmin < self.fmax <= self.sample_rate / 2, "need 0 <= fmin < fmax <= sample_rate / 2"),
            (self.power in (1.0, 2.0), "power must be 1 (magnitude) or 2 (power)"),
            (self.log_offset > 0, "log_offset must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise WlbenchError(f"features: {message} (got {self})")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def n_frames(self, n_samples: int) -> int:
        """Number of frames produced for a signal of ``n_samples`` samples."""
        return 1 + n_samples // self.hop_length

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length


def _hz_to_mel_htk(freq: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + freq / 700.0)


def _mel_to_hz_htk(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@functools.lru_cache(maxsize=8)
def mel_filterbank(params: LogMelParams) -> np.ndarray:
    """Triangular HTK mel filterbank, shape ``(n_fft // 2 + 1, n_mels)`` float32, peak value 1 per band."""
    fft_freqs = np.linspace(0.0, params.sample_rate / 2, params.n_fft // 2 + 1)
    mel_edges = np.linspace(_hz_to_mel_htk(np.float64(params.fmin)), _hz_to_mel_htk(np.float64(params.fmax)),
                            params.n_mels + 2)
    hz_edges = _mel_to_hz_htk(mel_edges)
    lower, centre, upper = hz_edges[:-2], hz_edges[1:-1], hz_edges[2:]
    rising = (fft_freqs[:, None] - lower[None, :]) / (centre - lower)[None, :]
    falling = (upper[None, :] - fft_freqs[:, None]) / (upper - centre)[None, :]
    bank = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    bank.setflags(write=False)
    return bank


@functools.lru_cache(maxsize=8)
def _window(params: LogMelParams) -> np.ndarray:
    window = np.zeros(params.n_fft)
    start = (params.n_fft - params.win_length) // 2
    n = np.arange(params.win_length)
    window[start:start + params.win_length] = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / params.win_length)
    window = window.astype(np.float32)
    window.setflags(write=False)
    return window


def log_mel(audio: np.ndarray, params: LogMelParams = LogMelParams()) -> np.ndarray:
    """Log-mel features of a mono signal.

    Args:
        audio: shape ``(n_samples,)``, float, at ``params.sample_rate``; at least 2 samples.
        params: front-end parameters.

    Returns:
        float32 array of shape ``(params.n_frames(n_samples), n_mels)``; bit-identical whatever the number
        of BLAS threads of the calling process.
    """
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise WlbenchError(f"log_mel expects mono audio of shape (n_samples,), got shape {audio.shape}")
    if audio.shape[0] < 2:
        raise WlbenchError("log_mel needs at least 2 samples")
    if not np.all(np.isfinite(audio)):
        raise WlbenchError("log_mel: audio contains NaN or infinite samples")
    # float32 throughout: 5x faster than float64 and within 1e-6 of it (tests/test_features.py).
    audio = audio.astype(np.float32, copy=False)
    pad = params.n_fft // 2
    mode = "reflect" if audio.shape[0] > pad else "constant"
    padded = np.pad(audio, pad, mode=mode)
    n_frames = params.n_frames(audio.shape[0])
    frames = np.lib.stride_tricks.sliding_window_view(padded, params.n_fft)[::params.hop_length][:n_frames]
    spectrum = np.abs(scipy.fft.rfft(frames * _window(params), axis=1))
    if params.power == 2.0:
        spectrum = spectrum ** 2
    # A float32 matrix product rounds differently depending on how many BLAS threads share it: one thread
    # makes the features independent of the process (and worker count) that computes them.
    with _blas_controller().limit(limits=1, user_api="blas"):
        mel = spectrum @ mel_filterbank(params)
    return np.log(mel + np.float32(params.log_offset))


@functools.lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()
