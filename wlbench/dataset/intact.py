"""Training reads only an intact dataset: what ``wlbench verify`` would pass, checked once per file version.

:func:`require_intact` recomputes a dataset's truth ids and content id (:func:`wlbench.dataset.inspect.verify_dataset`:
labels, events, features, audio; the shards of a sharded index too) and refuses the file in one
:class:`WlbenchError` when they differ from the stored ones: labels or features edited after rendering
(with h5py, say) would otherwise feed training unnoticed. A file that passed is remembered under
``$WLBENCH_CACHE/intact/`` by its signature: device, inode, size, modification and change times of the
file and of each of its shards (any write changes the change time, which no user can set back), so the
full read is paid once per file version, not once per run of a grid.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from wlbench.atomic import write_text_atomic
from wlbench.dataset.inspect import verify_dataset
from wlbench.dataset.reader import Dataset, opened
from wlbench.errors import WlbenchError
from wlbench.paths import wlbench_cache_dir


def _cache_dir() -> Path:
    return wlbench_cache_dir() / "intact"


def _stat_signature(path: Path) -> list[int]:
    info = os.stat(path)
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _signature(ds: Dataset) -> dict[str, list[int]]:
    """The stat signature of the dataset file and of every shard file it names."""
    path = Path(ds.path)
    shards = ds.attr("shard_files") or []
    files = {".": _stat_signature(path)}
    for name in sorted(str(s) for s in shards):
        shard = path.parent / name
        files[name] = _stat_signature(shard) if shard.exists() else []
    return files


def require_intact(dataset: Dataset | str | Path) -> str:
    """Refuse ``dataset`` (open, or a file) unless ``wlbench verify`` would pass it (see the module); returns
    its content id."""
    with opened(dataset, check_truth=False) as ds:
        return _require_intact(ds)


def _require_intact(ds: Dataset) -> str:
    path = Path(ds.path)
    real = os.path.realpath(path)
    record = _cache_dir() / (hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")
    signature = _signature(ds)
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
        if known.get("signature") == signature and known.get("content_id"):
            return str(known["content_id"])
    except (OSError, ValueError, AttributeError):
        pass
    result = verify_dataset(ds)
    if result.problems:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise WlbenchError(f"{path} was modified after it was written: {result.problems[0]}{more}; training "
                           "reads only what `wlbench verify` passes",
                           hint=f"run `wlbench verify {path}` to see what changed, and render the dataset again")
    try:
        write_text_atomic(record, json.dumps({"path": real, "signature": signature,
                                              "content_id": result.computed_content_id}) + "\n")
    except (OSError, WlbenchError):
        pass  # an unwritable cache only costs the check again next time
    return str(result.computed_content_id)
