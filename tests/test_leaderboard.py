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
from wlbench.leaderboard import load_entries, render_board, show_board, submit_run, verify_board
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
    report = score_file(tiny_dataset, preds["good1"], "eval", None, FAST)
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
    # a forger who also recomputes the self-hash is caught by re-scoring the kept predictions
    entry[HASH_FIELD] = self_hash(entry)
    path.write_text(json.dumps(entry))
    assert verify_board(b) == []  # hashes alone cannot see it ...
    problems = verify_board(b, [tiny_dataset])  # ... re-scoring does
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


def test_other_content_id_is_refused_naming_both_ids(tiny_dataset, tmp_path):
    from wlbench.store import open_dataset

    with open_dataset(tiny_dataset) as ds:
        cid = ds.content_id
    other = "f" * 64
    p = write_predictions(tiny_dataset, tmp_path / "p.csv", 0.1, 0, header={"content_id": other})
    with pytest.raises(WlbenchError) as exc:
        submit_run(tmp_path / "b", tiny_dataset, "X", [p], settings=FAST)
    assert other in str(exc.value) and cid in str(exc.value)
    res = CliRunner().invoke(main, ["leaderboard", "submit", "--board", str(tmp_path / "b"), "--dataset",
                                    str(tiny_dataset), "--name", "X", str(p)])
    assert res.exit_code == 2 and other in res.output and cid in res.output
    assert not (tmp_path / "b" / "entries").exists() or not list((tmp_path / "b" / "entries").iterdir())
    # the right content id is accepted
    ok = write_predictions(tiny_dataset, tmp_path / "ok.csv", 0.1, 0, header={"content_id": cid, "split": "eval"})
    assert submit_run(tmp_path / "b", tiny_dataset, "X", [ok], settings=FAST).is_file()


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
                                  "content_id": e["dataset"]["content_id"], "split": e["split"], "task": e["task"],
                                  "submissions": sorted(r["submission"]["sha256"] for r in e["runs"])})


def test_detection_and_embedding_entries(tiny_dataset, tmp_path):
    import numpy as np

    from wlbench.store import open_dataset

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
