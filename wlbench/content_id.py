"""The content id (scheme 2): a hash of everything stored that writers compute while they write, several at once.

Definition (docs/format.md, "Content id")::

    content id = sha256( canonical_json({hashed root attributes, "content_id_scheme": 2})
                         + for each dataset, in sorted path order:
                               canonical_json(header) + sha256(group digest 0 + group digest 1 + ...) )

A dataset's rows (items along its first axis) are taken in *groups* of :data:`GROUP_ROWS` at fixed
positions (rows 0-15, 16-31, ...; the last group may be shorter); a group digest is the SHA-256 of its rows'
bytes (numbers little-endian, C order; a string row is its UTF-8 length as 8 little-endian bytes, then the
UTF-8 bytes). The header is the dataset's path, dtype (``"str"`` for strings), shape and attributes. Because
the groups sit at fixed row positions, a writer that holds rows ``[16k, 16m)`` of a dataset (a shard) computes
its group digests alone, and the digests of every writer, put in row order, give the id of the whole dataset:
a sharded dataset and a single file with the same content have the same content id, and nobody reads the
data back to compute it.

Files written before this scheme (no ``content_id_scheme`` root attribute) keep their scheme-1 id (one
SHA-256 stream over every dataset's bytes, :func:`wlbench.store.compute_content_id`); readers check each
file with the scheme it names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import h5py
import numpy as np

from wlbench.hashing import canonical_json

SCHEME = 2
GROUP_ROWS = 16
_READ_BYTES = 64 << 20  # rows read at once when a stored dataset is hashed
_READ_STRINGS = 4096


def attr_value(value: Any) -> Any:
    """An HDF5 attribute value as plain Python (str, int, float, lists), as hashed in headers."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [attr_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [attr_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def dtype_kind(dtype: np.dtype) -> str:
    """``"str"`` for HDF5 strings, else numpy's dtype string (``"<f4"``)."""
    return "str" if h5py.check_string_dtype(dtype) else np.dtype(dtype).str


def member_header(name: str, dataset: h5py.Dataset, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """What is hashed before a dataset's bytes: path, dtype, shape, its attributes (and ``context``)."""
    attrs = {key: attr_value(dataset.attrs[key]) for key in sorted(dataset.attrs)}
    header = {"path": name, "dtype": dtype_kind(dataset.dtype), "shape": list(dataset.shape), "attrs": attrs}
    if context:
        header["context"] = context
    return header


class RowDigests:
    """Group digests of one dataset's rows, fed in row order in pieces of any size.

    ``first_row`` (a multiple of :data:`GROUP_ROWS`) is the position of the first row fed: a shard writer
    holding rows ``[first_row, ...)`` of a dataset computes the digests of exactly the groups it holds.
    ``kind`` is :func:`dtype_kind` of the stored dataset: rows are converted to it, little-endian, first.
    """

    def __init__(self, kind: str, first_row: int = 0) -> None:
        if first_row % GROUP_ROWS:
            raise ValueError(f"a row range must start at a multiple of {GROUP_ROWS}, got {first_row}")
        self.kind = kind
        self.rows = 0
        self._digests = bytearray()
        self._group = hashlib.sha256()
        self._in_group = 0
        self._finished = False
        self._little = None if kind == "str" else np.dtype(kind).newbyteorder("<")

    def _close_group(self) -> None:
        self._digests += self._group.digest()
        self._group = hashlib.sha256()
        self._in_group = 0

    def update(self, rows: np.ndarray | Sequence[str]) -> None:
        """Feed the next rows: an array (rows along axis 0) or, for a string dataset, a sequence of str."""
        assert not self._finished, "RowDigests.update after finish"
        if self.kind == "str":
            for item in rows:
                encoded = str(item).encode("utf-8")
                self._group.update(len(encoded).to_bytes(8, "little") + encoded)
                self._in_group += 1
                self.rows += 1
                if self._in_group == GROUP_ROWS:
                    self._close_group()
            return
        block = np.ascontiguousarray(np.asarray(rows), dtype=self._little)
        count = block.shape[0] if block.ndim else 1
        # an empty block (a split without events) has no rows to reshape: reshape(0, -1) is undefined
        flat = memoryview(block.reshape(count, -1) if block.ndim and count else block.reshape(-1)).cast("B")
        row_bytes = flat.nbytes // count if count else 0
        first = 0
        while first < count:
            take = min(GROUP_ROWS - self._in_group, count - first)
            self._group.update(flat[first * row_bytes:(first + take) * row_bytes])
            self._in_group += take
            first += take
            if self._in_group == GROUP_ROWS:
                self._close_group()
        self.rows += count

    def finish(self) -> bytes:
        """The group digests (32 bytes each, in row order), the last, shorter group included."""
        if not self._finished:
            if self._in_group:
                self._close_group()
            self._finished = True
        return bytes(self._digests)


def dataset_digest(group_digests: Iterable[bytes]) -> bytes:
    """The digest of a whole dataset from its group digests, in row order (pieces of several writers)."""
    digest = hashlib.sha256()
    for piece in group_digests:
        digest.update(piece)
    return digest.digest()


def digest_of_rows(kind: str, rows: np.ndarray | Sequence[str]) -> bytes:
    """The dataset digest of rows held in memory (what :func:`digest_of_stored` computes from the file)."""
    hasher = RowDigests(kind)
    hasher.update(rows)
    return dataset_digest([hasher.finish()])


def digest_of_stored(dataset: h5py.Dataset) -> bytes:
    """The dataset digest of a stored dataset, read in row blocks (virtual datasets of shards included)."""
    kind = dtype_kind(dataset.dtype)
    if dataset.shape == ():
        return hashlib.sha256(repr(attr_value(dataset[()])).encode("utf-8")).digest()
    hasher = RowDigests(kind)
    n = dataset.shape[0]
    if kind == "str":
        step = _READ_STRINGS
        reader = dataset.asstr()
    else:
        row_bytes = max(1, int(np.prod(dataset.shape[1:], dtype=np.int64)) * dataset.dtype.itemsize)
        step = max(GROUP_ROWS, (_READ_BYTES // row_bytes) // GROUP_ROWS * GROUP_ROWS)
        reader = dataset
    for first in range(0, n, step):
        hasher.update(reader[first:first + step])
    return dataset_digest([hasher.finish()])


def content_id_from_digests(root_attrs: dict[str, Any], members: Iterable[tuple[dict[str, Any], bytes]]) -> str:
    """The content id from the hashed root attributes and (header, dataset digest) pairs in sorted path order."""
    digest = hashlib.sha256()
    digest.update(canonical_json({**root_attrs, "content_id_scheme": SCHEME}).encode("ascii"))
    for header, member_digest in members:
        digest.update(canonical_json(header).encode("ascii"))
        digest.update(member_digest)
    return digest.hexdigest()


def dataset_paths(handle: h5py.File) -> list[str]:
    """Every dataset of an open file, in sorted path order."""
    paths: list[str] = []
    handle.visititems(lambda name, obj: paths.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(paths)


def compute(handle: h5py.File, root_attrs: dict[str, Any], digests: dict[str, bytes] | None = None) -> str:
    """Scheme-2 content id of an open file. ``digests`` (path -> dataset digest) are those a writer computed
    while writing; any dataset without one is read and hashed here."""
    digests = digests or {}
    return content_id_from_digests(root_attrs, ((member_header(name, handle[name]),
                                                 digests[name] if name in digests else digest_of_stored(handle[name]))
                                                for name in dataset_paths(handle)))
