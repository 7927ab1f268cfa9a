"""One run: validate the config -> train (in a temporary folder) -> predict -> submission files -> harness
reports -> learning curves -> ``summary.json`` -> the folder moves into place.

A run folder holds ``run.json`` (method, dataset ids, seed, resolved config), the method's checkpoint,
``log.jsonl`` (learning curves), ``audit.jsonl`` (labels measured against the truth, when the method audits),
``curves.png``, ``predictions/<split>[-<segment>].csv``, ``reports/<split>[-<segment>].json`` and, written
last, ``summary.json``. A method with frame scores also gets, for whole clips, its score files
(``predictions/<split>-frame-scores/``, scored threshold-free: PSDS1/2, F1 at the best threshold) and the
event list decoded from them (threshold, median filter: ``predictions/<split>-events.tsv``, scored
event- and segment-based). The run is built beside its final name and swapped in at the end: a failed or
interrupted run leaves an existing run folder exactly as it was, and never a half-written one.

A run folder is *finished* (:func:`is_finished`: every file its summary hashed is there and unchanged) or
*recorded* (:func:`is_recorded`: it holds at least the run's record, :data:`RECORD`: the summary, ``run.json``,
the learning curves, the audit and the reports, what tables and findings read; a finished run is recorded
too). A record is small and committable; a folder that holds only a record has no predictions or checkpoint,
so whatever needs them refuses it (:func:`require_finished`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wlbench import NUMERICS_VERSION
from wlbench.atomic import atomic_dir, ensure_writable_dir, write_text_atomic
from wlbench.dataset.intact import require_intact
from wlbench.dataset.reader import Dataset, open_dataset, opened
from wlbench.errors import WlbenchError
from wlbench.methods.config import resolve_config
from wlbench.methods.discovery import get_method
from wlbench.methods.protocol import CLIP, Audit, PredictContext, Predictions, TrainContext, run_option
from wlbench.methods.runtime import tune_malloc_for_training

RUN_CONFIG = "run.json"
EVENTS = "events"  # report/prediction suffix of the event lists decoded from frame scores
FRAME_SCORES = "frame-scores"  # suffix of the score files (threshold-free detection)
SUMMARY = "summary.json"
LOG = "log.jsonl"
AUDIT = "audit.jsonl"
CURVES = "curves.png"

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def segment_key(segment: str | float | None) -> str:
    """``None`` / ``"clip"`` -> ``"clip"``; ``0.2`` / ``"0.2"`` / ``"200ms"`` -> ``"200ms"``."""
    if segment is None or str(segment).lower() in (CLIP, "", "none"):
        return CLIP
    from wlbench.dataset.labels import segment_name

    try:
        return segment_name(float(segment))
    except ValueError:
        return str(segment)


def output_stem(split: str, segment: str) -> str:
    """File stem of a split's predictions and report: ``eval`` or ``eval-1s``."""
    return split if segment == CLIP else f"{split}-{segment}"


def dataset_meta(dataset: Dataset | Path) -> dict[str, Any]:
    """Name, ids, classes, splits, segment views (with duration) and clip duration of a dataset (open, or a
    file opened for the call)."""
    with opened(dataset) as ds:
        first = ds.split(ds.splits[0]) if ds.splits else None
        segments = {name: first.segment(name).duration for name in first.segment_names} if first else {}
        return {"name": ds.name, "content_id": ds.content_id, "spec_id": ds.spec_id, "classes": ds.classes,
                "split_truth_ids": {name: ds.split(name).truth_id for name in ds.splits},
                "splits": list(ds.splits), "segments": segments,
                "clip_duration": float(ds.attr("clip_duration", 0.0))}


