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

RECIPE_FORMAT_VERSION = 1  # of the canonical recipe (part of the spec id); the file format's is wlbench.dataset.layout
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
    roles: tuple[tuple[str, float], ...] = ()       # (role, fraction of the split's clips); () = no roles
    domain: tuple[tuple[str, str], ...] = ()        # (role or "*", domain name); () = the default domain


ROLE_NAMES = ("strong", "weak", "unlabeled")        # role codes 0, 1, 2 in /<split>/roles
DEFAULT_DOMAIN = "default"
VIEW_RULES = ("", "snr", "relative_snr", "duration")


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    """An acoustic domain: what differs from the recipe's base settings for clips assigned to it."""

    name: str
    backgrounds: tuple[str, ...] = ()   # background source folders allowed (empty: all of the part)
    snr: Distribution | None = None     # replaces foreground.snr (None: keep it)
    lowpass_hz: float = 0.0             # 4th-order Butterworth low-pass on the mix (0: none)
    highpass_hz: float = 0.0            # 4th-order Butterworth high-pass on the mix (0: none)
    gain_db: float = 0.0                # gain applied to the mix after filtering

    @property
    def has_eq(self) -> bool:
        return bool(self.lowpass_hz or self.highpass_hz or self.gain_db)


@dataclasses.dataclass(frozen=True)
class ViewSpec:
    """A missing-label view: positives of the true weak labels dropped with a per-entry probability."""

    name: str
    stream: str                          # random stream key (shared by the rungs of one ladder: nested drops)
    splits: tuple[str, ...]              # splits that get the view (empty: every split)
    rate: float                          # global drop probability
    class_rates: tuple[tuple[str, float], ...] = ()  # per-class overrides of ``rate``
    by: str = ""                         # "" | "snr" | "relative_snr" | "duration": class-conditional rule
    low: float = 0.0                     # value (dB or s) at which the drop probability is ``rate_low``
    high: float = 0.0                    # value at which it is ``rate_high`` (linear in between, clamped)
    rate_low: float = 0.0
    rate_high: float = 0.0

    def rule(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rate": self.rate, "class_rates": dict(self.class_rates), "by": self.by,
                               "stream": self.stream}
        if self.by:
            out.update(low=self.low, high=self.high, rate_low=self.rate_low, rate_high=self.rate_high)
        return out


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
    events_per_clip: Distribution
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
    polyphony_max: int = 0                                     # 0: no cap
    cooccurrence: str = ""                                     # canonical JSON (DESED format), "" = none
    domains: tuple[DomainSpec, ...] = ()
    views: tuple[ViewSpec, ...] = ()
    resolution_chunks: tuple[float, ...] = ()
    resolution_min_overlap: float = 0.0
    scale: float = 1.0
    text: str = ""
    source: str = "<string>"
    resources: tuple[tuple[str, str], ...] = ()                # (path named in the recipe, file text)

    @property
    def multi_event(self) -> bool:
        """True unless every clip holds exactly one event (the WAA planning path)."""
        return not (self.events_per_clip.kind == "const" and self.events_per_clip.low == 1)

    @property
    def max_events(self) -> int:
        return int(self.events_per_clip.high)

    def domain(self, name: str) -> DomainSpec:
        for spec in self.domains:
            if spec.name == name:
                return spec
        return DomainSpec(DEFAULT_DOMAIN)

    @property
    def domain_names(self) -> tuple[str, ...]:
        return (DEFAULT_DOMAIN,) + tuple(d.name for d in self.domains if d.name != DEFAULT_DOMAIN)

    def cooccurrence_table(self) -> dict[str, Any] | None:
        import json

        return json.loads(self.cooccurrence) if self.cooccurrence else None

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
        for key in ("text", "source", "description", "resources"):
            out.pop(key)
        out["snr"] = self.snr.as_dict()
        out["onset"] = self.onset.as_dict()
        out["pitch_shift"] = None if self.pitch_shift is None else self.pitch_shift.as_dict()
        out["events_per_clip"] = (int(self.events_per_clip.low) if self.events_per_clip.kind == "const"
                                  else self.events_per_clip.as_dict())
        out["domains"] = [{**dataclasses.asdict(d), "snr": None if d.snr is None else d.snr.as_dict()}
                          for d in self.domains]
        # Fields added after format 1 are left out at their defaults, so older recipes keep their spec id.
        defaults = {"polyphony_max": 0, "cooccurrence": "", "domains": [], "views": [], "resolution_chunks": [],
                    "resolution_min_overlap": 0.0}
        for key, default in defaults.items():
            if out[key] == default or (isinstance(default, list) and not out[key]):
                out.pop(key)
        for split in out["splits"]:
            for key in ("roles", "domain"):
                if not split[key]:
                    split.pop(key)
        out["format_version"] = RECIPE_FORMAT_VERSION
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


