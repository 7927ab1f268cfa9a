"""Procedural synthesis of the default soundbank's sounds: pure numpy/scipy, 16 kHz mono, float64.

Every sound comes from a *source*: a seeded generator of one class whose parameters (its "voice": base
pitch, timbre, rhythm, recording channel) are drawn once; each *take* of the source draws its own
duration, variations, noise floor and level. Nothing here loops over samples in Python, and nothing uses
BLAS (whose summation order depends on the CPU kernel): only element-wise numpy, ``np.fft``,
``np.add.at``, ``np.convolve`` and ``scipy.signal.sosfilt``, so a given (seed, library versions) gives the
same float64 samples, hence the same 16-bit files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal
from scipy.fft import next_fast_len

SR = 16000
N_FFT = 512
HOP = 256
_WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT))   # sqrt periodic Hann
_FREQS = np.fft.rfftfreq(N_FFT, 1.0 / SR)

Voice = dict[str, Any]


# ----------------------------------------------------------------------------------------------- helpers
def _n(seconds: float) -> int:
    return max(1, int(round(seconds * SR)))


def _time(n: int) -> np.ndarray:
    return np.arange(n) / SR


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _smooth(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    """Smooth random curve (unit-variance knots, linear interpolation) with ``rate_hz`` knots per second."""
    k = max(2, int(n / SR * rate_hz) + 2)
    knots = rng.standard_normal(k)
    return np.interp(np.arange(n), np.linspace(0, n - 1, k), knots)


def _sos(kind: str, freq, order: int = 2) -> np.ndarray:
    return signal.butter(order, freq, btype=kind, fs=SR, output="sos")


def _filt(x: np.ndarray, kind: str, freq, order: int = 2) -> np.ndarray:
    if kind == "bandpass":
        lo, hi = freq
        freq = (max(20.0, lo), min(hi, SR / 2 * 0.95))
    elif kind in ("lowpass", "highpass"):
        freq = min(max(20.0, freq), SR / 2 * 0.95)
    return signal.sosfilt(_sos(kind, freq, order), x)


def _fast_len(n: int) -> int:
    """Smallest 5-smooth length >= n (pocketfft is slow on lengths with large prime factors)."""
    return int(next_fast_len(int(n), real=True))


_GRID = np.linspace(0.0, SR / 2, 1025)   # coarse frequency grid: smooth gains are computed here, then interpolated


def _on_bins(gain_on_grid: np.ndarray, m: int) -> np.ndarray:
    """A smooth gain sampled on _GRID, interpolated onto the m-point rfft bins."""
    return np.interp(np.arange(m // 2 + 1) * (SR / m), _GRID, gain_on_grid)


def _noise_spectrum(rng: np.random.Generator, m: int, exponent: float) -> np.ndarray:
    """rfft of an m-sample noise with power spectrum ~ 1/f**exponent and unit mean power (drawn directly)."""
    bins = m // 2 + 1
    colour = (np.maximum(_GRID, 20.0) / 1000.0) ** (-exponent / 2.0)
    colour *= np.sqrt(m / 2.0) / np.sqrt(np.mean(colour ** 2))
    spec = rng.standard_normal(bins) + 1j * rng.standard_normal(bins)
    spec *= _on_bins(colour, m)
    spec[0] = 0.0
    return spec


def _colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    m = _fast_len(n)
    x = np.fft.irfft(_noise_spectrum(rng, m, exponent), m)[:n]
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def _phase(f0: np.ndarray) -> np.ndarray:
    """Instantaneous phase (radians, wrapped to [-pi, pi)) of a frequency track in Hz."""
    cycles = np.cumsum(f0) / SR
    return 2.0 * np.pi * (cycles - np.floor(cycles + 0.5))


def _pulse_train(f0: np.ndarray, fmax: float = 7400.0) -> np.ndarray:
    """Band-limited pulse train: sum of the first K harmonics (all of amplitude 1), K*max(f0) <= fmax."""
    k = max(1, int(fmax // max(float(np.max(f0)), 1.0)))
    phi = _phase(f0)
    half = np.sin(phi / 2.0)
    small = np.abs(half) < 1e-9
    safe = np.where(small, 1.0, half)
    dirichlet = np.where(small, k + 0.5, np.sin((k + 0.5) * phi) / (2.0 * safe))
    return (dirichlet - 0.5) / k


def _harmonics(f0: np.ndarray, amps, phases=None) -> np.ndarray:
    """Sum of harmonics ``k*f0`` with amplitudes ``amps[k-1]``, faded out near Nyquist."""
    phi = 2.0 * np.pi * np.cumsum(f0) / SR
    out = np.zeros_like(f0)
    for k, a in enumerate(amps, start=1):
        if a == 0.0:
            continue
        gate = np.clip((7600.0 - k * f0) / 400.0, 0.0, 1.0)
        out += a * gate * np.sin(k * phi + (0.0 if phases is None else phases[k - 1]))
    return out


def _inharmonic(freqs, amps, n: int) -> np.ndarray:
    t = _time(n)
    out = np.zeros(n)
    for f, a in zip(freqs, amps):
        if f < 7600.0:
            out += a * np.sin(2.0 * np.pi * f * t)
    return out


def _stft_filter(x: np.ndarray, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Time-varying filter: multiply each STFT frame by ``gain(frame_times)`` (frames x 257), overlap-add."""
    n = x.shape[0]
    pad = N_FFT
    total = n + 2 * pad
    total += (-total) % HOP
    xp = np.zeros(total)
    xp[pad:pad + n] = x
    frames = np.lib.stride_tricks.sliding_window_view(xp, N_FFT)[::HOP]
    count = frames.shape[0]
    times = (np.arange(count) * HOP + N_FFT / 2 - pad) / SR
    spec = np.fft.rfft(frames * _WINDOW, axis=1) * gain(times)
    y = np.fft.irfft(spec, n=N_FFT, axis=1) * _WINDOW
    ratio = N_FFT // HOP
    blocks = y.reshape(count, ratio, HOP)
    out = np.zeros((count + ratio - 1, HOP))
    for r in range(ratio):
        out[r:r + count] += blocks[:, r]
    return out.reshape(-1)[pad:pad + n]   # sqrt-Hann analysis x synthesis sums to 1 at 50 % overlap


