"""Re-check a board: every entry's self-hash, its summary, its kept predictions' hashes, and (when the
dataset file is given) the scores themselves, re-computed from the kept predictions."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wlbench.atomic import leftovers
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_file
from wlbench.leaderboard.board import DEFAULT_BOARD, entries_dir
from wlbench.leaderboard.entries import HASH_FIELD, self_hash, settings_from_dict, structure_problems, summarize

TOLERANCE = 1e-9


def _diff(a: Any, b: Any, path: str, out: list[str], tol: float) -> None:
    """Paths where ``a`` (recorded) and ``b`` (recomputed) differ; numbers within ``tol`` are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: {'missing' if k not in a else 'unexpected'}")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out, tol)
    elif isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
            or not isinstance(b, (int, float)):
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                _diff(x, y, f"{path}[{i}]", out, tol)
        elif a != b:
            out.append(f"{path}: recorded {a!r}, recomputed {b!r}")
    elif not (math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)):
        out.append(f"{path}: recorded {a!r}, recomputed {b!r}")


def _what(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, WlbenchError) else f"{type(exc).__name__}: {exc}"


def _dataset_index(datasets: Sequence[Path]) -> dict[str, Path]:
    from wlbench.store import open_dataset

    index = {}
    for p in datasets:
        with open_dataset(Path(p)) as ds:
            index[ds.content_id] = Path(p)
    return index


def verify_entry(board_dir: Path, path: Path, datasets: dict[str, Path], tol: float = TOLERANCE) -> list[str]:
    """Problems of one entry file (empty: it checks out)."""
    from wlbench.scoring import score_file

    name = path.name
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{name}: unreadable JSON ({exc})"]
    problems = [f"{name}: {p}" for p in structure_problems(entry)]
    if problems:
        return problems
    if entry["id"] != path.stem:
        problems.append(f"{name}: id {entry['id']!r} does not match the file name")
    if entry[HASH_FIELD] != self_hash(entry):
        problems.append(f"{name}: entry hash mismatch: the entry was edited after it was written "
                        f"(recorded {str(entry[HASH_FIELD])[:12]}, recomputed {self_hash(entry)[:12]})")
    diffs: list[str] = []
    try:
        _diff(entry["summary"], summarize(entry["runs"]), "summary", diffs, tol)
    except Exception as exc:  # noqa: BLE001 - a hand-edited entry: report it, never crash
        problems.append(f"{name}: summary cannot be recomputed from the runs ({_what(exc)}); "
                        "the entry was edited by hand")
    problems += [f"{name}: summary does not follow from the runs: {d}" for d in diffs[:5]]
    ds_path = datasets.get(entry["dataset"]["content_id"])
    try:
        settings = settings_from_dict(entry["settings"])
    except Exception as exc:  # noqa: BLE001 - a hand-edited entry: report it, never crash
        problems.append(f"{name}: recorded settings are not valid scoring settings ({_what(exc)}); "
                        "the entry was edited by hand")
        return problems
    for i, run in enumerate(entry["runs"]):
        sub = run.get("submission", {})
        file = Path(board_dir) / str(sub.get("file"))
        if not sub.get("file") or not file.is_file():
            problems.append(f"{name}: run {i}: kept predictions {sub.get('file')} missing; scores cannot be checked")
            continue
        if hash_file(file) != sub.get("sha256"):
            problems.append(f"{name}: run {i}: predictions {sub['file']} do not match their recorded sha256")
            continue
        if ds_path is None:
            continue
        try:
            report = score_file(ds_path, file, str(entry["split"]), str(entry["task"]), settings)
        except WlbenchError as exc:
            problems.append(f"{name}: run {i}: re-scoring failed: {exc}")
            continue
        diffs = []
        for key in ("headline", "per_class"):
            _diff(run.get(key), report[key], f"runs[{i}].{key}", diffs, tol)
        if diffs:
            shown = "; ".join(diffs[:3]) + (f"; ... {len(diffs) - 3} more" if len(diffs) > 3 else "")
            problems.append(f"{name}: run {i}: recorded scores differ from re-scored predictions "
                            f"(entry harness {entry['harness_version']}, now {report['harness_version']}): {shown}")
    return problems


def verify_board(board_dir: Path = DEFAULT_BOARD, datasets: Sequence[Path] = (),
                 tol: float = TOLERANCE) -> list[str]:
    """Every problem found on the board (an empty list: every entry checks out).

    Always checked: JSON and schema, id = file name, the entry's self-hash (any edit of a score shows),
    the summary against the runs, the kept predictions against their sha256. With ``datasets`` (dataset
    files), every run whose dataset content id is among them is re-scored from its kept predictions with
    the recorded settings, and the recorded headline and per-class scores must match. Temporaries of an
    interrupted write (see :mod:`wlbench.atomic`) left in the board are reported too.
    """
    board_dir = Path(board_dir)
    index = _dataset_index(datasets)
    problems: list[str] = []
    d = entries_dir(board_dir)
    files = sorted(d.glob("*.json")) if d.is_dir() else []
    for path in files:
        problems += verify_entry(board_dir, path, index, tol)
    ids = {p.stem for p in files}
    sub_root = board_dir / "submissions"
    if sub_root.is_dir():
        for folder in sorted(sub_root.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and folder.name not in ids:
                problems.append(f"submissions/{folder.name}: kept predictions without an entry")
    for folder in (board_dir, d, sub_root):
        problems += [f"{leftover.path.relative_to(board_dir)}: {leftover.describe()}; the next write into that "
                     "folder removes it once its process is gone, or delete it"
                     for leftover in leftovers(folder) if leftover.owner != "running"]
    return problems
