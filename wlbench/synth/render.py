"""Render one planned clip with scaper and derive its features and events (where the jobs of
:mod:`wlbench.synth.jobs` run it: :mod:`wlbench.synth.executors`)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import warnings

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.features import LogMelParams, log_mel
from wlbench.synth.plan import ClipSpec
from wlbench.synth.scaper_compat import scaper

# Columns of the strong event table derived from each clip's JAMS.
EVENT_FIELDS = ("label", "onset", "offset", "snr", "source_file", "source_time", "pitch_shift")


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """What every worker needs besides the clip spec."""

    bank_root: str
    sample_rate: int
    clip_duration: float
    ref_db: float
    fix_clipping: bool
    quick_pitch_time: bool
    features: LogMelParams
    store_features: bool
    feature_dtype: str
    store_audio: bool
    class_of_folder: tuple[tuple[str, str], ...]
    # (domain name, (lowpass_hz, highpass_hz, gain_db)) for domains with an EQ; applied to the mix
    domain_eq: tuple[tuple[str, tuple[float, float, float]], ...] = ()


@dataclasses.dataclass
class RenderedClip:
    """One rendered clip. ``events`` rows follow :data:`EVENT_FIELDS` (times in s, paths bank-relative)."""

    clip_id: str
    jams_text: str
    events: list[tuple]
    features: np.ndarray | None
    audio: np.ndarray | None
    segment_starts: tuple[float, ...] = ()  # the plan's segment windows (set by the render jobs)
    requested_events: int = 1               # events the plan drew before the polyphony cap
    slot: int | None = None                 # shared-memory slot holding features and audio (local workers)


def _absolute(root: str, relative: str) -> str:
    return os.path.normpath(os.path.join(root, relative))


def _map_paths(data: dict, convert) -> dict:
    """Apply ``convert`` to every file-system path in a scaper JAMS dict (in place); returns ``data``."""
    for ann in data["annotations"]:
        if ann["namespace"] != "scaper":
            continue
        sandbox = ann["sandbox"]["scaper"]
        for key in ("fg_path", "bg_path"):
            sandbox[key] = convert(sandbox[key])
        for key in ("fg_spec", "bg_spec"):
            for event in sandbox.get(key) or []:
                if event[1][0] == "const":
                    event[1] = [event[1][0], convert(event[1][1])]
        for obs in ann["data"]:
            obs["value"]["source_file"] = convert(obs["value"]["source_file"])
    return data


def _relativize(jam, root: str) -> dict:
    """A scaper JAMS as a dict with every path relative to the soundbank root (portable, hashable)."""
    root = os.path.normpath(root)
    return _map_paths(json.loads(jam.dumps()), lambda path: os.path.relpath(path, root))


def _absolutize(jams_text: str, root: str) -> str:
    """Inverse of :func:`_relativize` for re-rendering against a soundbank at ``root``."""
    return json.dumps(_map_paths(json.loads(jams_text), lambda path: _absolute(root, path)))


def events_from_jams(data: dict, class_of_folder: dict[str, str]) -> list[tuple]:
    """Foreground events of a scaper JAMS dict as rows of :data:`EVENT_FIELDS`, sorted by onset then label."""
    rows = []
    for ann in data["annotations"]:
        if ann["namespace"] != "scaper":
            continue
        for obs in ann["data"]:
            value = obs["value"]
            if value["role"] != "foreground":
                continue
            pitch = value.get("pitch_shift")
            rows.append((class_of_folder.get(value["label"], value["label"]), float(obs["time"]),
                         float(obs["time"] + obs["duration"]), float(value["snr"]), value["source_file"],
                         float(value["source_time"]), float("nan") if pitch is None else float(pitch)))
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


def apply_eq(audio: np.ndarray, sample_rate: int, lowpass_hz: float, highpass_hz: float,
             gain_db: float) -> np.ndarray:
    """A domain's deterministic EQ: 4th-order Butterworth low-pass and/or high-pass (causal ``sosfilt``),
    then a gain. No clipping correction follows."""
    from scipy.signal import butter, sosfilt

    out = np.asarray(audio, dtype=np.float64)
    nyquist = sample_rate / 2
    if lowpass_hz and lowpass_hz < nyquist:
        out = sosfilt(butter(4, lowpass_hz, "lowpass", fs=sample_rate, output="sos"), out)
    if highpass_hz and highpass_hz < nyquist:
        out = sosfilt(butter(4, highpass_hz, "highpass", fs=sample_rate, output="sos"), out)
    if gain_db:
        out = out * 10 ** (gain_db / 20)
    return out


def _finish(settings: RenderSettings, clip_id: str, audio: np.ndarray, jam, domain: str = "default") -> RenderedClip:
    audio = np.asarray(audio, dtype=np.float64)
    audio = audio[:, 0] if audio.ndim == 2 else audio
    expected = int(round(settings.clip_duration * settings.sample_rate))
    if audio.shape[0] != expected:  # scaper rounds lengths to whole samples; pin them
        audio = np.pad(audio, (0, max(0, expected - audio.shape[0])))[:expected]
    eq = dict(settings.domain_eq).get(domain)
    if eq is not None:
        audio = apply_eq(audio, settings.sample_rate, *eq)
    feats = log_mel(audio, settings.features).astype(settings.feature_dtype) if settings.store_features else None
    data = _relativize(jam, settings.bank_root)
    events = events_from_jams(data, dict(settings.class_of_folder))
    jams_text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return RenderedClip(clip_id=clip_id, jams_text=jams_text, events=events,
                        features=feats, audio=audio.astype(np.float32) if settings.store_audio else None)


def build_scaper(spec: ClipSpec, settings: RenderSettings):
    """A :class:`scaper.Scaper` holding the clip's background and events, all as constants."""
    root = settings.bank_root
    fg_roots = {event.scaper_root for event in spec.events} or {spec.background_root}
    if len(fg_roots) != 1:
        raise WlbenchError(f"clip {spec.clip_id}: its events come from different foreground folders {fg_roots}")
    sc = scaper.Scaper(settings.clip_duration, _absolute(root, fg_roots.pop()),
                       _absolute(root, spec.background_root), random_state=spec.scaper_seed)
    sc.sr = settings.sample_rate
    sc.ref_db = settings.ref_db
    sc.n_channels = 1
    sc.add_background(label=("const", spec.background_folder),
                      source_file=("const", _absolute(root, spec.background_file)),
                      source_time=("const", spec.background_source_time))
    for event in spec.events:
        sc.add_event(label=("const", event.folder), source_file=("const", _absolute(root, event.source_file)),
                     source_time=("const", event.source_time), event_time=("const", event.onset),
                     event_duration=("const", event.duration), snr=("const", event.snr),
                     pitch_shift=None if event.pitch_shift is None else ("const", event.pitch_shift),
                     time_stretch=None)
    return sc