def read_run(run_dir: Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder; one clear error when it is not one."""
    path = Path(run_dir) / RUN_CONFIG
    if not path.is_file():
        raise WlbenchError(f"{run_dir} is not a wlbench run (no {RUN_CONFIG})", hint="train one with `wlbench train`")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise WlbenchError(f"{path} is not valid JSON ({exc})", hint="train the run again") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict) or "method" not in info:
        raise WlbenchError(f"{path} is not a run description (needs method and config)", hint="train the run again")
    return info


def _requests(meta: dict[str, Any], splits: Sequence[str], segments: Sequence[str]) -> tuple[
        list[tuple[str, str]], dict[tuple[str, str], tuple[str, str]]]:
    """The (split, segment) pairs to ask a method for, and the pairs answered by another one: a segment view
    as long as the clip is the clip itself (one window starting at 0), so it is predicted once."""
    asked, same_as = [], {}
    for split in splits:
        if split not in meta["splits"]:
            raise WlbenchError(f"the dataset has no split {split!r}; it has {', '.join(meta['splits'])}")
        for seg in segments:
            if seg != CLIP and seg not in meta["segments"]:
                raise WlbenchError(f"the dataset has no segment view {seg!r}; it has "
                                   f"{', '.join([CLIP, *meta['segments']])}")
            whole = seg != CLIP and abs(meta["segments"][seg] - meta["clip_duration"]) < 1e-9
            if whole and CLIP in segments:
                same_as[(split, seg)] = (split, CLIP)
            else:
                asked.append((split, seg))
    return asked, same_as


@dataclasses.dataclass(frozen=True)
class Decoding:
    """How frame scores become an event list (the DCASE post-processing): a frame is active when its score
    is >= ``threshold``; a median filter of ``median_seconds`` (None: none) smooths the decisions."""

    threshold: float = 0.5
    median_seconds: float | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.threshold <= 1.0):
            raise WlbenchError(f"detection threshold {self.threshold} is not in [0, 1]")
        if self.median_seconds is not None and not (self.median_seconds > 0 and math.isfinite(self.median_seconds)):
            raise WlbenchError(f"median filter {self.median_seconds} s is not a positive number of seconds")


def predict_run(run_dir: str | Path, dataset: Dataset | str | Path, splits: Sequence[str] | None = None,
                segments: Sequence[str] | None = None, *, bootstrap: int = 1000, method: Any = None,
                echo: Echo | None = None, final_dir: Path | None = None,
                decoding: Decoding = Decoding()) -> dict[str, dict[str, Any]]:
    """Predict every split x segment with a trained run; write submissions and the harness's reports.

    ``splits`` default: the run's validation split and ``eval``; ``segments``: ``"clip"`` and/or segment view
    names (default: the clip and every segment view). ``final_dir``: where the run will live (reports name
    submission paths there) when ``run_dir`` is the temporary folder of a run being built. ``decoding``:
    how frame scores become event lists. Returns ``{split: {segment: headline}}`` (for whole clips of a
    frame-level method, the detection reports' headlines are merged in: tagging names first)."""
    with opened(dataset) as ds:
        return _predict_open(Path(run_dir), ds, splits, segments, bootstrap=bootstrap, method=method, echo=echo,
                             final_dir=final_dir, decoding=decoding)


def _predict_open(run_dir: Path, ds: Dataset, splits: Sequence[str] | None, segments: Sequence[str] | None, *,
                  bootstrap: int, method: Any, echo: Echo | None, final_dir: Path | None,
                  decoding: Decoding) -> dict[str, dict[str, Any]]:
    """:func:`predict_run` on an open dataset: every split's truth is built once (:meth:`Dataset.memo`) and
    shared by its segments' and tasks' reports."""
    from wlbench.scoring import Settings, score_file, write_report
    from wlbench.submissions import write_clip_scores

    require_finished(run_dir, "predicting (`wlbench predict`)")
    dataset = ds.path
    final_dir = Path(final_dir or run_dir)
    info = read_run(run_dir)
    sealed = (run_dir / SUMMARY).is_file() and unfinished_reason(run_dir) is None  # re-sealed after predicting
    method = method or get_method(info["method"])
    meta = dataset_meta(ds)
    trained_on = info.get("dataset", {}).get("content_id") if isinstance(info.get("dataset"), dict) else None
    if trained_on and trained_on != meta["content_id"]:  # its predictions and reports would contradict run.json
        raise WlbenchError(f"{dataset} is not the dataset run {run_dir} was trained on (content id "
                           f"{meta['content_id'][:12]}, run.json names {trained_on[:12]}): its predictions and "
                           "reports would be replaced by another dataset's",
                           hint="predict with the dataset named in its run.json")
    config = info["config"]
    if splits is None:
        splits = [s for s in dict.fromkeys([run_option(config, "valid_split"), "eval"]) if s in meta["splits"]]
    segs = list(dict.fromkeys(segment_key(s) for s in (segments or [CLIP, *meta["segments"]])))
    asked, same_as = _requests(meta, list(splits), segs)
    if echo is not None:
        echo(f"predicting {', '.join(splits)} ({', '.join(segs)}) with {info['method']}, then scoring each "
             f"({bootstrap} bootstrap resamples)")
    answers = method.predict(PredictContext(run_dir=run_dir, dataset=ds, requests=tuple(asked),
                                            config=dict(config)))
    missing = [r for r in asked if r not in (answers or {})]
    if missing:
        raise WlbenchError(f"method {info['method']!r} answered no predictions for {missing}")
    settings = Settings(n_resamples=int(bootstrap))
    results: dict[str, dict[str, Any]] = {}
    for split, seg in [(sp, sg) for sp in splits for sg in segs]:
        pred: Predictions = answers[same_as.get((split, seg), (split, seg))]
        pred.check(len(meta["classes"]), f"method {info['method']!r} on {split} ({seg})")
        stem = output_stem(split, seg)
        sub = run_dir / "predictions" / f"{stem}.csv"
        ensure_writable_dir(sub.parent)
        header = {"dataset": meta["name"], "content_id": meta["content_id"], "split": split,
                  "split_truth_id": meta["split_truth_ids"].get(split, ""), "segment": seg, "method": info["method"]}
        write_clip_scores(sub, pred.clip_ids, np.clip(pred.clip_scores, 0.0, 1.0), meta["classes"], header)
        report = score_file(ds, sub, split=split, task="tagging", settings=settings, segment=seg)
        report["segment"] = seg
        report["method"] = info["method"]
        report.setdefault("submission", {})["path"] = str(final_dir / "predictions" / f"{stem}.csv")
        write_report(report, run_dir / "reports" / f"{stem}.json")
        headline = dict(report["headline"])
        if pred.frame_scores is not None and seg == CLIP:
            for extra in _detection_reports(run_dir, final_dir, ds, split, pred, meta, header, settings,
                                            decoding):
                headline = {**extra["headline"], **headline}
        results.setdefault(split, {})[seg] = headline
        if echo is not None:
            head = headline
            f1 = head.get("f1_macro", {}).get("value")
            ap = head.get("map", {}).get("value")
            line = f"  {stem:<22} mAP {_num(ap)}  f1_macro {_num(f1)}"
            if "psds1" in head:
                line += (f"  event_f1 {_num(head.get('event_f1_macro', {}).get('value'))}"
                         f"  psds1 {_num(head['psds1'].get('value'))}")
            echo(line)
    if sealed:  # a finished run predicted again: its summary records the new files
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
        write_text_atomic(run_dir / SUMMARY, json.dumps(seal_summary(summary, run_dir), indent=2, sort_keys=True,
                                                        allow_nan=False) + "\n")
    return results


def _detection_reports(run_dir: Path, final_dir: Path, dataset: Dataset, split: str, pred: Predictions,
                       meta: dict[str, Any], header: dict[str, str], settings: Any, decoding: Decoding
                       ) -> list[dict[str, Any]]:
    """Frame scores of whole clips -> score files (threshold-free report) and the decoded event list (DCASE
    TSV, event- and segment-based report). Returns the two reports (events first)."""
    from wlbench.metrics.events import events_to_frame
    from wlbench.metrics.frames import frame_scores_to_events
    from wlbench.scoring import score_file, write_report
    from wlbench.submissions import write_detections, write_score_files

    frames = np.clip(np.asarray(pred.frame_scores, dtype=np.float64), 0.0, 1.0)
    if pred.frame_hop is None:  # Predictions.check refuses frame scores without their hop
        raise WlbenchError("frame scores without a frame hop")
    hop = float(pred.frame_hop)
    events = frame_scores_to_events(frames, frame_hop=hop, threshold=decoding.threshold,
                                    median_seconds=decoding.median_seconds,
                                    clip_duration=meta["clip_duration"] or None)
    tsv = run_dir / "predictions" / f"{split}-{EVENTS}.tsv"
    write_detections(tsv, events_to_frame(events, pred.clip_ids, meta["classes"]),
                     meta={**header, "threshold": str(decoding.threshold),
                           "median_seconds": str(decoding.median_seconds)}, clip_ids=list(pred.clip_ids))
    scores_dir = write_score_files(run_dir / "predictions" / f"{split}-{FRAME_SCORES}", pred.clip_ids, frames,
                                   hop, meta["classes"],
                                   clip_duration=meta["clip_duration"] or None)
    reports = []
    for path, task, name in ((tsv, "detection", EVENTS), (scores_dir, "frame_scores", FRAME_SCORES)):
        report = score_file(dataset, path, split=split, task=task, settings=settings)
        report["method"] = header["method"]
        report["decoding"] = dataclasses.asdict(decoding) if task == "detection" else None
        report.setdefault("submission", {})["path"] = str(final_dir / "predictions" / path.name)
        write_report(report, run_dir / "reports" / f"{split}-{name}.json")
        reports.append(report)
    return reports


def _num(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def _json_line_writer(path: Path) -> Callable[[dict[str, Any]], None]:
    def write(row: dict[str, Any]) -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, allow_nan=False, default=_plain) + "\n")
    return write


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


RECORDED = (RUN_CONFIG, LOG, AUDIT, "reports", "predictions")
"""What ``summary.json`` records the sha256 of (files, or every file under folders): what tables, findings and
boards read. Runs from before the learning curves and the audit were hashed record the others only."""
SELF_HASH = "summary_sha256"
RECORD = (SUMMARY, RUN_CONFIG, LOG, AUDIT, "reports")
"""A run's record: the files (or folders) of a finished run that its grid's tables and the papers' findings read,
small enough to commit (tens of kB); never the checkpoint, predictions or figures. ``audit.jsonl`` only when the
method audits."""
HEAVY = "predictions"
"""The recorded folder that a record leaves out (the checkpoint, which no summary hashes, is left out too)."""


def record_files(run_dir: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of the :data:`RECORDED` files of a run folder."""
    from wlbench.hashing import hash_file

    found: dict[str, str] = {}
    for name in RECORDED:
        top = run_dir / name
        for path in ([top] if top.is_file() else sorted(q for q in top.rglob("*") if q.is_file())):
            found[path.relative_to(run_dir).as_posix()] = hash_file(path)
    return found


def seal_summary(summary: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """``summary`` with the hashes of the run's files and its own hash (see :func:`unfinished_reason`)."""
    from wlbench.hashing import hash_json

    sealed = {k: v for k, v in summary.items() if k != SELF_HASH}
    sealed["files"] = record_files(run_dir)
    sealed = json.loads(json.dumps(sealed, allow_nan=False, default=_plain))
    sealed[SELF_HASH] = hash_json(sealed)
    return sealed


def unfinished_reason(run_dir: Path) -> str | None:
    """None when ``run_dir`` holds a finished run that may be reused as it is; else why not: no or broken
    ``summary.json``, a summary edited (its own hash), or a recorded file (``run.json``, a report, a
    prediction) changed or missing. A run from before hashes were recorded is checked as far as it can be:
    its ``run.json`` must say what its summary says, and it has its predictions folder."""
    return _sealed_reason(Path(run_dir), record_only=False)


def unrecorded_reason(run_dir: Path) -> str | None:
    """None when ``run_dir`` holds a run's record (:data:`RECORD`) intact: the checks of
    :func:`unfinished_reason` on every file the record carries (``summary.json`` by its own hash, the others
    by the hashes it recorded); the :data:`HEAVY` files are not looked at (a record leaves them out)."""
    return _sealed_reason(Path(run_dir), record_only=True)


def _sealed_reason(run_dir: Path, *, record_only: bool) -> str | None:
    from wlbench.hashing import hash_file, hash_json

    path = run_dir / SUMMARY
    if not path.is_file():
        return "no summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"summary.json cannot be read ({exc})"
    if not isinstance(summary, dict):
        return "summary.json is not a run summary"
    recorded = summary.get("files")
    if recorded is None:  # written before hashes were recorded
        try:
            info = read_run(run_dir)
        except WlbenchError as exc:
            return str(exc)
        if any(info.get(k) != summary.get(k) for k in ("method", "seed", "dataset", "config")):
            return "run.json differs from what summary.json recorded"
        if not record_only and not (run_dir / HEAVY).is_dir():  # a record of it (or its predictions removed)
            return f"no {HEAVY} folder"
        return None
    if not isinstance(recorded, dict) or summary.get(SELF_HASH) != hash_json(
            {k: v for k, v in summary.items() if k != SELF_HASH}):
        return "summary.json was edited after the run finished"
    for rel, digest in sorted(recorded.items()):
        if record_only and rel.split("/", 1)[0] == HEAVY:
            continue
        file = run_dir / rel
        try:
            same = file.is_file() and hash_file(file) == digest
        except OSError as exc:
            return f"{rel} cannot be read ({exc.strerror})"
        if not same:
            return f"{rel} was {'changed' if file.is_file() else 'removed'} after the run finished"
    return None


_FINISHED: dict[tuple, bool] = {}


def _stat_key(run_dir: Path) -> tuple:
    """The stat (inode, size, modification time) of ``summary.json`` and of every recorded file."""
    paths = [run_dir / SUMMARY] + [run_dir / name for name in RECORDED]
    for name in RECORDED:
        if (run_dir / name).is_dir():
            paths += sorted((run_dir / name).rglob("*"))
    key: list[tuple] = []
    for path in paths:
        try:
            info = os.stat(path)
            key.append((str(path), info.st_ino, info.st_size, info.st_mtime_ns))
        except OSError:
            key.append((str(path),))
    return tuple(key)


def numerics_version(run_dir: Path) -> int:
    """The numerics version (:data:`wlbench.NUMERICS_VERSION`) of the code that trained a finished run (1 for
    runs from before it was recorded)."""
    try:
        summary = json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    return int(summary.get("numerics_version", 1)) if isinstance(summary, dict) else 0


def is_finished(run_dir: Path) -> bool:
    """:func:`unfinished_reason` is None (remembered in this process while no recorded file's stat changes:
    the tables read every run several times, and hash its files once)."""
    run_dir = Path(run_dir)
    if not (run_dir / SUMMARY).is_file():
        return False
    key = _stat_key(run_dir)
    if key not in _FINISHED:
        _FINISHED[key] = unfinished_reason(run_dir) is None
    return _FINISHED[key]


def is_recorded(run_dir: Path) -> bool:
    """The run's results can be read: a finished run, or a folder of its record alone (no :data:`HEAVY`
    folder; :func:`unrecorded_reason` is None). What the tables and findings read; a folder holding a damaged
    prediction is neither (it is trained again)."""
    run_dir = Path(run_dir)
    if is_finished(run_dir):
        return True
    if not (run_dir / SUMMARY).is_file() or (run_dir / HEAVY).exists():
        return False
    key = ("record", *_stat_key(run_dir))
    if key not in _FINISHED:
        _FINISHED[key] = unrecorded_reason(run_dir) is None
    return _FINISHED[key]


def require_finished(run_dir: Path, purpose: str) -> None:
    """Refuse a folder that holds only a run's record (:func:`is_recorded`, not :func:`is_finished`, nothing
    beyond :data:`RECORD`) for ``purpose``, something that needs the run's predictions or checkpoint: one
    error naming the folder and the fix. Any other folder passes (its own checks follow)."""
    run_dir = Path(run_dir)
    if is_recorded(run_dir) and not is_finished(run_dir) and {p.name for p in run_dir.iterdir()} <= set(RECORD):
        raise WlbenchError(f"{run_dir} holds only the record of a run (its summary and reports, no predictions or "
                           f"checkpoint): {purpose} needs the run itself",
                           hint=f"train it again: remove {run_dir} and run the grid without --records, or "
                                f"`wlbench train METHOD ... --out {run_dir} --force`")


def copy_record(run_dir: Path, target: Path) -> None:
    """Write the record (:data:`RECORD`) of the recorded run in ``run_dir`` to the folder ``target``, atomically
    (``target`` is replaced as a whole, or left as it was). The copy is checked as the source was: a record
    that does not verify is never written."""
    run_dir, target = Path(run_dir), Path(target)
    with atomic_dir(target) as tmp:
        for name in RECORD:
            source = run_dir / name
            if source.is_file():
                shutil.copyfile(source, tmp / name)
            elif source.is_dir():
                for path in sorted(p for p in source.rglob("*") if p.is_file()):
                    (tmp / path.relative_to(run_dir)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, tmp / path.relative_to(run_dir))
        why = unrecorded_reason(tmp)
        if why is not None:
            raise WlbenchError(f"{run_dir}: its record does not verify ({why}); nothing written to {target}",
                               hint=f"remove {run_dir} to train the run again")


def _check_run_target(run_dir: Path, force: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise WlbenchError(f"run folder {run_dir} exists and is not a directory", hint="choose another --out")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not force:
        what = "a finished run" if (run_dir / SUMMARY).is_file() else "files"
        raise WlbenchError(f"run folder {run_dir} already holds {what}",
                           hint="choose another --out, or pass --force to replace it (the old run stays "
                                "untouched until the new one has finished)")


def kept_initial_weights(train_summary: dict[str, Any]) -> list[str]:
    """The stages of a training summary whose best epoch was 0 (no epoch beat the initial weights on the
    validation split): such a run is an untrained model and is reported as one."""
    return [str(s.get("stage")) for s in train_summary.get("stages") or []
            if isinstance(s, dict) and s.get("improved_on_initial") is False]


def untrained_note(summary: dict[str, Any]) -> str:
    """What a board entry's description says of a run that kept its initial weights (empty otherwise)."""
    kept = summary.get("kept_initial_weights") or kept_initial_weights(summary.get("train") or {})
    return f" [kept its initial weights in {', '.join(kept)}: best epoch 0]" if kept else ""


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation failure of torch (CPU or GPU), told from any other RuntimeError by its message."""
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or any(
        sign in text for sign in ("can't allocate memory", "out of memory", "not enough memory"))


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def train_run(method_name: str, dataset: str | Path, run_dir: str | Path, config_file: Path | None = None,
              overrides: Sequence[str] | dict = (), *, seed: int = 0, bootstrap: int = 1000, progress: bool = False,
              segments: Sequence[str] | None = None, echo: Echo | None = None, force: bool = False,
              decoding: Decoding = Decoding()) -> dict[str, Any]:
    """Train ``method_name`` on ``dataset`` with ``seed``, then predict and score validation and eval (whole
    clips and every segment view, or ``segments``). Everything is validated before training starts; the run
    folder is built beside ``run_dir`` and moved into place at the end (``force`` replaces an existing run
    folder; without it an existing non-empty folder is refused). ``decoding``: how frame scores (of methods
    that output them) become event lists. Returns the summary."""
    from wlbench.methods.curves import chosen_epochs, plot_learning_curves

    method = get_method(method_name)
    config = resolve_config(method, config_file, overrides)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise WlbenchError(f"seed {seed!r} is not an integer in [0, 2**63)", hint="e.g. --seed 0")
    dataset, run_dir = Path(dataset), Path(run_dir)
    _check_run_target(run_dir, force)
    with open_dataset(dataset) as ds:  # the one open of the run: every layer below reads through ds
        meta = dataset_meta(ds)
        require_intact(ds)  # labels, features, shards as written: what `wlbench verify` passes (cached)
        segs = [segment_key(s) for s in (segments or [CLIP, *meta["segments"]])]
        for seg in segs:
            if seg != CLIP and seg not in meta["segments"]:
                raise WlbenchError(f"{dataset} has no segment view {seg!r}; it has "
                                   f"{', '.join([CLIP, *meta['segments']])}")
        ensure_writable_dir(run_dir.parent)
        malloc = tune_malloc_for_training()
        run_info = {"method": method_name, "seed": int(seed),
                    "dataset": {"path": str(dataset), **{k: meta[k] for k in ("name", "content_id", "spec_id")}},
                    "config": config}
        echo = echo or _quiet
        with atomic_dir(run_dir) as tmp:
            write_text_atomic(tmp / RUN_CONFIG, json.dumps(run_info, indent=2, sort_keys=True) + "\n")
            ctx = TrainContext(dataset=ds, run_dir=tmp, config=dict(config), seed=int(seed), progress=progress,
                               log=_json_line_writer(tmp / LOG),
                               audit=Audit(ds, str(run_option(config, "labels")), tmp / AUDIT), echo=echo)
            t0 = time.perf_counter()
            try:
                train_summary = method.train(ctx) or {}
            except (MemoryError, RuntimeError) as exc:  # torch's OutOfMemoryError is a RuntimeError
                if not isinstance(exc, MemoryError) and not _out_of_memory(exc):
                    raise
                raise WlbenchError(f"training {method_name} ran out of memory with this config ({one_line(exc)[:160]})",
                                   hint="reduce the sizes in the config (filters, hidden sizes, batch_size); "
                                        "`wlbench methods METHOD` lists them") from None
            t1 = time.perf_counter()
            scores = predict_run(tmp, ds, segments=segs, bootstrap=bootstrap, method=method, echo=echo,
                                 final_dir=run_dir, decoding=decoding)
            curves = plot_learning_curves(tmp / LOG, tmp / CURVES, title=f"{method_name} (seed {seed})",
                                          chosen=chosen_epochs(train_summary))
            kept = kept_initial_weights(train_summary)
            if kept:
                echo(f"warning: stage(s) {', '.join(kept)} kept their initial weights (no epoch beat epoch 0 on the "
                     f"validation split): this run is scored as an untrained model")
            summary = {**run_info, "train": train_summary, "malloc_tuned": malloc, "kept_initial_weights": kept,
                   "numerics_version": NUMERICS_VERSION,
                       "seconds": {"train": round(t1 - t0, 3), "predict": round(time.perf_counter() - t1, 3)},
                       "headline": scores, "curves": CURVES if curves else None,
                       "f1_macro": {sp: {seg: h.get("f1_macro", {}).get("value") for seg, h in v.items()}
                                    for sp, v in scores.items()},
                       "map": {sp: {seg: h.get("map", {}).get("value") for seg, h in v.items()}
                               for sp, v in scores.items()}}
            write_text_atomic(tmp / SUMMARY, json.dumps(seal_summary(summary, tmp), indent=2, sort_keys=True,
                                                        allow_nan=False, default=_plain) + "\n")
        return summary
