"""wlbench data in DESED's folder layout, both ways, so DESED_task (or any DCASE recipe) trains on a wlbench
condition and the reference baselines run on real DESED-layout data.

The layout (``ROOT``), one split per :func:`export_desed` call (calls for other splits add to it)::

    classes.txt                          every class of the dataset, one a line
    README.md                            what is where (rewritten by each call)
    audio/<split>/<clip id>.wav          32-bit float WAV, the dataset's sample rate, mono
    metadata/<split>/strong.tsv          filename onset offset event_label: the reference (merged, DCASE)
    metadata/<split>/weak.tsv            filename event_labels: true clip labels, comma-separated
    metadata/<split>/durations.tsv       filename duration: every clip
    metadata/<split>/classes.txt         classes.txt again (``score --truth metadata/<split>`` needs no flag)
    metadata/<split>/events.tsv          the source events, unmerged, in the dataset's order
    metadata/<split>/segments_<n>.tsv    filename start duration: each clip's window of a segment view
    metadata/<split>/weak_<view>.tsv     a missing-label view's observed labels (train on that condition)

The audio is the stored audio when the dataset stores it, else re-rendered with scaper from each clip's
stored JAMS (the soundbank it was rendered from is needed; the result is bit-identical to the audio synth
stores, tested). Float WAV keeps the samples exactly; soundfile, torchaudio and librosa read it.

:func:`import_desed` reads such a folder (or DESED's own: ``audio/<split>/*.wav`` with
``metadata/<split>/*.tsv``) into a wlbench dataset: log-mel features computed from the audio, events from
``events.tsv`` (else ``strong.tsv``), clip labels from the events (else ``weak.tsv``), segment views from
``segments_*.tsv``. A round trip export -> import gives the source's truth id when the dataset holds no
label views, chunk-label views, roles or domains (these are not carried by the files).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wlbench import HARNESS_VERSION
from wlbench.atomic import atomic_dir, ensure_writable_dir, write_text_atomic
from wlbench.errors import WlbenchError, plain
from wlbench.export import event_lines, label_lines, time_text, truth_tables

AUDIO_SUBTYPE = "FLOAT"  # 32-bit float WAV: the stored float32 samples, exactly
ROUNDING_STEP = 0.1  # s: DESED's durations are rounded down to 0.1 s, so a WAV may be up to this much longer


# --- out ---------------------------------------------------------------------------------------------

def rerendered_audio(ds, dataset_path: str | Path, split: str, bank) -> Iterator[tuple[str, np.ndarray]]:
    """(clip id, float32 audio) of every clip of ``split``, re-rendered from its stored JAMS with scaper and
    the soundbank ``bank`` it was rendered from (the recipe stored in the dataset gives the settings)."""
    from wlbench.recipes import parse_recipe
    from wlbench.synth.pipeline import render_settings
    from wlbench.synth.plan import plan_splits
    from wlbench.synth.render import rerender_clip

    if ds.attr("soundbank_fingerprint") != bank.fingerprint:
        raise WlbenchError(f"{dataset_path} was rendered from soundbank {str(ds.attr('soundbank_fingerprint'))[:12]}, "
                           f"but {bank.root} has fingerprint {bank.fingerprint[:12]}",
                           hint="pass --soundbank with the bank it was rendered from")
    resources = json.loads(ds.attr("recipe_resources", "{}") or "{}")
    recipe = parse_recipe(ds.recipe_text, source=f"{dataset_path}:recipe", resources=resources)
    scale = float(ds.attr("scale", 1.0))
    if scale != 1.0:
        recipe = recipe.scaled(scale)
    settings = dataclasses.replace(render_settings(recipe, bank), store_audio=True, store_features=False)
    planner = plan_splits(recipe, bank)[split] if recipe.domains else None
    sp = ds.split(split)
    jams = sp.group["jams"].asstr()
    for index, clip_id in enumerate(sp.clip_ids.tolist()):
        domain = planner.domain(index) if planner is not None else "default"
        yield clip_id, rerender_clip(clip_id, jams[index], settings, domain).audio


def _stored_audio(sp) -> Iterator[tuple[str, np.ndarray]]:
    audio = sp.group["audio"]
    for index, clip_id in enumerate(sp.clip_ids.tolist()):
        yield clip_id, np.asarray(audio[index], dtype=np.float32)


def stores_audio(dataset_path: str | Path, split: str) -> bool:
    """Whether ``split`` of the dataset stores its audio (else :func:`export_desed` re-renders it)."""
    from wlbench.dataset.reader import open_dataset

    with open_dataset(dataset_path) as ds:
        return "audio" in ds.split(split).group


def export_desed(dataset_path: str | Path, split: str, root: str | Path, *, bank=None,
                 force: bool = False) -> list[Path]:
    """Write ``split`` of the dataset into ``root`` in DESED's layout (module doc). ``bank``: the soundbank
    to re-render from when the dataset stores no audio. Refuses to replace the split's folders unless
    ``force``; each folder appears whole or not at all. Returns the written paths (folders and files)."""
    import soundfile

    from wlbench.dataset.reader import open_dataset
    from wlbench.scoring.truth import truth_from_dataset

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise WlbenchError(f"--out {root} exists and is not a directory", hint="give a directory")
    audio_dir, meta_dir = root / "audio" / split, root / "metadata" / split
    existing = [p for p in (audio_dir, meta_dir) if p.exists()]
    if existing and not force:
        raise WlbenchError(f"{existing[0]} exists; not replacing an exported split",
                           hint="choose another --out, or pass --force to replace it")
    with open_dataset(dataset_path) as ds:
        truth = truth_from_dataset(ds, dataset_path, split)
        sp = ds.split(split)
        sample_rate = int(ds.attr("sample_rate"))
        if "audio" in sp.group:
            clips, source = _stored_audio(sp), "the audio stored in the dataset"
        elif bank is None:
            raise WlbenchError(f"{dataset_path} stores no audio (rendered with audio.store_audio = false): "
                               "--audio re-renders it from the stored JAMS and needs the soundbank",
                               hint="pass --soundbank with the bank it was rendered from")
        else:
            clips, source = rerendered_audio(ds, dataset_path, split, bank), "re-rendered from the stored JAMS"
        ensure_writable_dir(root)
        with atomic_dir(audio_dir) as tmp:
            for clip_id, audio in clips:
                soundfile.write(tmp / f"{clip_id}.wav", audio, sample_rate, subtype=AUDIO_SUBTYPE)
        tables = truth_tables(truth)
        tables["classes.txt"] = list(truth.classes)  # so `score --truth metadata/<split>` needs no flag
        tables["events.tsv"] = event_lines(truth.events)
        for name in sp.segment_names:
            seg = sp.segment(name)
            tables[f"segments_{name}.tsv"] = ["filename\tstart\tduration"] + [
                f"{c}.wav\t{time_text(s)}\t{time_text(seg.duration)}" for c, s in zip(truth.clip_ids, seg.start)]
        views = sorted(sp.group.get("views", {}))
        for view in views:
            tables[f"weak_{view}.tsv"] = label_lines(truth.clip_ids, truth.classes, sp.labels(view))
    with atomic_dir(meta_dir) as tmp:
        for name, lines in tables.items():
            (tmp / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_text_atomic(root / "classes.txt", "\n".join(truth.classes) + "\n")
    splits = sorted(p.name for p in (root / "metadata").iterdir() if p.is_dir() and not p.name.startswith("."))
    write_text_atomic(root / "README.md", _readme(truth, dataset_path, splits, source, views))
    return [audio_dir, meta_dir, root / "classes.txt", root / "README.md"]


def _readme(truth, dataset_path, splits: Sequence[str], source: str, views: Sequence[str]) -> str:
    block = truth.source
    view_line = (f"- `weak_<view>.tsv`: the clip labels of a missing-label view ({', '.join(views)}); train on one "
                 "by giving it as the weak labels.\n" if views else "")
    return f"""# {block['name']} in DESED's layout

