"""Dataset recipes: a TOML schema, its validation, and the canonical form hashed into the spec id.

Every field is documented in docs/recipes.md. Validation refuses unknown fields (suggesting the nearest
valid name), wrong types and out-of-range values with one message naming ``file: section.field``.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wlbench.distributions import Distribution, parse_distribution
from wlbench.errors import WlbenchError
from wlbench.features import LogMelParams

FORMAT_VERSION = 1
SOUNDBANK_PARTS = ("train", "validation", "eval")
_REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """One split: ``clips`` clips drawn from the soundbank part ``part``.

    Splits that share a part get disjoint sets of source groups, in proportion to ``share`` (default: their
    clip counts).
    """

    name: str
    clips: int
    part: str
    share: float
    balanced: bool


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A validated dataset recipe (see docs/recipes.md for every field)."""

    name: str
    description: str
    seed: int
    sample_rate: int
    clip_duration: float
    ref_db: float
    store_audio: bool
    fix_clipping: bool
    classes: tuple[str, ...]
    events_per_clip: int
    snr: Distribution
    onset: Distribution
    pitch_shift: Distribution | None
    cut_duration: float
    quick_pitch_time: bool
    background_random_offset: bool
    splits: tuple[SplitSpec, ...]
    segment_durations: tuple[float, ...]
    features: LogMelParams
    store_features: bool
    feature_dtype: str
    scale: float = 1.0
    text: str = ""
    source: str = "<string>"

    def split(self, name: str) -> SplitSpec:
        for spec in self.splits:
            if spec.name == name:
                return spec
        raise WlbenchError(f"recipe {self.name!r} has no split {name!r}; it has {', '.join(self.split_names)}")

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.splits)

    def canonical(self) -> dict[str, Any]:
        """Everything that determines the rendered output, as plain JSON-able values (no text, no path)."""
        out = dataclasses.asdict(self)
        for key in ("text", "source", "description"):
            out.pop(key)
        out["snr"] = self.snr.as_dict()
        out["onset"] = self.onset.as_dict()
        out["pitch_shift"] = None if self.pitch_shift is None else self.pitch_shift.as_dict()
        out["format_version"] = FORMAT_VERSION
        return out

    def scaled(self, factor: float) -> Recipe:
        """A proportional version with ``round(clips * factor)`` clips per split (at least 1)."""
        if not 0 < factor <= 1:
            raise WlbenchError(f"--scale must be in (0, 1], got {factor}")
        splits = tuple(dataclasses.replace(s, clips=max(1, round(s.clips * factor))) for s in self.splits)
        return dataclasses.replace(self, splits=splits, scale=self.scale * factor)


# --------------------------------------------------------------------------------------------- parsing

