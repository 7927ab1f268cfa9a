"""The soundbank fingerprint: one SHA-256 over the bank's file names and bytes.

Definition (version 1)::

    sha256( "wlbench-soundbank-fingerprint-v1\\n"
            + "".join(f"{relpath}\\t{sha256_hex(file bytes)}\\n" for relpath in sorted(files)) )

where ``files`` are the audio-named files (.wav .flac .ogg .aif .aiff .aifc) of every foreground class
folder and background folder (what :func:`wlbench.soundbank.layout.discover` lists), plus ``sources.csv``
when present; ``relpath`` is the posix path relative to the soundbank root. Hidden files and anything
else (README, the datasheet) are not covered.

Per-file digests are cached under ``$WLBENCH_CACHE/fingerprints/`` keyed on (relpath, size, mtime_ns,
inode). A file modified less than two seconds before the cache is written is never cached ("racily
clean" files, as git calls them), so a change within the file system's timestamp resolution is still seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

from wlbench.atomic import write_text_atomic
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_file
from wlbench.paths import wlbench_cache_dir
from wlbench.soundbank.layout import fingerprinted_relpaths

FINGERPRINT_HEADER = "wlbench-soundbank-fingerprint-v1\n"
_RACY_SECONDS = 2.0


def _cache_file(root: Path) -> Path:
    key = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return wlbench_cache_dir() / "fingerprints" / f"{key}.json"


def _load_cache(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(path: Path, entries: dict[str, list]) -> None:
    with contextlib.suppress(OSError, WlbenchError):  # the cache is an optimisation only
        write_text_atomic(path, json.dumps(entries, sort_keys=True))


def file_digests(root: Path, relpaths: list[str], use_cache: bool = True) -> dict[str, str]:
    """SHA-256 hex of each file, reusing cached digests of files whose (size, mtime, inode) is unchanged."""
    cache_path = _cache_file(root)
    cache = _load_cache(cache_path) if use_cache else {}
    digests: dict[str, str] = {}
    new_cache: dict[str, list] = {}
    changed = False
    now_ns = time.time_ns()
    for rel in relpaths:
        stat = os.stat(root / rel)
        key = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        cached = cache.get(rel)
        if cached is not None and cached[:3] == key:
            digest = cached[3]
        else:
            digest = hash_file(root / rel)
            changed = True
        digests[rel] = digest
        if now_ns - stat.st_mtime_ns > _RACY_SECONDS * 1e9:
            new_cache[rel] = key + [digest]
        else:
            changed = True
    if use_cache and (changed or set(new_cache) != set(cache)):
        _save_cache(cache_path, new_cache)
    return digests


def fingerprint_from_digests(digests: dict[str, str]) -> str:
    h = hashlib.sha256(FINGERPRINT_HEADER.encode("ascii"))
    for rel in sorted(digests):
        h.update(f"{rel}\t{digests[rel]}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def soundbank_fingerprint(root: str | Path, use_cache: bool = True) -> str:
    """SHA-256 hex fingerprint of the soundbank at ``root`` (see the module docstring for the definition)."""
    root = Path(root).expanduser().resolve()
    return fingerprint_from_digests(file_digests(root, fingerprinted_relpaths(root), use_cache=use_cache))
