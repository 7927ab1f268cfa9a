"""Control methods every experiment can run beside its cells.

``prior``: predicts, for every clip, the frequency of each class among the *observed* training labels of
the chosen label view (known entries only). Its mAP is chance level, its F1 at 0.5 usually 0: a cell that
does not beat it has learned nothing about the audio.

Where the training split has frame labels a method may read (the clips of role ``strong``, or every clip of
a split without roles), the prior is also a *detector* that never listens, the control of frame-level
methods: one frame spanning the clip, score 1 for every class active somewhere in those training frames, 0
for the others. Of the two detectors that ignore the audio, all-on and all-off, all-on is the one to beat
in F1: all-off scores 0 by construction, while all-on reaches a segment-based F1 of 2p / (1 + p) for a class
active in a share p of the segments (and an event-based F1 above 0 for classes whose events fill the clip).
Threshold-free metrics (PSDS) do not depend on the constant: any constant score gives the same single
operating point. Each class's share of active training frames is kept in ``prior.json`` for reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wlbench.dataset.training_data import training_data
from wlbench.errors import WlbenchError
from wlbench.methods.config import ConfigSchema, Option
from wlbench.methods.protocol import CLIP, RUN_OPTIONS, PredictContext, Predictions, TrainContext

if TYPE_CHECKING:
    from wlbench.dataset.training_data import TrainingData

PRIOR_FILE = "prior.json"


class PriorMethod:
    """The class-prior predictor (a control: it never looks at the audio)."""

    name = "prior"
    description = "Control: predicts the training class frequencies of the label view for every clip"

    def config_schema(self) -> ConfigSchema:
        return ConfigSchema({
            "labels": RUN_OPTIONS["labels"],
            "train_split": RUN_OPTIONS["train_split"],
            "train_segment": Option(CLIP, kind=str, doc="count on the labels of this segment view ('clip': whole "
                                                        "clips)"),
        })

    def train(self, ctx: TrainContext) -> dict[str, Any]:
        from wlbench.dataset.reader import opened

        segment = None if ctx.config["train_segment"] == CLIP else ctx.config["train_segment"]
        with opened(ctx.dataset) as ds:
            split = ds.split(ctx.config["train_split"])
            data = training_data(split, labels=ctx.config["labels"], segment=segment, features=False,
                                       frames="frame_labels" in split.group)
        frame_prior = _frame_prior(data)
        known = data.known.astype(float)
        counted = known.sum(axis=0)
        prior = np.where(counted > 0, (data.labels * known).sum(axis=0) / np.maximum(counted, 1), 0.0)
        (Path(ctx.run_dir) / PRIOR_FILE).write_text(json.dumps({
            "prior": prior.tolist(), "counted": counted.tolist(),
            "frame_prior": None if frame_prior is None else frame_prior.tolist()}) + "\n")
        summary = {"n_clips": int(len(data.clip_ids)), "prior": [round(float(p), 6) for p in prior]}
        if frame_prior is not None:
            summary["frame_prior"] = [round(float(p), 6) for p in frame_prior]
        return summary

    def predict(self, ctx: PredictContext) -> dict[tuple[str, str], Predictions]:
        from wlbench.dataset.reader import opened

        path = Path(ctx.run_dir) / PRIOR_FILE
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            prior = np.asarray(saved["prior"], dtype=float)
            frame_prior = None if saved.get("frame_prior") is None else np.asarray(saved["frame_prior"], dtype=float)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WlbenchError(f"{path} is missing or damaged ({exc})", hint="train the run again") from None
        out = {}
        with opened(ctx.dataset) as ds:
            for given in (prior, frame_prior):
                if given is not None and len(given) != len(ds.classes):
                    raise WlbenchError(f"{path}: {len(given)} classes, the dataset has {len(ds.classes)}")
            duration = float(ds.attr("clip_duration", 0.0))
            for split, segment in ctx.requests:
                ids = ds.split(split).clip_ids
                pred = Predictions(ids, np.tile(np.clip(prior, 0.0, 1.0), (len(ids), 1)))
                if frame_prior is not None and segment == CLIP and duration > 0:
                    active = (frame_prior > 0).astype(float)  # all-on where the class occurs (module docstring)
                    pred.frame_scores = np.tile(active, (len(ids), 1, 1))
                    pred.frame_hop = duration
                out[(split, segment)] = pred
        return out


def _frame_prior(data: TrainingData) -> np.ndarray | None:
    """(C,) share of active frames per class over the frames a method may read (those of ``frame_known``
    clips, observed labels only), or None when there are none."""
    if data.frame_labels is None:
        return None
    frames = data.frame_labels[data.frame_known]
    if frames.size == 0:
        return None
    return frames.reshape(-1, frames.shape[-1]).mean(axis=0, dtype=np.float64)


PRIOR = PriorMethod()