Written by wlbench {HARNESS_VERSION} (`wlbench export --audio`) from `{Path(dataset_path).name}`
(truth id `{block['truth_id']}`, content id `{block['content_id']}`). Splits: {', '.join(splits)}.
{len(truth.classes)} classes (classes.txt): {', '.join(truth.classes)}.

- `audio/<split>/<clip id>.wav`: 32-bit float WAV, mono (split {truth.split}: {source}).
- `metadata/<split>/strong.tsv`: the reference events, same-class overlaps merged (the DCASE convention);
  `events.tsv`: the source events as rendered (unmerged); `weak.tsv`: true clip labels; `durations.tsv`.
- `metadata/<split>/segments_<name>.tsv`: each clip's window of a segment view (filename, start, duration).
{view_line}- `metadata/<split>/classes.txt` repeats classes.txt. Times are written exactly. Score with
  `wlbench score --truth metadata/<split> SUBMISSION` or any DCASE tool; read back with `wlbench import desed`.
"""


# --- in ----------------------------------------------------------------------------------------------

def _read_table(path: Path, what: str) -> tuple[list[str], list[list[str]]]:
    """(header names, rows of fields) of a tab-separated metadata file."""
    from wlbench.paths import read_text_input

    lines = [line for line in read_text_input(path, what).splitlines() if line.strip()]
    if not lines:
        raise WlbenchError(f"{what} {path} is empty", hint="it needs a header line")
    return [n.strip() for n in lines[0].split("\t")], [[f.strip() for f in line.split("\t")] for line in lines[1:]]


def _event_rows(body: list[list[str]], at: list[int], path: Path) -> list[tuple[str, float, float, str]]:
    """(clip id, onset, offset, label) of every event row; a row holding only a filename (a clip without
    events) is skipped; a time that is not a number is one error naming the line."""
    rows = []
    for line, fields in enumerate(body, start=2):
        fields = fields + [""] * (max(at) + 1 - len(fields))
        name, on, off, label = (fields[k] for k in at)
        if not (on or off or label):
            continue
        try:
            rows.append((Path(name).stem, float(on), float(off), label))
        except ValueError:
            raise WlbenchError(f"{path}, line {line}: onset {on!r} / offset {off!r} are not numbers",
                               hint="write the times in seconds") from None
    return rows


def _column(header: list[str], name: str, path: Path) -> int:
    if name not in header:
        raise WlbenchError(f"{path}: no column {name!r} in the header {header}", hint=f"add a {name} column")
    return header.index(name)


def import_desed(root: str | Path, out: str | Path, *, name: str | None = None,
                 classes: Sequence[str] | None = None, pad: bool = False) -> Any:
    """Read a DESED-layout folder (module doc) into the wlbench dataset ``out`` (written atomically); returns
    the :class:`~wlbench.dataset.DatasetWriter` (``truth_id``, ``split_truth_ids``, ``content_id``). Every
    split under ``metadata/`` with a ``durations.tsv`` is read. ``classes``: default ``classes.txt``, else
    the labels of the annotations.

    A wlbench dataset holds clips of one duration: clips of different listed durations are refused unless
    ``pad`` (shorter clips are zero-padded to the longest; counted in the attribute ``import_padded_clips``).
    A WAV must hold its listed duration (rounded to samples), or up to one DESED rounding step (0.1 s) more:
    durations rounded down are cut to the listed duration (``import_cut_clips``). Events sticking out of their
    clip are fitted to it by the tolerance policy (:mod:`wlbench.submissions.tolerance`; counted in
    ``import_events_clipped`` / ``import_events_dropped``). Every WAV must be mono, at one sample rate."""
    import soundfile

    from wlbench.dataset.labels import frame_labels, weak_labels, window_labels
    from wlbench.dataset.writer import DatasetWriter, SplitShape
    from wlbench.features import LogMelParams, log_mel
    from wlbench.paths import read_text_input
    from wlbench.scoring.truth import read_durations
    from wlbench.submissions.tolerance import ClipFit

    root = Path(root)
    meta = root / "metadata"
    splits = sorted(p.name for p in meta.iterdir() if (p / "durations.tsv").is_file()) if meta.is_dir() else []
    if not splits:
        raise WlbenchError(f"{root} holds no metadata/<split>/durations.tsv",
                           hint="give the root of a DESED-layout folder (audio/<split>/, metadata/<split>/)")
    data: dict[str, dict[str, Any]] = {}
    for split in splits:
        ids, durations = read_durations(meta / split / "durations.tsv")
        events_path = next((meta / split / n for n in ("events.tsv", "strong.tsv") if (meta / split / n).is_file()),
                           None)
        rows: list[tuple[str, float, float, str]] = []
        if events_path is not None:
            header, body = _read_table(events_path, "events file")
            at = [_column(header, c, events_path) for c in ("filename", "onset", "offset", "event_label")]
            rows = _event_rows(body, at, events_path)
        weak_rows: dict[str, list[str]] = {}
        if events_path is None and (meta / split / "weak.tsv").is_file():
            header, body = _read_table(meta / split / "weak.tsv", "weak labels file")
            at_f, at_l = (_column(header, c, meta / split / "weak.tsv") for c in ("filename", "event_labels"))
            weak_rows = {Path(r[at_f]).stem: [x for x in (r[at_l] if len(r) > at_l else "").split(",") if x]
                         for r in body}
        segments = []
        for seg_path in sorted((meta / split).glob("segments_*.tsv")):
            header, body = _read_table(seg_path, "segment file")
            at_f, at_s, at_d = (_column(header, c, seg_path) for c in ("filename", "start", "duration"))
            starts = {Path(r[at_f]).stem: float(r[at_s]) for r in body}
            segments.append((float(body[0][at_d]) if body else 0.0, np.array([starts[c] for c in ids], np.float64)))
        data[split] = {"ids": ids, "durations": durations, "rows": rows, "weak": weak_rows, "segments": segments}
    if classes is None:
        if (root / "classes.txt").is_file():
            classes = [c.strip() for c in read_text_input(root / "classes.txt", "class list").splitlines() if c.strip()]
        else:
            classes = sorted({r[3] for d in data.values() for r in d["rows"]}
                             | {c for d in data.values() for labels in d["weak"].values() for c in labels})
    classes = list(classes)
    all_durations = {float(v) for d in data.values() for v in d["durations"]}
    if len(all_durations) != 1 and not pad:
        raise WlbenchError(f"{root}: clips of {len(all_durations)} different durations "
                           f"({', '.join(plain(v) for v in sorted(all_durations)[:5])} s); a wlbench dataset holds "
                           "clips of one duration", hint="pass --pad to zero-pad shorter clips to the longest")
    clip_duration = max(all_durations)
    fit = ClipFit("events")
    counts = {"import_padded_clips": 0, "import_cut_clips": 0}
    seg_durations = sorted({s for d in data.values() for s, _ in d["segments"]})
    sample_rate = None
    out = Path(out)
    for split in splits:
        for cid in data[split]["ids"][:1]:
            sample_rate = soundfile.info(str(root / "audio" / split / f"{cid}.wav")).samplerate
    params = LogMelParams(sample_rate=int(sample_rate))
    n_samples = int(round(clip_duration * params.sample_rate))
    n_frames = params.n_frames(n_samples)
    class_index = {c: j for j, c in enumerate(classes)}
    provenance: dict[str, Any] = {"spec_id": "imported", "imported_from": str(root), "import": "wlbench import desed"}
    writer = DatasetWriter(out, name=name or root.name, classes=tuple(classes), sample_rate=params.sample_rate,
                           clip_duration=clip_duration, segment_durations=tuple(seg_durations),
                           feature_attrs=params.as_dict(), feature_dtype="float32", store_features=True,
                           store_audio=False, provenance=provenance)
    with writer:
        for split in splits:
            d = data[split]
            ids = d["ids"]
            index = {c: i for i, c in enumerate(ids)}
            events_of: dict[str, list[tuple]] = {c: [] for c in ids}
            for cid, a, b, label in d["rows"]:
                if cid not in index or label not in class_index:
                    raise WlbenchError(f"{split}: event of clip {cid!r}, label {label!r}: "
                                       + ("not in durations.tsv" if cid not in index else "not a class"),
                                       hint="list every clip in durations.tsv and every class in classes.txt")
                if a > b:
                    raise WlbenchError(f"{split}: event of clip {cid!r} has onset {plain(a)} > offset {plain(b)}")
                fitted = fit.fit(a, b, float(d["durations"][index[cid]]))
                if fitted is not None:
                    events_of[cid].append((label, *fitted, float("nan"), "", float("nan"), float("nan")))
            writer.begin_split(SplitShape(split, len(ids), n_frames, params.n_mels, n_samples, "imported"))
            for i, cid in enumerate(ids):
                wav = root / "audio" / split / f"{cid}.wav"
                audio, sr = soundfile.read(str(wav), dtype="float32", always_2d=True)
                if audio.shape[1] != 1:
                    raise WlbenchError(f"{wav}: {audio.shape[1]} channels; wlbench datasets are mono",
                                       hint="mix the audio down to one channel first")
                listed = int(round(float(d["durations"][i]) * params.sample_rate))
                if sr != params.sample_rate or not listed <= audio.shape[0] < listed + ROUNDING_STEP * sr:
                    raise WlbenchError(f"{wav}: {audio.shape[0]} samples at {sr} Hz; durations.tsv lists "
                                       f"{plain(float(d['durations'][i]))} s ({listed} samples at "
                                       f"{params.sample_rate} Hz)", hint="resample the audio, or list its duration")
                counts["import_cut_clips"] += int(audio.shape[0] > listed)
                counts["import_padded_clips"] += int(listed < n_samples)
                audio = np.pad(audio[:listed], ((0, n_samples - listed), (0, 0)))
                features = log_mel(audio[:, 0].astype(np.float64), params).astype(np.float32)
                writer.write_clip(split, i, cid, "{}", events_of[cid], features, None)
            pending = writer.pending_events(split)
            clip = np.array([r[0] for r in pending], dtype=np.int64)
            label = np.array([r[1] for r in pending], dtype=np.int64)
            onset = np.array([r[2] for r in pending], dtype=np.float64)
            offset = np.array([r[3] for r in pending], dtype=np.float64)
            if d["weak"]:
                weak = np.zeros((len(ids), len(classes)), dtype=np.uint8)
                for cid, labels in d["weak"].items():
                    unknown = [c for c in labels if c not in class_index]
                    if cid not in index or unknown:
                        raise WlbenchError(f"{split}/weak.tsv: clip {cid!r}: " + ("not in durations.tsv" if cid not in
                                           index else f"labels {unknown} are not classes"),
                                           hint="list every clip in durations.tsv and every class in classes.txt")
                    weak[index[cid], [class_index[c] for c in labels]] = 1
            else:
                weak = weak_labels(clip, label, len(ids), len(classes))
            labels = {"weak_labels": weak,
                      "frame_labels": frame_labels(clip, label, onset, offset, n_clips=len(ids), n_classes=len(classes), n_frames=n_frames,
                                                   frame_rate=params.frame_rate)}
            segments = {s: (starts, window_labels(clip, label, onset, offset, window_start=starts, window_length=s, n_classes=len(classes)))
                        for s, starts in d["segments"]}
            writer.end_split(split, labels, segments)
        provenance.update(counts, import_events_clipped=fit.clipped, import_events_dropped=fit.dropped)
        writer.commit()
    return writer
