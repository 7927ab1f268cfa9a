"""The README's main job, end to end, at the reference scale with a capped training: render, train, score,
leaderboard (beside the reference entries), board page."""

from __future__ import annotations

import json

from wlbench.demo import DemoSettings, run_demo
from wlbench.leaderboard import load_entries, verify_board
from wlbench.leaderboard.tables import build_tables


def test_demo_runs_end_to_end_joins_the_reference_table_and_is_idempotent(default_bank, tmp_path):
    """At the reference scale (0.2; training capped to a few clips and one epoch), the demo's entry lands in
    the same table as the repository's reference entries: the eval truth is the same on every machine."""
    lines: list[str] = []
    settings = DemoSettings(out=tmp_path / "demo", scale=0.2,
                            overrides=("max_epochs=1", "warmup=1", "train_clips=20"), workers=2)
    html = run_demo(settings, echo=lines.append)
    text = "\n".join(lines)
    for step in ("[1/5] default soundbank", "[2/5] rendered", "[3/5] training", "[4/5] eval split scored",
                 "[5/5] leaderboard entry", "Open the leaderboard: file://"):
        assert step in text, text
    assert html.is_file() and "turpault-classifier (demo)" in html.read_text(encoding="utf-8")
    board = settings.out / "leaderboard"
    demo_entries = [e for e in load_entries(board) if e["method"]["name"].endswith("(demo)")]
    assert len(demo_entries) == 1 and demo_entries[0]["split"] == "eval"
    report = json.loads((settings.out / "runs" / "turpault-classifier" / "reports" / "eval.json").read_text())
    assert report["dataset"]["split_truth_id"] == demo_entries[0]["dataset"]["split_truth_id"]
    table = next(t for t in build_tables(load_entries(board)) if demo_entries[0] in [r.entry for r in t.rows])
    references = [r.entry for r in table.rows if r.entry != demo_entries[0]]
    assert references and not any(e["method"]["name"].endswith("(demo)") for e in references)
    assert verify_board(board) == []  # chain and page follow the new entry

    # a second run reuses the dataset and starts from a fresh copy of the repository's board
    from wlbench.demo import _board, _dataset

    lines.clear()
    assert _dataset(settings, lines.append) == settings.out / "waa-scale0.2.h5"
    assert any("already rendered" in line for line in lines)
    fresh = _board(settings)
    assert not [e for e in load_entries(fresh) if e["method"]["name"].endswith("(demo)")] and load_entries(fresh)


def test_demo_never_replaces_a_board_it_did_not_make(tmp_path):
    import pytest

    from wlbench.demo import REPO_ROOT, _board
    from wlbench.errors import WlbenchError

    foreign = tmp_path / "leaderboard"
    foreign.mkdir()
    (foreign / "entries").mkdir()
    with pytest.raises(WlbenchError, match="was not made by `wlbench demo`"):
        _board(DemoSettings(out=tmp_path))
    assert (foreign / "entries").is_dir()
    with pytest.raises(WlbenchError, match="repository's own leaderboard"):
        _board(DemoSettings(out=REPO_ROOT))
