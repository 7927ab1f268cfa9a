"""Recipe + soundbank -> one HDF5 dataset file: plan, render in workers, derive labels, store atomically."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wlbench.atomic import atomic_dir, check_output_path, human_bytes, remove_temporaries
from wlbench.dataset.ids import spec_id
from wlbench.dataset.labels import chunk_labels, frame_labels, weak_labels, window_labels
from wlbench.dataset.reader import open_dataset
from wlbench.dataset.shards import INDEX_NAME, plan_shards, sharded_folder_name
from wlbench.dataset.writer import ClipLayout, DatasetWriter, SplitShape
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_json
from wlbench.interrupts import deferred_interrupts
from wlbench.recipes import ROLE_NAMES, Recipe, parse_recipe
from wlbench.soundbank import Soundbank
from wlbench.synth.executors import DaskExecutor, LocalExecutor
from wlbench.synth.jobs import BlockJob, RenderContext, RerenderJob, ShardJob, ShardTarget
from wlbench.synth.plan import SplitPlanner, domain_of, plan_splits
from wlbench.synth.render import RenderSettings
from wlbench.synth.views import event_values, missing_label_view


@dataclasses.dataclass(frozen=True)
class SynthResult:
    """What a render produced."""

    path: Path
    spec_id: str
    content_id: str
    clips: dict[str, int]
    seconds: float
    truth_id: str = ""  # the dataset's truth id
    split_truth_ids: dict[str, str] = dataclasses.field(default_factory=dict)
    executor: str = ""  # where it was rendered ("2 local workers", "Dask (...)")


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


def _store_split_labels(writer: DatasetWriter, recipe: Recipe, planner: SplitPlanner, n_frames: int,
                        segment_starts: np.ndarray, requested_events: np.ndarray) -> None:
    """Derive weak, frame and segment labels and the label conditions (views, chunk labels, roles, domains)
    from the events written for the planner's split; close the split. A sharded index leaves the frame
    labels to the shards."""
    split, n_clips = planner.name, len(planner)
    rows = writer.pending_events(split)
    clip = np.array([r[0] for r in rows], dtype=np.int64)
    label = np.array([r[1] for r in rows], dtype=np.int64)
    onset = np.array([r[2] for r in rows], dtype=np.float64)
    offset = np.array([r[3] for r in rows], dtype=np.float64)
    snr = np.array([r[4] for r in rows], dtype=np.float64)
    n_classes = len(recipe.classes)
    labels = {"weak_labels": weak_labels(clip, label, n_clips, n_classes)}
    if recipe.store_features and not writer.sharded:
        labels["frame_labels"] = frame_labels(clip, label, onset, offset, n_clips=n_clips, n_classes=n_classes, n_frames=n_frames,
                                              frame_rate=recipe.features.frame_rate)
    segments = {duration: (segment_starts[:, k],
                           window_labels(clip, label, onset, offset, window_start=segment_starts[:, k], window_length=duration, n_classes=n_classes))
                for k, duration in enumerate(recipe.segment_durations)}
    writer.end_split(split, labels, segments)
    truth = labels["weak_labels"]
    values = event_values(clip, label, snr, onset, offset, n_clips=n_clips, n_classes=n_classes)
    views = {}
    for view in recipe.views:
        if view.splits and split not in view.splits:
            continue
        observed, dropped = missing_label_view(view, truth, recipe.classes, recipe.seed, split, values)
        views[view.name] = (observed, dropped, view.rule())
    resolution = {chunk: (chunk_labels(clip, label, onset, offset, n_clips=n_clips, n_classes=n_classes, clip_duration=recipe.clip_duration, chunk=chunk,
                                       min_overlap=recipe.resolution_min_overlap), recipe.resolution_min_overlap)
                  for chunk in recipe.resolution_chunks}
    spec = recipe.split(split)
    roles = domains = requested = None
    if spec.roles:
        roles = np.array([ROLE_NAMES.index(r) for r in planner.role_names], dtype=np.uint8)[planner.role_codes]
    if recipe.domains:
        codes = [recipe.domain_names.index(domain_of(spec, r)) for r in planner.role_names]
        domains = np.array(codes, dtype=np.int16)[planner.role_codes]
    if recipe.multi_event:
        requested = requested_events
    writer.write_conditions(split, views=views, resolution=resolution, roles=roles, role_names=ROLE_NAMES, domains=domains, domain_names=recipe.domain_names, requested_events=requested)


def _render_jobs(planners: dict[str, SplitPlanner], clips_per_job: int) -> Iterator[BlockJob]:
    for name, planner in planners.items():
        for first in range(0, len(planner), clips_per_job):
            yield BlockJob(name, first, min(first + clips_per_job, len(planner)))


def _clips_per_job(total: int, slots: int) -> int:
    """Clips per returned job: up to 8, fewer when the dataset is small (every worker gets several jobs)."""
    return max(1, min(8, total // max(1, slots * 8)))


def _write(path: Path, recipe: Recipe, bank: Soundbank, planners: dict[str, SplitPlanner], executor,
           jobs: Iterable, window: int, progress: bool, sharded: bool = False,
           extra_provenance: dict[str, object] | None = None) -> tuple[str, str, dict[str, str]]:
    """Run the render jobs and store every split; returns (content id, truth id, split truth ids)."""
    n_samples = int(round(recipe.clip_duration * recipe.sample_rate))
    n_frames = recipe.features.n_frames(n_samples)
    feature_attrs = recipe.features.as_dict() if recipe.store_features else None
    total = sum(len(p) for p in planners.values())
    n_segments = len(recipe.segment_durations)
    starts = {name: np.zeros((len(p), n_segments), dtype=np.float64) for name, p in planners.items()}
    requested = {name: np.ones(len(p), dtype=np.int16) for name, p in planners.items()}
    done = dict.fromkeys(planners, 0)
    with deferred_interrupts() as check_interrupt, DatasetWriter(
            path, name=recipe.name, classes=recipe.classes, sample_rate=recipe.sample_rate,
            clip_duration=recipe.clip_duration, segment_durations=recipe.segment_durations,
            feature_attrs=feature_attrs, feature_dtype=recipe.feature_dtype, store_features=recipe.store_features,
            store_audio=recipe.store_audio, provenance={**_provenance(recipe, bank), **(extra_provenance or {})},
            sharded=sharded) as writer, \
            tqdm(total=total, unit="clip", desc=f"rendering {recipe.name}", disable=not progress,
                 dynamic_ncols=True) as bar:
        for name, planner in planners.items():
            writer.begin_split(SplitShape(name, len(planner), n_frames, recipe.features.n_mels, n_samples,
                                          planner.spec.part))
        for pieces in executor.map_ordered(jobs, window):
            check_interrupt()
            for piece in pieces:
                for k, clip in enumerate(piece.clips):
                    index = piece.first + k
                    writer.write_clip(piece.split, index, clip.clip_id, clip.jams_text, clip.events, clip.features,
                                      clip.audio)
                    starts[piece.split][index] = clip.segment_starts
                    requested[piece.split][index] = clip.requested_events
                if piece.shard_rows is not None:
                    writer.add_shard_rows(piece.shard_rows)
                done[piece.split] += len(piece.clips)
                bar.update(len(piece.clips))
                if done[piece.split] == len(planners[piece.split]):
                    _store_split_labels(writer, recipe, planners[piece.split], n_frames, starts[piece.split],
                                        requested[piece.split])
        unfinished = [name for name, count in done.items() if count != len(planners[name])]
        if unfinished:
            raise ValueError(f"splits {unfinished} were not rendered completely")  # a programming error
        content = writer.commit()
        return content, writer.truth_id, writer.split_truth_ids


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


def prepare_output(recipe: Recipe, path: Path, echo: Callable[[str], None] | None = None, *,
                   directory: bool = False) -> None:
    """Before any work: say how many clips and about how many bytes will be written to ``path`` (a file, or
    with ``directory`` the folder of a sharded dataset), and refuse a destination that cannot take them (see
    :func:`wlbench.atomic.check_output_path`)."""
    size = estimated_size(recipe)
    if echo is not None:
        clips = sum(split.clips for split in recipe.splits)
        echo(f"{path}: {clips} clips, at most about {human_bytes(size)}")
    check_output_path(path, directory=directory, expected_bytes=size)


def synthesize(recipe: Recipe, bank: Soundbank, out_dir: Path, workers: int = 1, progress: bool = True,
               filename: str | None = None, echo: Callable[[str], None] | None = None, *,
               executor: LocalExecutor | DaskExecutor | None = None, shards: int | None = None) -> SynthResult:
    """Render ``recipe`` from ``bank`` into ``out_dir/<name>.h5`` (atomically) and return its ids.

    ``executor`` runs the render jobs (default: :class:`LocalExecutor` with ``workers`` processes; a
    :class:`DaskExecutor` renders on a Dask cluster). With ``shards=N`` the dataset is written as the folder
    ``out_dir/<name>.shards/`` (``index.h5`` and N shard files written by the workers themselves, see
    :mod:`wlbench.dataset.shards`); ``SynthResult.path`` is then the index file. The output, and so every id, is
    the same for any executor, number of workers and number of shards.

    The destination and the disk space are checked first (:func:`prepare_output`, which ``echo``es the
    expected size), before anything is planned or rendered."""
    started = time.perf_counter()
    name = filename or dataset_filename(recipe)
    executor = executor if executor is not None else LocalExecutor(workers)
    settings = render_settings(recipe, bank)
    if shards is None:
        path = Path(out_dir) / name
        prepare_output(recipe, path, echo)
        planners = plan_splits(recipe, bank)
        with executor:
            where = executor.describe()
            block = _clips_per_job(sum(len(p) for p in planners.values()), executor.slots)
            window = 4 * executor.slots
            executor.start(RenderContext(settings, planners, bank.fingerprint), window=window, clips_per_job=block)
            content, truth, split_truths = _write(path, recipe, bank, planners, executor,
                                                  _render_jobs(planners, block), window, progress)
    else:
        folder = Path(out_dir) / sharded_folder_name(Path(name).stem)
        prepare_output(recipe, folder, echo, directory=True)
        planners = plan_splits(recipe, bank)
        layout = plan_shards({n: len(p) for n, p in planners.items()}, shards)
        spec = spec_id(recipe.canonical(), bank.fingerprint)
        token = hash_json({"spec_id": spec, "shards": [[[p.split, p.first, p.stop] for p in parts]
                                                        for parts in layout]})
        with atomic_dir(folder) as staging, executor:  # the workers stop before a failed staging folder goes
            where = executor.describe()
            target = ShardTarget(folder=str(Path(staging).resolve()), token=token,
                                 layout=ClipLayout(len(recipe.classes), recipe.feature_dtype,
                                                   recipe.features.as_dict() if recipe.store_features else {},
                                                   recipe.store_features, recipe.store_audio),
                                 shapes=_split_shapes(recipe, planners), classes=recipe.classes,
                                 frame_rate=recipe.features.frame_rate)
            executor.start(RenderContext(settings, planners, bank.fingerprint, target))
            jobs = [ShardJob(k, len(layout), parts) for k, parts in enumerate(layout)]
            content, truth, split_truths = _write(Path(staging) / INDEX_NAME, recipe, bank, planners, executor,
                                                  jobs, 2 * executor.slots, progress, sharded=True,
                                                  extra_provenance={"shard_token": token})
            remove_temporaries(Path(staging))  # of jobs whose worker died and that ran again elsewhere
        path = folder / INDEX_NAME
    return SynthResult(path=path, spec_id=spec_id(recipe.canonical(), bank.fingerprint), content_id=content,
                       clips={k: len(v) for k, v in planners.items()}, seconds=time.perf_counter() - started,
                       truth_id=truth, split_truth_ids=split_truths, executor=where)


def _split_shapes(recipe: Recipe, planners: dict[str, SplitPlanner]) -> dict[str, SplitShape]:
    n_samples = int(round(recipe.clip_duration * recipe.sample_rate))
    return {name: SplitShape(name, len(p), recipe.features.n_frames(n_samples), recipe.features.n_mels, n_samples,
                             p.spec.part) for name, p in planners.items()}


def rerender(dataset_path: Path, bank: Soundbank, out_path: Path, workers: int = 1,
             progress: bool = True) -> tuple[SynthResult, str]:
    """Re-render a stored dataset from its JAMS with scaper; returns the new result and the stored file's
    content id, recomputed (a file modified after it was written is refused, naming ``wlbench verify``).

    Plans are rebuilt from the stored recipe (for segment windows and domains), audio from each stored JAMS.
    """
    from wlbench.dataset.ids import compute_content_id

    with open_dataset(dataset_path) as ds:
        resources = json.loads(ds.attr("recipe_resources", "{}") or "{}")
        recipe = parse_recipe(ds.recipe_text, source=f"{dataset_path}:recipe", resources=resources)
        scale = float(ds.attr("scale", 1.0))
        if scale != 1.0:
            recipe = recipe.scaled(scale)
        if ds.attr("soundbank_fingerprint") != bank.fingerprint:
            raise WlbenchError(f"{dataset_path} was rendered from soundbank {ds.attr('soundbank_fingerprint')[:12]}, "
                               f"but {bank.root} has fingerprint {bank.fingerprint[:12]}",
                               hint="pass --soundbank with the bank it was rendered from")
        stored_content = compute_content_id(ds.handle)
        if stored_content != ds.content_id:
            raise WlbenchError(f"{dataset_path} was modified after it was written (stored content id "
                               f"{ds.content_id[:16]}..., recomputed {stored_content[:16]}...); there is nothing "
                               "to compare a re-render with", hint=f"run `wlbench verify {dataset_path}`")
        items = {name: list(zip(ds.split(name).clip_ids.tolist(), ds.split(name).group["jams"].asstr()[:]))
                 for name in ds.splits}
    started = time.perf_counter()
    prepare_output(recipe, Path(out_path))
    planners = plan_splits(recipe, bank)
    executor = LocalExecutor(workers)
    with executor:
        block = _clips_per_job(sum(len(p) for p in planners.values()), executor.slots)
        window = 4 * executor.slots
        executor.start(RenderContext(render_settings(recipe, bank), planners, bank.fingerprint), window=window,
                       clips_per_job=block)
        jobs = (RerenderJob(name, first, tuple(items[name][first:first + block]))
                for name in planners for first in range(0, len(planners[name]), block))
        content, truth, split_truths = _write(Path(out_path), recipe, bank, planners, executor, jobs, window,
                                              progress)
    result = SynthResult(path=Path(out_path), spec_id=spec_id(recipe.canonical(), bank.fingerprint),
                         content_id=content, clips={k: len(v) for k, v in planners.items()},
                         seconds=time.perf_counter() - started, truth_id=truth, split_truth_ids=split_truths)
    return result, stored_content
