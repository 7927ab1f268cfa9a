"""Embeddings (task ``embedding``): ``.npz`` or HDF5 (``.h5``/``.hdf5``) holding either the arrays
``clip_ids`` (N,) and ``embeddings`` (N, D), or one (D,) array per clip id; or a plain ``.npy`` (N, D) array
whose rows follow the split's clip order. A file is checked against its format's signature before it is
opened, so random bytes are called what they are (never numpy's pickle message).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wlbench.submissions.expected import Expected, check_clip_sets
from wlbench.submissions.report import ValidationReport
from wlbench.submissions.text import read_bytes

MAGIC = {".npy": (b"\x93NUMPY", "NumPy .npy", "save the (clips, dims) array with numpy.save"),
         ".npz": (b"PK", "NumPy .npz (zip)", "save the arrays with numpy.savez"),
         ".h5": (b"\x89HDF\r\n\x1a\n", "HDF5", "write it with h5py"),
         ".hdf5": (b"\x89HDF\r\n\x1a\n", "HDF5", "write it with h5py")}


@dataclass
class Embeddings:
    """Embeddings (N, D) in the expected clip order."""

    embeddings: np.ndarray
    report: ValidationReport


def _embedding_source(path: Path, report: ValidationReport) -> tuple[list[str] | None, list[np.ndarray]] | None:
    suffix = path.suffix.lower()
    magic = MAGIC.get(suffix)
    if magic is not None:
        start = read_bytes(path, report, 8)
        if start is None:
            return None
        if not start.startswith(magic[0]):
            report.add("unreadable", f"not a {magic[1]} file (it does not start with the {magic[1]} signature); "
                       f"{magic[2]}")
            return None
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
            report.format = "npy"
            if arr.ndim != 2:
                report.add("wrong_shape", f"expected a 2-D (clips, dims) array, got shape {arr.shape}")
                return None
            return None, list(arr)
        if suffix == ".npz":
            report.format = "npz"
            with np.load(path, allow_pickle=False) as z:
                items = {k: z[k] for k in z.files}
        elif suffix in (".h5", ".hdf5"):
            import h5py
            report.format = "hdf5"
            with h5py.File(path, "r") as h:
                items = {k: h[k][()] for k in h.keys() if isinstance(h[k], h5py.Dataset)}
        else:
            report.add("unreadable", f"unknown embedding file type {suffix!r}; use .npy, .npz, .h5 or .hdf5")
            return None
    except FileNotFoundError:
        report.add("unreadable", "file not found; check the path")
        return None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a problem of the file
        if "pickle" in str(exc):
            report.add("unreadable", "the file holds Python objects (pickled data), which wlbench never loads; "
                       "save plain numeric arrays (and clip ids as strings)")
        else:
            report.add("unreadable", f"cannot read embeddings: {type(exc).__name__}: {exc}")
        return None
    if "clip_ids" in items and "embeddings" in items:
        ids = [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(items["clip_ids"]).ravel()]
        arr = np.asarray(items["embeddings"])
        if arr.ndim != 2 or arr.shape[0] != len(ids):
            report.add("wrong_shape", f"'embeddings' has shape {arr.shape} but there are {len(ids)} clip_ids; "
                       "expected (clips, dims)", field="embeddings")
            return None
        return ids, list(arr)
    return list(items.keys()), [np.asarray(v) for v in items.values()]


def read_embeddings(path: str | Path, expected: Expected) -> tuple[Embeddings | None, ValidationReport]:
    """Parse and validate an embedding file; returns (embeddings or None, report).

    ``row`` in problems is the 1-based position of the entry in the file.
    """
    path = Path(path)
    report = ValidationReport(str(path), "embedding")
    got = _embedding_source(path, report)
    if got is None:
        return None, report
    ids, vectors = got
    n = len(expected.clip_ids)
    if ids is None:  # plain .npy: rows in split order
        if len(vectors) != n:
            report.add("wrong_shape", f"{len(vectors)} rows but the split has {n} clips; a .npy file must hold "
                       "one row per clip in the split's order (or use .npz/.h5 with clip_ids)")
            return None, report
        ids = list(expected.clip_ids)
    dims = {np.asarray(v).shape for v in vectors}
    out = None
    seen: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    rows: list[tuple[int, np.ndarray]] = []
    for k, (name, v) in enumerate(zip(ids, vectors)):
        idx = expected.clip_index(name)
        if idx is None:
            unknown.append((name, k + 1))
            continue
        cid = expected.clip_ids[idx]
        if cid in seen:
            report.add("duplicate_row", f"clip {cid!r} already given at entry {seen[cid]}", row=k + 1, field=cid)
            continue
        seen[cid] = k + 1
        v = np.asarray(v)
        if v.dtype.kind not in "biuf":
            report.add("not_a_number", f"embedding of {cid!r} has dtype {v.dtype}", row=k + 1, field=cid)
            continue
        if v.ndim != 1:
            report.add("wrong_shape", f"embedding of {cid!r} has shape {v.shape}; expected (dims,)", row=k + 1,
                       field=cid)
            continue
        if not np.isfinite(v).all():
            report.add("not_finite", f"embedding of {cid!r} contains NaN or infinite values", row=k + 1, field=cid)
            continue
        rows.append((idx, v.astype(np.float64)))
    if len(dims) > 1:
        report.add("wrong_shape", f"embeddings have different shapes {sorted(dims)[:3]}; all must be (dims,)")
    check_clip_sets(seen, unknown, expected, report)
    if report.ok:
        d = rows[0][1].size if rows else 0
        out = np.zeros((n, d))
        for idx, v in rows:
            out[idx] = v
        return Embeddings(out, report), report
    return None, report
