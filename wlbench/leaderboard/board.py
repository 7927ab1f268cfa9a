"""The board on disk: ``<board>/entries/<id>.json``, ``<board>/submissions/<id>/`` (kept predictions) and
``<board>/chain.jsonl`` (the hash chain of every change, :mod:`wlbench.leaderboard.chain`).

:func:`submit_run` scores the predictions itself, then, holding ``<board>/.lock`` (a file lock, so that
concurrent submissions from several processes never lose one another), refuses duplicates, writes the
predictions and the entry atomically (an entry file exists only when complete) and appends the entry to the
chain. :func:`remove_entry` is the one way to take an entry off the board.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wlbench.atomic import atomic_dir, ensure_writable_dir, write_text_atomic
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_file
from wlbench.leaderboard import chain
from wlbench.leaderboard.entries import (
    HASH_FIELD,
    build_entry,
    check_link,
    portable_text,
    self_hash,
    structure_problems,
)
from wlbench.paths import require_folder, require_input_file

DEFAULT_BOARD = Path("leaderboard")
# A user's own board: where `submit`, `train --submit`, `remove` and `migrate` write when --board is not given,
# and what `show`, `render` and `verify` read before falling back to ./leaderboard.
BOARD_ENV = "WLBENCH_BOARD"
REMOVE_HINT = "take the old entry off with `wlbench leaderboard remove ID --reason TEXT` first"
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
LOCK_TIMEOUT_S = 600


def board_to_read(board: Path | None) -> Path:
    """``--board`` if given, else ``$WLBENCH_BOARD`` if set, else ``./leaderboard`` (the reference board)."""
    if board is not None:
        return Path(board)
    env = os.environ.get(BOARD_ENV, "").strip()
    return Path(env) if env else DEFAULT_BOARD


def board_to_write(board: Path | None, option: str = "--board") -> Path:
    """``--board`` if given, else ``$WLBENCH_BOARD`` if set; otherwise :class:`WlbenchError`. A write never
    lands on the repository's reference board (``./leaderboard``) by default: that one is written only when
    named. Call it before any work, so that a missing board fails first."""
    if board is not None:
        return Path(board)
    env = os.environ.get(BOARD_ENV, "").strip()
    if env:
        return Path(env)
    raise WlbenchError(f"no board to write to: pass {option} DIR (a board of your own), or set {BOARD_ENV}=DIR",
                       hint=f"./{DEFAULT_BOARD} is the repository's reference board and is written only when "
                            f"named: {option} {DEFAULT_BOARD}")


def entries_dir(board_dir: Path) -> Path:
    return Path(board_dir) / "entries"


def submissions_dir(board_dir: Path, entry_id: str) -> Path:
    return Path(board_dir) / "submissions" / entry_id


def board_lock(board_dir: Path):
    from filelock import FileLock

    ensure_writable_dir(Path(board_dir))
    return FileLock(str(Path(board_dir) / ".lock"), timeout=LOCK_TIMEOUT_S)


def read_entry(path: Path) -> dict[str, Any]:
    try:
        entry = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WlbenchError(f"{path}: not a readable JSON entry ({exc})",
                           hint="restore it from version control or remove it") from None
    problems = structure_problems(entry)
    if problems:
        raise WlbenchError(f"{path}: not a leaderboard entry: {'; '.join(problems)}",
                           hint="entries are written by 'wlbench leaderboard submit', never by hand")
    return entry


def require_board(board_dir: Path) -> Path:
    """``board_dir`` if it is an existing directory; :class:`WlbenchError` otherwise (a mistyped ``--board``
    must not read as an empty board)."""
    return require_folder(board_dir, "board", hint="pass --board with a leaderboard folder (the one holding "
                                                   "entries/), or create one with `wlbench leaderboard submit`")


def load_entries(board_dir: Path = DEFAULT_BOARD, check_hash: bool = True) -> list[dict[str, Any]]:
    """Every entry of the board, sorted by file name (none for a board not created yet). An unreadable
    entry, or (``check_hash``) one whose self-hash does not match (it was edited), raises
    :class:`WlbenchError`: nothing is shown or rendered from a board with a forged entry."""
    require_folder(board_dir, "board", missing_ok=True, hint="pass the board folder to --board")
    d = entries_dir(Path(board_dir))
    if not d.is_dir():
        return []
    entries = [(p, read_entry(p)) for p in sorted(d.glob("*.json"))]
    if check_hash:
        bad = [p.name for p, e in entries if e[HASH_FIELD] != self_hash(e)]
        if bad:
            raise WlbenchError(f"{d}: entry hash mismatch in {', '.join(bad)}: edited after submission",
                               hint="run 'wlbench leaderboard verify'; restore the entry or submit again")
    return [e for _, e in entries]


class DuplicateEntryError(WlbenchError):
    """The board already holds these predictions, or this method name + version, for the dataset version."""


def declared_meta(path: Path) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a text submission (empty for binary formats)."""
    from wlbench.submissions import parse_declared

    if Path(path).suffix.lower() not in TEXT_SUFFIXES:
        return {}
    import io

    from wlbench.paths import open_input

    try:  # the input guard: a FIFO or device is never opened
        with open_input(path, "predictions file") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig") as handle:
            return parse_declared(handle)
    except (OSError, UnicodeDecodeError, WlbenchError):
        return {}  # the validator reports unreadable files with the full story


