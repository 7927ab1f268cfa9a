"""The leaderboard: submit (re-scored, pinned, refused when wrong or duplicate, safe under concurrency),
verify (tampering shows), show and render."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from leaderboard_helpers import write_predictions

from wlbench.cli import main
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_json
from wlbench.leaderboard import chain, load_entries, render_board, show_board, submit_run, verify_board
from wlbench.leaderboard.entries import HASH_FIELD, SCHEMA, self_hash
from wlbench.leaderboard.tables import rank_rows
from wlbench.scoring import Settings, score_file

FAST = Settings(n_resamples=50)


@pytest.fixture(scope="module")
def preds(tiny_dataset, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("preds")
    return {"good0": write_predictions(tiny_dataset, d / "good0.csv", 0.35, 0),
            "good1": write_predictions(tiny_dataset, d / "good1.csv", 0.35, 1),
            "good2": write_predictions(tiny_dataset, d / "good2.csv", 0.35, 2),
            "noisy": write_predictions(tiny_dataset, d / "noisy.csv", 0.9, 3),
            "other": write_predictions(tiny_dataset, d / "other.csv", 0.3, 4)}


@pytest.fixture(scope="module")
def board(tiny_dataset, preds, tmp_path_factory) -> Path:
    b = tmp_path_factory.mktemp("board") / "leaderboard"
    submit_run(b, tiny_dataset, "Strong", [preds["good0"], preds["good1"], preds["good2"]], method_version="1.0",
               description="true labels + small noise", link="https://example.org/strong",
               config={"lr": 0.001}, seeds=[0, 1, 2], settings=FAST)
    submit_run(b, tiny_dataset, "Noisy", [preds["noisy"]], seeds=[3], settings=FAST)
    return b


def _copy(board: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "board"
    shutil.copytree(board, dst)
    return dst


def test_entry_is_rescored_pinned_and_complete(board, tiny_dataset, preds):
    entries = {e["method"]["name"]: e for e in load_entries(board)}
    strong = entries["Strong"]
    assert strong["schema"] == SCHEMA
    assert strong[HASH_FIELD] == self_hash(strong)
    assert strong["method"] == {"name": "Strong", "version": "1.0", "description": "true labels + small noise",
                                "link": "https://example.org/strong", "config": {"lr": 0.001}, "seeds": [0, 1, 2]}
    report = score_file(tiny_dataset, preds["good1"], split="eval", task=None, settings=FAST)
    assert strong["dataset"]["content_id"] == report["dataset"]["content_id"]
    assert strong["dataset"]["spec_id"] == report["dataset"]["spec_id"]
    assert strong["harness_version"] == report["harness_version"]
    assert strong["settings"] == report["settings"]
    assert strong["runs"][1]["headline"] == report["headline"]
    assert strong["runs"][1]["per_class"] == report["per_class"]
    assert strong["runs"][1]["submission"]["sha256"] == report["submission"]["sha256"]
    kept = board / strong["runs"][1]["submission"]["file"]
    assert kept.read_bytes() == preds["good1"].read_bytes()
    vals = [r["headline"]["map"]["value"] for r in strong["runs"]]
    summ = strong["summary"]["headline"]["map"]
    assert summ["n_runs"] == 3 and summ["value"] == pytest.approx(sum(vals) / 3)
    assert summ["std"] > 0 and summ["ci_low"] <= summ["value"] <= summ["ci_high"]
    assert set(strong["summary"]["per_class"]) == {"Dog", "Cat", "Speech"}
    noisy = entries["Noisy"]
    assert noisy["summary"]["headline"]["map"]["std"] == 0.0 and noisy["method"]["seeds"] == [3]
    assert verify_board(board, [tiny_dataset]) == []


def test_tampered_scores_are_detected_by_verify(board, tiny_dataset, tmp_path):
    b = _copy(board, tmp_path)
    path = next(p for p in (b / "entries").glob("*.json") if json.loads(p.read_text())["method"]["name"] == "Noisy")
    entry = json.loads(path.read_text())
    entry["summary"]["headline"]["map"]["value"] = 0.99
    entry["runs"][0]["headline"]["map"]["value"] = 0.99
    path.write_text(json.dumps(entry))
    res = CliRunner().invoke(main, ["leaderboard", "verify", "--board", str(b)])
    assert res.exit_code == 2
    assert "entry hash mismatch" in res.output and path.name in res.output
    for args in (["show"], ["render", "--out", str(tmp_path / "site")]):  # nothing forged is shown
        res = CliRunner().invoke(main, ["leaderboard", *args, "--board", str(b)])
        assert res.exit_code == 2 and "entry hash mismatch" in res.output and path.name in res.output
    assert not (tmp_path / "site" / "index.html").exists()
    # a forger who also recomputes the self-hash is caught by the chain, which recorded the entry's hash
    entry[HASH_FIELD] = self_hash(entry)
    path.write_text(json.dumps(entry))
    problems = verify_board(b)
    assert any(path.name in p and "edited after submission" in p for p in problems), problems
    # one who rewrites the chain too changes the board head (visible in review) ...
    head = chain.head(chain.read_chain(b))
    chain.write_chain(b, [chain.add_record(e) for e in load_entries(b)])
    assert chain.head(chain.read_chain(b)) != head
    assert verify_board(b) == [] or all("LEADERBOARD" in p or "index.html" in p for p in verify_board(b))
    problems = verify_board(b, [tiny_dataset])  # ... and is caught by re-scoring the kept predictions
    assert any("differ from re-scored predictions" in p and "headline.map.value" in p for p in problems)
    res = CliRunner().invoke(main, ["leaderboard", "verify", "--board", str(b), "--dataset", str(tiny_dataset)])
    assert res.exit_code == 2 and "recorded 0.99" in res.output


def test_tampered_or_missing_predictions_and_summary_are_detected(board, tmp_path):
    b = _copy(board, tmp_path)
    entry = next(e for e in load_entries(b) if e["method"]["name"] == "Strong")
    kept = b / entry["runs"][0]["submission"]["file"]
    kept.write_text(kept.read_text().replace("0.", "0.9", 1))
    (b / entry["runs"][1]["submission"]["file"]).unlink()
    problems = verify_board(b)
    assert any("do not match their recorded sha256" in p for p in problems)
    assert any("missing" in p for p in problems)
    shutil.copytree(b / "submissions" / entry["id"], b / "submissions" / "orphan")
    assert any("orphan" in p and "without an entry" in p for p in verify_board(b))


def test_other_truth_is_refused_naming_both_ids_and_content_id_is_informative(tiny_dataset, tmp_path):
    from wlbench.dataset.reader import open_dataset

    with open_dataset(tiny_dataset) as ds:
        truth = ds.split("eval").truth_id
    other = "f" * 64
    p = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.1, 0, header={"split_truth_id": other})
    with pytest.raises(WlbenchError) as exc:
        submit_run(tmp_path / "b", tiny_dataset, "X", [p], settings=FAST)
    assert other in str(exc.value) and truth in str(exc.value)
    res = CliRunner().invoke(main, ["leaderboard", "submit", "--board", str(tmp_path / "b"), "--dataset",
                                    str(tiny_dataset), "--name", "X", str(p)])
    assert res.exit_code == 2 and other in res.output and truth in res.output
    assert not (tmp_path / "b" / "entries").exists() or not list((tmp_path / "b" / "entries").iterdir())
    # the right truth id is accepted, whatever features (content id) the predictions were computed from
    ok = write_predictions(tiny_dataset, tmp_path / "ok.csv", 0.1, 0,
                           header={"split_truth_id": truth, "content_id": other, "split": "eval"})
    entry = json.loads(submit_run(tmp_path / "b", tiny_dataset, "X", [ok], settings=FAST).read_text())
    assert entry["dataset"]["split_truth_id"] == truth and entry["runs"][0]["submission"]["declared"]["content_id"] == other


def test_other_split_and_invalid_predictions_are_refused(tiny_dataset, tmp_path):
    p = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.1, 0, header={"split": "train"})
    with pytest.raises(WlbenchError, match="declares split 'train'"):
        submit_run(tmp_path / "b", tiny_dataset, "X", [p], settings=FAST)
    tr = write_predictions(tiny_dataset, tmp_path / "tr.csv", 0.1, 0, split="train")
    with pytest.raises(WlbenchError, match="wrong_split"):
        submit_run(tmp_path / "b", tiny_dataset, "X", [tr], settings=FAST)
    assert load_entries(tmp_path / "b") == []


def test_duplicates_are_refused(board, tiny_dataset, preds, tmp_path):
    b = _copy(board, tmp_path)
    before = sorted(p.name for p in (b / "entries").iterdir())
    with pytest.raises(WlbenchError, match="duplicate submission refused"):  # same file, other name
        submit_run(b, tiny_dataset, "Renamed", [preds["noisy"]], settings=FAST)
    with pytest.raises(WlbenchError) as info:  # same file, new version: the hint must not suggest a version
        submit_run(b, tiny_dataset, "Noisy", [preds["noisy"]], method_version="9", settings=FAST)
    assert "enters the board once" in str(info.value) and "--method-version" not in str(info.value)
    with pytest.raises(WlbenchError, match="already holds method 'Noisy'"):  # same method, new file
        submit_run(b, tiny_dataset, "Noisy", [preds["other"]], settings=FAST)
    assert sorted(p.name for p in (b / "entries").iterdir()) == before
    # a new version of the method is a new entry
    submit_run(b, tiny_dataset, "Noisy", [preds["other"]], method_version="2", settings=FAST)
    assert len(load_entries(b)) == len(before) + 1


def test_concurrent_submits_keep_every_entry(tiny_dataset, tmp_path):
    board = tmp_path / "board"
    files = [write_predictions(tiny_dataset, tmp_path / f"c{i}.csv", 0.2, 10 + i) for i in range(3)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    procs = [subprocess.Popen([sys.executable, "-m", "wlbench.cli", "leaderboard", "submit", "--board", str(board),
                               "--dataset", str(tiny_dataset), "--name", f"M{i}", "--bootstrap", "20", str(f)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i, f in enumerate(files)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1].decode()[-500:] for o in outs]
    assert all(b"written to" in o[0] for o in outs)
    names = sorted(e["method"]["name"] for e in load_entries(board))
    assert names == ["M0", "M1", "M2"]
    assert verify_board(board) == []
    assert not [p for p in (board / "entries").iterdir() if p.name.startswith(".")]  # no temporary leftovers


def _fake(name, value, lo, hi):
    return {"id": name, "method": {"name": name}, "runs": [{}],
            "summary": {"headline": {"m": {"value": value, "ci_low": lo, "ci_high": hi, "n_runs": 1}}}}


def test_ranking_marks_ties_within_intervals():
    rows = rank_rows([_fake("c", 0.70, 0.60, 0.80), _fake("a", 0.90, 0.85, 0.95), _fake("b", 0.88, 0.84, 0.92),
                      _fake("d", 0.30, 0.20, 0.40), _fake("e", None, None, None)], "m")
    assert [(r.entry["id"], r.rank, r.tied) for r in rows] == [
        ("a", 1, True), ("b", 1, True), ("c", 3, False), ("d", 4, False), ("e", 5, False)]
    chain = rank_rows([_fake("a", 0.9, 0.8, 1.0), _fake("b", 0.8, 0.7, 0.9), _fake("c", 0.7, 0.6, 0.79)], "m")
    assert [(r.rank, r.tied) for r in chain] == [(1, True), (1, True), (3, False)]  # c overlaps b, not a
    err = rank_rows([_fake("x", 0.1, 0.05, 0.15), _fake("y", 0.5, 0.4, 0.6)], "event_error_rate_micro")
    assert [r.entry["id"] for r in err] == ["x", "y"]  # lower is better


def test_show_and_render(board, tiny_dataset, tmp_path):
    text = show_board(board)
    assert "tiny" in text and "Strong 1.0" in text and "Noisy" in text and "ranked by map" in text
    strong_line = next(line for line in text.splitlines() if "Strong" in line)
    assert "±" in strong_line and "[" in strong_line
    assert "no entries" in show_board(tmp_path / "empty")
    with pytest.raises(WlbenchError, match="no table has metric"):
        show_board(board, metric="nope")
    res = CliRunner().invoke(main, ["leaderboard", "show", "--board", str(board), "--metric", "lwlrap",
                                    "--dataset", "tiny"])
    assert res.exit_code == 0 and "ranked by lwlrap" in res.output
    md, page = render_board(board, tmp_path / "out")
    first = (md.read_bytes(), page.read_bytes())
    text = page.read_text()
    assert "<script src" not in text and "http://" not in text.replace("https://example.org/strong", "")
    assert "data:image/png;base64," in text and 'class="drill"' in text and "Strong 1.0" in text
    assert "| rank | method | runs | map" in md.read_text()
    render_board(board, tmp_path / "out")
    assert (md.read_bytes(), page.read_bytes()) == first  # deterministic: regenerated, never hand-edited
    res = CliRunner().invoke(main, ["leaderboard", "render", "--board", str(board), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 0 and "file://" in res.output


def test_segment_heatmap_drawn_from_config(tiny_dataset, tmp_path):
    b = tmp_path / "b"
    k = 0
    for tr in (0.2, 1.0):
        for te in (0.2, 1.0):
            p = write_predictions(tiny_dataset, tmp_path / f"s{k}.csv", 0.2 + 0.1 * k, 20 + k)
            submit_run(b, tiny_dataset, "SegNet", [p], method_version=f"tr{tr}-te{te}",
                       config={"train_segment": tr, "test_segment": te}, settings=Settings(n_resamples=0))
            k += 1
    _, page = render_board(b, tmp_path / "out")
    assert 'alt="segments SegNet"' in page.read_text()


def test_entry_id_is_stable_hash_of_what_it_pins(board):
    e = load_entries(board)[0]
    assert e["id"].endswith(e["key"][:10])
    assert e["key"] == hash_json({"name": e["method"]["name"], "version": e["method"]["version"],
                                  "split_truth_id": e["dataset"]["split_truth_id"], "split": e["split"],
                                  "task": e["task"],
                                  "submissions": sorted(r["submission"]["sha256"] for r in e["runs"])})


def test_detection_and_embedding_entries(tiny_dataset, tmp_path):
    import numpy as np

    from wlbench.dataset.reader import open_dataset

    with open_dataset(tiny_dataset) as ds:
        sp = ds.split("eval")
        events, labels = sp.events(), sp.weak_labels()
    det = tmp_path / "det.tsv"
    ev = events[["filename", "onset", "offset", "event_label"]].copy()
    ev["onset"] = ev["onset"] + 0.05
    ev.to_csv(det, sep="\t", index=False)
    emb = tmp_path / "emb.npy"
    np.save(emb, labels.astype(float) + np.random.default_rng(0).normal(0, 0.1, labels.shape))
    b = tmp_path / "b"
    d = submit_run(b, tiny_dataset, "Oracle SED", [det], settings=Settings(n_resamples=20))
    e = submit_run(b, tiny_dataset, "Label embedding", [emb], settings=Settings(n_resamples=20))
    assert json.loads(d.read_text())["task"] == "detection" and json.loads(e.read_text())["task"] == "embedding"
    assert "ranked by event_f1_macro" in show_board(b) and "ranked by centroid_accuracy_macro" in show_board(b)
    md, page = render_board(b, tmp_path / "out")
    assert md.read_text().count("## tiny") == 2 and 'alt="per-class' in page.read_text()
    assert verify_board(b, [tiny_dataset]) == []


# --- hand-edited entries: every defect is a listed problem, never a traceback ------------------------------

def _edit_noisy(board: Path, tmp_path: Path, edit, rehash: bool = True) -> tuple[Path, Path]:
    b = _copy(board, tmp_path)
    path = next(p for p in (b / "entries").glob("*.json") if json.loads(p.read_text())["method"]["name"] == "Noisy")
    entry = json.loads(path.read_text())
    edit(entry)
    if rehash:
        entry[HASH_FIELD] = self_hash(entry)
    path.write_text(json.dumps(entry))
    return b, path


@pytest.mark.parametrize("rehash", [True, False])
@pytest.mark.parametrize("edit, expect", [
    (lambda e: e["runs"][0].pop("headline"), "run 0: missing 'headline'"),
    (lambda e: e["runs"][0].pop("per_class"), "run 0: missing 'per_class'"),
    (lambda e: e["runs"][0].pop("submission"), "run 0: missing 'submission'"),
    (lambda e: e["runs"][0].__setitem__("headline", [1, 2]), "run 0: 'headline' must be a JSON object"),
    (lambda e: e["runs"].__setitem__(0, "run0.csv"), "run 0: must be a JSON object"),
    (lambda e: e.__setitem__("settings", ["x"]), "'settings' must be a JSON object"),
])
def test_verify_lists_malformed_runs_without_crashing(board, tmp_path, tiny_dataset, edit, expect, rehash):
    b, path = _edit_noisy(board, tmp_path, edit, rehash)
    problems = verify_board(b, [tiny_dataset])
    assert any(path.name in p and expect in p for p in problems), problems
    res = CliRunner().invoke(main, ["leaderboard", "verify", "--board", str(b), "--dataset", str(tiny_dataset)])
    assert res.exit_code == 2 and expect in res.output and isinstance(res.exception, SystemExit), res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("edit, expect", [
    (lambda e: e["settings"].__setitem__("threshold", None), "settings"),
    (lambda e: e["settings"].__setitem__("threshold", {"Dog": "high"}), "settings"),
    (lambda e: e["runs"][0]["per_class"].__setitem__("Dog", 5), "summary"),
    (lambda e: e["runs"][0]["headline"].__setitem__("map", 0.5), "summary"),
])
def test_verify_lists_unrebuildable_settings_and_summary(board, tmp_path, tiny_dataset, edit, expect):
    b, path = _edit_noisy(board, tmp_path, edit)
    problems = verify_board(b, [tiny_dataset])
    assert any(path.name in p and expect in p for p in problems), problems
    res = CliRunner().invoke(main, ["leaderboard", "verify", "--board", str(b)])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output


# --- submit options: thresholds, --config, links -----------------------------------------------------------

def _submit_cli(tiny_dataset, board, pred, *extra):
    return CliRunner().invoke(main, ["leaderboard", "submit", "--board", str(board), "--dataset", str(tiny_dataset),
                                     "--name", "M", "--bootstrap", "20", *extra, str(pred)])


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_submit_refuses_non_finite_threshold(tiny_dataset, preds, tmp_path, value):
    res = _submit_cli(tiny_dataset, tmp_path / "b", preds["good0"], "--threshold", value)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert "threshold" in res.output and "finite" in res.output
    assert load_entries(tmp_path / "b") == []


def test_submit_threshold_file_with_null_names_the_class(tiny_dataset, preds, tmp_path):
    thr = tmp_path / "thr.json"
    thr.write_text('{"Dog": null, "Cat": 0.5, "Speech": 0.5}')
    res = _submit_cli(tiny_dataset, tmp_path / "b", preds["good0"], "--threshold", str(thr))
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert "'Dog'" in res.output


def test_submit_accepts_long_inline_config(tiny_dataset, preds, tmp_path):
    config = {"layers": list(range(200)), "note": "x" * 300}
    text = json.dumps(config)
    assert len(text) > 1000  # longer than any file name may be
    res = _submit_cli(tiny_dataset, tmp_path / "b", preds["good0"], "--config", text)
    assert res.exit_code == 0, res.output
    assert load_entries(tmp_path / "b")[0]["method"]["config"] == config


@pytest.mark.parametrize("value, expect", [("y" * 400, "--config"), ("{not json", "--config"),
                                           ("[1, 2]", "--config"), ("missing.json", "--config")])
def test_submit_refuses_bad_config_in_one_line(tiny_dataset, preds, tmp_path, value, expect):
    res = _submit_cli(tiny_dataset, tmp_path / "b", preds["good0"], "--config", value)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert expect in res.output and len(res.output.strip().splitlines()) == 1


def test_submit_reads_config_file(tiny_dataset, preds, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"lr": 0.01}')
    res = _submit_cli(tiny_dataset, tmp_path / "b", preds["good0"], "--config", str(cfg))
    assert res.exit_code == 0, res.output
    assert load_entries(tmp_path / "b")[0]["method"]["config"] == {"lr": 0.01}


@pytest.mark.parametrize("link", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "ftp://x.org/a",
                                  "example.org/paper", "https://", "//evil.org/x"])
def test_submit_refuses_non_http_links(tiny_dataset, preds, tmp_path, link):
    with pytest.raises(WlbenchError, match="link"):
        submit_run(tmp_path / "b", tiny_dataset, "M", [preds["good0"]], link=link, settings=FAST)
    res = _submit_cli(tiny_dataset, tmp_path / "b", preds["good0"], "--link", link)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit) and "http" in res.output, res.output
    assert load_entries(tmp_path / "b") == []


def test_links_are_percent_encoded_in_markdown_and_html(tiny_dataset, preds, tmp_path):
    link = "https://example.org/my paper (v2)"
    submit_run(tmp_path / "b", tiny_dataset, "M", [preds["good0"]], link=link, settings=FAST)
    md, page = render_board(tmp_path / "b", tmp_path / "out")
    text = md.read_text()
    assert "[M](https://example.org/my%20paper%20%28v2%29)" in text and link not in text
    assert 'href="https://example.org/my%20paper%20%28v2%29"' in page.read_text()


def test_render_shows_non_http_link_of_an_edited_entry_as_text(board, tmp_path):
    bad = 'javascript:alert("x")'
    b, _ = _edit_noisy(board, tmp_path, lambda e: e["method"].__setitem__("link", bad))
    md, page = render_board(b, tmp_path / "out")
    html_text = page.read_text()
    assert "javascript:" not in html_text.replace("javascript:alert(&quot;x&quot;)", "")
    assert 'href="javascript' not in html_text.lower() and "javascript:alert(&quot;x&quot;)" in html_text
    md_text = md.read_text()
    assert "](javascript" not in md_text and "[Noisy](" not in md_text


def test_temporaries_of_a_killed_submit_are_reported_then_removed(board, tiny_dataset, preds, tmp_path):
    """A submit killed mid-write leaves hidden temporaries in entries/ and submissions/: verify names them
    (exit 2), and the next submit into the board removes them (their process is provably gone)."""
    from killed_writer import killed_writer

    b = _copy(board, tmp_path)
    pid = killed_writer(b / "entries" / "x.json", b / "submissions" / "x")
    res = CliRunner().invoke(main, ["leaderboard", "verify", "--board", str(b)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.output.count("left by an interrupted write") == 2 and f"process {pid}" in res.output
    submit_run(b, tiny_dataset, "Fresh", [preds["other"]], settings=FAST)
    hidden = [p for folder in (b / "entries", b / "submissions") for p in folder.iterdir() if p.name.startswith(".")]
    assert hidden == [] and verify_board(b) == []


# --- the board's guard rails: an existing board, the hash chain, the rendered page, migration -----------------

@pytest.mark.parametrize("command", ["verify", "remove x --reason y", "migrate --dataset d.h5"])
def test_a_board_path_that_does_not_exist_is_an_error(tmp_path, command):
    """Issue 11: `verify` of a mistyped --board said "0 entries verified"; it (and every command that changes a
    board in place) is an error instead. (`show` of a board not made yet shows it empty: tests/test_cli_bad_inputs.)"""
    command, *rest = command.split()
    res = CliRunner().invoke(main, ["leaderboard", command, *rest, "--board", str(tmp_path / "nope")])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert res.output.startswith(f"error: board {tmp_path / 'nope'} not found") and len(res.output.splitlines()) == 1
    assert not (tmp_path / "nope").exists()
    (tmp_path / "file").write_text("x")
    res = CliRunner().invoke(main, ["leaderboard", command, *rest, "--board", str(tmp_path / "file")])
    assert res.exit_code == 2 and "0 entries" not in res.output


def test_chain_records_every_submit_and_remove(board, tiny_dataset, preds, tmp_path):
    b = _copy(board, tmp_path)
    records = chain.read_chain(b)
    assert [r["op"] for r in records] == ["add", "add"] and records[0]["prev"] == chain.GENESIS
    assert {r["id"] for r in records} == {e["id"] for e in load_entries(b)}
    render_board(b)
    res = CliRunner().invoke(main, ["leaderboard", "verify", "--board", str(b)])
    assert res.exit_code == 0 and chain.head(records) in res.output and "2 entries verified" in res.output
    noisy = next(e for e in load_entries(b) if e["method"]["name"] == "Noisy")
    res = CliRunner().invoke(main, ["leaderboard", "remove", noisy["id"], "--board", str(b), "--reason", "test"])
    assert res.exit_code == 0, res.output
    assert not (b / "entries" / f"{noisy['id']}.json").exists() and not (b / "submissions" / noisy["id"]).exists()
    assert chain.read_chain(b)[-1]["op"] == "remove" and chain.read_chain(b)[-1]["reason"] == "test"
    assert any("LEADERBOARD.md" in p for p in verify_board(b))  # the page still shows the removed entry
    render_board(b)
    assert verify_board(b, [tiny_dataset]) == []
    # resubmitting the removed predictions is an ordinary submit
    submit_run(b, tiny_dataset, "Noisy", [preds["noisy"]], seeds=[3], settings=FAST)
    render_board(b)
    assert verify_board(b) == [] and [r["op"] for r in chain.read_chain(b)] == ["add", "add", "remove", "add"]


def test_hand_made_changes_of_entries_chain_and_page_are_detected(board, tmp_path):
    b = _copy(board, tmp_path)
    render_board(b)
    assert verify_board(b) == []
    strong = next(e for e in load_entries(b) if e["method"]["name"] == "Strong")
    # an entry deleted by hand
    gone = _copy(b, tmp_path / "gone")
    (gone / "entries" / f"{strong['id']}.json").unlink()
    shutil.rmtree(gone / "submissions" / strong["id"])
    assert any("its file is missing" in p for p in verify_board(gone))
    # an entry added by hand (a copy of another under a new id, self-hash recomputed)
    added = _copy(b, tmp_path / "added")
    twin = dict(strong, id="strong-twin")
    twin[HASH_FIELD] = self_hash(twin)
    (added / "entries" / "strong-twin.json").write_text(json.dumps(twin))
    shutil.copytree(added / "submissions" / strong["id"], added / "submissions" / "strong-twin")
    assert any("strong-twin.json is not in chain.jsonl" in p for p in verify_board(added))
    # a chain record rewritten by hand
    broken = _copy(b, tmp_path / "broken")
    lines = (broken / "chain.jsonl").read_text().splitlines()
    lines[0] = lines[0].replace('"seq":0', '"seq":0,"note":"x"')
    (broken / "chain.jsonl").write_text("\n".join(lines) + "\n")
    assert any("broken link" in p for p in verify_board(broken))
    # the rendered page edited by hand
    page = _copy(b, tmp_path / "page")
    md = page / "LEADERBOARD.md"
    md.write_text(md.read_text().replace("Strong", "Strongest", 1))
    assert any("LEADERBOARD.md is not what the board renders to" in p for p in verify_board(page))
    (page / "chain.jsonl").unlink()
    assert any("chain.jsonl is missing" in p and "migrate" in p for p in verify_board(page))


def _as_v1(board: Path, dst: Path) -> Path:
    """The board as wlbench wrote it before truth ids: entries of schema /1 keyed by the content id, no chain
    and no truth ids (built by undoing what migration adds, then re-hashing)."""
    from wlbench.leaderboard.entries import SCHEMA_V1, make_id

    shutil.copytree(board, dst)
    (dst / "chain.jsonl").unlink()
    for path in sorted((dst / "entries").glob("*.json")):
        entry = json.loads(path.read_text())
        entry["schema"] = SCHEMA_V1
        del entry["dataset"]["truth_id"], entry["dataset"]["split_truth_id"]
        entry["key"] = hash_json({"name": entry["method"]["name"], "version": entry["method"]["version"],
                                  "content_id": entry["dataset"]["content_id"], "split": entry["split"],
                                  "task": entry["task"],
                                  "submissions": sorted(r["submission"]["sha256"] for r in entry["runs"])})
        old_id = entry["id"]
        entry["id"] = make_id(entry["method"]["name"], entry["method"]["version"], entry["key"])
        for run in entry["runs"]:
            run["submission"]["file"] = run["submission"]["file"].replace(old_id, entry["id"])
        entry[HASH_FIELD] = self_hash(entry)
        path.unlink()
        (dst / "entries" / f"{entry['id']}.json").write_text(json.dumps(entry, indent=2))
        (dst / "submissions" / old_id).rename(dst / "submissions" / entry["id"])
    return dst


def test_migrate_repins_a_board_from_before_truth_ids(board, tiny_dataset, tmp_path):
    legacy = _as_v1(board, tmp_path / "legacy")
    (legacy / ".gitignore").write_text(".lock\n")
    (legacy / "entries" / ".gitkeep").write_text("")
    (legacy / ".lock").write_text("")
    res = CliRunner().invoke(main, ["leaderboard", "show", "--board", str(legacy)])
    assert res.exit_code == 2 and "leaderboard migrate" in res.output
    assert any("chain.jsonl is missing" in p or "migrate" in p for p in verify_board(legacy))
    # an entry edited by hand is not migrated, and nothing changes
    edited = _copy(legacy, tmp_path / "edited")
    victim = sorted((edited / "entries").glob("*.json"))[0]
    victim.write_text(victim.read_text().replace('"Noisy"', '"Noisier"').replace('"Strong"', '"Stronger"'))
    before = sorted(str(p.relative_to(edited)) for p in edited.rglob("*"))
    res = CliRunner().invoke(main, ["leaderboard", "migrate", "--board", str(edited), "--dataset", str(tiny_dataset)])
    assert res.exit_code == 2 and "edited after submission" in res.output, res.output
    assert sorted(str(p.relative_to(edited)) for p in edited.rglob("*")) == before
    # the untouched legacy board is re-scored and re-pinned, entry for entry, to what submit writes today
    res = CliRunner().invoke(main, ["leaderboard", "migrate", "--board", str(legacy), "--dataset", str(tiny_dataset)])
    assert res.exit_code == 0 and "2 entries re-pinned" in res.output, res.output
    assert verify_board(legacy, [tiny_dataset]) == []
    assert (legacy / ".gitignore").read_text() == ".lock\n" and (legacy / "entries" / ".gitkeep").is_file()
    assert sorted(e["id"] for e in load_entries(legacy)) == sorted(e["id"] for e in load_entries(board))
    for old, new in zip(sorted(load_entries(board), key=lambda e: e["id"]),
                        sorted(load_entries(legacy), key=lambda e: e["id"])):
        assert new == old
    res = CliRunner().invoke(main, ["leaderboard", "migrate", "--board", str(legacy), "--dataset", str(tiny_dataset)])
    assert res.exit_code == 2 and "already has a chain.jsonl" in res.output


def test_tables_are_split_by_test_condition_and_titled_by_what_they_hold(tiny_dataset, preds, tmp_path):
    from wlbench.leaderboard.render import render_markdown
    from wlbench.leaderboard.tables import build_tables

    b = tmp_path / "lb"
    for i, (seg, key) in enumerate([(1.0, "good0"), (0.2, "good1"), (None, "good2"), (1.0, "noisy"),
                                    (10.0, "other")]):
        submit_run(b, tiny_dataset, f"m{i}", [preds[key]], config={"test_segment": seg}, settings=FAST,
                   description=f"run {i} (/home/dev/checkout/baselines/experiments/x.toml)")
    tables = build_tables(load_entries(b))
    # whole clips first, then segments from short to long; never two conditions in one ranking; a segment as
    # long as the clip (10 s of 10 s clips) is the whole clip
    assert [t.title for t in tables] == [f"tiny, scale 1, 6 clips: eval split, tagging, {c}"
                                         for c in ("whole clips", "200 ms segments", "1 s segments")]
    assert [len(t.rows) for t in tables] == [2, 1, 2]
    assert all(e["dataset"]["clip_duration"] == 10.0 for e in load_entries(b))
    md = render_markdown(tables, 5, "h")
    assert "5 entries" in md and "1 entry;" in md and "1 entries" not in md
    assert "/home/dev" not in md
    # the description is stored without the developer's path
    assert {e["method"]["description"] for e in load_entries(b)} >= {"run 0 (baselines/experiments/x.toml)"}


def test_controls_upper_bounds_and_paper_references():
    from wlbench.leaderboard.papers import REFERENCES, reference_for
    from wlbench.leaderboard.tables import control_kind

    def entry(name):
        return {"method": {"name": name}}

    assert control_kind(entry("prior (prior) [park2019]")) == "control"
    assert control_kind(entry("turpault-triplet (untrained) [turpault2020]")) == "control"
    assert control_kind(entry("dinkel-psl (oracle) [dinkel2022-oracle]")) == "upper bound"
    assert control_kind(entry("fonseca-masking (oracle-mask) [fonseca2020-bounds]")) == "upper bound"
    assert control_kind(entry("park-tri [park2019]")) is None and control_kind(entry("CNN (v2)")) is None
    assert reference_for(entry("park-tri [park2019-tau]")) is REFERENCES["park2019"]
    assert reference_for(entry("x [turpault2019-table2]")) is REFERENCES["turpault2019"]
    assert reference_for(entry("x [turpault20200]")) is None and reference_for(entry("hand-made")) is None
    # every docs section named exists as a heading of docs/baselines.md, and its anchor is GitHub's
    headings = [line.lstrip("#").strip() for line in
                (Path(__file__).parents[1] / "docs" / "baselines.md").read_text(encoding="utf-8").splitlines()
                if line.startswith("#")]
    for ref in REFERENCES.values():
        assert ref.section in headings
        assert ref.url is None or ref.url.startswith("https://")
    assert REFERENCES["park2019"].anchor == "park-et-al-dcase-2019-tri-training-with-adversarial-domain-adaptation"


def test_portable_text_cuts_absolute_paths_only():
    from wlbench.leaderboard.entries import portable_text

    assert portable_text("a (/work/main/baselines/experiments/d.toml)") == "a (baselines/experiments/d.toml)"
    assert portable_text("see /tmp/x/y.toml and C:\\Users\\me\\runs\\a.csv") == "see y.toml and runs/a.csv"
    kept = "ratio 1/2, relative baselines/a.toml, https://example.org/a/b, train_segment=200ms"
    assert portable_text(kept) == kept


def test_writing_needs_a_named_board_never_the_reference_one_by_default(tiny_dataset, preds, tmp_path, monkeypatch):
    """`submit`, `remove`, `migrate` and `train --submit` write only to --board or $WLBENCH_BOARD; the
    repository's ./leaderboard is written only when named. Reading falls back to it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WLBENCH_BOARD", raising=False)
    (tmp_path / "leaderboard").mkdir()  # a reference board in the working folder, as in a checkout
    submit = ["leaderboard", "submit", str(preds["good0"]), "--dataset", str(tiny_dataset), "--name", "M",
              "--bootstrap", "10"]
    for args in (submit, ["leaderboard", "remove", "some-id", "--reason", "x"],
                 ["train", "turpault-classifier", "--dataset", str(tiny_dataset), "--out", str(tmp_path / "run"),
                  "--submit", "--quiet"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "--board" in lines[0] and "WLBENCH_BOARD" in lines[0], res.output
    assert list((tmp_path / "leaderboard").iterdir()) == [] and not (tmp_path / "run").exists()  # before any work
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    res = CliRunner().invoke(main, ["train", "turpault-classifier", "--dataset", str(tiny_dataset), "--out",
                                    str(tmp_path / "run"), "--submit", "--quiet", "--board", str(blocker / "b")])
    assert res.exit_code == 2 and "is a file" in res.output and not (tmp_path / "run").exists(), res.output
    mine = tmp_path / "mine"
    res = CliRunner().invoke(main, submit, env={"WLBENCH_BOARD": str(mine)})
    assert res.exit_code == 0, res.output
    assert len(list((mine / "entries").glob("*.json"))) == 1 and list((tmp_path / "leaderboard").iterdir()) == []
    res = CliRunner().invoke(main, ["leaderboard", "show"], env={"WLBENCH_BOARD": str(mine)})
    assert res.exit_code == 0 and "ranked by map" in res.output
    res = CliRunner().invoke(main, ["leaderboard", "show"])  # reading: the reference board
    assert res.exit_code == 0 and "no entries" in res.output


def test_score_refuses_a_plot_it_cannot_draw_before_scoring(tiny_dataset, preds, tmp_path):
    """`score --json out.json --plot roc.png` on clip scores: one error line before any scoring, nothing
    written (the PSD-ROC exists for frame scores only); a figure type matplotlib cannot write, the same."""
    for plot, msg in ((tmp_path / "roc.png", "only frame-score submissions"), (tmp_path / "roc.jpg", "unknown figure")):
        args = ["score", str(tiny_dataset), str(preds["good0"]), "--bootstrap", "10", "--json",
                str(tmp_path / "out.json"), "--plot", str(plot)]
        if plot.suffix == ".jpg":
            args += ["--task", "frame_scores"]
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and msg in lines[0] and "--plot" in lines[0], res.output
        assert "map" not in res.output.lower().replace("--plot", "")  # no scores printed
        assert not (tmp_path / "out.json").exists() and not plot.exists()


def test_entries_with_the_same_labels_but_other_inputs_never_share_a_ranking(tiny_dataset, preds, tmp_path):
    """Two renders can share name and truth id (same labels) yet differ in audio (a domain-gap control): the
    spec id keeps them in separate tables, each titled by what differs."""
    import json

    from wlbench.leaderboard.tables import build_tables

    b = tmp_path / "lb"
    submit_run(b, tiny_dataset, "a", [preds["good0"]], settings=FAST)
    submit_run(b, tiny_dataset, "b", [preds["good1"]], settings=FAST)
    entries = load_entries(b)
    assert len(build_tables(entries)) == 1
    other = json.loads(json.dumps(entries[1]))
    other["dataset"]["spec_id"] = "f" * 64  # the same labels rendered from other audio
    tables = build_tables([entries[0], other])
    assert len(tables) == 2 and all(len(t.rows) == 1 for t in tables)
    assert len({t.title for t in tables}) == 2 and any("spec ffffffffffff" in t.title for t in tables)
