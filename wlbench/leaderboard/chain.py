"""The board's hash chain: ``<board>/chain.jsonl``, one record per change of the board, append-only.

Each line is the canonical JSON of one record::

    {"seq": n, "op": "add" | "remove", "id": <entry id>, "entry_sha256": ..., "predictions": [sha256, ...],
     "prev": <head of record n - 1>, "head": <SHA-256 of this record without "head">}

(``remove`` records carry ``id`` and ``reason`` only.) The first record's ``prev`` is :data:`GENESIS`. The
last ``head`` is the *board head*: it names the whole history of the board, and the rendered pages print
it. ``submit`` appends an ``add`` record and ``remove`` a ``remove`` record, holding the board lock.

What it catches (docs/leaderboard.md): an entry edited after submission even when its ``entry_sha256`` was
recomputed (the chain still holds the old hash), an entry or predictions file added or removed by hand,
and any rewrite of an earlier record (every later head changes, so the committed head changes in review).
A hash chain has no secret: someone who rewrites the entries *and* the chain from the edited record on
is caught only by re-scoring the kept predictions (``leaderboard verify --dataset``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wlbench.atomic import write_text_atomic
from wlbench.errors import WlbenchError
from wlbench.hashing import canonical_json, hash_json

CHAIN_FILE = "chain.jsonl"
GENESIS = "0" * 64


def chain_path(board_dir: Path) -> Path:
    return Path(board_dir) / CHAIN_FILE


def _link(record: dict[str, Any], seq: int, prev: str) -> dict[str, Any]:
    record = {**record, "seq": seq, "prev": prev}
    record["head"] = hash_json(record)
    return record


def add_record(entry: dict[str, Any]) -> dict[str, Any]:
    """The (unlinked) record of a new entry: its id, self-hash and the sha256 of each kept predictions file."""
    return {"op": "add", "id": entry["id"], "entry_sha256": entry["entry_sha256"],
            "predictions": [run["submission"]["sha256"] for run in entry["runs"]]}


def remove_record(entry_id: str, reason: str) -> dict[str, Any]:
    return {"op": "remove", "id": entry_id, "reason": reason}


def read_chain(board_dir: Path) -> list[dict[str, Any]]:
    """The records of the board's chain (an empty list when the board has none)."""
    path = chain_path(board_dir)
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise WlbenchError(f"{path} line {number} is not JSON ({exc})",
                               hint="restore the chain from version control") from None
        if not isinstance(record, dict):
            raise WlbenchError(f"{path} line {number} is not a JSON object", hint="restore it from version control")
        records.append(record)
    return records


def head(records: list[dict[str, Any]]) -> str:
    """The board head: the last record's head (:data:`GENESIS` for an empty chain)."""
    return str(records[-1].get("head", "")) if records else GENESIS


def append(board_dir: Path, *records: dict[str, Any]) -> str:
    """Link ``records`` after the chain's last one and write the chain atomically; returns the new head.
    The caller holds the board lock."""
    chain = read_chain(board_dir)
    for record in records:
        chain.append(_link(record, len(chain), head(chain)))
    write_text_atomic(chain_path(board_dir), "".join(canonical_json(r) + "\n" for r in chain))
    return head(chain)


def write_chain(board_dir: Path, records: list[dict[str, Any]]) -> str:
    """Write a new chain holding ``records`` (unlinked) from :data:`GENESIS`; returns its head."""
    chain: list[dict[str, Any]] = []
    for record in records:
        chain.append(_link(record, len(chain), head(chain)))
    write_text_atomic(chain_path(board_dir), "".join(canonical_json(r) + "\n" for r in chain))
    return head(chain)


@dataclass
class ChainState:
    """A replayed chain: the live entries (id -> add record) and the problems found on the way."""

    live: dict[str, dict[str, Any]]
    problems: list[str]
    head: str


def replay(records: list[dict[str, Any]]) -> ChainState:
    """Check every link (sequence, ``prev``, ``head``) and replay the adds and removes."""
    live: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    prev = GENESIS
    for number, record in enumerate(records):
        where = f"{CHAIN_FILE} record {number}"
        body = {k: v for k, v in record.items() if k != "head"}
        if record.get("seq") != number or record.get("prev") != prev or record.get("head") != hash_json(body):
            problems.append(f"{where}: broken link (the chain was edited; every later head depends on it)")
        prev = str(record.get("head"))
        entry_id, op = record.get("id"), record.get("op")
        if op == "add" and entry_id not in live:
            live[str(entry_id)] = record
        elif op == "remove" and entry_id in live:
            del live[str(entry_id)]
        else:
            problems.append(f"{where}: {op!r} of entry {entry_id!r} does not follow from the records before it")
    return ChainState(live, problems, prev)
