"""Dataset + submission -> report.

The core functions (:func:`score_tagging`, :func:`score_detection`, :func:`score_embedding` and
:func:`compare_tagging` ...) take plain arrays / DataFrames, so they are testable without a dataset file;
:func:`score_file` and :func:`compare_files` open the HDF5 store and validate the submission files first.

A report is a JSON-able dict::

    harness_version, dataset {name, truth_id, split_truth_id, content_id, spec_id}, split, task,
    submission {path, sha256, format},
    settings {...every metric setting...}, headline {metric: {value, ci_low, ci_high, n_valid}},
    per_class {class: {...}}, excluded_classes {no_positives: [...], no_negatives: [...]}, notes {...}

NaN values (undefined metrics) are written as JSON ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wlbench import HARNESS_VERSION
from wlbench.atomic import write_text_atomic
from wlbench.errors import WlbenchError
from wlbench.hashing import hash_file
from wlbench.metrics import bootstrap as bs
from wlbench.metrics import detection as det
from wlbench.metrics import embedding as emb
from wlbench.metrics import ranking as rk
from wlbench.metrics import tagging as tg
from wlbench.metrics._checks import as_binary, as_scores
from wlbench.submissions import Expected, infer_task, read_submission

TASKS = ("tagging", "detection", "embedding")


def _is_finite_number(value: Any) -> bool:
    """A real number (not a bool, not a string) that is neither NaN nor infinite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(float(value))


@dataclass
class Settings:
    """Every metric setting; recorded verbatim in each report."""

    threshold: float | dict[str, float] = 0.5  # decision threshold, or one per class name
    k: int = 3  # mAP@k
    t_collar: float = 0.2  # event-based onset collar (s)
    percentage_of_length: float = 0.2  # offset collar = max(t_collar, this x reference length)
    time_resolution: float = 1.0  # segment-based segment length (s)
    embedding_metric: str = "euclidean"  # centroid distance
    probabilities: bool = True  # clip scores must lie in [0, 1]
    n_resamples: int = 1000  # bootstrap resamples over clips (0: no intervals)
    seed: int = 0
    ci: float = 0.95

    def __post_init__(self) -> None:
        thr = self.threshold
        if isinstance(thr, dict):
            for cls, value in thr.items():
                if not _is_finite_number(value):
                    raise WlbenchError(f"threshold for class {cls!r} is {value!r}, not a finite number",
                                       hint="give every class a finite decision threshold, e.g. 0.5")
        elif not _is_finite_number(thr):
            raise WlbenchError(f"threshold {thr!r} is not a finite number",
                               hint="give a finite decision threshold such as 0.5, or a JSON file "
                                    "{class: threshold} of finite numbers")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["matching"] = "optimal one-to-one (maximum bipartite matching)"
        d["ties"] = "tied scores enter together (precision at the end of a tie run; AUC ties count 1/2)"
        d["dprime_auc_clip"] = "AUC clipped into [e, 1-e], e = 1/(2 n_pos n_neg)"
        d["bootstrap"] = "percentile interval over clips resampled with replacement"
        d["decision_rule"] = "score >= threshold"
        return d

    def thresholds(self, classes: Sequence[str]) -> np.ndarray:
        if isinstance(self.threshold, dict):
            missing = [c for c in classes if c not in self.threshold]
            extra = [c for c in self.threshold if c not in classes]
            if missing or extra:
                raise WlbenchError(f"per-class thresholds: missing {missing[:5]}, unknown {extra[:5]}",
                                   hint="give exactly one threshold per dataset class")
            return np.array([float(self.threshold[c]) for c in classes])
        return np.full(len(classes), float(self.threshold))


