"""The log-mel front end.

Defaults follow the weak-label papers (Turpault et al. 2020): 16 kHz audio, 25 ms Hann window (400
samples) zero-padded to a 512-point FFT, 10 ms hop (160 samples), magnitude spectrum, 64 HTK-scale mel
bands between 125 and 7500 Hz (triangles of peak 1), natural log of ``mel + log_offset``.

Framing is centred: the signal is reflect-padded by ``n_fft // 2`` on both sides, so frame ``t`` is
centred on sample ``t * hop_length`` (time ``t * hop_length / sample_rate`` seconds) and a clip of ``n``
samples gives ``1 + n // hop_length`` frames (1001 frames for 10 s at 16 kHz).

**Bit-identical on every x86-64 CPU.** The same audio gives the same feature bytes whatever BLAS kernel,
numpy SIMD path (AVX2 or not), thread or worker count computes them: every float step is an element-wise
IEEE operation (multiply, add, divide, sqrt: correctly rounded everywhere) in a fixed order, or scipy's
pocketfft, which has no run-time CPU dispatch. Nothing goes through BLAS (its kernel depends on the CPU),
through a numpy reduction (its SIMD path does) or through ``np.abs``/``np.log`` (SIMD-dispatched
approximations): the magnitude is ``sqrt(re * re + im * im)``, the mel product sums each band's bins one at
a time in ascending order (:class:`_MelSum`), and the log is computed by :func:`_log` from exact bit
operations and a float64 polynomial (within 0.5002 ULP of the exact log: the correctly rounded float32
value on all but ~1 in 10^5 inputs). tests/test_features.py checks this under several
``OPENBLAS_CORETYPE``, ``NPY_DISABLE_CPU_FEATURES`` and ``GLIBC_TUNABLES`` settings. The window and the
mel band edges come from decimal arithmetic (not libm). The one assumption is IEEE arithmetic without
flush-to-zero; other architectures (aarch64) may compile the FFT with fused multiply-adds.
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import threading
from decimal import Decimal
from typing import Any

import numpy as np
import scipy.fft

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


# Constants of the front end come from decimal arithmetic (software, the same digits on every machine), not
# from numpy's or libm's log/pow/cos, whose last bit can depend on the CPU's instruction set.
_DIGITS = 40
_PI = Decimal("3.14159265358979323846264338327950288419716939937510")


def _hz_to_mel_htk(freq: Decimal) -> Decimal:
    return 2595 * (1 + freq / 700).log10()


def _mel_to_hz_htk(mel: Decimal) -> Decimal:
    return 700 * ((mel / 2595 * Decimal(10).ln()).exp() - 1)


def _cos(x: Decimal) -> Decimal:
    """cos(x) by its Taylor series after reduction to [-pi, pi] (decimal context precision)."""
    x = x - 2 * _PI * (x / (2 * _PI)).to_integral_value()
    term, total, k = Decimal(1), Decimal(1), 0
    while abs(term) > Decimal(10) ** (-_DIGITS - 2):
        k += 2
        term = -term * x * x / (k * (k - 1))
        total += term
    return total


def mel_band_edges(params: LogMelParams) -> np.ndarray:
    """The ``n_mels + 2`` band edges (Hz, float64): equally spaced on the HTK mel scale from fmin to fmax."""
    with decimal.localcontext() as ctx:
        ctx.prec = _DIGITS
        low, high = _hz_to_mel_htk(Decimal(params.fmin)), _hz_to_mel_htk(Decimal(params.fmax))
        count = params.n_mels + 1
        return np.array([float(_mel_to_hz_htk(low + (high - low) * i / count)) for i in range(count + 1)])


@functools.lru_cache(maxsize=8)
def mel_filterbank(params: LogMelParams) -> np.ndarray:
    """Triangular HTK mel filterbank, shape ``(n_fft // 2 + 1, n_mels)`` float32, peak value 1 per band."""
    fft_freqs = np.arange(params.n_fft // 2 + 1) * (params.sample_rate / params.n_fft)
    hz_edges = mel_band_edges(params)
    lower, centre, upper = hz_edges[:-2], hz_edges[1:-1], hz_edges[2:]
    rising = (fft_freqs[:, None] - lower[None, :]) / (centre - lower)[None, :]
    falling = (upper[None, :] - fft_freqs[:, None]) / (upper - centre)[None, :]
    bank = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    bank.setflags(write=False)
    return bank


@functools.lru_cache(maxsize=8)
def _window(params: LogMelParams) -> np.ndarray:
    """The periodic Hann window of ``win_length`` centred in ``n_fft`` samples, shape ``(n_fft, 1)`` float32."""
    window = np.zeros(params.n_fft, dtype=np.float32)
    start = (params.n_fft - params.win_length) // 2
    with decimal.localcontext() as ctx:
        ctx.prec = _DIGITS
        window[start:start + params.win_length] = [
            float(Decimal("0.5") - _cos(2 * _PI * n / params.win_length) / 2) for n in range(params.win_length)]
    window = window[:, None]
    window.setflags(write=False)
    return window


class _MelSum:
    """The mel product ``bank.T @ spectrum`` without BLAS, summed in a fixed order.

    Each band's nonzero weights cover a contiguous run of FFT bins (each bin feeds at most two bands).
    Band ``b`` is ``w[s_b] x[s_b] + w[s_b + 1] x[s_b + 1] + ...``, added left to right. Bands are kept in
    order of decreasing run length, so step ``j`` (the ``j``-th bin of every band) updates a prefix of
    the accumulator: ``sum(run lengths)`` row operations (461 for the defaults) instead of a dense product.
    """

    def __init__(self, params: LogMelParams) -> None:
        bank = mel_filterbank(params)
        nonzero = bank > 0
        starts = nonzero.argmax(axis=0)
        lengths = nonzero.sum(axis=0)
        if (lengths == 0).any():
            raise WlbenchError(f"features: a mel band holds no FFT bin (n_fft {params.n_fft} is too small for "
                               f"{params.n_mels} bands between {params.fmin} and {params.fmax} Hz)",
                               hint="raise n_fft or lower n_mels")
        for band, (start, length) in enumerate(zip(starts, lengths)):
            assert nonzero[start:start + length, band].all(), "mel bands are contiguous runs of bins"
        self.order = np.argsort(-lengths, kind="stable")
        self.unsort = np.argsort(self.order)
        ordered_starts, ordered_lengths = starts[self.order], lengths[self.order]
        self.steps = []
        for j in range(int(ordered_lengths.max())):
            count = int((ordered_lengths > j).sum())
            rows = ordered_starts[:count] + j
            self.steps.append((count, rows, bank[rows, self.order[:count]][:, None].copy()))

    def __call__(self, spectrum: np.ndarray, acc: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """``spectrum`` (n_bins, T) -> ``acc`` (n_mels, T) in band-length order (see :attr:`unsort`)."""
        _, rows, weights = self.steps[0]
        np.take(spectrum, rows, axis=0, out=acc)
        acc *= weights
        for count, rows, weights in self.steps[1:]:
            part = scratch[:count]
            np.take(spectrum, rows, axis=0, out=part)
            part *= weights
            acc[:count] += part
        return acc


_LN2 = float(np.log(2.0))
_SQRT_HALF_BITS = 0x3F3504F3  # float32 bits of sqrt(1/2)
# 2 / (2k + 1), k = 0..5: log(m) = 2 atanh(s) = s * (2 + z (2/3 + z (2/5 + ...))), s = (m - 1) / (m + 1), z = s^2
_ATANH_TERMS = tuple(2.0 / (2 * k + 1) for k in range(6))


def _log(x: np.ndarray, work: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Natural log of positive, finite, normal float32 values, as float32, identical on every IEEE machine.

    ``x = m 2^e`` with ``m`` in [sqrt(1/2), sqrt(2)) by integer bit operations (exact); ``m - 1`` is exact;
    then in float64 ``log(m) = 2 atanh(s)``, ``|s| <= 0.172``, by its series to ``s^11`` (truncation below
    1e-10 relative), plus ``e log 2``, rounded once to float32. ``work``: three float64 arrays of x's shape.
    """
    f, s, z = work
    bits = x.view(np.int32)
    exponent = (bits - _SQRT_HALF_BITS) >> 23
    mantissa = (bits - (exponent << 23)).view(np.float32)
    np.subtract(mantissa, 1.0, out=f, dtype=np.float64)
    np.add(f, 2.0, out=s)
    np.divide(f, s, out=s)
    np.multiply(s, s, out=z)
    np.multiply(z, _ATANH_TERMS[-1], out=f)
    for term in _ATANH_TERMS[-2:0:-1]:
        f += term
        f *= z
    f += _ATANH_TERMS[0]
    f *= s
    np.multiply(exponent, _LN2, out=s)
    f += s
    return f.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _mel_sum(params: LogMelParams) -> _MelSum:
    return _MelSum(params)


class _Workspace(threading.local):
    """Scratch arrays reused from clip to clip (per thread): fresh large arrays cost page faults that
    take as long as the arithmetic."""

    def __init__(self) -> None:
        self.arrays: dict[tuple, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        key = (name, shape, dtype)
        if key not in self.arrays:
            if len(self.arrays) > 32:
                self.arrays.clear()
            self.arrays[key] = np.empty(shape, dtype)
        return self.arrays[key]


_WORKSPACE = _Workspace()
# Louder than any audio (a float32 magnitude spectrum of it would overflow when squared).
_MAX_AMPLITUDE = 1e15


def log_mel(audio: np.ndarray, params: LogMelParams = LogMelParams()) -> np.ndarray:
    """Log-mel features of a mono signal.

    Args:
        audio: shape ``(n_samples,)``, float, at ``params.sample_rate``; at least 2 samples, finite, with
            ``|sample| < 1e15``.
        params: front-end parameters.

    Returns:
        float32 array of shape ``(params.n_frames(n_samples), n_mels)``; bit-identical on every x86-64 CPU,
        BLAS kernel and thread or worker count (module docstring).
    """
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise WlbenchError(f"log_mel expects mono audio of shape (n_samples,), got shape {audio.shape}")
    if audio.shape[0] < 2:
        raise WlbenchError("log_mel needs at least 2 samples")
    # float32 throughout: 5x faster than float64 and within 1e-6 of it (tests/test_features.py).
    audio = audio.astype(np.float32, copy=False)
    peak = float(np.max(np.abs(audio)))
    if not np.isfinite(peak):
        raise WlbenchError("log_mel: audio contains NaN or infinite samples")
    if peak >= _MAX_AMPLITUDE:
        raise WlbenchError(f"log_mel: audio peak {peak:g} is not a plausible amplitude (|sample| < 1e15)",
                           hint="scale the audio to [-1, 1]")
    pad = params.n_fft // 2
    mode = "reflect" if audio.shape[0] > pad else "constant"
    padded = np.pad(audio, pad, mode=mode)
    n_frames = params.n_frames(audio.shape[0])
    n_bins = params.n_fft // 2 + 1
    frames = np.lib.stride_tricks.sliding_window_view(padded, params.n_fft)[::params.hop_length][:n_frames]
    windowed = _WORKSPACE.get("windowed", (params.n_fft, n_frames), np.float32)
    np.multiply(frames.T, _window(params), out=windowed)  # (n_fft, T): one frame per column
    spectrum = scipy.fft.rfft(windowed, axis=0)  # (n_bins, T) complex64
    parts = spectrum.view(np.float32)  # re, im interleaved along the last axis
    np.multiply(parts, parts, out=parts)
    power = _WORKSPACE.get("power", (n_bins, n_frames), np.float32)
    np.add(parts[:, 0::2], parts[:, 1::2], out=power)
    if params.power == 1.0:
        np.sqrt(power, out=power)
    mel_sum = _mel_sum(params)
    mel = mel_sum(power, _WORKSPACE.get("mel", (params.n_mels, n_frames), np.float32),
                  _WORKSPACE.get("scratch", (params.n_mels, n_frames), np.float32))
    mel += np.float32(params.log_offset)
    work = tuple(_WORKSPACE.get(f"log{i}", mel.shape, np.float64) for i in range(3))
    return np.take(_log(mel, work), mel_sum.unsort, axis=0).T.copy()
