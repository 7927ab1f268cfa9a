"""The structure a dataset file must have before anything reads it, checked from metadata alone.

:func:`structure_problems` reads names, attributes and shapes (never the arrays), so every
:func:`wlbench.dataset.open_dataset` runs it: a file missing a member (``/eval/events/onset``), or holding
only the format attributes, is refused at open with one message naming each missing member, instead of a
``KeyError`` deep inside the command that first needs it. Content checks that read the data (labels
agree with events, views never add a positive, the content id) are ``wlbench verify``'s
(:mod:`wlbench.dataset.inspect`). The layout itself is documented in docs/format.md.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import h5py

from wlbench.dataset.layout import EVENT_COLUMNS, SHARD_FORMAT, attr_value
from wlbench.paths import describe, file_kind

# Root attributes every reader needs, with a check of their value.
ROOT_ATTRS: dict[str, tuple[str, Any]] = {
    "name": ("a string", lambda v: isinstance(v, str)),
    "classes": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v)),
    "sample_rate": ("a positive number", lambda v: isinstance(v, numbers.Real) and float(v) > 0),
    "clip_duration": ("a positive number", lambda v: isinstance(v, numbers.Real) and float(v) > 0),
    "content_id": ("a string", lambda v: isinstance(v, str)),
}
SPLIT_DATASETS = ("clip_ids", "jams", "weak_labels")
SPLIT_GROUPS = ("events", "segments")


def _value(raw: Any) -> Any:
    return attr_value(raw)


def _member(group: h5py.Group, name: str, kind: type) -> h5py.Dataset | h5py.Group | None:
    """``group[name]`` if it is a ``kind`` (h5py.Dataset or h5py.Group), else None."""
    item = group.get(name)
    return item if isinstance(item, kind) else None


def _shape(problems: list[str], where: str, item: h5py.Dataset, expected: tuple) -> None:
    """``expected`` holds ints (must match) and None (any length)."""
    shape = item.shape
    if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
        wanted = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        problems.append(f"{where} has shape {shape}, expected {wanted}")


def _attrs(problems: list[str], where: str, item: h5py.HLObject, names: tuple[str, ...]) -> None:
    problems.extend(f"{where} lacks its {name!r} attribute" for name in names if name not in item.attrs)


def _views(problems: list[str], group: h5py.Group, path: str, kind: str, members: dict[str, tuple],
           attrs: tuple[str, ...]) -> None:
    """Each sub-group of ``group[kind]`` must hold ``members`` (name -> expected shape) and ``attrs``."""
    views = group.get(kind)
    if views is None:
        return
    if not isinstance(views, h5py.Group):
        problems.append(f"{path}/{kind} is not a group")
        return
    for name in views:
        view = _member(views, name, h5py.Group)
        where = f"{path}/{kind}/{name}"
        if view is None:
            problems.append(f"{where} is not a group")
            continue
        _attrs(problems, where, view, attrs)
        for member, shape in members.items():
            item = _member(view, member, h5py.Dataset)
            if item is None:
                problems.append(f"{where}/{member} is missing")
            else:
                _shape(problems, f"{where}/{member}", item, shape)


def split_problems(group: h5py.Group, path: str, n_classes: int) -> list[str]:
    """Structure problems of one split group at ``path`` (e.g. ``/eval``)."""

    problems = [f"{path}/{name} is missing" for name in SPLIT_DATASETS if _member(group, name, h5py.Dataset) is None]
    problems += [f"{path}/{name} is missing" for name in SPLIT_GROUPS if _member(group, name, h5py.Group) is None]
    if problems:
        return problems
    n = group["clip_ids"].shape[0] if group["clip_ids"].ndim == 1 else None
    _shape(problems, f"{path}/clip_ids", group["clip_ids"], (None,))
    _shape(problems, f"{path}/jams", group["jams"], (n,))
    _shape(problems, f"{path}/weak_labels", group["weak_labels"], (n, n_classes))
    events = group["events"]
    lengths = {}
    for column in EVENT_COLUMNS:
        item = _member(events, column, h5py.Dataset)
        if item is None:
            problems.append(f"{path}/events/{column} is missing")
        elif item.ndim != 1:
            problems.append(f"{path}/events/{column} has shape {item.shape}, expected one column")
        else:
            lengths[column] = item.shape[0]
    if len(set(lengths.values())) > 1:
        problems.append(f"{path}/events columns differ in length: {lengths}")
    features = group.get("features")
    if features is not None:
        if not isinstance(features, h5py.Dataset) or features.ndim != 3:
            problems.append(f"{path}/features must be an (N, T, F) array")
        else:
            _shape(problems, f"{path}/features", features, (n, None, None))
            _attrs(problems, f"{path}/features", features, ("sample_rate", "hop_length"))
            frames = group.get("frame_labels")
            if isinstance(frames, h5py.Dataset):
                _shape(problems, f"{path}/frame_labels", frames, (n, features.shape[1], n_classes))
    _views(problems, group, path, "segments", {"start": (n,), "weak_labels": (n, n_classes)}, ("duration",))
    _views(problems, group, path, "views", {"labels": (n, n_classes), "dropped": (n, n_classes)}, ("rule",))
    _views(problems, group, path, "resolution", {"labels": (n, None, n_classes)}, ("chunk", "min_overlap"))
    for key, shape, attrs in (("audio", (n, None), ()), ("roles", (n,), ("names",)), ("domain", (n,), ("names",)),
                              ("requested_events", (n,), ())):
        item = group.get(key)
        if item is None:
            continue
        if not isinstance(item, h5py.Dataset):
            problems.append(f"{path}/{key} is not an array")
            continue
        _shape(problems, f"{path}/{key}", item, shape)
        _attrs(problems, f"{path}/{key}", item, attrs)
    return problems


def structure_problems(handle: h5py.File) -> list[str]:
    """Every structure problem of an open dataset file (an empty list: every reader finds what it needs).

    Checks the root attributes of :data:`ROOT_ATTRS`, at least one split group, and in each split the
    members :mod:`wlbench.dataset` reads, with shapes that agree (N clips, C classes), and for a sharded index
    its shard files (:func:`shard_problems`). Reads no array."""
    problems = []
    for name, (what, ok) in ROOT_ATTRS.items():
        if name not in handle.attrs:
            problems.append(f"root attribute {name!r} is missing")
        elif not ok(_value(handle.attrs[name])):
            problems.append(f"root attribute {name!r} must be {what}")
    splits = [name for name in handle if isinstance(handle[name], h5py.Group)]
    if not splits:
        problems.append("no split group")
    classes = _value(handle.attrs["classes"]) if "classes" in handle.attrs else []
    n_classes = len(classes) if isinstance(classes, list) else 0
    for name in splits:
        problems += split_problems(handle[name], f"/{name}", n_classes)
    return problems + shard_problems(handle)


def _describe_source(index_dir: Path, file_name: str) -> Path:
    return Path(file_name) if os.path.isabs(file_name) else index_dir / file_name


def shard_problems(handle: h5py.File) -> list[str]:
    """Problems of the shards of an open sharded index (an empty list for a single file): every shard file
    the index names must exist, be a wlbench shard of this render (same ``shard_token``) and hold each
    mapped member with the mapped shape. Reads metadata only."""
    if "shard_files" not in handle.attrs:
        return []
    index_dir = Path(handle.filename).absolute().parent  # where HDF5 looks: beside the name opened, links kept
    token = attr_value(handle.attrs.get("shard_token", ""))
    problems: list[str] = []
    opened: dict[str, h5py.File | None] = {}
    try:
        for name in attr_value(handle.attrs["shard_files"]):
            path = _describe_source(index_dir, str(name))
            if not path.is_file():
                kind = file_kind(path)
                problems.append(f"shard {name} is missing (expected at {path})" if kind == "missing" else
                                f"shard {name} at {path} is {describe(kind)}, not a shard file")
                opened[str(name)] = None
                continue
            try:
                shard = h5py.File(path, "r")
            except OSError as exc:
                problems.append(f"shard {name} is not a readable HDF5 file ({exc})")
                opened[str(name)] = None
                continue
            opened[str(name)] = shard
            if attr_value(shard.attrs.get("format")) != SHARD_FORMAT:
                problems.append(f"shard {name} is not a wlbench shard")
            elif attr_value(shard.attrs.get("shard_token")) != token:
                problems.append(f"shard {name} belongs to another render (shard token differs)")
        datasets: list[str] = []
        handle.visititems(lambda n, obj: datasets.append(n) if isinstance(obj, h5py.Dataset) and obj.is_virtual
                          else None)
        for name in sorted(datasets):
            for source in handle[name].virtual_sources():
                shard = opened.get(source.file_name)
                if source.file_name not in opened:
                    problems.append(f"/{name} maps to {source.file_name}, which is not among the index's shard files")
                    continue
                if shard is None:
                    continue
                member = shard.get(source.dset_name)
                low, high = source.vspace.get_select_bounds()  # the rows (and columns) the source fills
                expected = tuple(int(b) - int(a) + 1 for a, b in zip(low, high))
                if not isinstance(member, h5py.Dataset):
                    problems.append(f"shard {source.file_name} lacks /{source.dset_name}")
                elif member.shape != expected:
                    problems.append(f"shard {source.file_name}: /{source.dset_name} has shape {member.shape}, "
                                    f"expected {expected}")
    finally:
        for shard in opened.values():
            if shard is not None:
                shard.close()
    return problems