def _num(x: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, dict):
        return {str(k): _num(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_num(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_num(v) for v in x.tolist()]
    return x


def _headline(stat: Callable, n: int, settings: Settings, names: dict[str, str],
              progress: Callable[[int], None] | None) -> dict[str, dict[str, Any]]:
    res = bs.bootstrap_ci(stat, n, settings.n_resamples, settings.seed, settings.ci, progress)
    return {names.get(k, k): v for k, v in res.items()}


def _report(task: str, classes: Sequence[str], settings: Settings, headline, per_class, excluded, notes,
            n_clips: int) -> dict[str, Any]:
    return {"harness_version": HARNESS_VERSION, "task": task, "n_clips": n_clips, "classes": list(classes),
            "settings": settings.to_dict(), "headline": headline, "per_class": per_class,
            "excluded_classes": excluded, "notes": notes}


# --- tagging --------------------------------------------------------------------------------------

class TaggingStat:
    """Headline tagging metrics of one system as a function of bootstrap counts (None: point values)."""

    def __init__(self, scores: np.ndarray, targets: np.ndarray, thresholds: np.ndarray, k: int) -> None:
        self.scores, self.targets, self.k = scores, targets, k
        self.decisions = tg.binarize(scores, thresholds)
        self.clip = rk.ClipRanking(scores, targets)
        self.point = rk.class_rank_stats(scores, targets)
        self._classes: rk.ClassRanking | None = None
        d, t = self.decisions, targets
        self._mats = [(d & t).astype(np.float32), (d & ~t).astype(np.float32), (~d & t).astype(np.float32)]
        self.ap_at_k = self.clip.ap_at_k_per_clip(k)

    def class_stats(self, w: np.ndarray | None) -> dict[str, np.ndarray]:
        if w is None:
            return self.point
        if self._classes is None:
            self._classes = rk.ClassRanking(self.scores, self.targets)
        return self._classes.stats(w)

    def counts(self, w: np.ndarray | None) -> tuple[np.ndarray, ...]:
        if w is None:
            return tuple(m.sum(axis=0, dtype=np.float64) for m in self._mats)
        w32 = w.astype(np.float32)
        return tuple((w32 @ m).astype(np.float64) for m in self._mats)

    def __call__(self, w: np.ndarray | None) -> dict[str, float]:
        st = self.class_stats(w)
        d, _ = rk.dprime_from_auc(st["auc"], rk.auc_clip_eps(st["n_pos"], st["n_neg"]))
        lw_c, lw_w = rk._lwlrap_from_parts(*self.clip.lwlrap_parts(w))
        ok = lw_w > 0
        tp, fp, fn = self.counts(w)
        p, r, f = tg.prf_from_counts(tp, fp, fn)
        keep = (tp + fn) > 0
        mp, mr, mf = (float(v[0]) for v in tg.prf_from_counts(*(np.array([a.sum()]) for a in (tp, fp, fn))))
        return {
            "map": rk._nanmean(st["ap"]),
            "auc_macro": rk._nanmean(st["auc"]),
            "dprime_mean_of_classes": rk._nanmean(d),
            "dprime_of_mean_auc": rk._dprime_of_mean(st)[0],
            "lwlrap": float(np.sum(lw_c[ok] * lw_w[ok])) if ok.any() else float("nan"),
            "map_at_k": rk._weighted_nanmean(self.ap_at_k, w),
            "f1_macro": float(f[keep].mean()) if keep.any() else float("nan"),
            "f1_micro": mf,
            "precision_macro": float(p[keep].mean()) if keep.any() else float("nan"),
            "recall_macro": float(r[keep].mean()) if keep.any() else float("nan"),
            "label_coverage": mr,
        }


def score_tagging(classes: Sequence[str], weak_labels: np.ndarray, scores: np.ndarray,
                  settings: Settings | None = None,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Clip-level report for scores (N, C) against true labels (N, C), both in dataset order."""
    settings = settings or Settings()
    classes = list(classes)
    s = as_scores(scores, "scores")
    t = as_binary(weak_labels, "weak_labels")
    if s.shape != t.shape or s.shape[1] != len(classes):
        raise WlbenchError(f"scores {s.shape}, labels {t.shape} and {len(classes)} classes do not agree")
    thr = settings.thresholds(classes)
    stat = TaggingStat(s, t, thr, settings.k)
    names = {"map_at_k": f"map_at_{settings.k}"}
    headline = _headline(stat, s.shape[0], settings, names, progress)
    st = stat.point
    d, clipped = rk.dprime_from_auc(st["auc"], rk.auc_clip_eps(st["n_pos"], st["n_neg"]))
    lw_c, lw_w = rk._lwlrap_from_parts(*stat.clip.lwlrap_parts(None))
    prf = tg.prf_per_class(stat.decisions, t)
    per_class = {}
    for j, c in enumerate(classes):
        per_class[c] = _num({"n_pos": int(st["n_pos"][j]), "ap": st["ap"][j], "auc": st["auc"][j],
                             "dprime": d[j], "lwlrap": lw_c[j], "f1": prf["f1"][j],
                             "precision": prf["precision"][j], "recall": prf["recall"][j],
                             "threshold": thr[j], "lwlrap_weight": lw_w[j], "dprime_clipped": clipped[j]})
    no_pos = [c for j, c in enumerate(classes) if st["n_pos"][j] == 0]
    no_neg = [c for j, c in enumerate(classes) if st["n_neg"][j] == 0]
    _, mean_clipped = rk._dprime_of_mean(st)
    notes = {
        "dprime_clipped_classes": int(clipped.sum()),
        "dprime_clipped_class_names": [c for j, c in enumerate(classes) if clipped[j]],
        "dprime_of_mean_auc_clipped": bool(mean_clipped),
        "clips_without_labels": int((t.sum(axis=1) == 0).sum()),
        "never_predicted_classes": [c for j, c in enumerate(classes) if not stat.decisions[:, j].any()],
    }
    return _report("tagging", classes, settings, _num(headline), per_class,
                   {"no_positives": no_pos, "no_negatives": no_neg}, notes, s.shape[0])


# --- detection ------------------------------------------------------------------------------------

class DetectionStat:
    """Event- and segment-based headline metrics from per-file counts (clip weights re-weight them)."""

    def __init__(self, ref: det.EventList, est: det.EventList, n_files: int, n_classes: int,
                 clip_duration: float, settings: Settings) -> None:
        self.event = det.event_based_counts(ref, est, n_files, n_classes, settings.t_collar,
                                            settings.percentage_of_length)
        self.segment = det.segment_based_counts(ref, est, n_files, n_classes, clip_duration,
                                                settings.time_resolution)

    def summaries(self, w: np.ndarray | None):
        return det.detection_summary(self.event, "event", w), det.detection_summary(self.segment, "segment", w)

    def __call__(self, w: np.ndarray | None) -> dict[str, float]:
        ev, sg = self.summaries(w)
        return {"event_f1_macro": ev["f1_macro"], "event_f1_micro": ev["f1_micro"],
                "event_error_rate_micro": ev["error_rate_micro"],
                "segment_f1_macro": sg["f1_macro"], "segment_f1_micro": sg["f1_micro"],
                "segment_error_rate_micro": sg["error_rate_micro"]}


def score_detection(classes: Sequence[str], clip_ids: Sequence[str], events: pd.DataFrame,
                    clip_duration: float, detections: pd.DataFrame, settings: Settings | None = None,
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Detection report: reference ``events`` and system ``detections`` (filename, event_label, onset,
    offset; filename = dataset clip id)."""
    settings = settings or Settings()
    classes = list(classes)
    ids = [str(c) for c in clip_ids]
    ref = det.events_from_frame(events, ids, classes)
    est = det.events_from_frame(detections, ids, classes)
    stat = DetectionStat(ref, est, len(ids), len(classes), clip_duration, settings)
    headline = _headline(stat, len(ids), settings, {}, progress)
    ev, sg = stat.summaries(None)
    per_class = {}
    for j, c in enumerate(classes):
        per_class[c] = _num({
            "n_ref_events": int(ev["n_ref"][j]), "n_sys_events": int(ev["n_sys"][j]),
            "event_f1": ev["f1"][j], "event_precision": ev["precision"][j], "event_recall": ev["recall"][j],
            "event_error_rate": ev["error_rate"][j],
            "segment_f1": sg["f1"][j], "segment_precision": sg["precision"][j],
            "segment_recall": sg["recall"][j], "segment_error_rate": sg["error_rate"][j]})
    no_pos = [c for j, c in enumerate(classes) if ev["n_ref"][j] == 0]
    notes = {"event_substitutions": ev["substitutions"], "event_deletions": ev["deletions"],
             "event_insertions": ev["insertions"], "n_ref_events": int(len(ref)), "n_sys_events": int(len(est)),
             "never_output_classes": [c for j, c in enumerate(classes) if ev["n_sys"][j] == 0],
             "psds": "not computed (optional in issue 4; see docs/metrics.md)"}
    return _report("detection", classes, settings, _num(headline), per_class,
                   {"no_positives": no_pos, "no_negatives": []}, _num(notes), len(ids))


# --- embedding ------------------------------------------------------------------------------------

def score_embedding(classes: Sequence[str], weak_labels: np.ndarray, embeddings: np.ndarray,
                    settings: Settings | None = None,
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Centroid metric on clips with exactly one true label (others are left out and counted in notes)."""
    settings = settings or Settings()
    classes = list(classes)
    t = as_binary(weak_labels, "weak_labels")
    e = as_scores(embeddings, "embeddings")
    if e.shape[0] != t.shape[0]:
        raise WlbenchError(f"{e.shape[0]} embeddings for {t.shape[0]} clips")
    single = t.sum(axis=1) == 1
    if not single.any():
        raise WlbenchError("no clip has exactly one true label; the centroid metric needs single-label clips")
    y = np.argmax(t[single], axis=1)
    x = e[single]
    c = len(classes)

    def stat(w):
        return {"centroid_accuracy_macro": emb.centroid_accuracy_macro(x, y, c, settings.embedding_metric, w),
                "centroid_accuracy_micro": emb.centroid_accuracy_micro(x, y, c, settings.embedding_metric, w)}

    headline = _headline(stat, x.shape[0], settings, {}, progress)
    per = emb.centroid_accuracy_per_class(x, y, c, settings.embedding_metric)
    counts = np.bincount(y, minlength=c)
    per_class = {cl: _num({"n_clips": counts[j], "centroid_accuracy": per[j]}) for j, cl in enumerate(classes)}
    notes = {"clips_left_out_not_single_label": int((~single).sum()), "n_clips_scored": int(single.sum())}
    return _report("embedding", classes, settings, _num(headline), per_class,
                   {"no_positives": [cl for j, cl in enumerate(classes) if counts[j] == 0], "no_negatives": []},
                   notes, int(single.sum()))


# --- paired comparison ----------------------------------------------------------------------------

def compare_tagging(classes: Sequence[str], weak_labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray,
                    settings: Settings | None = None) -> dict[str, Any]:
    """Paired bootstrap test A - B of every tagging headline metric."""
    settings = settings or Settings()
    t = as_binary(weak_labels, "weak_labels")
    thr = settings.thresholds(list(classes))
    a = TaggingStat(as_scores(scores_a, "scores A"), t, thr, settings.k)
    b = TaggingStat(as_scores(scores_b, "scores B"), t, thr, settings.k)
    return _paired(a, b, t.shape[0], settings, {"map_at_k": f"map_at_{settings.k}"})


def compare_detection(classes: Sequence[str], clip_ids: Sequence[str], events: pd.DataFrame, clip_duration: float,
                      detections_a: pd.DataFrame, detections_b: pd.DataFrame,
                      settings: Settings | None = None) -> dict[str, Any]:
    """Paired bootstrap test A - B of every detection headline metric."""
    settings = settings or Settings()
    classes, ids = list(classes), [str(c) for c in clip_ids]
    ref = det.events_from_frame(events, ids, classes)
    a = DetectionStat(ref, det.events_from_frame(detections_a, ids, classes), len(ids), len(classes),
                      clip_duration, settings)
    b = DetectionStat(ref, det.events_from_frame(detections_b, ids, classes), len(ids), len(classes),
                      clip_duration, settings)
    return _paired(a, b, len(ids), settings, {})


def compare_embedding(classes: Sequence[str], weak_labels: np.ndarray, emb_a: np.ndarray, emb_b: np.ndarray,
                      settings: Settings | None = None) -> dict[str, Any]:
    """Paired bootstrap test A - B of the centroid metrics (single-label clips)."""
    settings = settings or Settings()
    t = as_binary(weak_labels, "weak_labels")
    single = t.sum(axis=1) == 1
    y = np.argmax(t[single], axis=1)
    c = len(classes)

    def make(e):
        x = as_scores(e, "embeddings")[single]
        return lambda w: {"centroid_accuracy_macro": emb.centroid_accuracy_macro(x, y, c, settings.embedding_metric, w),
                          "centroid_accuracy_micro": emb.centroid_accuracy_micro(x, y, c, settings.embedding_metric, w)}

    return _paired(make(emb_a), make(emb_b), int(single.sum()), settings, {})


def _paired(a, b, n: int, settings: Settings, names: dict[str, str]) -> dict[str, Any]:
    res = bs.paired_bootstrap_test(a, b, n, max(1, settings.n_resamples), settings.seed, settings.ci)
    return {"harness_version": HARNESS_VERSION, "settings": settings.to_dict(),
            "comparison": _num({names.get(k, k): v for k, v in res.items()})}


# --- files ----------------------------------------------------------------------------------------

def _dataset_ids(ds, sp) -> dict[str, str]:
    """The ids a report names: the truth ids (checked when the split was opened), content and spec id."""
    return {"name": ds.name, "truth_id": ds.truth_id, "split_truth_id": sp.truth_id, "content_id": ds.content_id,
            "spec_id": ds.spec_id}


def _expected(ds, split_name: str):
    sp = ds.split(split_name)
    others = {}
    for name in ds.splits:
        if name != split_name:
            try:
                others[name] = [str(x) for x in ds.split(name).clip_ids]
            except Exception:  # noqa: BLE001 - an odd group is no reason to refuse scoring
                continue
    exp = Expected(classes=ds.classes, clip_ids=[str(x) for x in sp.clip_ids], split=split_name,
                   dataset_name=ds.name, content_id=ds.content_id, split_truth_id=sp.truth_id,
                   clip_duration=sp.clip_duration, other_splits=others)
    return sp, exp


def _load(path, exp: Expected, task: str, settings: Settings):
    parsed, report = read_submission(path, exp, task, settings.probabilities)
    report.raise_if_invalid()
    return parsed, report


def declared_segment(submission_path: str | Path) -> str | None:
    """The segment view a text submission declares in a ``# segment: <name>`` header line, else None."""
    from wlbench.submissions import parse_declared

    if Path(submission_path).suffix.lower() not in (".csv", ".tsv", ".txt"):
        return None
    try:
        with open(submission_path, encoding="utf-8-sig") as handle:
            return parse_declared(handle).get("segment")
    except (OSError, UnicodeDecodeError):
        return None  # the validator reports unreadable files


def score_file(dataset_path: str | Path, submission_path: str | Path, split: str = "eval",
               task: str | None = None, settings: Settings | None = None,
               progress: Callable[[int], None] | None = None, labels: str = "true",
               segment: str | None = None) -> dict[str, Any]:
    """Open the dataset, validate the submission (raising :class:`~wlbench.submissions.SubmissionError`
    listing every problem) and score it. Returns the report dict.

    ``labels``: score against the true labels (default) or a stored missing-label view of the split (clip
    tasks only), e.g. to report what a method would have been told by the observed labels.
    ``segment``: score clip-level predictions of a segment view (e.g. ``"1s"``: one window per clip) against
    that view's labels; default: the segment the file declares (``# segment: 1s``), else the whole clip."""
    from wlbench.store import open_dataset

    settings = settings or Settings()
    task = task or infer_task(submission_path)
    if task not in TASKS:
        raise WlbenchError(f"unknown task {task!r}", hint="use tagging, detection or embedding")
    with open_dataset(dataset_path) as ds:
        sp, exp = _expected(ds, split)
        if labels != "true" and task == "detection":
            raise WlbenchError(f"--labels {labels}: label views hold clip labels only; detection is scored "
                               f"against the true events", hint="leave out --labels for detection")
        declared = declared_segment(submission_path)
        if segment is not None and declared not in (None, segment):
            raise WlbenchError(f"{submission_path} declares segment {declared!r} but segment {segment!r} is being "
                               f"scored", hint=f"score it as segment {declared!r}")
        segment = segment or declared or "clip"
        if segment != "clip":
            if task == "detection" or labels != "true":
                raise WlbenchError(f"{submission_path}: segment {segment!r} predictions are scored against the "
                                   f"segment view's true clip labels (tagging and embedding only)",
                                   hint="leave out --labels, or score whole-clip predictions")
            targets = sp.segment(segment).weak_labels()
        else:
            targets = sp.labels(labels)
        parsed, vreport = _load(submission_path, exp, task, settings)
        if task == "tagging":
            report = score_tagging(exp.classes, targets, parsed.scores, settings, progress)
        elif task == "detection":
            report = score_detection(exp.classes, exp.clip_ids, sp.events(), sp.clip_duration, parsed.events,
                                     settings, progress)
        else:
            report = score_embedding(exp.classes, targets, parsed.embeddings, settings, progress)
        report["dataset"] = _dataset_ids(ds, sp) | {"path": str(dataset_path)}
    report["split"] = split
    report["labels"] = labels
    report["segment"] = segment
    report["submission"] = {"path": str(submission_path), "sha256": hash_file(Path(submission_path)),
                            "format": vreport.format, "notes": vreport.notes}
    return report


def compare_files(dataset_path: str | Path, path_a: str | Path, path_b: str | Path, split: str = "eval",
                  task: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Validate two submissions for the same dataset split and run the paired bootstrap test A - B."""
    from wlbench.store import open_dataset

    settings = settings or Settings()
    task = task or infer_task(path_a)
    with open_dataset(dataset_path) as ds:
        sp, exp = _expected(ds, split)
        errors = []
        parsed = []
        for p in (path_a, path_b):
            got, rep = read_submission(p, exp, task, settings.probabilities)
            parsed.append(got)
            if not rep.ok:
                errors.append(rep.summary())
        if errors:
            raise WlbenchError("\n".join(errors))
        a, b = parsed
        if task == "tagging":
            out = compare_tagging(exp.classes, sp.weak_labels(), a.scores, b.scores, settings)
        elif task == "detection":
            out = compare_detection(exp.classes, exp.clip_ids, sp.events(), sp.clip_duration, a.events, b.events,
                                    settings)
        else:
            out = compare_embedding(exp.classes, sp.weak_labels(), a.embeddings, b.embeddings, settings)
        out["dataset"] = _dataset_ids(ds, sp)
    out.update({"split": split, "task": task, "a": str(path_a), "b": str(path_b)})
    return out


def write_report(report: dict[str, Any], path: str | Path) -> None:
    """Write a report as JSON (sorted keys, NaN as null) atomically."""
    write_text_atomic(Path(path), json.dumps(_num(report), indent=2, sort_keys=True, allow_nan=False) + "\n")


# --- text rendering -------------------------------------------------------------------------------

def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def render_report(report: dict[str, Any], max_classes: int | None = None) -> str:
    """Concise table: headline metrics with intervals, then per class."""
    s = report["settings"]
    lines = []
    ds = report.get("dataset", {})
    if ds:
        lines.append(f"dataset {ds.get('name')} split {report.get('split')} (truth id "
                     f"{str(ds.get('split_truth_id'))[:12]}) task {report['task']}  n_clips={report['n_clips']}")
    ci = int(round(100 * s["ci"]))
    lines.append(f"{'metric':<28}{'value':>9}  {ci}% CI ({s['n_resamples']} resamples, seed {s['seed']})")
    for name, h in report["headline"].items():
        interval = f"[{_fmt(h['ci_low'])}, {_fmt(h['ci_high'])}]" if h.get("ci_low") is not None else "[-]"
        lines.append(f"{name:<28}{_fmt(h['value']):>9}  {interval}")
    rows = list(report["per_class"].items())
    if rows:
        cols = list(rows[0][1].keys())
        cols = [c for c in cols if not c.endswith("_names")][:8]
        width = max(12, min(28, max(len(c) for c, _ in rows) + 2))
        lines.append("")
        lines.append(f"{'class':<{width}}" + "".join(f"{c[:12]:>13}" for c in cols))
        shown = rows if max_classes is None else rows[:max_classes]
        for cname, vals in shown:
            lines.append(f"{cname[:width - 1]:<{width}}" + "".join(f"{_fmt(vals.get(c)):>13}" for c in cols))
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more classes in the JSON report")
    ex = report.get("excluded_classes", {})
    if ex.get("no_positives"):
        lines.append(f"excluded from macro averages (no positives): {', '.join(ex['no_positives'])}")
    if ex.get("no_negatives"):
        lines.append(f"excluded from AUC/d' macro averages (no negatives): {', '.join(ex['no_negatives'])}")
    notes = report.get("notes", {})
    if notes.get("dprime_clipped_classes"):
        lines.append(f"d': AUC clipped to keep d' finite for {notes['dprime_clipped_classes']} class(es)")
    return "\n".join(lines)


def render_comparison(result: dict[str, Any]) -> str:
    """Table of the paired test: A, B, A - B with interval and p-value per metric."""
    ci = int(round(100 * result["settings"]["ci"]))
    lines = [f"A = {result.get('a')}", f"B = {result.get('b')}",
             f"{'metric':<26}{'A':>9}{'B':>9}{'A-B':>9}  {ci}% CI of A-B{'':<8}{'p':>7}"]
    for name, r in result["comparison"].items():
        interval = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        lines.append(f"{name:<26}{_fmt(r['a']):>9}{_fmt(r['b']):>9}{_fmt(r['diff']):>9}  {interval:<24}"
                     f"{_fmt(r['p_value']):>7}")
    return "\n".join(lines)
