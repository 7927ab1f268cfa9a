"""Re-pin a board made before truth ids (entries of schema ``/1``, pinned to a content id, no chain).

Nothing is carried over on trust: each entry's kept predictions are checked against their sha256 and
re-scored with the recorded settings against a dataset file of the entry's spec id (same recipe, scale and
soundbank); the recorded headline and per-class scores must be reproduced (tolerance 1e-9). Only then is
the entry rebuilt from the new reports, which pin it to the truth id of the split scored: same method,
seeds, configuration and submission time, a new key and id (they hash the split truth id), its
predictions kept byte for byte under the new id. The chain is written from the genesis in submission
order and the pages are rendered; the new board replaces the old one in one rename. If any entry does not
reproduce, nothing is changed.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wlbench.atomic import atomic_dir
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_file
from wlbench.leaderboard import chain
from wlbench.leaderboard.board import board_lock, entries_dir, entry_with_kept_files, require_board
from wlbench.leaderboard.entries import HASH_FIELD, SCHEMA, SCHEMA_V1, self_hash, settings_from_dict, structure_problems
from wlbench.leaderboard.verify import TOLERANCE, score_differences

# What migration writes anew; everything else in the board folder (a README, .gitignore, entries/.gitkeep) is
# copied, except what a running command leaves behind.
_REBUILT = ("entries", "submissions", chain.CHAIN_FILE, "LEADERBOARD.md", "index.html", ".lock")


def _kept(item: Path) -> bool:
    return item.name not in _REBUILT and not item.name.endswith((".partial", ".old"))


@dataclasses.dataclass
class Migrated:
    """One entry moved to the new pinning."""

    old_id: str
    new_id: str
    split_truth_id: str
    runs: int


def _datasets_by_spec(datasets: Sequence[Path]) -> dict[str, Path]:
    from wlbench.dataset.reader import open_dataset

    index: dict[str, Path] = {}
    for path in datasets:
        with open_dataset(Path(path)) as ds:
            for name in ds.splits:
                ds.split(name)  # checks the split's truth: an edited file is refused here
            index.setdefault(ds.spec_id, Path(path))
    return index


def _rebuild(board_dir: Path, path: Path, datasets: dict[str, Path], tol: float) -> tuple[dict[str, Any], list[Path]]:
    """The re-scored, re-pinned entry of ``path`` and its kept predictions files (in run order)."""
    from wlbench.scoring import score_file

    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WlbenchError(f"{path}: not a readable JSON entry ({exc})") from None
    problems = structure_problems(entry, schemas=(SCHEMA_V1, SCHEMA))
    if problems:
        raise WlbenchError(f"{path}: not a leaderboard entry: {'; '.join(problems)}")
    if entry[HASH_FIELD] != self_hash(entry):
        raise WlbenchError(f"{path}: entry hash mismatch: it was edited after submission; it is not migrated",
                           hint="restore it from version control first")
    spec = entry["dataset"].get("spec_id")
    dataset = datasets.get(spec)
    if dataset is None:
        raise WlbenchError(f"{path.name}: scored on dataset {entry['dataset']['name']!r} of spec id {spec}; no "
                           "--dataset file of that spec id was given",
                           hint="render it (same recipe, --scale and soundbank) and pass it with --dataset")
    settings = settings_from_dict(entry["settings"])
    files, reports = [], []
    for i, run in enumerate(entry["runs"]):
        kept = Path(board_dir) / str(run["submission"].get("file"))
        if not kept.is_file() or hash_file(kept) != run["submission"].get("sha256"):
            raise WlbenchError(f"{path.name}: run {i}: kept predictions {kept} are missing or do not match their "
                               "recorded sha256", hint="restore them from version control first")
        report = score_file(dataset, kept, split=str(entry["split"]), task=str(entry["task"]), settings=settings)
        diffs = score_differences(run, report, i, tol)
        if diffs:
            raise WlbenchError(f"{path.name}: run {i}: re-scoring against {dataset} does not reproduce the recorded "
                               f"scores ({'; '.join(diffs[:3])}); the entry is not migrated",
                               hint="pass the dataset file the entry was scored on (same labels)")
        report["dataset"]["file"] = entry["dataset"].get("file")
        files.append(kept)
        reports.append(report)
    stored = [{k: v for k, v in run["submission"].items() if k != "file"} | {"file": None} for run in entry["runs"]]
    method = entry["method"]
    new = entry_with_kept_files(reports=reports, stored=stored, suffixes=[f.suffix for f in files],
                                name=method["name"], method_version=method.get("version", ""),
                                description=method.get("description", ""), link=method.get("link", ""),
                                config=method.get("config") or {}, seeds=list(method.get("seeds") or []),
                                submitted_at=entry["submitted_at"])
    if new["schema"] != SCHEMA:  # pragma: no cover - build_entry always writes the current schema
        raise WlbenchError(f"internal: migrated entry has schema {new['schema']}")
    return new, files


def migrate_board(board_dir: Path, datasets: Sequence[Path], *, tol: float = TOLERANCE,
                  echo: Callable[[str], None] | None = None) -> list[Migrated]:
    """Re-score and re-pin every entry of a board that has no chain yet (module docstring); returns what
    moved. Raises :class:`WlbenchError` (and changes nothing) when the board already has a chain or any
    entry does not reproduce."""
    from wlbench.leaderboard.render import render_board

    board_dir = require_board(Path(board_dir))
    if chain.read_chain(board_dir):
        raise WlbenchError(f"board {board_dir} already has a {chain.CHAIN_FILE}: its entries are pinned to truth ids",
                           hint="check it with `wlbench leaderboard verify`")
    by_spec = _datasets_by_spec(datasets)
    files = sorted(entries_dir(board_dir).glob("*.json")) if entries_dir(board_dir).is_dir() else []
    if not files:
        raise WlbenchError(f"board {board_dir} has no entries to migrate")
    with board_lock(board_dir):
        rebuilt = []
        for path in files:
            entry, kept = _rebuild(board_dir, path, by_spec, tol)
            rebuilt.append((path.stem, entry, kept))
            if echo is not None:
                echo(f"{path.stem}: {len(kept)} run(s) re-scored, identical; -> {entry['id']}")
        ids = [entry["id"] for _, entry, _ in rebuilt]
        if len(set(ids)) != len(ids):
            raise WlbenchError("two entries would get the same id after migration (same method, version, "
                               "predictions and truth)", hint="remove one of them first")
        with atomic_dir(board_dir, rebuilds=True) as tmp:  # the board re-pinned from its own files
            for item in sorted(board_dir.iterdir()):
                if _kept(item):
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
            (tmp / "entries").mkdir()
            for item in sorted(entries_dir(board_dir).glob(".*")):
                if item.is_file() and _kept(item):
                    shutil.copy2(item, tmp / "entries" / item.name)
            for _, entry, kept in rebuilt:
                for run, source in zip(entry["runs"], kept):
                    target = tmp / run["submission"]["file"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
                (tmp / "entries" / f"{entry['id']}.json").write_text(
                    json.dumps(entry, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
            order = sorted((entry for _, entry, _ in rebuilt), key=lambda e: (e["submitted_at"], e["id"]))
            chain.write_chain(tmp, [chain.add_record(entry) for entry in order])
            render_board(tmp)
    return [Migrated(old, entry["id"], entry["dataset"]["split_truth_id"], len(kept)) for old, entry, kept in rebuilt]
