"""Re-check a board: every entry's self-hash, its summary, its kept predictions' hashes, the hash chain
(every entry as recorded when it was submitted), the rendered LEADERBOARD.md, and (when a dataset file
holding the entry's truth is given) the scores themselves, re-computed from the kept predictions.
docs/leaderboard.md says what each check catches."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wlbench.atomic import leftovers
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_file
from wlbench.leaderboard import chain
from wlbench.leaderboard.board import DEFAULT_BOARD, entries_dir, require_board
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


def score_differences(run: dict[str, Any], report: dict[str, Any], index: int, tol: float = TOLERANCE) -> list[str]:
    """Where run ``index`` of an entry (recorded) and a fresh scoring report of its predictions differ
    (headline and per-class scores; numbers within ``tol`` are equal)."""
    diffs: list[str] = []
    for key in ("headline", "per_class"):
        _diff(run.get(key), report[key], f"runs[{index}].{key}", diffs, tol)
    return diffs


def _what(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, WlbenchError) else f"{type(exc).__name__}: {exc}"


def dataset_index(datasets: Sequence[Path]) -> dict[str, Path]:
    """Split truth id -> dataset file, over every split of ``datasets`` (each split's truth is checked when
    it is opened: a file whose labels were edited is refused)."""
    from wlbench.dataset.reader import open_dataset

    index = {}
    for p in datasets:
        with open_dataset(Path(p)) as ds:
            for name in ds.splits:
                index[ds.split(name).truth_id] = Path(p)
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
    ds_path = datasets.get(entry["dataset"]["split_truth_id"])
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
            report = score_file(ds_path, file, split=str(entry["split"]), task=str(entry["task"]), settings=settings)
        except WlbenchError as exc:
            problems.append(f"{name}: run {i}: re-scoring failed: {exc}")
            continue
        diffs = score_differences(run, report, i, tol)
        if diffs:
            shown = "; ".join(diffs[:3]) + (f"; ... {len(diffs) - 3} more" if len(diffs) > 3 else "")
            problems.append(f"{name}: run {i}: recorded scores differ from re-scored predictions "
                            f"(entry harness {entry['harness_version']}, now {report['harness_version']}): {shown}")
    return problems


@dataclass
class BoardCheck:
    """What :func:`check_board` found: ``problems`` (empty: the board checks out), how many entries there
    are and how many were re-scored, and the board head."""

    problems: list[str]
    entries: int
    rescored: int
    head: str


def _chain_problems(board_dir: Path, entries: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    """Problems of the chain and of entries that differ from what it recorded; the board head."""
    try:
        records = chain.read_chain(board_dir)
    except WlbenchError as exc:
        return [str(exc)], ""
    if not records:
        if entries:
            return [f"{chain.CHAIN_FILE} is missing: the board's {len(entries)} entries cannot be checked against "
                    "what was submitted (a board from before the chain: run `wlbench leaderboard migrate`)"], ""
        return [], chain.GENESIS
    state = chain.replay(records)
    problems = list(state.problems)
    for entry_id, entry in sorted(entries.items()):
        record = state.live.get(entry_id)
        if record is None:
            problems.append(f"{entry_id}.json is not in {chain.CHAIN_FILE}: it was added by hand, or its submit "
                            "was interrupted (remove it, and submit again)")
        elif record.get("entry_sha256") != entry.get(HASH_FIELD):
            problems.append(f"{entry_id}.json is not the entry recorded at submission ({chain.CHAIN_FILE} holds "
                            f"entry hash {str(record.get('entry_sha256'))[:12]}, the file "
                            f"{str(entry.get(HASH_FIELD))[:12]}): it was edited after submission")
        elif record.get("predictions") != [r.get("submission", {}).get("sha256") for r in entry["runs"]]:
            problems.append(f"{entry_id}.json: its predictions are not those recorded in {chain.CHAIN_FILE}")
    for entry_id in sorted(set(state.live) - set(entries)):
        problems.append(f"{chain.CHAIN_FILE} holds entry {entry_id} but its file is missing (removed by hand: take "
                        "entries off with `wlbench leaderboard remove`)")
    return problems, state.head


def _page_problems(board_dir: Path, entries: list[dict[str, Any]], head: str) -> list[str]:
    """LEADERBOARD.md must be what the entries and the chain render to; index.html must name the head."""
    from wlbench.leaderboard.render import render_markdown
    from wlbench.leaderboard.tables import build_tables

    problems = []
    md, page = board_dir / "LEADERBOARD.md", board_dir / "index.html"
    if md.is_file() and md.read_text(encoding="utf-8") != render_markdown(build_tables(entries), len(entries), head):
        problems.append(f"{md.name} is not what the board renders to (stale, or edited by hand): run "
                        f"`wlbench leaderboard render --board {board_dir}`")
    if page.is_file() and f"board head <code>{head}</code>" not in page.read_text(encoding="utf-8"):
        problems.append(f"{page.name} was not rendered from this board (it names another board head): run "
                        f"`wlbench leaderboard render --board {board_dir}`")
    return problems


def check_board(board_dir: Path = DEFAULT_BOARD, datasets: Sequence[Path] = (),
                tol: float = TOLERANCE, progress: Callable[[int, int], None] | None = None) -> BoardCheck:
    """Every problem found on the board (see :func:`verify_board`), with counts and the board head.
    ``progress(done, total)`` is called after each entry (re-scoring one takes seconds)."""
    board_dir = require_board(Path(board_dir))
    if not entries_dir(board_dir).is_dir() and not chain.chain_path(board_dir).is_file():
        raise WlbenchError(f"{board_dir} is not a leaderboard: it has neither entries/ nor {chain.CHAIN_FILE}",
                           hint="pass --board with the folder `wlbench leaderboard submit` wrote")
    index = dataset_index(datasets)
    problems: list[str] = []
    d = entries_dir(board_dir)
    files = sorted(d.glob("*.json")) if d.is_dir() else []
    parsed: dict[str, dict[str, Any]] = {}
    rescored = 0
    for done, path in enumerate(files, 1):
        found = verify_entry(board_dir, path, index, tol)
        if progress is not None:
            progress(done, len(files))
        problems += found
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not structure_problems(entry):
            parsed[path.stem] = entry
            rescored += entry["dataset"]["split_truth_id"] in index and not found
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
    chain_found, head = _chain_problems(board_dir, parsed)
    problems += chain_found
    if not problems:
        problems += _page_problems(board_dir, list(parsed[k] for k in sorted(parsed)), head)
    return BoardCheck(problems, len(files), rescored, head)


def verify_board(board_dir: Path = DEFAULT_BOARD, datasets: Sequence[Path] = (),
                 tol: float = TOLERANCE) -> list[str]:
    """Every problem found on the board (an empty list: every entry checks out).

    Always checked: the board directory exists; JSON and schema, id = file name, the entry's self-hash,
    the summary against the runs, the kept predictions against their sha256; the hash chain (every link,
    every entry file as recorded when it was submitted, nothing added or removed by hand); and, when the
    rest is sound, that LEADERBOARD.md is what the board renders to and index.html names the board head.
    With ``datasets`` (dataset files), every entry whose split truth id is one of theirs is re-scored
    from its kept predictions with the recorded settings, and the recorded headline and per-class scores
    must match. Temporaries of an interrupted write (see :mod:`wlbench.atomic`) left in the board are
    reported too.
    """
    return check_board(board_dir, datasets, tol).problems