class _Section:
    """Reads the fields of one TOML table, refusing unknown names and bad values."""

    def __init__(self, source: str, path: str, table: Any, known: tuple[str, ...]) -> None:
        if not isinstance(table, dict):
            raise WlbenchError(f"{source}: [{path}] must be a table, got {table!r}")
        self.source, self.path, self.table = source, path, table
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"valid fields: {', '.join(known)}"
                raise WlbenchError(f"{source}: unknown field {path}.{key} ({hint})")

    def where(self, key: str) -> str:
        return f"{self.source}: {self.path}.{key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _REQUIRED,
            check: Callable[[Any], bool] | None = None, rule: str = "") -> Any:
        if key not in self.table:
            if default is _REQUIRED:
                raise WlbenchError(f"{self.where(key)} is required")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise WlbenchError(f"{self.where(key)}: expected {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise WlbenchError(f"{self.where(key)}: expected {_kind_name(kinds)}, got {value!r}")
        if check is not None and not check(value):
            raise WlbenchError(f"{self.where(key)}: {rule}, got {value!r}")
        return value

    def distribution(self, key: str, default: Any = _REQUIRED) -> Distribution | None:
        if key not in self.table:
            if default is _REQUIRED:
                raise WlbenchError(f"{self.where(key)} is required")
            return default
        return parse_distribution(self.table[key], self.where(key))


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_TOP = ("dataset", "audio", "classes", "foreground", "background", "splits", "segments", "features")


def parse_recipe(text: str, source: str = "<string>") -> Recipe:
    """Parse and validate recipe TOML ``text``; ``source`` names the file in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WlbenchError(f"{source}: not valid TOML: {exc}") from exc
    top = _Section(source, "recipe", raw, _TOP)
    for required in ("dataset", "classes", "splits"):
        top.get(required, dict)

    dataset = _Section(source, "dataset", raw["dataset"], ("name", "description", "seed"))
    name = dataset.get("name", str, check=lambda v: v.replace("-", "").replace("_", "").isalnum(),
                       rule="use letters, digits, '-' and '_' only")
    description = dataset.get("description", str, "")
    seed = dataset.get("seed", int, check=lambda v: 0 <= v < 2**63, rule="must be in [0, 2**63)")

    audio = _Section(source, "audio", raw.get("audio", {}),
                     ("sample_rate", "clip_duration", "ref_db", "store_audio", "fix_clipping"))
    sample_rate = audio.get("sample_rate", int, 16000, lambda v: 8000 <= v <= 96000, "must be in [8000, 96000]")
    clip_duration = audio.get("clip_duration", float, 10.0, lambda v: 0.5 <= v <= 600, "must be in [0.5, 600] s")
    ref_db = audio.get("ref_db", float, -50.0, lambda v: -120 <= v <= 0, "must be in [-120, 0] LUFS")
    store_audio = audio.get("store_audio", bool, False)
    fix_clipping = audio.get("fix_clipping", bool, True)

    classes_section = _Section(source, "classes", raw["classes"], ("names",))
    classes = classes_section.get(
        "names", list, check=lambda v: bool(v) and all(isinstance(c, str) and c for c in v) and len(set(v)) == len(v),
        rule="must be a non-empty list of distinct class names")

    fg = _Section(source, "foreground", raw.get("foreground", {}),
                  ("events_per_clip", "snr", "onset", "pitch_shift", "cut_duration", "quick_pitch_time"))
    events_per_clip = fg.get("events_per_clip", int, 1, lambda v: v == 1,
                             "only 1 event per clip is supported by this version")
    snr = fg.distribution("snr", parse_distribution({"dist": "uniform", "min": 6, "max": 30}, "default"))
    if not (-30 <= snr.low and snr.high <= 60):
        raise WlbenchError(f"{fg.where('snr')}: values must lie in [-30, 60] dB (use uniform or truncnorm "
                           f"bounds), got {snr.as_dict()}")
    onset = fg.distribution("onset", parse_distribution({"dist": "uniform", "min": 0, "max": clip_duration - 0.2},
                                                        "default"))
    if not (0 <= onset.low and onset.high < clip_duration):
        raise WlbenchError(f"{fg.where('onset')}: onsets must lie in [0, audio.clip_duration) = [0, {clip_duration})"
                           f" (use uniform or truncnorm bounds), got {onset.as_dict()}")
    pitch_shift = fg.distribution("pitch_shift", None)
    if pitch_shift is not None and not (-12 <= pitch_shift.low and pitch_shift.high <= 12):
        raise WlbenchError(f"{fg.where('pitch_shift')}: semitones must lie in [-12, 12] (use uniform or truncnorm "
                           f"bounds), got {pitch_shift.as_dict()}")
    cut_duration = fg.get("cut_duration", float, 0.0, lambda v: 0 <= v <= clip_duration,
                          f"must be 0 (keep whole files) or a duration in (0, {clip_duration}] s")
    quick_pitch_time = fg.get("quick_pitch_time", bool, True)

    bg = _Section(source, "background", raw.get("background", {}), ("random_offset",))
    background_random_offset = bg.get("random_offset", bool, True)

    splits_table = raw["splits"]
    if not isinstance(splits_table, dict) or not splits_table:
        raise WlbenchError(f"{source}: [splits] must hold at least one [splits.<name>] table")
    splits = []
    for split_name, table in splits_table.items():
        section = _Section(source, f"splits.{split_name}", table, ("clips", "part", "share", "balanced"))
        if not split_name.replace("_", "").isalnum():
            raise WlbenchError(f"{source}: split name {split_name!r} must use letters, digits and '_' only")
        clips = section.get("clips", int, check=lambda v: 1 <= v <= 10_000_000, rule="must be in [1, 10000000]")
        part = section.get("part", str, "train", lambda v: v in SOUNDBANK_PARTS,
                           f"must be one of {', '.join(SOUNDBANK_PARTS)}")
        share = section.get("share", float, 0.0, lambda v: 0 < v <= 1, "must be in (0, 1]")
        balanced = section.get("balanced", bool, True)
        splits.append(SplitSpec(split_name, clips, part, share, balanced))
    splits = _resolve_shares(source, splits)

    segments = _Section(source, "segments", raw.get("segments", {}), ("durations",))
    durations = segments.get(
        "durations", list, [0.2, 1.0, clip_duration],
        check=lambda v: all(isinstance(d, (int, float)) and not isinstance(d, bool) and 0 < d <= clip_duration
                            for d in v) and len(set(v)) == len(v),
        rule=f"must be a list of distinct durations in (0, {clip_duration}] s")

    feature_fields = tuple(f.name for f in dataclasses.fields(LogMelParams))
    feats = _Section(source, "features", raw.get("features", {}), feature_fields + ("store", "dtype"))
    store_features = feats.get("store", bool, True)
    feature_dtype = feats.get("dtype", str, "float32", lambda v: v in ("float32", "float16"),
                              "must be 'float32' or 'float16'")
    params = {k: v for k, v in feats.table.items() if k in feature_fields}
    params.setdefault("sample_rate", sample_rate)
    try:
        features = LogMelParams(**params)
    except (TypeError, WlbenchError) as exc:
        raise WlbenchError(f"{source}: [features]: {exc}") from exc
    if features.sample_rate != sample_rate:
        raise WlbenchError(f"{source}: features.sample_rate ({features.sample_rate}) must equal audio.sample_rate "
                           f"({sample_rate})")

    return Recipe(name=name, description=description, seed=seed, sample_rate=sample_rate,
                  clip_duration=clip_duration, ref_db=ref_db, store_audio=store_audio, fix_clipping=fix_clipping,
                  classes=tuple(classes), events_per_clip=events_per_clip, snr=snr, onset=onset,
                  pitch_shift=pitch_shift, cut_duration=cut_duration, quick_pitch_time=quick_pitch_time,
                  background_random_offset=background_random_offset, splits=tuple(splits),
                  segment_durations=tuple(float(d) for d in durations), features=features,
                  store_features=store_features, feature_dtype=feature_dtype, text=text, source=source)


def _resolve_shares(source: str, splits: list[SplitSpec]) -> list[SplitSpec]:
    """Fill default shares (proportional to clips among splits of the same part); check each part sums <= 1."""
    resolved = []
    for spec in splits:
        same_part = [s for s in splits if s.part == spec.part]
        if spec.share == 0.0:
            explicit = sum(s.share for s in same_part)
            implicit_clips = sum(s.clips for s in same_part if s.share == 0.0)
            spec = dataclasses.replace(spec, share=(1.0 - explicit) * spec.clips / implicit_clips)
        resolved.append(spec)
    for part in {s.part for s in resolved}:
        total = sum(s.share for s in resolved if s.part == part)
        if total > 1.0 + 1e-9 or total <= 0:
            raise WlbenchError(f"{source}: the shares of the splits drawing from part {part!r} add up to {total:.3f}; "
                               f"they must be positive and add up to at most 1")
    return resolved


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise WlbenchError(f"recipe file {path} not found", hint="see datasets/*.toml for examples") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise WlbenchError(f"cannot read recipe file {path}: {exc}") from exc
    return parse_recipe(text, source=str(path))
