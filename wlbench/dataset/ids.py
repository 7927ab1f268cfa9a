"""Every id of a dataset: the spec id, the truth ids and the content id (both schemes).

Three ids (docs/format.md says which changes when what changes):

* *spec id*: what was asked (canonical recipe, soundbank fingerprint, format version).
* *truth id*: what scoring depends on, per split (group attribute ``truth_id``: clip ids and every reference
  label, see :func:`split_truth_members`) and for the dataset (root ``truth_id``: over the split truth ids).
  Exact data only (integers, strings, the planner's float64 times), so it is the same on every machine. The
  reader recomputes a split's truth id the first time the split is opened and refuses a file whose labels
  changed after it was written (:meth:`Dataset.split`): every command that scores, submits or compares is
  guarded by that one check.
* *content id*: a SHA-256 over every stored dataset (path, dtype, shape, attributes, bytes, in sorted path
  order) and the content attributes (classes, segment durations, sample rate, clip duration), features and
  JAMS included; the features are bit-identical across x86-64 CPUs (wlbench.features), so this id is too.

## The content id, scheme 2: computed by the writers while they write, several at once.

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
SHA-256 stream over every dataset's bytes, :func:`compute_content_id`); readers check each
file with the scheme it names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import h5py
import numpy as np

from wlbench.dataset.layout import CONTENT_ATTRS, FORMAT_VERSION, attr_value, dtype_kind
from wlbench.errors import WlbenchError
from wlbench.hashing import canonical_json, hash_json

SCHEME = 2
GROUP_ROWS = 16
_READ_BYTES = 64 << 20  # rows read at once when a stored dataset is hashed
_READ_STRINGS = 4096
_BLOCK_BYTES = 64 << 20  # rows hashed at once by the streaming (scheme-1 and truth) hashes
TRUTH_FORMAT = "wlbench-truth/1"
# Event columns that scoring reads (detection: which clip, which class, when). snr, source_file, source_time and
# pitch_shift describe how the clip was made; they are in the content id only.
TRUTH_EVENT_COLUMNS = ("clip_index", "label_index", "onset", "offset")
# Grouped label members of the truth: group -> members of each of its views.
TRUTH_VIEW_MEMBERS = (("segments", ("start", "weak_labels")), ("views", ("labels", "dropped")),
                      ("resolution", ("labels",)))


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
        flat = (block.reshape(count, -1) if block.ndim and count else block.reshape(-1)).data.cast("B")
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


# ---------------------------------------------------------------- spec id, truth ids, content id scheme 1

def spec_id(recipe_canonical: dict[str, Any], soundbank_fingerprint: str) -> str:
    """What was asked: the canonical recipe, the soundbank fingerprint and the format version."""
    return hash_json({"format_version": FORMAT_VERSION, "recipe": recipe_canonical,
                      "soundbank": soundbank_fingerprint})


def hash_member(digest, name: str, dataset: h5py.Dataset, context: dict[str, Any] | None = None) -> None:
    """Feed one dataset to ``digest`` as one stream (truth ids, and content ids of scheme 1): a header (path,
    dtype, shape, its attributes and ``context``), then its bytes (little-endian, row blocks; strings
    length-prefixed UTF-8)."""
    header = member_header(name, dataset, context)
    kind = header["dtype"]
    digest.update(canonical_json(header).encode("ascii"))
    if dataset.shape == () or dataset.size == 0:
        if dataset.shape == ():
            digest.update(repr(attr_value(dataset[()])).encode("utf-8"))
        return
    if kind == "str":
        for first in range(0, dataset.shape[0], 4096):
            for item in dataset.asstr()[first:first + 4096]:
                encoded = item.encode("utf-8")
                digest.update(len(encoded).to_bytes(8, "little") + encoded)
        return
    row_bytes = max(1, int(np.prod(dataset.shape[1:], dtype=np.int64)) * dataset.dtype.itemsize)
    step = max(1, _BLOCK_BYTES // row_bytes)
    little = np.dtype(kind).newbyteorder("<")
    for first in range(0, dataset.shape[0], step):
        block = np.ascontiguousarray(dataset[first:first + step])
        digest.update(block.astype(little, copy=False).tobytes())


def content_root_attrs(handle: h5py.File) -> dict[str, Any]:
    """The hashed root attributes of an open store (:data:`CONTENT_ATTRS` present in it)."""
    return {key: attr_value(handle.attrs[key]) for key in CONTENT_ATTRS if key in handle.attrs}


def compute_content_id(handle: h5py.File) -> str:
    """Content id of an open store, recomputed from the stored bytes with the scheme the file names (root
    attribute ``content_id_scheme``: 2, see :func:`compute`; absent: 1, one SHA-256 stream over
    every dataset in sorted path order, as files written before scheme 2 were hashed)."""
    import hashlib

    scheme = int(attr_value(handle.attrs.get("content_id_scheme", 1)))
    if scheme == SCHEME:
        return compute(handle, content_root_attrs(handle))
    if scheme != 1:
        raise WlbenchError(f"{handle.filename}: content id scheme {scheme} is unknown to this wlbench",
                           hint="upgrade wlbench")
    digest = hashlib.sha256()
    digest.update(canonical_json(content_root_attrs(handle)).encode("ascii"))
    for name in dataset_paths(handle):
        hash_member(digest, name, handle[name])
    return digest.hexdigest()


def split_truth_members(group: h5py.Group) -> list[str]:
    """Paths (relative to the split group) of the split's truth, in hashing order: ``clip_ids``,
    ``weak_labels``, the events' ``clip_index``, ``label_index``, ``onset``, ``offset``, each segment view's
    ``start`` and ``weak_labels``, each label view's ``labels`` and ``dropped``, each resolution view's
    ``labels``, and ``roles`` / ``domain`` when stored. Frame labels are left out (derived from the events at
    the feature hop, read by no metric, absent without features), as are the JAMS, features and audio."""
    names = ["clip_ids", "weak_labels"] + [f"events/{column}" for column in TRUTH_EVENT_COLUMNS]
    for kind, members in TRUTH_VIEW_MEMBERS:
        for view in sorted(group.get(kind, {})):
            names += [f"{kind}/{view}/{member}" for member in members]
    return names + [name for name in ("roles", "domain") if name in group]


def compute_split_truth_id(handle: h5py.File, split: str) -> str:
    """Truth id of one split of an open store: its name, the dataset's classes and clip duration, then every
    member of :func:`split_truth_members` (header with the member's own and its view group's attributes,
    then its bytes). Raises ``KeyError`` when a required member is missing."""
    import hashlib

    group = handle[split]
    digest = hashlib.sha256()
    digest.update(canonical_json({"truth": TRUTH_FORMAT, "split": split,
                                  "classes": attr_value(handle.attrs["classes"]),
                                  "clip_duration": attr_value(handle.attrs["clip_duration"])}).encode("ascii"))
    for name in split_truth_members(group):
        parent = group[name].parent
        context = {key: attr_value(parent.attrs[key]) for key in sorted(parent.attrs)} if "/" in name else None
        hash_member(digest, name, group[name], context)
    return digest.hexdigest()


def dataset_truth_id(split_truth_ids: dict[str, str]) -> str:
    """Truth id of a dataset: the hash of its splits' truth ids (name -> id)."""
    return hash_json({"truth": TRUTH_FORMAT, "splits": dict(sorted(split_truth_ids.items()))})
