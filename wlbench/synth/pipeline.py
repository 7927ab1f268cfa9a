"""Recipe + soundbank -> one HDF5 dataset file: plan, render in workers, derive labels, store atomically."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wlbench.atomic import check_output_path, human_bytes
from wlbench.errors import WlbenchError
from wlbench.interrupts import deferred_interrupts
from wlbench.labels import chunk_labels, frame_labels, weak_labels, window_labels
from wlbench.recipes import ROLE_NAMES, Recipe, parse_recipe
from wlbench.views import event_values, missing_label_view
from wlbench.soundbank import Soundbank
from wlbench.store import DatasetWriter, SplitShape, open_dataset, spec_id
from wlbench.synth.plan import ClipSpec, plan_dataset
from wlbench.synth.render import RenderedClip, RenderPool, RenderSettings


@dataclasses.dataclass(frozen=True)
class SynthResult:
    """What a render produced."""

    path: Path
    spec_id: str
    content_id: str
    clips: dict[str, int]
    seconds: float


def dataset_filename(recipe: Recipe) -> str:
    """``<name>.h5``, or ``<name>-scale<F>.h5`` for a scaled render."""
    return f"{recipe.name}.h5" if recipe.scale == 1.0 else f"{recipe.name}-scale{recipe.scale:g}.h5"


def render_settings(recipe: Recipe, bank: Soundbank) -> RenderSettings:
    folders = {(f.folder, f.label) for f in bank.foreground}
    return RenderSettings(bank_root=str(bank.root), sample_rate=recipe.sample_rate,
                          clip_duration=recipe.clip_duration, ref_db=recipe.ref_db,
                          fix_clipping=recipe.fix_clipping, quick_pitch_time=recipe.quick_pitch_time,
                          features=recipe.features, store_features=recipe.store_features,
                          feature_dtype=recipe.feature_dtype, store_audio=recipe.store_audio,
                          class_of_folder=tuple(sorted(folders)),
                          domain_eq=tuple((d.name, (d.lowpass_hz, d.highpass_hz, d.gain_db))
                                          for d in recipe.domains if d.has_eq))


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _provenance(recipe: Recipe, bank: Soundbank) -> dict[str, object]:
    return {
        "recipe": recipe.text, "recipe_source": recipe.source, "recipe_canonical": _canonical_text(recipe),
        "scale": recipe.scale, "seed": recipe.seed, "description": recipe.description,
        "soundbank_fingerprint": bank.fingerprint, "soundbank_path": str(bank.root),
        "soundbank_layout": bank.layout, "spec_id": spec_id(recipe.canonical(), bank.fingerprint),
        "scaper_version": _version("scaper"), "numpy_version": np.__version__,
        "h5py_version": _version("h5py"), "soundfile_version": _version("soundfile"),
        "recipe_resources": json.dumps(dict(recipe.resources), sort_keys=True),
    }


def _canonical_text(recipe: Recipe) -> str:
    from wlbench.hashing import canonical_json

    return canonical_json(recipe.canonical())


def _store_split_labels(writer: DatasetWriter, recipe: Recipe, split: str, n_clips: int, n_frames: int,
                        segment_starts: np.ndarray, specs: list[ClipSpec] | None = None) -> None:
    """Derive weak, frame and segment labels and the label conditions (views, chunk labels, roles, domains)
    from the events written for ``split``; close the split."""
    rows = writer.pending_events(split)
    clip = np.array([r[0] for r in rows], dtype=np.int64)
    label = np.array([r[1] for r in rows], dtype=np.int64)
    onset = np.array([r[2] for r in rows], dtype=np.float64)
    offset = np.array([r[3] for r in rows], dtype=np.float64)
    snr = np.array([r[4] for r in rows], dtype=np.float64)
    n_classes = len(recipe.classes)
    labels = {"weak_labels": weak_labels(clip, label, n_clips, n_classes)}
    if recipe.store_features:
        labels["frame_labels"] = frame_labels(clip, label, onset, offset, n_clips, n_classes, n_frames,
                                              recipe.features.frame_rate)
    segments = {duration: (segment_starts[:, k],
                           window_labels(clip, label, onset, offset, segment_starts[:, k], duration, n_classes))
                for k, duration in enumerate(recipe.segment_durations)}
    writer.end_split(split, labels, segments)
    truth = labels["weak_labels"]
    values = event_values(clip, label, snr, onset, offset, n_clips, n_classes)
    views = {}
    for view in recipe.views:
        if view.splits and split not in view.splits:
            continue
        observed, dropped = missing_label_view(view, truth, recipe.classes, recipe.seed, split, values)
        views[view.name] = (observed, dropped, view.rule())
    resolution = {chunk: (chunk_labels(clip, label, onset, offset, n_clips, n_classes, recipe.clip_duration, chunk,
                                       recipe.resolution_min_overlap), recipe.resolution_min_overlap)
                  for chunk in recipe.resolution_chunks}
    spec = recipe.split(split)
    roles = domains = requested = None
    if specs is not None and spec.roles:
        roles = np.array([ROLE_NAMES.index(s.role) for s in specs], dtype=np.uint8)
    if specs is not None and recipe.domains:
        domains = np.array([recipe.domain_names.index(s.domain) for s in specs], dtype=np.int16)
    if specs is not None and recipe.multi_event:
        requested = np.array([s.requested_events for s in specs], dtype=np.int16)
    writer.write_conditions(split, views, resolution, roles, ROLE_NAMES, domains, recipe.domain_names, requested)


def _write(path: Path, recipe: Recipe, bank: Soundbank, plans: dict[str, list[ClipSpec]],
           clip_streams: Callable[[str], Iterable[RenderedClip]], progress: bool) -> str:
    n_samples = int(round(recipe.clip_duration * recipe.sample_rate))
    n_frames = recipe.features.n_frames(n_samples)
    feature_attrs = recipe.features.as_dict() if recipe.store_features else None
    total = sum(len(p) for p in plans.values())
    with deferred_interrupts() as check_interrupt, DatasetWriter(path, name=recipe.name, classes=recipe.classes, sample_rate=recipe.sample_rate,
                       clip_duration=recipe.clip_duration, segment_durations=recipe.segment_durations,
                       feature_attrs=feature_attrs, feature_dtype=recipe.feature_dtype,
                       store_features=recipe.store_features, store_audio=recipe.store_audio,
                       provenance=_provenance(recipe, bank)) as writer, \
            tqdm(total=total, unit="clip", desc=f"rendering {recipe.name}", disable=not progress,
                 dynamic_ncols=True) as bar:
        for split, specs in plans.items():
            writer.begin_split(SplitShape(split, len(specs), n_frames, recipe.features.n_mels, n_samples,
                                          recipe.split(split).part))
            for index, clip in enumerate(clip_streams(split)):
                check_interrupt()
                writer.write_clip(split, index, clip.clip_id, clip.jams_text, clip.events, clip.features, clip.audio)
                bar.update(1)
            starts = np.array([spec.segment_starts for spec in specs], dtype=np.float64).reshape(
                len(specs), len(recipe.segment_durations))
            _store_split_labels(writer, recipe, split, len(specs), n_frames, starts, specs)
        return writer.commit()


# JAMS text, events, clip id and label arrays of one clip, stored compressed: generously
_CLIP_OVERHEAD_BYTES = 4096


def estimated_size(recipe: Recipe) -> int:
    """Upper bound of the dataset file's size in bytes, from the recipe alone (nothing is planned or read):
    features and audio as if uncompressed, plus 4 kB a clip for its JAMS, events and labels. Measured on a
    409-clip render of the tone bank: features are stored raw, audio compresses to 85 %, the rest is 2.7 kB
    a clip."""
    n_samples = int(round(recipe.clip_duration * recipe.sample_rate))
    per_clip = _CLIP_OVERHEAD_BYTES
    if recipe.store_features:
        per_clip += (recipe.features.n_frames(n_samples) * recipe.features.n_mels
                     * np.dtype(recipe.feature_dtype).itemsize)
    if recipe.store_audio:
        per_clip += n_samples * 4
    return per_clip * sum(split.clips for split in recipe.splits)


def prepare_output(recipe: Recipe, path: Path, echo: Callable[[str], None] | None = None) -> None:
    """Before any work: say how many clips and about how many bytes will be written to ``path``, and refuse
    a destination that cannot take them (see :func:`wlbench.atomic.check_output_path`)."""
    size = estimated_size(recipe)
    if echo is not None:
        clips = sum(split.clips for split in recipe.splits)
        echo(f"{path}: {clips} clips, at most about {human_bytes(size)}")
    check_output_path(path, expected_bytes=size)


def synthesize(recipe: Recipe, bank: Soundbank, out_dir: Path, workers: int = 1, progress: bool = True,
               filename: str | None = None, echo: Callable[[str], None] | None = None) -> SynthResult:
    """Render ``recipe`` from ``bank`` into ``out_dir/<name>.h5`` (atomically) and return its ids.

    The destination and the disk space are checked first (:func:`prepare_output`, which ``echo``es the
    expected size), before anything is planned or rendered."""
    started = time.perf_counter()
    path = Path(out_dir) / (filename or dataset_filename(recipe))
    prepare_output(recipe, path, echo)
    plans = plan_dataset(recipe, bank)
    settings = render_settings(recipe, bank)
    with RenderPool(settings, workers) as pool:
        content = _write(path, recipe, bank, plans, lambda split: pool.render(plans[split]), progress)
    return SynthResult(path=path, spec_id=spec_id(recipe.canonical(), bank.fingerprint), content_id=content,
                       clips={k: len(v) for k, v in plans.items()}, seconds=time.perf_counter() - started)


def rerender(dataset_path: Path, bank: Soundbank, out_path: Path, workers: int = 1,
             progress: bool = True) -> tuple[SynthResult, str]:
    """Re-render a stored dataset from its JAMS with scaper; returns the new result and the stored content id.

    Plans are rebuilt from the stored recipe (for segment windows), audio from each stored JAMS.
    """
    with open_dataset(dataset_path) as ds:
        resources = json.loads(ds.attr("recipe_resources", "{}") or "{}")
        recipe = parse_recipe(ds.recipe_text, source=f"{dataset_path}:recipe", resources=resources)
        scale = float(ds.attr("scale", 1.0))
        if scale != 1.0:
            recipe = recipe.scaled(scale)
        stored_content = ds.content_id
        if ds.attr("soundbank_fingerprint") != bank.fingerprint:
            raise WlbenchError(f"{dataset_path} was rendered from soundbank {ds.attr('soundbank_fingerprint')[:12]}, "
                               f"but {bank.root} has fingerprint {bank.fingerprint[:12]}",
                               hint="pass --soundbank with the bank it was rendered from")
        items = {name: [(cid, ds.split(name).jams(i)) for i, cid in enumerate(ds.split(name).clip_ids)]
                 for name in ds.splits}
    started = time.perf_counter()
    prepare_output(recipe, Path(out_path))
    plans = plan_dataset(recipe, bank)
    if recipe.domains:  # a domain's EQ is applied after scaper: hand each clip its domain
        items = {name: [item + (spec.domain,) for item, spec in zip(items[name], plans[name])] for name in items}
    settings = render_settings(recipe, bank)
    with RenderPool(settings, workers) as pool:
        content = _write(Path(out_path), recipe, bank, plans, lambda split: pool.rerender(items[split]), progress)
    result = SynthResult(path=Path(out_path), spec_id=spec_id(recipe.canonical(), bank.fingerprint),
                         content_id=content, clips={k: len(v) for k, v in plans.items()},
                         seconds=time.perf_counter() - started)
    return result, stored_content
