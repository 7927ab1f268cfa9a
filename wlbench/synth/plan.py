"""Plan a dataset: one deterministic :class:`ClipSpec` per clip, before any audio is rendered.

Planning is pure: the same recipe and soundbank give the same specs, whatever renders them. wlbench
draws every value (file, offsets, onset, SNR, pitch, cut position, segment windows) and scaper only
mixes constants.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.recipes import Recipe, SplitSpec
from wlbench.soundbank import Soundbank, SoundFile
from wlbench.synth.seeding import clip_rng, scaper_seed, split_rng


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """One foreground event. Times in seconds; paths relative to the soundbank root."""

    label: str
    source_file: str
    folder: str
    scaper_root: str
    source_time: float
    onset: float
    duration: float
    snr: float
    pitch_shift: float | None

    @property
    def offset(self) -> float:
        return self.onset + self.duration


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one clip; ``segment_starts[k]`` is the start (s) of the window of
    ``recipe.segment_durations[k]``."""

    split: str
    index: int
    clip_id: str
    background_file: str
    background_folder: str
    background_root: str
    background_source_time: float
    events: tuple[EventSpec, ...]
    segment_starts: tuple[float, ...]
    scaper_seed: int
    role: str = ""               # "strong" | "weak" | "unlabeled"; "" when the split has no roles
    domain: str = "default"      # acoustic domain (recipe [domains.<name>])
    requested_events: int = 1    # events drawn for the clip; len(events) is lower when the polyphony cap
                                 # left no room for some of them


def clip_id(split: str, index: int) -> str:
    """The id of clip ``index`` of ``split`` (also its file stem in submissions)."""
    return f"{split}_{index:06d}"


def _relative(bank: Soundbank, path) -> str:
    return _relative_to(bank.root, path)


@functools.lru_cache(maxsize=4096)
def _relative_to(root, path) -> str:
    """Posix path of ``path`` under ``root`` (cached: pathlib costs ~50 us a call, planned twice per clip)."""
    return path.relative_to(root).as_posix() if path != root else "."


def assign_source_groups(recipe: Recipe, bank: Soundbank) -> dict[str, dict[str, list[SoundFile]]]:
    """Foreground files available to each split, by class.

    Splits that draw from the same soundbank part receive disjoint sets of source groups (files of one
    group, e.g. one author, stay in one split), in proportion to their shares, class by class as far as
    groups allow. Raises if a split ends up with no file for a class it needs.
    """
    result: dict[str, dict[str, list[SoundFile]]] = {s.name: defaultdict(list) for s in recipe.splits}
    for part in dict.fromkeys(s.part for s in recipe.splits):
        splits = [s for s in recipe.splits if s.part == part]
        files = [f for f in bank.foreground if f.part == part and f.label in recipe.classes]
        if not files:
            raise WlbenchError(f"soundbank {bank.root} has no foreground files of the recipe's classes in its "
                               f"{part!r} part (parts found: {', '.join(bank.parts) or 'none'})",
                               hint=f"add a {part}/foreground/<class>/ folder or point the splits at another part")
        groups: dict[str, list[SoundFile]] = defaultdict(list)
        for f in files:
            groups[f.group].append(f)
        names = sorted(groups)
        order = split_rng(recipe.seed, f"part:{part}", "groups").permutation(len(names))
        class_index = {c: i for i, c in enumerate(recipe.classes)}
        class_totals = np.zeros(len(recipe.classes))
        for f in files:
            class_totals[class_index[f.label]] += 1
        shares = np.array([s.share for s in splits])
        assigned = np.zeros((len(splits), len(recipe.classes)))
        # Greedy: each group goes to the split furthest below its target share for the group's classes.
        for g in order:
            members = groups[names[g]]
            counts = np.zeros(len(recipe.classes))
            for f in members:
                counts[class_index[f.label]] += 1
            mask = counts > 0
            deficit = (shares[:, None] * class_totals[None, mask] - assigned[:, mask]) / class_totals[None, mask]
            target = int(np.argmax(deficit.sum(axis=1) / shares))
            if len(splits) > 1 and shares.sum() < 1 - 1e-9 and deficit[target].sum() <= 0:
                continue  # share left unused on purpose (shares add up to < 1)
            assigned[target] += counts
            for f in members:
                result[splits[target].name][f.label].append(f)
    for spec in recipe.splits:
        missing = [c for c in recipe.classes if not result[spec.name][c]]
        if missing:
            raise WlbenchError(
                f"split {spec.name!r} gets no foreground file for class(es) {', '.join(missing)} from the "
                f"{spec.part!r} part of soundbank {bank.root}",
                hint="add files of those classes (with distinct source groups) or lower the number of splits "
                     "sharing that part")
        for c in recipe.classes:
            result[spec.name][c].sort(key=lambda f: f.relpath)
    return {name: dict(by_class) for name, by_class in result.items()}