def _check_declared(path: Path, dataset_path: Path, ds_name: str, split_truth_id: str, split: str) -> None:
    meta = declared_meta(path)
    got = meta.get("split_truth_id")
    if got and got != split_truth_id:
        raise WlbenchError(
            f"{path} declares split truth id {got} but split {split!r} of {dataset_path} has truth id "
            f"{split_truth_id}; these predictions were made for another version of the dataset",
            hint="submit them with the dataset file they were made for, or re-run the method on this one")
    if meta.get("dataset") and meta["dataset"] != ds_name:
        raise WlbenchError(f"{path} declares dataset {meta['dataset']!r} but {dataset_path} is {ds_name!r}",
                           hint="submit them with the dataset file they were made for")
    if meta.get("split") and meta["split"] != split:
        raise WlbenchError(f"{path} declares split {meta['split']!r} but split {split!r} is being submitted",
                           hint=f"pass --split {meta['split']} or submit predictions for {split}")


def _duplicate(existing: list[dict[str, Any]], entry: dict[str, Any]) -> tuple[str, str] | None:
    """(what is duplicated, how to fix it) when ``entry`` duplicates an entry of ``existing``, else None."""
    ds, m = entry["dataset"], entry["method"]
    hashes = {r["submission"]["sha256"] for r in entry["runs"]}
    for e in existing:
        same_target = (e["dataset"].get("split_truth_id") == ds["split_truth_id"] and e["split"] == entry["split"]
                       and e["task"] == entry["task"])
        if not same_target:
            continue
        if e.get("key") == entry["key"]:
            return f"entry {e['id']} holds exactly these predictions for this method", f"nothing to add; or {REMOVE_HINT}"
        shared = hashes & {r["submission"]["sha256"] for r in e["runs"]}
        if shared:
            return (f"entry {e['id']} ({e['method']['name']}) already holds {len(shared)} of these predictions files",
                    f"a predictions file enters the board once, whatever the method name or version: submit "
                    f"new predictions, or {REMOVE_HINT}")
        if e["method"]["name"] == m["name"] and e["method"].get("version", "") == m["version"] \
                and e.get("settings_id") == entry["settings_id"]:
            return (f"entry {e['id']} already holds method {m['name']!r} version {m['version']!r} on this split "
                    "truth and task", f"give the new run another --method-version, or {REMOVE_HINT}")
    return None


def entry_with_kept_files(*, reports: list[dict[str, Any]], stored: list[dict[str, Any]], suffixes: list[str],
                          **fields: Any) -> dict[str, Any]:
    """:func:`~wlbench.leaderboard.entries.build_entry`, with each run's ``submission.file`` set to where its
    predictions are kept (``submissions/<id>/run<i><suffix>``; the id does not depend on these paths)."""
    entry_id = build_entry(reports=reports, stored=stored, **fields)["id"]
    for i, (item, suffix) in enumerate(zip(stored, suffixes)):
        item["file"] = f"submissions/{entry_id}/run{i}{suffix.lower()}"
    return build_entry(reports=reports, stored=stored, **fields)


def check_not_trained_on(split: str, config: dict[str, Any]) -> None:
    """Refuse an entry whose config names the scored ``split`` as a split it learned from: any key ending in
    ``split`` (``train_split``, ``valid_split``: a model trained, or its epochs chosen, on the split it is
    scored on) whose value is ``split``."""
    seen = sorted(key for key, value in config.items() if str(key).endswith("split") and value == split)
    if seen:
        raise WlbenchError(f"config {seen[0]} = {split!r}: this model learned from split {split!r}, the split it "
                           "would be ranked on; the board does not rank it",
                           hint=f"train on another split (the default), or score on a split other than {split!r}")


