"""The README's main job, end to end, at a tiny scale: render, train, score, leaderboard, board page."""

from __future__ import annotations

import json

from wlbench.demo import DemoSettings, run_demo
from wlbench.leaderboard import load_entries


def test_demo_runs_end_to_end_and_is_idempotent(default_bank, tmp_path):
    lines: list[str] = []
    settings = DemoSettings(out=tmp_path / "demo", scale=0.01, overrides=("max_epochs=1", "warmup=1"),
                            workers=1)
    html = run_demo(settings, echo=lines.append)
    text = "\n".join(lines)
    for step in ("[1/5] default soundbank", "[2/5] rendered", "[3/5] training", "[4/5] eval split scored",
                 "[5/5] leaderboard entry", "Open the leaderboard: file://"):
        assert step in text, text
    assert html.is_file() and "turpault-classifier (demo)" in html.read_text(encoding="utf-8")
    demo_entries = [e for e in load_entries(settings.out / "leaderboard") if e["method"]["name"].endswith("(demo)")]
    assert len(demo_entries) == 1 and demo_entries[0]["split"] == "eval"
    report = json.loads((settings.out / "runs" / "turpault-classifier" / "reports" / "eval.json").read_text())
    assert report["dataset"]["content_id"] == demo_entries[0]["dataset"]["content_id"]

    lines.clear()
    run_demo(settings, echo=lines.append)  # the second run reuses the dataset and starts from a fresh board copy
    assert any("already rendered" in line for line in lines)
    assert any("[5/5] leaderboard entry" in line for line in lines)


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