def _resonances(freqs_hz: np.ndarray, bandwidths: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Sum of Lorentzian resonance curves on the STFT bins; arguments (frames, k) or (k,)."""
    centre = np.atleast_2d(freqs_hz)[:, None, :]
    width = np.atleast_2d(bandwidths)[:, None, :] / 2.0
    amp = np.atleast_2d(amps)[:, None, :]
    return np.sum(amp / (1.0 + ((_FREQS[None, :, None] - centre) / width) ** 2), axis=2)


def _tilt(cutoff: float, order: float = 1.0) -> np.ndarray:
    """Low-pass magnitude curve on the STFT bins."""
    return 1.0 / np.sqrt(1.0 + (_FREQS / cutoff) ** (2.0 * order))


def _envelope(n: int, attack: float, release: float) -> np.ndarray:
    """Linear attack, exponential-ish release over ``n`` samples."""
    t = _time(n)
    dur = n / SR
    a = np.clip(t / max(attack, 1e-3), 0.0, 1.0)
    r = np.clip((dur - t) / max(release, 1e-3), 0.0, 1.0) ** 1.5
    return a * r


def _smooth_gate(gate: np.ndarray, ms: float = 4.0) -> np.ndarray:
    width = max(3, int(SR * ms / 1000.0))
    kernel = np.hanning(width)
    return np.convolve(gate.astype(np.float64), kernel / kernel.sum(), mode="same")


def _scatter(n: int, starts: np.ndarray, grains: np.ndarray) -> np.ndarray:
    """Add grains (m, L) into a signal of length n at integer ``starts`` (dropping what falls outside)."""
    out = np.zeros(n)
    if len(starts) == 0:
        return out
    length = grains.shape[1]
    idx = starts[:, None] + np.arange(length)[None, :]
    keep = idx < n
    np.add.at(out, idx[keep], grains[keep])
    return out


def _segments(rng: np.random.Generator, n: int, count: int, min_gap: float = 0.02) -> np.ndarray:
    """``count`` sorted start positions (samples) spread over [0, n)."""
    slots = np.linspace(0.0, n, count + 1)[:-1]
    jitter = rng.uniform(0.0, 0.6, count) * (n / max(count, 1))
    starts = np.sort(slots + jitter * (np.arange(count) > 0)).astype(np.int64)
    return np.minimum(starts, max(0, n - int(min_gap * SR)))


# ------------------------------------------------------------------------------------ foreground classes
def _alarm_voice(rng):
    kind = rng.choice(["beep", "beep", "beep", "bell", "ring", "chirp"])
    return {
        "kind": str(kind),
        "f0": _loguniform(rng, 1300.0, 3400.0),
        "ratio": float(rng.choice([1.0, 1.0, rng.uniform(1.12, 1.6)])),
        "wave": str(rng.choice(["sine", "square", "buzz"])),
        "on": rng.uniform(0.05, 0.35), "off": rng.uniform(0.04, 0.35),
        "group": int(rng.integers(1, 5)), "group_gap": rng.uniform(0.1, 0.6),
        "partials": np.sort(rng.uniform(1.0, 6.5, 5)),
        "strike_rate": rng.uniform(10.0, 28.0), "decay": rng.uniform(0.015, 0.08),
        "ring_on": rng.uniform(0.35, 1.4), "ring_off": rng.uniform(0.15, 0.7),
        "chirp_depth": rng.uniform(0.15, 0.6), "chirp_rate": rng.uniform(2.0, 8.0),
    }


def _alarm(rng, n, v):
    t = _time(n)
    f0 = v["f0"] * 2 ** (rng.normal(0, 0.03))
    if v["kind"] == "beep":
        period = v["on"] * rng.uniform(0.9, 1.1) + v["off"]
        cycle = v["group"] * period + (v["group_gap"] if v["group"] > 1 else 0.0)
        pos = np.mod(t, cycle)
        index = np.floor(pos / period)
        gate = (np.mod(pos, period) < v["on"]) & (index < v["group"])
        freq = f0 * np.where(np.mod(index, 2) == 1, v["ratio"], 1.0)
        amps = {"sine": [1.0], "square": [1.0, 0, 1 / 3, 0, 1 / 5, 0, 1 / 7],
                "buzz": [1.0 / k for k in range(1, 9)]}[v["wave"]]
        x = _harmonics(freq, amps) * _smooth_gate(gate, 3.0)
    elif v["kind"] == "bell":
        strike = np.mod(t, 1.0 / v["strike_rate"])
        ring_gate = np.mod(t, v["ring_on"] + v["ring_off"]) < v["ring_on"]
        env = np.exp(-strike / v["decay"]) * 0.6 + 0.4
        partial_freqs = f0 * 0.5 * v["partials"] * (1 + rng.normal(0, 0.004, 5))
        tone = _inharmonic(partial_freqs, 1.0 / np.arange(1, 6) ** 0.7, n)
        rattle = _filt(rng.standard_normal(n), "highpass", 2500.0) * 0.15
        x = (tone + rattle) * env * _smooth_gate(ring_gate, 6.0)
    elif v["kind"] == "ring":
        am = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * v["strike_rate"] * t))
        gate = np.mod(t, v["ring_on"] + v["ring_off"]) < v["ring_on"]
        x = (np.sin(2 * np.pi * f0 * 0.5 * t) + np.sin(2 * np.pi * f0 * 0.5 * max(v["ratio"], 1.15) * t))
        x = x * _smooth_gate(am * gate, 2.0)
    else:  # chirp: sweeping electronic alarm
        sweep = 1.0 + v["chirp_depth"] * np.mod(t * v["chirp_rate"], 1.0)
        x = _harmonics(f0 * 0.7 * sweep, [1.0, 0.3, 0.15])
    return x


def _dishes_voice(rng):
    k = int(rng.integers(5, 10))
    base = _loguniform(rng, 1000.0, 3000.0)
    return {
        "freqs": base * np.sort(rng.uniform(1.0, 3.5, k)),
        "amps": rng.uniform(0.2, 1.0, k),
        "tau": _loguniform(rng, 0.08, 0.6),
        "rate": rng.uniform(1.0, 5.0),
        "click": rng.uniform(0.1, 0.5),
        "rattle": rng.uniform(0.0, 0.3),
    }


def _dishes(rng, n, v):
    count = max(1, int(round(n / SR * v["rate"] * rng.uniform(0.5, 1.3))))
    starts = _segments(rng, n, count)
    starts[0] = int(rng.uniform(0.0, 0.02) * SR)
    out = np.zeros(n)
    for start in starts:
        freqs = v["freqs"] * (1 + rng.normal(0, 0.03, len(v["freqs"])))
        taus = v["tau"] * (freqs[0] / freqs) ** 0.7 * rng.uniform(0.6, 1.4, len(freqs))
        length = min(n - start, _n(7.0 * float(np.max(taus))))
        t = _time(length)
        amps = v["amps"] * rng.uniform(0.3, 1.0, len(freqs))
        hit = np.zeros(length)
        for f, tau, a in zip(freqs, taus, amps):
            if f < 7600.0:
                hit += a * np.exp(-t / tau) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        click = _filt(rng.standard_normal(length), "highpass", 1500.0) * np.exp(-t / 0.003) * v["click"] * 4
        out[start:start + length] += (hit + click) * _loguniform(rng, 0.3, 1.0)
    rattle = _filt(rng.standard_normal(n), "bandpass", (1500.0, 6000.0)) * v["rattle"] * 0.05
    return out + rattle


_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
                    [570, 840, 2410], [660, 1720, 2410], [490, 1350, 1690], [440, 1020, 2240]], dtype=float)


def _speech_voice(rng):
    return {
        "f0": _loguniform(rng, 85.0, 280.0),
        "range": rng.uniform(1.5, 7.0),            # semitones of intonation
        "rate": rng.uniform(3.0, 6.5),             # syllables per second
        "scale": rng.uniform(0.85, 1.2),           # vocal tract length factor on formants
        "breath": rng.uniform(0.02, 0.25),
        "fricative": rng.uniform(0.2, 0.65),
        "fric_band": _loguniform(rng, 2500.0, 6000.0),
        "tilt": _loguniform(rng, 500.0, 1500.0),
    }


def _speech(rng, n, v):
    dur = n / SR
    # syllable boundaries (seconds) with word pauses
    bounds, fric, pos = [], [], 0.0
    syl_in_word = 0
    while pos < dur:
        length = rng.uniform(0.6, 1.4) / v["rate"]
        bounds.append((pos, min(dur, pos + length)))
        fric.append(rng.random() < v["fricative"])
        pos += length
        syl_in_word += 1
        if syl_in_word >= rng.integers(1, 4):
            pos += rng.uniform(0.03, 0.2)
            syl_in_word = 0
    t = _time(n)
    vowels = _VOWELS[rng.integers(0, len(_VOWELS), len(bounds))] * v["scale"]
    centres = np.array([(a + b) / 2 for a, b in bounds])
    f0_knots = v["f0"] * 2 ** ((rng.uniform(-0.5, 0.5, len(bounds)) * v["range"]
                                - np.linspace(0, v["range"] / 2, len(bounds))) / 12)
    f0 = np.interp(t, centres, f0_knots) * 2 ** (_smooth(rng, n, 30) * 0.15 / 12)
    vgate = np.zeros(n)
    fgate = np.zeros(n)
    for (a, b), is_fric in zip(bounds, fric):
        i0, i1 = int(a * SR), int(b * SR)
        if i1 <= i0:
            continue
        split = i0 + int((i1 - i0) * (rng.uniform(0.2, 0.4) if is_fric else 0.0))
        if split > i0:
            fgate[i0:split] = np.hanning(split - i0 + 2)[1:-1]
        if i1 > split:
            vgate[split:i1] = _envelope(i1 - split, 0.02, 0.06)
    excitation = _pulse_train(f0) * vgate * 3.0 + rng.standard_normal(n) * (v["breath"] * vgate + 0.5 * fgate)

    def gain(times):
        formants = np.stack([np.interp(times, centres, vowels[:, j]) for j in range(3)], axis=1)
        res = _resonances(formants, np.array([90.0, 120.0, 180.0]) * v["scale"], np.array([1.0, 0.6, 0.3]))
        fric_boost = np.interp(times, t, fgate)[:, None] * np.exp(-0.5 * ((_FREQS - v["fric_band"]) / 1500.0) ** 2)
        return (res + 0.02) * _tilt(v["tilt"], 0.7)[None, :] + fric_boost[...] * 1.5

    return _stft_filter(excitation, gain)


def _dog_voice(rng):
    return {
        "f0": _loguniform(rng, 220.0, 900.0),
        "glide": rng.uniform(1.0, 6.0),
        "bark": rng.uniform(0.08, 0.3),
        "rate": rng.uniform(1.2, 4.0),
        "breath": rng.uniform(0.3, 0.9),
        "f1": _loguniform(rng, 450.0, 1200.0), "f2": _loguniform(rng, 1200.0, 2600.0),
        "growl": rng.random() < 0.2,
    }


def _dog(rng, n, v):
    t = _time(n)
    count = max(1, int(round(n / SR * v["rate"] * rng.uniform(0.6, 1.2))))
    starts = _segments(rng, n, count)
    starts[0] = int(rng.uniform(0.0, 0.02) * SR)
    f0 = np.full(n, v["f0"])
    gate = np.zeros(n)
    for start in starts:
        length = min(n - start, _n(v["bark"] * rng.uniform(0.7, 1.4) * (2.5 if v["growl"] else 1.0)))
        u = np.linspace(0, 1, length)
        contour = v["glide"] * (np.minimum(u / 0.3, 1.0) - 1.6 * np.maximum(u - 0.3, 0.0))
        f0[start:start + length] = v["f0"] * rng.uniform(0.9, 1.1) * 2 ** (contour / 12)
        gate[start:start + length] = np.maximum(gate[start:start + length], _envelope(length, 0.008, length / SR * 0.7))
    if v["growl"]:
        f0 = f0 * 0.45 * (1 + 0.08 * np.sin(2 * np.pi * 25 * t))
    excitation = _pulse_train(f0) * 2.5 + rng.standard_normal(n) * v["breath"]
    excitation *= gate

    def gain(times):
        return (_resonances(np.array([v["f1"], v["f2"], 3200.0]), np.array([250.0, 400.0, 600.0]),
                            np.array([1.0, 0.5, 0.2])) + 0.05) * _tilt(2500.0, 0.8)[None, :]

    return _stft_filter(excitation, gain)


def _cat_voice(rng):
    return {
        "f0": _loguniform(rng, 320.0, 1000.0),
        "rise": rng.uniform(1.0, 7.0), "fall": rng.uniform(3.0, 12.0),
        "vibrato": rng.uniform(0.0, 0.5), "vib_rate": rng.uniform(4.0, 8.0),
        "scale": rng.uniform(0.8, 1.25),
        "breath": rng.uniform(0.02, 0.25),
        "hiss": rng.random() < 0.1,
    }


def _cat(rng, n, v):
    t = _time(n)
    if v["hiss"]:
        noise = _filt(rng.standard_normal(n), "bandpass", (2000.0, 7000.0))
        return noise * _envelope(n, 0.03, n / SR * 0.4) * (1 + 0.3 * _smooth(rng, n, 20))
    count = 1 if (n / SR < 1.2 or rng.random() < 0.6) else 2
    starts = _segments(rng, n, count)
    starts[0] = int(rng.uniform(0.0, 0.03) * SR)
    ends = np.append(starts[1:], n)
    f0 = np.full(n, v["f0"])
    gate = np.zeros(n)
    morph = np.zeros(n)
    for start, end in zip(starts, ends):
        length = max(2, int((end - start) * rng.uniform(0.75, 0.97)))
        u = np.linspace(0, 1, length)
        peak = rng.uniform(0.25, 0.5)
        contour = np.where(u < peak, v["rise"] * u / peak, v["rise"] - (v["rise"] + v["fall"]) * (u - peak) / (1 - peak))
        f0[start:start + length] = v["f0"] * rng.uniform(0.9, 1.1) * 2 ** (contour / 12)
        gate[start:start + length] = _envelope(length, 0.05, length / SR * 0.35)
        morph[start:start + length] = u
    f0 = f0 * 2 ** (v["vibrato"] * np.sin(2 * np.pi * v["vib_rate"] * t) / 12)
    excitation = (_pulse_train(f0) * 2.5 + rng.standard_normal(n) * v["breath"]) * gate
    # formants glide i -> a -> u over each meow
    path = np.array([[350, 2300, 3000], [850, 1500, 2800], [450, 900, 2600]], dtype=float) * v["scale"]

    def gain(times):
        m = np.interp(times, t, morph)
        formants = np.stack([np.interp(m, [0.0, 0.5, 1.0], path[:, j]) for j in range(3)], axis=1)
        return (_resonances(formants, np.array([150.0, 250.0, 400.0]), np.array([1.0, 0.7, 0.25])) + 0.03) \
            * _tilt(3000.0, 0.7)[None, :]

    return _stft_filter(excitation, gain)


def _motor_voice(rng, f0_lo, f0_hi, res_lo=200.0, res_hi=6000.0, tilt_lo=600.0, tilt_hi=6000.0):
    return {
        "f0": _loguniform(rng, f0_lo, f0_hi),
        "res_f": np.sort(np.array([_loguniform(rng, res_lo, res_hi) for _ in range(3)])),
        "res_bw": np.array([_loguniform(rng, 60.0, 900.0) for _ in range(3)]),
        "res_a": rng.uniform(0.3, 1.0, 3),
        "tilt": _loguniform(rng, tilt_lo, tilt_hi),
        "noise": _loguniform(rng, 0.05, 2.0),
        "noise_lp": _loguniform(rng, 1500.0, 7000.0),
        "load_rate": rng.uniform(0.2, 1.5), "load_depth": rng.uniform(0.01, 0.12),
        "am_rate": rng.uniform(3.0, 25.0), "am_depth": rng.uniform(0.0, 0.6),
        "blades": int(rng.integers(3, 12)),
    }


def _motor(rng, n, v, whine=0.0, spin=0.0, pulse=False, grit=0.0):
    t = _time(n)
    load = _smooth(rng, n, v["load_rate"])
    f0 = v["f0"] * rng.uniform(0.93, 1.07) * (1 + v["load_depth"] * load)
    env = np.ones(n)
    if spin and rng.random() < spin:
        ramp = _n(rng.uniform(0.3, 1.2))
        spin_up = np.ones(n)
        spin_up[:ramp] = np.linspace(0.35, 1.0, min(ramp, n))[: min(ramp, n)]
        f0 = f0 * spin_up
        env = env * spin_up ** 2
    if pulse:
        on, off = rng.uniform(0.6, 2.0), rng.uniform(0.2, 0.8)
        pulse_gate = _smooth_gate((np.mod(t, on + off) < on).astype(float), 60.0)
        f0 = f0 * (0.6 + 0.4 * pulse_gate)
        env = env * pulse_gate
    am = 1.0 + v["am_depth"] * np.clip(_smooth(rng, n, v["am_rate"]), -1.5, 1.5) / 1.5
    tone = _pulse_train(f0)
    if whine:
        tone = tone + whine * np.sin(_phase(f0 * v["blades"]))
    noise = _filt(rng.standard_normal(n), "lowpass", v["noise_lp"]) * v["noise"] * (1 + 0.5 * v["load_depth"] * load)
    if grit:
        noise = noise + _filt(rng.standard_normal(n), "bandpass", (1000.0, 5000.0)) * grit * np.maximum(am - 1, 0) * 6
    excitation = (tone * am + noise) * env

    def body(f):
        res = np.sum(v["res_a"][None, :] / (1.0 + ((f[:, None] - v["res_f"][None, :]) / (v["res_bw"][None, :] / 2)) ** 2),
                     axis=1)
        return (res + 0.15) / np.sqrt(1.0 + (f / v["tilt"]) ** 2)

    return excitation, body


def _vacuum_voice(rng):
    v = _motor_voice(rng, 100.0, 420.0, 800.0, 5000.0, 2500.0, 7000.0)
    v["noise"] = _loguniform(rng, 0.5, 2.0)
    v["noise_lp"] = _loguniform(rng, 4000.0, 7500.0)
    return v


def _vacuum(rng, n, v):
    return _motor(rng, n, v, whine=rng.uniform(0.3, 0.8), spin=0.3)


def _blender_voice(rng):
    v = _motor_voice(rng, 140.0, 500.0, 300.0, 2500.0, 1000.0, 4000.0)
    v["am_depth"] = rng.uniform(0.2, 0.8)
    v["load_depth"] = rng.uniform(0.05, 0.2)
    v["pulse"] = rng.random() < 0.3
    return v


def _blender(rng, n, v):
    return _motor(rng, n, v, whine=rng.uniform(0.0, 0.2), spin=0.4, pulse=v["pulse"], grit=rng.uniform(0.1, 0.6))


def _shaver_voice(rng):
    v = _motor_voice(rng, 75.0, 300.0, 1200.0, 6000.0, 2500.0, 8000.0)
    v["noise"] = _loguniform(rng, 0.02, 0.5)
    v["load_depth"] = rng.uniform(0.005, 0.04)
    v["res_bw"] = np.array([_loguniform(rng, 40.0, 300.0) for _ in range(3)])
    return v


def _shaver(rng, n, v):
    return _motor(rng, n, v, spin=0.15)


def _frying_voice(rng):
    return {
        "hiss_hp": _loguniform(rng, 1200.0, 4000.0),
        "hiss": rng.uniform(0.1, 0.8),
        "rate": _loguniform(rng, 15.0, 180.0),
        "crackle_band": _loguniform(rng, 1500.0, 5000.0),
        "crackle_decay": rng.uniform(0.0006, 0.004),
        "pops": rng.uniform(0.0, 0.4),
        "swell": rng.uniform(0.1, 1.5),
    }


def _frying(rng, n, v):
    hiss = _filt(rng.standard_normal(n), "highpass", v["hiss_hp"]) * v["hiss"] * 0.3
    hiss *= np.exp(0.3 * _smooth(rng, n, v["swell"]))
    count = rng.poisson(v["rate"] * n / SR)
    starts = np.sort(rng.integers(0, n, count))
    length = _n(v["crackle_decay"] * 6)
    tt = _time(length)
    grains = rng.standard_normal((count, length)) * np.exp(-tt / v["crackle_decay"])[None, :]
    grains *= (rng.pareto(2.5, count) + 0.2)[:, None]
    crackle = _filt(_scatter(n, starts, grains), "bandpass", (v["crackle_band"] * 0.5, v["crackle_band"] * 2.0))
    pop_count = rng.poisson(v["rate"] * 0.1 * n / SR)
    pop_len = _n(0.015)
    pt = _time(pop_len)
    pop_freq = rng.uniform(300.0, 1500.0, pop_count)[:, None]
    pop_grains = np.sin(2 * np.pi * pop_freq * pt[None, :]) * np.exp(-pt / 0.004)[None, :] * v["pops"] * 3
    pops = _scatter(n, np.sort(rng.integers(0, n, pop_count)), pop_grains)
    return hiss + crackle + pops


def _water_voice(rng):
    return {
        "centre": _loguniform(rng, 400.0, 3500.0),
        "width": rng.uniform(0.5, 1.3),      # octaves (sigma)
        "flicker": rng.uniform(0.3, 1.2),    # spectral fluctuation depth (log units)
        "flicker_rate": rng.uniform(4.0, 25.0),
        "bubbles": _loguniform(rng, 4.0, 60.0),
        "bubble_f": _loguniform(rng, 400.0, 2500.0),
        "bubble_level": rng.uniform(0.0, 1.0),
    }


def _water(rng, n, v):
    noise = rng.standard_normal(n)
    frames = (n + 2 * N_FFT) // HOP + 8
    coarse_bands = 16
    knots_t = max(2, int(n / SR * v["flicker_rate"]) + 2)
    field = rng.standard_normal((knots_t, coarse_bands))
    band_pos = np.linspace(0, len(_FREQS) - 1, coarse_bands)
    octaves = np.log2(np.maximum(_FREQS, 50.0) / v["centre"])
    base = np.exp(-0.5 * (octaves / v["width"]) ** 2)
    dur = n / SR

    def gain(times):
        kt = np.linspace(-N_FFT / SR, dur + N_FFT / SR, knots_t)
        over_t = np.stack([np.interp(times, kt, field[:, b]) for b in range(coarse_bands)], axis=1)
        i0 = np.minimum(np.floor(np.arange(len(_FREQS)) / (band_pos[1])).astype(int), coarse_bands - 2)
        w = np.arange(len(_FREQS)) / band_pos[1] - i0
        fluct = over_t[:, i0] * (1 - w) + over_t[:, i0 + 1] * w
        return base[None, :] * np.exp(v["flicker"] * fluct)

    del frames
    flow = _stft_filter(noise, gain)
    count = rng.poisson(v["bubbles"] * dur)
    length = _n(0.06)
    tt = _time(length)
    freq = v["bubble_f"] * np.exp(rng.normal(0, 0.5, count))[:, None]
    tau = rng.uniform(0.004, 0.02, count)[:, None]
    rise = rng.uniform(0.5, 3.0, count)[:, None]
    inst = freq * (1 + rise * tt[None, :] / (5 * tau))
    phase = 2 * np.pi * np.cumsum(np.minimum(inst, 7500.0), axis=1) / SR
    grains = np.sin(phase) * np.exp(-tt[None, :] / tau) * rng.uniform(0.2, 1.0, count)[:, None]
    bubbles = _scatter(n, np.sort(rng.integers(0, n, count)), grains)
    return flow * (1 + 0.2 * _smooth(rng, n, 2.0)) + bubbles * v["bubble_level"] * 1.5


@dataclass(frozen=True)
class ClassSpec:
    name: str
    short: bool
    voice: Callable[[np.random.Generator], Voice]
    render: Callable[[np.random.Generator, int, Voice], np.ndarray]
    median: tuple[float, float]   # range of a source's median duration (s)
    description: str


CLASSES: tuple[ClassSpec, ...] = (
    ClassSpec("Alarm_bell_ringing", True, _alarm_voice, _alarm, (0.8, 2.8),
              "beep patterns (sine, square or buzzer tones, grouped, sometimes alternating two pitches), electric "
              "bells (inharmonic partials struck at 10-28 Hz in rings), two-tone phone rings, sweeping chirps; "
              "base pitch 1300-3400 Hz"),
    ClassSpec("Blender", False, _blender_voice, _blender, (3.0, 5.5),
              "motor: band-limited harmonic series (f0 140-500 Hz) through three body resonances (0.3-2.5 kHz), strong "
              "irregular load modulation (chopping) with gritty band noise, pitch drops under load, spin-ups, "
              "sometimes pulse mode"),
    ClassSpec("Cat", True, _cat_voice, _cat, (0.6, 2.0),
              "meows: harmonic voice (f0 320-1000 Hz) with a long rise-fall glide and vibrato, formants gliding "
              "i -> a -> u; one or two meows per take; some sources hiss"),
    ClassSpec("Dishes", True, _dishes_voice, _dishes, (0.3, 1.4),
              "one or more impacts: 5-9 inharmonic partials (1-7.6 kHz) with frequency-dependent "
              "exponential decays, a noise click at each onset, light rattle"),
    ClassSpec("Dog", True, _dog_voice, _dog, (0.4, 1.8),
              "barks: short harmonic bursts (f0 220-900 Hz) with an up-down pitch glide, breath noise, two "
              "formants; some sources growl (low, rough, longer)"),
    ClassSpec("Electric_shaver_toothbrush", False, _shaver_voice, _shaver, (3.0, 5.5),
              "buzz: dense harmonic series (f0 75-300 Hz, stable pitch) through narrow plastic-body resonances "
              "(1.2-6 kHz), "
              "contact modulation, little noise"),
    ClassSpec("Frying", False, _frying_voice, _frying, (3.0, 5.5),
              "hiss (high-passed noise with slow swells) under Poisson crackles (15-180 per second, heavy-tailed "
              "amplitudes, band-passed decaying bursts) and occasional low pops"),
    ClassSpec("Running_water", False, _water_voice, _water, (3.0, 5.5),
              "band-limited noise (centre 400-3500 Hz) whose spectrum fluctuates 4-25 times a second, plus "
              "rising-chirp bubbles (Minnaert-like, 4-60 per second)"),
    ClassSpec("Speech", True, _speech_voice, _speech, (0.7, 2.6),
              "syllable sequences: glottal pulse train (f0 85-280 Hz, intonation, declination) with breath, "
              "formants moving between vowel targets, fricative noise onsets, word pauses"),
    ClassSpec("Vacuum_cleaner", False, _vacuum_voice, _vacuum, (3.0, 5.5),
              "motor: harmonic series (f0 100-420 Hz) plus blade-pass whine, dominated by low-passed airflow "
              "noise; load changes move pitch and noise; some takes spin up"),
)


# ------------------------------------------------------------------------------------------- backgrounds
def _bg_room_tone(rng, n):
    hum_f = float(rng.choice([50.0, 60.0]))
    hum = _harmonics(np.full(n, hum_f), [1.0, 0.5, 0.3, 0.15]) * rng.uniform(0.02, 0.1)
    return _filt(_colored_noise(rng, n, 1.0), "lowpass", _loguniform(rng, 1000.0, 4000.0)) + hum


def _bg_ventilation(rng, n):
    f = rng.uniform(20.0, 60.0)
    fan = _filt(_pulse_train(np.full(n, f) * (1 + 0.003 * _smooth(rng, n, 0.5)), 2000.0), "lowpass", 800.0)
    air = _filt(_colored_noise(rng, n, 0.5), "bandpass", (80.0, _loguniform(rng, 1200.0, 4000.0)))
    return air + fan * rng.uniform(0.2, 0.8)


def _bg_fridge(rng, n):
    mains = float(rng.choice([50.0, 60.0]))
    hum = _harmonics(np.full(n, mains) * (1 + 0.002 * _smooth(rng, n, 0.3)), rng.uniform(0.1, 1.0, 8))
    return hum * (1 + 0.1 * _smooth(rng, n, 0.5)) * 0.3 + _colored_noise(rng, n, 1.5) * 0.3


def _bg_traffic(rng, n):
    rumble = _filt(_colored_noise(rng, n, 2.0), "lowpass", _loguniform(rng, 300.0, 900.0))
    t = _time(n)
    cars = np.zeros(n)
    for _ in range(int(rng.integers(2, 6))):
        centre, width = rng.uniform(0, n / SR), rng.uniform(1.0, 3.0)
        cars += np.exp(-0.5 * ((t - centre) / width) ** 2) * rng.uniform(0.3, 1.0)
    hiss = _filt(rng.standard_normal(n), "bandpass", (300.0, 3000.0)) * 0.2
    return rumble * (1 + 0.3 * _smooth(rng, n, 0.3)) + hiss * cars


def _bg_rain(rng, n):
    wash = _filt(rng.standard_normal(n), "bandpass", (_loguniform(rng, 800.0, 2000.0), 7000.0)) * 0.5
    count = rng.poisson(rng.uniform(100.0, 400.0) * n / SR)
    length = _n(0.004)
    tt = _time(length)
    grains = rng.standard_normal((count, length)) * np.exp(-tt / 0.0008)[None, :] * rng.uniform(0.05, 0.4, count)[:, None]
    drops = _filt(_scatter(n, np.sort(rng.integers(0, n, count)), grains), "highpass", 1500.0)
    return wash * (1 + 0.2 * _smooth(rng, n, 0.4)) + drops + _colored_noise(rng, n, 2.0) * 0.05


def _bg_air_conditioner(rng, n):
    noise = _colored_noise(rng, n, rng.uniform(0.0, 0.8))
    centre = _loguniform(rng, 300.0, 2000.0)
    return _filt(noise, "bandpass", (centre / 3, centre * 3)) * (1 + 0.05 * _smooth(rng, n, 0.2)) + noise * 0.1


def _bg_electrical(rng, n):
    mains = float(rng.choice([100.0, 120.0]))
    buzz = _filt(_pulse_train(np.full(n, mains), 4000.0), "bandpass", (100.0, 3000.0)) * rng.uniform(0.05, 0.2)
    return buzz + _filt(_colored_noise(rng, n, 1.0), "lowpass", 3000.0)


BACKGROUNDS: tuple[tuple[str, Callable[[np.random.Generator, int], np.ndarray], str], ...] = (
    ("room_tone", _bg_room_tone, "pink noise, low-passed 1-4 kHz, faint 50/60 Hz mains hum"),
    ("ventilation", _bg_ventilation, "band-passed airflow noise with a 20-60 Hz fan rumble"),
    ("fridge", _bg_fridge, "compressor hum (50/60 Hz harmonics, slowly wavering) over brown-ish noise"),
    ("distant_traffic", _bg_traffic, "low-passed brown noise rumble with passing-car swells of mid-band hiss"),
    ("rain_on_window", _bg_rain, "band-passed wash plus dense tiny drop clicks (100-400 per second)"),
    ("air_conditioner", _bg_air_conditioner, "steady broadband noise with a broad resonance"),
    ("electrical_hum", _bg_electrical, "100/120 Hz buzz over pink noise"),
)


# ------------------------------------------------------------------------------------- recording channel
def _channel_voice(rng) -> Voice:
    return {
        "tilt": rng.uniform(-0.2, 0.2),
        "lowpass": _loguniform(rng, 4500.0, 8000.0),
        "peak_f": _loguniform(rng, 250.0, 4000.0),
        "peak_db": rng.uniform(-3.0, 5.0),
        "snr_db": rng.uniform(20.0, 45.0),
        "noise_exp": rng.uniform(0.0, 2.0),
    }


def _apply_channel(rng, x: np.ndarray, ch: Voice, body: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Filter by the source's recording channel (and a static ``body`` gain of frequency), add its noise floor."""
    n = x.shape[0]
    m = _fast_len(n + 1024)
    spec = np.fft.rfft(x, m)
    f = _GRID
    octaves = np.log2(np.maximum(f, 20.0) / ch["peak_f"])
    g = (np.maximum(f, 50.0) / 1000.0) ** ch["tilt"] / np.sqrt(1.0 + (f / ch["lowpass"]) ** 4)
    g *= 10.0 ** (ch["peak_db"] / 20.0 * np.exp(-0.5 * (octaves / 0.5) ** 2))
    if body is not None:
        g *= body(f)
    g = _on_bins(g, m)
    spec *= g
    energy = (2.0 * np.sum(np.abs(spec) ** 2) - np.abs(spec[0]) ** 2) / m
    power = energy / n + 1e-20
    snr = ch["snr_db"] + rng.normal(0.0, 3.0)
    spec += _noise_spectrum(rng, m, ch["noise_exp"]) * np.sqrt(power / 10.0 ** (snr / 10.0))
    return np.fft.irfft(spec, m)[:n]


def finish(x: np.ndarray, peak_db: float, fade_s: float = 0.005) -> np.ndarray:
    """High-pass (DC, rumble), fade the edges, peak-normalise to ``peak_db`` dBFS; returns int16 samples."""
    x = signal.sosfilt(_sos("highpass", 25.0, 2), x)
    x = x - np.mean(x)
    m = min(_n(fade_s), x.shape[0] // 2)
    if m > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
        x[:m] *= ramp
        x[-m:] *= ramp[::-1]
    peak = np.max(np.abs(x))
    if not np.isfinite(peak) or peak <= 0.0:
        raise ValueError("synthesised signal is silent or not finite")
    x = x * (10.0 ** (peak_db / 20.0) / peak)
    return np.clip(np.round(x * 32767.0), -32767, 32767).astype(np.int16)


def draw_duration(rng: np.random.Generator, spec: ClassSpec, median: float) -> float:
    if spec.short:
        d = median * np.exp(rng.normal(0.0, 0.35))
        return float(np.clip(d, 0.25, 5.0))
    d = median * np.exp(rng.normal(0.0, 0.25))
    return float(np.clip(d, 2.0, 10.0))


def source_voice(rng: np.random.Generator, spec: ClassSpec) -> Voice:
    voice = spec.voice(rng)
    voice["_median"] = rng.uniform(*spec.median)
    voice["_channel"] = _channel_voice(rng)
    return voice


def render_take(rng: np.random.Generator, spec: ClassSpec, voice: Voice) -> np.ndarray:
    """One take of a source: int16 samples at 16 kHz."""
    n = _n(draw_duration(rng, spec, voice["_median"]))
    x = spec.render(rng, n, voice)
    body = None
    if isinstance(x, tuple):   # (excitation, static body filter)
        x, body = x
    x = _apply_channel(rng, x, voice["_channel"], body)
    return finish(x, rng.uniform(-20.0, -3.0))


def render_background(rng: np.random.Generator, kind: int, seconds: float = 10.0) -> np.ndarray:
    n = _n(seconds)
    x = BACKGROUNDS[kind][1](rng, n)
    return finish(x, rng.uniform(-14.0, -6.0), fade_s=0.05)
