"""The leaderboard: entries computed from predictions, pinned to a dataset version, verified, rendered.

An entry (``<board>/entries/<id>.json``, schema in docs/leaderboard.md) is only ever written by
:func:`submit_run`, which re-scores the predictions itself and keeps a copy of them under
``<board>/submissions/<id>/``. :func:`verify_board` re-checks every entry (self-hash, prediction hashes,
and re-scoring when the dataset file is given); :func:`render_board` writes ``LEADERBOARD.md`` and a
self-contained ``index.html``.

Modules: :mod:`.entries` (schema, ids, hashes, summaries), :mod:`.board` (load, submit under a lock),
:mod:`.verify`, :mod:`.tables` (grouping, ranking, ties, terminal table), :mod:`.render` (Markdown,
HTML), :mod:`.plots` (matplotlib figures as base64 PNG).
"""

from __future__ import annotations

from wlbench.leaderboard.board import DEFAULT_BOARD, DuplicateEntryError, load_entries, submit_run
from wlbench.leaderboard.entries import SCHEMA
from wlbench.leaderboard.render import render_board
from wlbench.leaderboard.tables import show_board
from wlbench.leaderboard.verify import verify_board

__all__ = ["DEFAULT_BOARD", "DuplicateEntryError", "SCHEMA", "load_entries", "render_board", "show_board", "submit_run",
           "verify_board"]