def _class_sequence(recipe: Recipe, spec: SplitSpec) -> np.ndarray:
    """Class index of every clip of the split (of its first event): balanced (counts differ by at most 1) and
    shuffled; with a co-occurrence table, drawn with the table's class probabilities instead."""
    rng = split_rng(recipe.seed, spec.name, "classes")
    n_classes = len(recipe.classes)
    table = recipe.cooccurrence_table()
    if table is not None:
        proba = np.array([table.get(c, {}).get("proba", 0.0) for c in recipe.classes], dtype=np.float64)
        return rng.choice(n_classes, size=spec.clips, p=proba / proba.sum())
    if spec.balanced:
        sequence = np.arange(spec.clips) % n_classes
        return sequence[rng.permutation(spec.clips)]
    return rng.integers(0, n_classes, size=spec.clips)


def _file_sequence(recipe: Recipe, spec: SplitSpec, classes: np.ndarray,
                   files: dict[str, list[SoundFile]]) -> np.ndarray:
    """Foreground file of every clip, as an index into the split's files of all classes in recipe class
    order (:meth:`SplitPlanner.foreground_pool`): each class cycles through a shuffled list of its files, so
    every file is used before any is repeated."""
    chosen = np.full(spec.clips, -1, dtype=np.int64)
    offset = 0
    for c, label in enumerate(recipe.classes):
        pool = files[label]
        positions = np.flatnonzero(classes == c)
        if positions.size:
            rng = split_rng(recipe.seed, f"{spec.name}:{label}", "foreground_file")
            order = np.concatenate([rng.permutation(len(pool)) for _ in range(-(-positions.size // len(pool)))])
            chosen[positions] = offset + order[:positions.size]
        offset += len(pool)
    return chosen


def _fit(value: float, limit: float, start: float) -> float:
    """Largest duration <= value such that start + duration <= limit holds exactly in floating point."""
    value = min(value, limit - start)
    while start + value > limit:
        value = float(np.nextafter(value, 0.0))
    return value


def segment_window(onset: float, offset: float, length: float, clip_duration: float, u: float) -> float:
    """Start of a window of ``length`` s holding the event [onset, offset), or part of it when the event is
    longer; ``u`` in [0, 1) places it uniformly among the admissible starts. Windows stay inside the clip."""
    if length >= clip_duration:
        return 0.0
    if offset - onset >= length:
        low, high = onset, offset - length
    else:
        low, high = max(0.0, offset - length), min(onset, clip_duration - length)
    low, high = min(low, clip_duration - length), min(high, clip_duration - length)
    return float(low + u * max(0.0, high - low))


def _event(recipe: Recipe, bank: Soundbank, foreground: SoundFile, onset: float, snr: float,
           pitch: float | None, cut_u: float) -> EventSpec:
    if recipe.cut_duration > 0 and foreground.duration > recipe.cut_duration:
        source_time = float(cut_u * (foreground.duration - recipe.cut_duration))
        wanted = recipe.cut_duration
    else:
        source_time, wanted = 0.0, foreground.duration
    duration = _fit(_fit(wanted, foreground.duration, source_time), recipe.clip_duration, onset)
    return EventSpec(label=foreground.label, source_file=foreground.relpath, folder=foreground.folder,
                     scaper_root=_relative(bank, foreground.scaper_root), source_time=source_time, onset=onset,
                     duration=duration, snr=snr, pitch_shift=pitch)


def max_polyphony(intervals: list[tuple[float, float]]) -> int:
    """Largest number of half-open intervals [onset, offset) active at one time."""
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])  # ends sort first
    active = best = 0
    for _, step in points:
        active += step
        best = max(best, active)
    return best


# Tries at placing one extra event inside the polyphony cap before it is left out of the clip.
PLACEMENT_TRIES = 100


def _extra_events(recipe: Recipe, bank: Soundbank, split: str, index: int, first: EventSpec, first_class: int,
                  files: dict[str, list[SoundFile]], snr_dist) -> tuple[tuple[EventSpec, ...], int]:
    """Events 2..n of a multi-event clip: number, classes (co-occurrence weights), files, onsets inside the
    polyphony cap, SNRs, pitch. Returns (all events, number requested)."""
    seed = recipe.seed
    n = int(round(recipe.events_per_clip.sample(clip_rng(seed, split, index, "n_events"))))
    n = min(max(n, 1), recipe.max_events)
    n_classes = len(recipe.classes)
    weights = np.full(n_classes, 1.0 / n_classes)
    table = recipe.cooccurrence_table()
    if table is not None:
        entry = table.get(recipe.classes[first_class], {})
        if entry.get("max_events"):
            n = min(n, int(entry["max_events"]))
        if entry.get("classes") and sum(entry["probas"]) > 0:
            weights = np.zeros(n_classes)
            for name, proba in zip(entry["classes"], entry["probas"]):
                weights[recipe.classes.index(name)] += proba
            weights /= weights.sum()
    class_rng = clip_rng(seed, split, index, "event_classes")
    rng = clip_rng(seed, split, index, "extra_events")
    events = [first]
    for _ in range(n - 1):
        label = recipe.classes[int(class_rng.choice(n_classes, p=weights))]
        pool = files[label]
        foreground = pool[int(rng.integers(len(pool)))]
        snr = snr_dist.sample(rng)
        pitch = None if recipe.pitch_shift is None else recipe.pitch_shift.sample(rng)
        cut_u = rng.random()
        for _ in range(PLACEMENT_TRIES):
            event = _event(recipe, bank, foreground, recipe.onset.sample(rng), snr, pitch, cut_u)
            intervals = [(e.onset, e.offset) for e in events] + [(event.onset, event.offset)]
            if not recipe.polyphony_max or max_polyphony(intervals) <= recipe.polyphony_max:
                events.append(event)
                break
    return tuple(events), n


def plan_clip(recipe: Recipe, bank: Soundbank, split: str, index: int, *, foreground: SoundFile,
              backgrounds: list[SoundFile], files: dict[str, list[SoundFile]] | None = None, role: str = "",
              domain: str = "default") -> ClipSpec:
    """The spec of one clip, from its own named random streams."""
    seed = recipe.seed
    domain_spec = recipe.domain(domain)
    if domain_spec.backgrounds:
        backgrounds = [b for b in backgrounds if b.folder in domain_spec.backgrounds]
    snr_dist = domain_spec.snr or recipe.snr
    bg_rng = clip_rng(seed, split, index, "background")
    background = backgrounds[int(bg_rng.integers(len(backgrounds)))]
    spare = background.duration - recipe.clip_duration
    bg_offset = float(bg_rng.random() * spare) if (recipe.background_random_offset and spare > 0) else 0.0

    onset = recipe.onset.sample(clip_rng(seed, split, index, "onset"))
    snr = snr_dist.sample(clip_rng(seed, split, index, "snr"))
    pitch = None if recipe.pitch_shift is None else recipe.pitch_shift.sample(clip_rng(seed, split, index,
                                                                                       "pitch_shift"))
    cut_u = clip_rng(seed, split, index, "cut").random()
    event = _event(recipe, bank, foreground, onset, snr, pitch, cut_u)
    seg_rng = clip_rng(seed, split, index, "segments")
    if not recipe.multi_event:
        events, requested = (event,), 1
        starts = tuple(segment_window(event.onset, event.offset, length, recipe.clip_duration, seg_rng.random())
                       for length in recipe.segment_durations)
    else:
        assert files is not None
        events, requested = _extra_events(recipe, bank, split, index, event, recipe.classes.index(foreground.label),
                                          files, snr_dist)
        # Multi-event clips: each window is placed around one event chosen uniformly from the clip's events.
        starts = []
        for length in recipe.segment_durations:
            chosen = events[int(seg_rng.integers(len(events)))]
            starts.append(segment_window(chosen.onset, chosen.offset, length, recipe.clip_duration,
                                         seg_rng.random()))
        starts = tuple(starts)
    return ClipSpec(split=split, index=index, clip_id=clip_id(split, index), background_file=background.relpath,
                    background_folder=background.folder,
                    background_root=_relative(bank, background.scaper_root), background_source_time=bg_offset,
                    events=events, segment_starts=starts, scaper_seed=scaper_seed(seed, split, index), role=role,
                    domain=domain, requested_events=requested)


def _role_codes(recipe: Recipe, spec: SplitSpec) -> np.ndarray:
    """Index into ``spec.roles`` of every clip's role: counts from the role fractions (largest remainder),
    positions from a seeded permutation."""
    fractions = np.array([f for _, f in spec.roles])
    exact = fractions * spec.clips
    counts = np.floor(exact + 1e-9).astype(int)
    for k in np.argsort(-(exact - counts), kind="stable")[: spec.clips - counts.sum()]:
        counts[k] += 1
    order = split_rng(recipe.seed, spec.name, "roles").permutation(spec.clips)
    codes = np.zeros(spec.clips, dtype=np.int8)
    position = 0
    for k, count in enumerate(counts):
        codes[order[position:position + count]] = k
        position += count
    return codes


def domain_of(spec: SplitSpec, role: str) -> str:
    """The domain of a clip of ``spec`` with ``role`` (see ``splits.<name>.domain``)."""
    mapping = dict(spec.domain)
    return mapping.get(role, mapping.get("*", "default"))


@dataclasses.dataclass(frozen=True)
class SplitPlanner:
    """The split-level draws of one split, from which the spec of any clip follows alone (:meth:`clip`).

    Built once by :func:`plan_splits` (small arrays: a foreground file index and a role code per clip);
    workers receive it and plan the clips they render, so the parent never builds a spec per clip. Pure:
    ``clip(i)`` is the same whoever calls it, in any order."""

    recipe: Recipe
    bank: Soundbank
    spec: SplitSpec
    files: dict[str, list[SoundFile]]   # foreground files available to the split, by class
    backgrounds: tuple[SoundFile, ...]
    foreground: np.ndarray             # (N,) index into foreground_pool
    role_codes: np.ndarray             # (N,) index into role_names ("" when the split has no roles)
    role_names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    def __len__(self) -> int:
        return self.spec.clips

    @property
    def foreground_pool(self) -> list[SoundFile]:
        return [f for label in self.recipe.classes for f in self.files[label]]

    def role(self, index: int) -> str:
        return self.role_names[int(self.role_codes[index])]

    def domain(self, index: int) -> str:
        return domain_of(self.spec, self.role(index))

    def clip(self, index: int) -> ClipSpec:
        """The spec of clip ``index`` (0 <= index < N)."""
        if not 0 <= index < self.spec.clips:
            raise IndexError(f"split {self.spec.name!r} has no clip {index}")
        pool = self._pool
        return plan_clip(self.recipe, self.bank, self.spec.name, index, foreground=pool[int(self.foreground[index])],
                         backgrounds=list(self.backgrounds), files=self.files, role=self.role(index), domain=self.domain(index))

    @functools.cached_property
    def _pool(self) -> list[SoundFile]:
        return self.foreground_pool

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_pool", None)  # rebuilt where it is needed
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def plan_splits(recipe: Recipe, bank: Soundbank) -> dict[str, SplitPlanner]:
    """The split-level draws of every split (in split order), checked against the soundbank: everything a
    worker needs to plan any clip (:meth:`SplitPlanner.clip`)."""
    missing = [c for c in recipe.classes if c not in bank.classes]
    if missing:
        raise WlbenchError(f"soundbank {bank.root} has no foreground files for recipe class(es) "
                           f"{', '.join(missing)} (it has: {', '.join(bank.classes) or 'none'})",
                           hint="add foreground/<class>/ folders or remove the classes from the recipe")
    files = assign_source_groups(recipe, bank)
    planners: dict[str, SplitPlanner] = {}
    for spec in recipe.splits:
        backgrounds = bank.background_files(spec.part)
        if not backgrounds:
            raise WlbenchError(f"soundbank {bank.root} has no background files in its {spec.part!r} part",
                               hint=f"add {spec.part}/background/<source>/*.wav")
        if spec.roles:
            role_codes, role_names = _role_codes(recipe, spec), tuple(role for role, _ in spec.roles)
        else:
            role_codes, role_names = np.zeros(spec.clips, dtype=np.int8), ("",)
        for name in dict.fromkeys(domain_of(spec, role) for role in role_names):
            wanted = recipe.domain(name).backgrounds
            if wanted and not [b for b in backgrounds if b.folder in wanted]:
                raise WlbenchError(f"domain {name!r} (split {spec.name!r}) allows background sources "
                                   f"{', '.join(wanted)}, but the {spec.part!r} part of soundbank {bank.root} has "
                                   f"none of them (it has {', '.join(sorted({b.folder for b in backgrounds}))})",
                                   hint=f"fix domains.{name}.backgrounds")
        classes = _class_sequence(recipe, spec)
        foreground = _file_sequence(recipe, spec, classes, files[spec.name])
        planners[spec.name] = SplitPlanner(recipe=recipe, bank=bank, spec=spec, files=files[spec.name],
                                           backgrounds=tuple(backgrounds), foreground=foreground,
                                           role_codes=role_codes, role_names=role_names)
    return planners


def plan_dataset(recipe: Recipe, bank: Soundbank) -> dict[str, list[ClipSpec]]:
    """Specs of every clip of every split, in split order then clip order."""
    return {name: [planner.clip(i) for i in range(len(planner))]
            for name, planner in plan_splits(recipe, bank).items()}