_TOP = ("dataset", "audio", "classes", "foreground", "background", "splits", "segments", "features", "views",
        "resolution", "domains")


def parse_recipe(text: str, source: str = "<string>", base_dir: str | Path | None = None,
                 resources: dict[str, str] | None = None) -> Recipe:
    """Parse and validate recipe TOML ``text``; ``source`` names the file in error messages.

    Files named by the recipe (``foreground.cooccurrence``) are read from ``resources`` (path -> text) when
    given there, else relative to ``base_dir`` (default: the folder of ``source``).
    """
    resources = dict(resources or {})
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
                  ("events_per_clip", "snr", "onset", "pitch_shift", "cut_duration", "quick_pitch_time",
                   "polyphony_max", "allow_overlap", "cooccurrence"))
    events_per_clip = fg.distribution("events_per_clip", parse_distribution(1, "default"))
    if not (1 <= events_per_clip.low and events_per_clip.high <= 50) or events_per_clip.kind == "normal":
        raise WlbenchError(f"{fg.where('events_per_clip')}: the number of events must lie in [1, 50] (an integer, "
                           f"or a uniform/choose/truncnorm distribution, rounded to an integer), got "
                           f"{events_per_clip.as_dict()}")
    polyphony_max = fg.get("polyphony_max", int, 0, lambda v: v >= 0,
                           "must be 0 (no cap) or the largest number of simultaneous events")
    allow_overlap = fg.get("allow_overlap", bool, True)
    if not allow_overlap:
        if polyphony_max > 1:
            raise WlbenchError(f"{fg.where('polyphony_max')}: allow_overlap = false means a cap of 1, "
                               f"got polyphony_max = {polyphony_max}")
        polyphony_max = 1
    cooccurrence = _cooccurrence(fg, source, base_dir, resources, classes)
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

    domains = _domains(source, raw.get("domains", {}))
    domain_names = {DEFAULT_DOMAIN} | {d.name for d in domains}

    splits_table = raw["splits"]
    if not isinstance(splits_table, dict) or not splits_table:
        raise WlbenchError(f"{source}: [splits] must hold at least one [splits.<name>] table")
    splits = []
    for split_name, table in splits_table.items():
        section = _Section(source, f"splits.{split_name}", table,
                           ("clips", "part", "share", "balanced", "roles", "domain"))
        if not split_name.replace("_", "").isalnum():
            raise WlbenchError(f"{source}: split name {split_name!r} must use letters, digits and '_' only")
        clips = section.get("clips", int, check=lambda v: 1 <= v <= 10_000_000, rule="must be in [1, 10000000]")
        part = section.get("part", str, "train", lambda v: v in SOUNDBANK_PARTS,
                           f"must be one of {', '.join(SOUNDBANK_PARTS)}")
        share = section.get("share", float, 0.0, lambda v: 0 < v <= 1, "must be in (0, 1]")
        balanced = section.get("balanced", bool, True)
        roles = _roles(section, clips)
        domain = _split_domain(section, roles, domain_names)
        splits.append(SplitSpec(split_name, clips, part, share, balanced, roles, domain))
    splits = _resolve_shares(source, splits)
    views = _views(source, raw.get("views", {}), tuple(classes), tuple(s.name for s in splits))

    res = _Section(source, "resolution", raw.get("resolution", {}), ("chunks", "min_overlap"))
    chunks = res.get("chunks", list, [],
                     check=lambda v: all(isinstance(d, (int, float)) and not isinstance(d, bool)
                                         and 0 < d <= clip_duration for d in v) and len(set(v)) == len(v),
                     rule=f"must be a list of distinct chunk lengths in (0, {clip_duration}] s")
    min_overlap = res.get("min_overlap", float, 0.0, lambda v: 0 <= v, "must be >= 0 s")
    if chunks and min_overlap >= min(chunks):
        raise WlbenchError(f"{res.where('min_overlap')}: must be shorter than the shortest chunk ({min(chunks)} s), "
                           f"got {min_overlap}")

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
                  polyphony_max=polyphony_max, cooccurrence=cooccurrence, domains=domains, views=views,
                  resolution_chunks=tuple(sorted((float(c) for c in chunks), reverse=True)),
                  resolution_min_overlap=min_overlap,
                  resources=tuple(sorted(resources.items())) if cooccurrence else (),
                  pitch_shift=pitch_shift, cut_duration=cut_duration, quick_pitch_time=quick_pitch_time,
                  background_random_offset=background_random_offset, splits=tuple(splits),
                  segment_durations=tuple(float(d) for d in durations), features=features,
                  store_features=store_features, feature_dtype=feature_dtype, text=text, source=source)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cooccurrence(fg: _Section, source: str, base_dir: str | Path | None, resources: dict[str, str],
                  classes: list[str]) -> str:
    """Read ``foreground.cooccurrence`` (a path to DESED's event-occurrence JSON, or the same as an inline
    table) and return it as canonical JSON restricted to checks that name the field."""
    import json

    from wlbench.hashing import canonical_json

    if "cooccurrence" not in fg.table:
        return ""
    raw = fg.table["cooccurrence"]
    where = fg.where("cooccurrence")
    if isinstance(raw, str):
        if raw in resources:
            text = resources[raw]
        else:
            folder = Path(base_dir) if base_dir is not None else Path(source).parent
            path = folder / raw
            from wlbench.paths import read_text_input

            text = read_text_input(path, f"{where}: cannot read the file",
                                   hint="give a path relative to the recipe file")
            resources[raw] = text
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise WlbenchError(f"{where}: {raw!r} is not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or not raw:
        raise WlbenchError(f"{where}: expected DESED's format {{label: {{proba, co-occurences: {{max_events, "
                           f"classes, probas}}}}}} as a JSON file path or an inline table")
    table: dict[str, Any] = {}
    for label, entry in raw.items():
        if label not in classes:
            raise WlbenchError(f"{where}: class {label!r} is not in classes.names")
        if not isinstance(entry, dict) or not _is_number(entry.get("proba")) or entry["proba"] < 0:
            raise WlbenchError(f"{where}.{label}: needs a non-negative number 'proba'")
        co = entry.get("co-occurences", entry.get("co-occurrences", {}))
        if not isinstance(co, dict):
            raise WlbenchError(f"{where}.{label}.co-occurences: expected a table")
        names = co.get("classes", [])
        probas = co.get("probas", [])
        if (not isinstance(names, list) or not isinstance(probas, list) or len(names) != len(probas)
                or not all(n in classes for n in names) or not all(_is_number(p) and p >= 0 for p in probas)):
            raise WlbenchError(f"{where}.{label}.co-occurences: 'classes' (recipe classes) and 'probas' "
                               f"(non-negative numbers) must be lists of the same length")
        max_events = co.get("max_events", 0)
        if not isinstance(max_events, int) or isinstance(max_events, bool) or max_events < 0:
            raise WlbenchError(f"{where}.{label}.co-occurences.max_events: expected an integer >= 1")
        table[label] = {"proba": float(entry["proba"]), "max_events": max_events,
                        "classes": list(names), "probas": [float(p) for p in probas]}
    if sum(e["proba"] for e in table.values()) <= 0:
        raise WlbenchError(f"{where}: the class probabilities add up to 0")
    return canonical_json(table)


def _domains(source: str, raw: Any) -> tuple[DomainSpec, ...]:
    if not isinstance(raw, dict):
        raise WlbenchError(f"{source}: [domains] must hold [domains.<name>] tables")
    out = []
    for name, table in raw.items():
        section = _Section(source, f"domains.{name}", table,
                           ("backgrounds", "snr", "lowpass_hz", "highpass_hz", "gain_db"))
        if not name.replace("_", "").replace("-", "").isalnum():
            raise WlbenchError(f"{source}: domain name {name!r} must use letters, digits, '-' and '_' only")
        backgrounds = section.get("backgrounds", list, [],
                                  lambda v: all(isinstance(b, str) and b for b in v),
                                  "must be a list of background source folder names")
        snr = section.distribution("snr", None)
        if snr is not None and not (-30 <= snr.low and snr.high <= 60):
            raise WlbenchError(f"{section.where('snr')}: values must lie in [-30, 60] dB, got {snr.as_dict()}")
        lowpass = section.get("lowpass_hz", float, 0.0, lambda v: v >= 0, "must be >= 0 Hz (0: none)")
        highpass = section.get("highpass_hz", float, 0.0, lambda v: v >= 0, "must be >= 0 Hz (0: none)")
        gain = section.get("gain_db", float, 0.0, lambda v: -40 <= v <= 20, "must be in [-40, 20] dB")
        if lowpass and highpass and highpass >= lowpass:
            raise WlbenchError(f"{source}: domains.{name}: highpass_hz ({highpass}) must be below lowpass_hz "
                               f"({lowpass})")
        out.append(DomainSpec(name, tuple(backgrounds), snr, lowpass, highpass, gain))
    return tuple(out)


def _roles(section: _Section, clips: int) -> tuple[tuple[str, float], ...]:
    """``roles = {strong = .., weak = .., unlabeled = ..}``: all integers (clip counts adding up to ``clips``)
    or all numbers in [0, 1] adding up to 1 (fractions). Stored as fractions (so --scale keeps them)."""
    if "roles" not in section.table:
        return ()
    raw = section.get("roles", dict)
    where = section.where("roles")
    unknown = [k for k in raw if k not in ROLE_NAMES]
    if unknown:
        raise WlbenchError(f"{where}: unknown role {unknown[0]!r}; roles are {', '.join(ROLE_NAMES)}")
    if not raw or not all(_is_number(v) and v >= 0 for v in raw.values()):
        raise WlbenchError(f"{where}: expected non-negative clip counts or fractions per role, got {raw!r}")
    if all(isinstance(v, int) for v in raw.values()):
        if sum(raw.values()) != clips:
            raise WlbenchError(f"{where}: role counts add up to {sum(raw.values())}, the split has {clips} clips")
        fractions = {k: v / clips for k, v in raw.items()}
    else:
        if abs(sum(raw.values()) - 1.0) > 1e-6:
            raise WlbenchError(f"{where}: role fractions add up to {sum(raw.values()):g}; they must add up to 1")
        fractions = {k: float(v) for k, v in raw.items()}
    return tuple((r, fractions[r]) for r in ROLE_NAMES if r in fractions)


def _split_domain(section: _Section, roles: tuple[tuple[str, float], ...],
                  names: set[str]) -> tuple[tuple[str, str], ...]:
    """``domain = "name"`` (every clip) or ``domain = {strong = "synthetic", weak = "real", ...}``."""
    if "domain" not in section.table:
        return ()
    raw = section.get("domain", (str, dict))
    where = section.where("domain")
    pairs = {"*": raw} if isinstance(raw, str) else dict(raw)
    for role, name in pairs.items():
        if role != "*" and role not in dict(roles):
            raise WlbenchError(f"{where}: role {role!r} is not among this split's roles "
                               f"({', '.join(dict(roles)) or 'none: add splits.<name>.roles'})")
        if not isinstance(name, str) or name not in names:
            raise WlbenchError(f"{where}: unknown domain {name!r}; declare it as [domains.{name}] "
                               f"(known: {', '.join(sorted(names))})")
    return tuple(sorted(pairs.items()))


def _rate(value: Any, where: str) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        raise WlbenchError(f"{where}: a drop probability must be a number in [0, 1], got {value!r}")
    return float(value)


def _views(source: str, raw: Any, classes: tuple[str, ...], split_names: tuple[str, ...]) -> tuple[ViewSpec, ...]:
    """``[views.<name>]`` tables; ``rate = [0, 0.1, 0.2]`` expands into views ``<name>-0``, ``<name>-10``, ..."""
    if not isinstance(raw, dict):
        raise WlbenchError(f"{source}: [views] must hold [views.<name>] tables")
    out: list[ViewSpec] = []
    for name, table in raw.items():
        section = _Section(source, f"views.{name}", table,
                           ("rate", "class_rates", "by", "low", "high", "rate_low", "rate_high", "splits"))
        if not name.replace("_", "").replace("-", "").isalnum() or name == "true":
            raise WlbenchError(f"{source}: view name {name!r} must use letters, digits, '-' and '_' only "
                               f"(and not be 'true')")
        splits = section.get("splits", list, [], lambda v: all(s in split_names for s in v),
                             f"must list split names among {', '.join(split_names)}")
        rates_raw = section.table.get("rate", 0.0)
        ladder = isinstance(rates_raw, list)
        rates = [_rate(r, section.where("rate")) for r in (rates_raw if ladder else [rates_raw])]
        if ladder and (not rates or len(set(rates)) != len(rates)):
            raise WlbenchError(f"{section.where('rate')}: a ladder must list distinct rates")
        class_rates_raw = section.get("class_rates", dict, {})
        for cls, value in class_rates_raw.items():
            if cls not in classes:
                raise WlbenchError(f"{section.where('class_rates')}: {cls!r} is not in classes.names")
            _rate(value, f"{section.where('class_rates')}.{cls}")
        by = section.get("by", str, "", lambda v: v in VIEW_RULES, "must be 'snr', 'relative_snr' or 'duration'")
        rule = {}
        if by:
            for key in ("low", "high", "rate_low", "rate_high"):
                if key not in section.table:
                    raise WlbenchError(f"{section.where(key)} is required with by = {by!r}")
            rule = {"low": section.get("low", float), "high": section.get("high", float),
                    "rate_low": _rate(section.table["rate_low"], section.where("rate_low")),
                    "rate_high": _rate(section.table["rate_high"], section.where("rate_high"))}
            if not rule["low"] < rule["high"]:
                raise WlbenchError(f"{section.where('low')}: low ({rule['low']}) must be below high ({rule['high']})")
            if ladder or "rate" in section.table or class_rates_raw:
                raise WlbenchError(f"{source}: views.{name}: by = {by!r} sets the drop probability from "
                                   f"low/high/rate_low/rate_high; leave out rate and class_rates")
        for rate in rates:
            view_name = f"{name}-{round(rate * 100):g}" if ladder else name
            out.append(ViewSpec(view_name, name, tuple(splits), rate,
                                tuple(sorted((c, float(v)) for c, v in class_rates_raw.items())), by, **rule))
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise WlbenchError(f"{source}: [views] define the view name(s) "
                           f"{', '.join(sorted({n for n in names if names.count(n) > 1}))} twice")
    return tuple(out)


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
    from wlbench.paths import read_text_input

    path = Path(path)
    text = read_text_input(path, "recipe file", hint="a recipe is a TOML file; see datasets/*.toml for examples")
    return parse_recipe(text, source=str(path))