def render_clip(spec: ClipSpec, settings: RenderSettings, keep_event_audio: bool = False):
    """Render one clip. With ``keep_event_audio`` also return scaper's isolated event signals
    (background first), for checks."""
    sc = build_scaper(spec, settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audio, jam, _, event_audio = sc.generate(
                fix_clipping=settings.fix_clipping, quick_pitch_time=settings.quick_pitch_time,
                disable_sox_warnings=True, disable_instantiation_warnings=True)
    except Exception as exc:  # scaper/sox/soundfile raise many types; name the clip and files
        files = ", ".join([spec.background_file] + [e.source_file for e in spec.events])
        raise WlbenchError(f"clip {spec.clip_id}: rendering failed ({type(exc).__name__}: {exc}); "
                           f"source files: {files}", hint="run `wlbench soundbank check` on the soundbank") from exc
    clip = _finish(settings, spec.clip_id, audio, jam, spec.domain)
    return (clip, event_audio) if keep_event_audio else clip


def rerender_clip(clip_id: str, jams_text: str, settings: RenderSettings, domain: str = "default") -> RenderedClip:
    """Re-render a clip from its stored (bank-relative) JAMS with scaper's ``generate_from_jams``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.jams")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(_absolutize(jams_text, settings.bank_root))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                audio, jam, _, _ = scaper.generate_from_jams(path, disable_sox_warnings=True)
        except Exception as exc:
            raise WlbenchError(f"clip {clip_id}: re-rendering from its JAMS failed ({type(exc).__name__}: {exc})",
                               hint="pass the soundbank the dataset was rendered from") from exc
    return _finish(settings, clip_id, audio, jam, domain)
