"""Stable hashes: of JSON-able objects (canonical form), of files, and a streaming hasher for arrays."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def hash_json(obj: Any) -> str:
    """SHA-256 hex digest of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(obj).encode("ascii")).hexdigest()


def hash_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class ArrayHasher:
    """Hash a sequence of named arrays by name, dtype, shape and little-endian C-order bytes."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, name: str, array: np.ndarray) -> None:
        array = np.asarray(array)
        if array.dtype.kind == "O":
            raise TypeError(f"cannot hash object array {name!r}")
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        array = np.ascontiguousarray(array, dtype=dtype)
        header = canonical_json({"name": name, "dtype": array.dtype.str, "shape": list(array.shape)})
        self._digest.update(header.encode("ascii"))
        self._digest.update(array.tobytes())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