def submit_run(board_dir: Path, dataset_path: Path, name: str, predictions: Sequence[Path], *,
               split: str = "eval", task: str | None = None, method_version: str = "", description: str = "",
               link: str = "", config: dict[str, Any] | None = None, seeds: Sequence[int] | None = None,
               settings=None, progress=None) -> Path:
    """Score ``predictions`` (one file per seed of the method ``name``) against ``dataset_path`` and add
    one entry to the board. Returns the entry's path.

    Absolute paths in ``description`` are kept from the checkout on (``/home/me/wlbench/baselines/x.toml`` ->
    ``baselines/x.toml``, :func:`~wlbench.leaderboard.entries.portable_text`).

    Refuses (``WlbenchError``): an empty name, a ``link`` other than an http(s) URL, missing files, a file
    declaring another split truth id, dataset name or split, a dataset whose labels changed after it was
    written, an invalid submission (every problem listed), files of different tasks, a
    duplicate (same predictions file already on the board for this dataset version/split/task, or the
    same method name + version there), a ``config`` that trained on the scored split
    (:func:`check_not_trained_on`).
    """
    from wlbench.dataset.reader import open_dataset
    from wlbench.scoring import Settings, score_file
    from wlbench.submissions import infer_task

    board_dir, dataset_path = Path(board_dir), Path(dataset_path)
    preds = [Path(p) for p in predictions]
    if not name or not name.strip():
        raise WlbenchError("a leaderboard entry needs a method name", hint="pass --name")
    link = check_link(link)
    description = portable_text(description)  # no developer's machine paths in a shared board
    if not preds:
        raise WlbenchError("no predictions files given", hint="pass one file per seed of the method")
    for p in preds:
        require_input_file(p, "predictions file", hint="check the path")
    if len({hash_file(p) for p in preds}) != len(preds):
        raise WlbenchError("the same predictions file is given twice", hint="give one file per seed")
    seeds_l: list[int | None] = list(seeds) if seeds is not None else [None] * len(preds)
    if len(seeds_l) != len(preds):
        raise WlbenchError(f"{len(seeds_l)} seeds for {len(preds)} predictions files",
                           hint="give one seed per predictions file, in the same order")
    check_not_trained_on(split, config or {})
    settings = settings or Settings()
    with open_dataset(dataset_path) as ds:
        ds_name = ds.name
        split_truth_id = ds.split(split).truth_id  # raises naming the splits it has, or an edited truth
    tasks = {task or infer_task(p) for p in preds}
    if len(tasks) != 1:
        raise WlbenchError(f"predictions of different tasks in one entry: {sorted(tasks)}",
                           hint="submit each task as its own entry")
    task = tasks.pop()
    for p in preds:
        _check_declared(p, dataset_path, ds_name, split_truth_id, split)
    reports = []
    for p in preds:
        report = score_file(dataset_path, p, split=split, task=task, settings=settings, progress=progress)
        if report["dataset"]["split_truth_id"] != split_truth_id:  # the file changed under us
            raise WlbenchError(f"{dataset_path} changed while scoring (split truth id {split_truth_id} -> "
                               f"{report['dataset']['split_truth_id']})", hint="submit again")
        report["dataset"]["file"] = dataset_path.name
        reports.append(report)
    stored = [{"file": None, "original_name": p.name, "sha256": r["submission"]["sha256"],
               "format": r["submission"]["format"], "declared": declared_meta(p)} for p, r in zip(preds, reports)]
    submitted_at = datetime.now(UTC).isoformat(timespec="seconds")
    entry = entry_with_kept_files(reports=reports, stored=stored, suffixes=[p.suffix for p in preds],
                                  name=name.strip(), method_version=method_version, description=description,
                                  link=link, config=dict(config or {}), seeds=seeds_l, submitted_at=submitted_at)
    entry_id = entry["id"]
    target = entries_dir(board_dir) / f"{entry_id}.json"
    with board_lock(board_dir):
        dup = _duplicate(load_entries(board_dir, check_hash=False), entry)
        if dup is None and target.exists():
            dup = (f"{target} exists", REMOVE_HINT)
        if dup is not None:
            raise DuplicateEntryError(f"duplicate submission refused: {dup[0]}", hint=dup[1])
        sub_dir = submissions_dir(board_dir, entry_id)
        ensure_writable_dir(sub_dir.parent)
        with atomic_dir(sub_dir) as tmp:
            for p, s in zip(preds, stored):
                shutil.copyfile(p, tmp / Path(s["file"]).name)
                if hash_file(tmp / Path(s["file"]).name) != s["sha256"]:
                    raise WlbenchError(f"{p} changed while it was being submitted", hint="submit again")
        try:
            write_text_atomic(target, json.dumps(entry, indent=2, sort_keys=True, allow_nan=False) + "\n")
            chain.append(board_dir, chain.add_record(entry))
        except BaseException:
            target.unlink(missing_ok=True)
            shutil.rmtree(sub_dir, ignore_errors=True)
            raise
    return target


def remove_entry(board_dir: Path, entry_id: str, reason: str) -> None:
    """Take entry ``entry_id`` off the board: delete its file and kept predictions and append a ``remove``
    record (with ``reason``) to the chain, holding the board lock."""
    board_dir = require_board(Path(board_dir))
    if not reason or not reason.strip():
        raise WlbenchError("removing an entry needs a reason", hint="pass --reason, e.g. 'superseded by v2'")
    target = entries_dir(board_dir) / f"{entry_id}.json"
    with board_lock(board_dir):
        if not target.is_file():
            known = sorted(p.stem for p in entries_dir(board_dir).glob("*.json"))
            raise WlbenchError(f"board {board_dir} has no entry {entry_id!r}",
                               hint=f"entries look like {known[0]!r}" if known else "the board has no entries")
        chain.append(board_dir, chain.remove_record(entry_id, reason.strip()))
        target.unlink()
        shutil.rmtree(submissions_dir(board_dir, entry_id), ignore_errors=True)
