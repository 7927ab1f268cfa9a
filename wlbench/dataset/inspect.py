"""Summaries and integrity checks of stored datasets (``wlbench info`` and ``wlbench verify``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wlbench.dataset.ids import compute_content_id, compute_split_truth_id, dataset_truth_id
from wlbench.dataset.labels import polyphony
from wlbench.dataset.layout import attr_value
from wlbench.dataset.reader import Dataset, Split, open_dataset, opened
from wlbench.errors import WlbenchError


def condition_summary(split: Split, classes: list[str]) -> dict[str, Any]:
    """Label views (positives kept/dropped per class), chunk-label views, polyphony, roles and domains."""
    cols = split.event_arrays()
    n = len(split)
    poly = polyphony(cols["clip_index"], cols["onset"], cols["offset"], n)
    truth = split.weak_labels()
    views = {}
    for name in split.view_names:
        view = split.label_view(name)
        observed, dropped = view.labels(), view.dropped()
        positives = int(truth.sum())
        views[name] = {
            "rule": view.rule, "positives": positives, "kept": int(observed.sum()), "dropped": int(dropped.sum()),
            "drop_rate": float(dropped.sum() / positives) if positives else 0.0,
            "per_class": {cls: {"kept": int(observed[:, k].sum()), "dropped": int(dropped[:, k].sum())}
                          for k, cls in enumerate(classes)},
        }
    resolution = {}
    for name in split.resolution_names:
        res = split.resolution(name)
        labels = res.labels()
        resolution[name] = {"chunk": res.chunk, "min_overlap": res.min_overlap, "chunks_per_clip": int(labels.shape[1]),
                            "positives": int(labels.sum()),
                            "positives_per_chunk": float(labels.sum(axis=2).mean()) if labels.size else 0.0}
    roles, role_names = split.roles(), split.role_names
    domains, domain_names = split.domains(), split.domain_names
    out: dict[str, Any] = {
        "polyphony": {"max": int(poly.max()) if n else 0,
                      "clips_by_polyphony": {str(k): int(v) for k, v in enumerate(np.bincount(poly)) if v}},
        "views": views, "resolution": resolution,
        "roles": ({r: int((roles == k).sum()) for k, r in enumerate(role_names)} if "roles" in split.group else None),
        "domains": ({d: int((domains == k).sum()) for k, d in enumerate(domain_names) if (domains == k).any()}
                    if "domain" in split.group else None),
    }
    if "roles" in split.group and "domain" in split.group:
        out["role_domains"] = {f"{role_names[r]}/{domain_names[d]}": int(((roles == r) & (domains == d)).sum())
                               for r in np.unique(roles) for d in np.unique(domains)
                               if ((roles == r) & (domains == d)).any()}
    if "requested_events" in split.group:
        requested = split.group["requested_events"][:]
        placed = np.bincount(cols["clip_index"], minlength=n)
        out["events_left_out_by_cap"] = int((requested - placed).sum())
    return out


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"n": 0}
    return {"n": int(values.size), "min": float(values.min()), "median": float(np.median(values)),
            "max": float(values.max()), "mean": float(values.mean())}


def dataset_summary(path: str | Path) -> dict[str, Any]:
    """Ids, provenance and, per split: clips per class, event duration / SNR statistics, segment views.
    Raises :class:`~wlbench.errors.WlbenchError` when the file is damaged."""
    try:
        return _summary(path)
    except (OSError, RuntimeError, KeyError) as exc:  # h5py's errors for damaged or incomplete files
        raise WlbenchError(f"{path}: cannot read the dataset ({type(exc).__name__}: {exc})",
                           hint="run `wlbench verify` on it, or render it again") from exc


# splits shown in the order a study uses them; any other split follows in stored order
SPLIT_ORDER = ("train", "validation", "eval")


def ordered_splits(names: list[str]) -> list[str]:
    """``names`` as train, validation, eval first (those present), then the others in their own order."""
    return [n for n in SPLIT_ORDER if n in names] + [n for n in names if n not in SPLIT_ORDER]


def _domains(ds) -> list[dict[str, Any]] | None:
    """Each acoustic domain of the stored recipe: backgrounds, SNR, EQ (low-pass, high-pass, gain); None when
    the recipe defines none (one default domain) or cannot be read back."""
    import json

    from wlbench.recipes import parse_recipe

    try:
        resources = json.loads(ds.attr("recipe_resources", "{}") or "{}")
        recipe = parse_recipe(ds.recipe_text, source=f"{ds.path}:recipe", resources=resources)
    except (WlbenchError, ValueError, TypeError):
        return None
    if not recipe.domains:
        return None
    out = []
    for name in recipe.domain_names:
        d = recipe.domain(name)
        out.append({"name": name, "backgrounds": list(d.backgrounds) or "all of the split's part",
                    "snr": (d.snr or recipe.snr).as_dict(), "snr_from": "domain" if d.snr else "foreground",
                    "lowpass_hz": d.lowpass_hz, "highpass_hz": d.highpass_hz, "gain_db": d.gain_db})
    return out


def _rates(ds, split_names: list[str]) -> dict[str, Any]:
    """Audio sample rate, and (when features are stored) the feature parameters and frame rate: the frame
    labels are stored at the feature hop."""
    out: dict[str, Any] = {"audio_sample_rate": ds.attr("sample_rate"), "clip_duration": ds.attr("clip_duration")}
    for name in split_names:
        group = ds.handle[name]
        if "features" in group:
            params = {k: attr_value(v) for k, v in group["features"].attrs.items()}
            rate = params["sample_rate"] / params["hop_length"] if params.get("hop_length") else None
            out["features"] = {**params, "frame_rate": rate, "frames_per_clip": int(group["features"].shape[1])}
            out["frame_label_rate"] = rate
            break
    return out


def _summary(path: str | Path) -> dict[str, Any]:
    with open_dataset(path, check_truth=False) as ds:
        truths = {name: compute_split_truth_id(ds.handle, name) for name in ds.splits}
        stored = {name: ds.handle[name].attrs.get("truth_id") for name in ds.splits}
        out: dict[str, Any] = {
            "path": str(path), "name": ds.name, "classes": ds.classes, "content_id": ds.content_id,
            "truth_id": dataset_truth_id(truths), "split_truth_ids": truths,
            "truth_ids_edited": sorted(n for n, v in stored.items() if v is not None and v != truths[n]),
            "spec_id": ds.spec_id, "seed": ds.attr("seed"), "scale": ds.attr("scale"),
            "soundbank_fingerprint": ds.attr("soundbank_fingerprint"),
            "versions": {k: ds.attr(f"{k}_version") for k in ("wlbench", "scaper", "numpy", "h5py")},
            "created_utc": ds.attr("created_utc"), "shards": ds.attr("shard_files"),
            "rates": _rates(ds, ordered_splits(ds.splits)), "domain_specs": _domains(ds), "splits": {},
            "warnings": [],
        }
        for name in ordered_splits(ds.splits):
            split = ds.split(name)
            weak = split.weak_labels()
            cols = split.event_arrays()
            durations = cols["offset"] - cols["onset"]
            per_class = {}
            for k, cls in enumerate(ds.classes):
                mask = cols["label_index"] == k
                per_class[cls] = {"clips": int(weak[:, k].sum()), "event_duration": _stats(durations[mask]),
                                  "snr": _stats(cols["snr"][mask])}
            out["splits"][name] = {
                "clips": len(split), "part": split.part, "events": int(durations.size),
                "events_per_clip": _stats(np.bincount(cols["clip_index"], minlength=len(split)).astype(float)),
                "event_duration": _stats(durations), "snr": _stats(cols["snr"]), "per_class": per_class,
                "segments": {seg: {"duration": split.segment(seg).duration,
                                   "positives": int(split.segment(seg).weak_labels().sum())}
                             for seg in split.segment_names},
                "stored": sorted(k for k in split.group if isinstance(split.group[k], h5py.Dataset)),
                **condition_summary(split, ds.classes),
            }
            empty = [cls for cls, row in per_class.items() if row["clips"] == 0]
            if empty:
                out["warnings"].append(f"split {name!r}: {len(empty)} class(es) with 0 clips: {', '.join(empty)} "
                                       "(no positive to learn or score them on)")
        return out


@dataclasses.dataclass
class Verification:
    """Result of :func:`verify_dataset`: ``problems`` empty means the file is sound."""

    path: Path
    stored_content_id: str
    computed_content_id: str | None
    problems: list[str]
    truth_id: str | None = None  # recomputed dataset truth id
    split_truth_ids: dict[str, str] = dataclasses.field(default_factory=dict)  # recomputed, per split

    @property
    def ok(self) -> bool:
        return not self.problems


def _schema_problems(ds: Dataset) -> list[str]:
    problems: list[str] = []
    n_classes = len(ds.classes)
    for attr in ("spec_id", "recipe", "soundbank_fingerprint"):  # provenance; what readers need: dataset_schema
        if attr not in ds.handle.attrs:
            problems.append(f"root attribute {attr!r} is missing")
    for name in ds.splits:
        problems.extend(_split_problems(ds.handle[name], name, n_classes))
    return problems


def _split_problems(group: h5py.Group, name: str, n_classes: int) -> list[str]:
    """Content problems of one split group (its structure was checked when the file was opened, see
    :mod:`wlbench.dataset.schema`): event indices in range, onsets before offsets, weak labels that follow
    from the events, label views consistent with the truth."""
    problems: list[str] = []
    n = group["clip_ids"].shape[0]
    events = group["events"]
    clip_index, label_index = events["clip_index"][:], events["label_index"][:]
    onset, offset = events["onset"][:], events["offset"][:]
    if clip_index.size and (clip_index.min() < 0 or clip_index.max() >= n):
        problems.append(f"/{name}/events/clip_index has values outside [0, {n})")
    if label_index.size and (label_index.min() < 0 or label_index.max() >= n_classes):
        problems.append(f"/{name}/events/label_index has values outside [0, {n_classes})")
    bad = np.flatnonzero(~(onset < offset))
    if bad.size:
        problems.append(f"/{name}/events row {int(bad[0])}: onset >= offset ({bad.size} rows)")
    weak = group["weak_labels"][:]
    if clip_index.size and not problems:
        derived = np.zeros_like(weak)
        derived[clip_index, label_index] = 1
        if not np.array_equal(derived, weak):
            problems.append(f"/{name}/weak_labels disagree with /{name}/events")
    problems.extend(_condition_problems(group, name, weak))
    return problems


def _condition_problems(group: h5py.Group, name: str, weak: np.ndarray) -> list[str]:
    """Label views never add a positive and record exactly what they dropped; roles/domains fit the split."""
    problems = []
    for view in group.get("views", {}):
        observed, dropped = group["views"][view]["labels"][:], group["views"][view]["dropped"][:]
        if ((observed == 1) & (weak == 0)).any():
            problems.append(f"/{name}/views/{view}/labels holds positives the true labels lack")
        elif not np.array_equal(dropped.astype(np.int16), weak.astype(np.int16) - observed):
            problems.append(f"/{name}/views/{view}/dropped is not the difference of truth and view")
    for res in group.get("resolution", {}):
        labels = group["resolution"][res]["labels"]
        if labels.shape[1] and (labels[:].max(axis=1) > weak).any():
            problems.append(f"/{name}/resolution/{res}/labels holds a class its clip lacks")
    for key in ("roles", "domain"):
        if key in group:
            values = group[key][:]
            names = group[key].attrs.get("names", [])
            if values.size and (values.min() < 0 or values.max() >= len(names)):
                problems.append(f"/{name}/{key} must hold codes indexing its 'names' attribute")
    return problems


def _truth_problems(ds: Dataset, computed: dict[str, str]) -> list[str]:
    """Stored truth ids (per split and for the dataset) that differ from the recomputed ones. A file written
    before truth ids were stored has none; its content id check covers its labels."""
    problems = []
    for name, truth in computed.items():
        stored = ds.handle[name].attrs.get("truth_id")
        if stored is not None and stored != truth:
            problems.append(f"truth id mismatch in split {name!r}: stored {str(stored)[:16]}..., computed "
                            f"{truth[:16]}... (its labels were modified after the file was written)")
    stored_root = ds.attr("truth_id")
    if stored_root is not None and stored_root != dataset_truth_id(computed):
        problems.append(f"root truth id mismatch: stored {str(stored_root)[:16]}..., computed "
                        f"{dataset_truth_id(computed)[:16]}...")
    return problems


def verify_dataset(dataset: Dataset | str | Path) -> Verification:
    """Check the content and recompute the truth ids and the content id of ``dataset`` (open, or a file). Never
    raises for content problems (they are listed); raises :class:`~wlbench.errors.WlbenchError` when the file
    is not a readable wlbench dataset (its structure is checked when it is opened, see
    :mod:`wlbench.dataset.schema`)."""
    with opened(dataset, check_truth=False) as ds:
        checking, ds.check_truth = ds.check_truth, False  # problems are listed here, not raised
        try:
            return _verify(ds)
        finally:
            ds.check_truth = checking


def _verify(ds: Dataset) -> Verification:
    path = ds.path
    stored = ds.content_id
    try:
        problems = _schema_problems(ds)
        truths = {name: compute_split_truth_id(ds.handle, name) for name in ds.splits}
        problems += _truth_problems(ds, truths)
        computed = compute_content_id(ds.handle)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # h5py's errors for damaged bytes
        return Verification(Path(path), stored, None,
                            [f"unreadable data ({type(exc).__name__}: {exc}); the file is damaged"])
    if computed != stored:
        problems.append(f"content id mismatch: stored {stored[:16]}..., computed {computed[:16]}... "
                        f"(the file was modified after it was written)")
    return Verification(Path(path), stored, computed, problems,
                        dataset_truth_id(truths) if truths else None, truths)
