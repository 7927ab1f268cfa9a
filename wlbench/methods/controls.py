"""Control methods every experiment can run beside its cells.

``prior``: predicts, for every clip, the frequency of each class among the *observed* training labels of
the chosen label view (known entries only). Its mAP is chance level, its F1 at 0.5 usually 0: a cell that
does not beat it has learned nothing about the audio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.errors import WlbenchError
from wlbench.methods.config import ConfigSchema, Option
from wlbench.methods.protocol import CLIP, PredictContext, Predictions, TrainContext

PRIOR_FILE = "prior.json"


class PriorMethod:
    """The class-prior predictor (a control: it never looks at the audio)."""

    name = "prior"
    description = "Control: predicts the training class frequencies of the label view for every clip"

    def config_schema(self) -> ConfigSchema:
        return ConfigSchema({
            "labels": Option("true", kind=str, doc="label view the frequencies are counted on ('true' or a "
                                                   "missing-label view)"),
            "train_split": Option("train", kind=str, doc="split the frequencies are counted on"),
            "train_segment": Option(CLIP, kind=str, doc="count on the labels of this segment view ('clip': whole "
                                                        "clips)"),
        })

    def train(self, ctx: TrainContext) -> dict[str, Any]:
        from wlbench.store import open_dataset

        segment = None if ctx.config["train_segment"] == CLIP else ctx.config["train_segment"]
        with open_dataset(ctx.dataset) as ds:
            data = ds.split(ctx.config["train_split"]).training_data(labels=ctx.config["labels"], segment=segment,
                                                                     features=False)
        known = data.known.astype(float)
        counted = known.sum(axis=0)
        prior = np.where(counted > 0, (data.labels * known).sum(axis=0) / np.maximum(counted, 1), 0.0)
        (Path(ctx.run_dir) / PRIOR_FILE).write_text(json.dumps({"prior": prior.tolist(),
                                                               "counted": counted.tolist()}) + "\n")
        return {"n_clips": int(len(data.clip_ids)), "prior": [round(float(p), 6) for p in prior]}

    def predict(self, ctx: PredictContext) -> dict[tuple[str, str], Predictions]:
        from wlbench.store import open_dataset

        path = Path(ctx.run_dir) / PRIOR_FILE
        try:
            prior = np.asarray(json.loads(path.read_text(encoding="utf-8"))["prior"], dtype=float)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WlbenchError(f"{path} is missing or damaged ({exc})", hint="train the run again") from None
        out = {}
        with open_dataset(ctx.dataset) as ds:
            for split, segment in ctx.requests:
                ids = ds.split(split).clip_ids
                if len(prior) != len(ds.classes):
                    raise WlbenchError(f"{path}: {len(prior)} classes, the dataset has {len(ds.classes)}")
                out[(split, segment)] = Predictions(ids, np.tile(np.clip(prior, 0.0, 1.0), (len(ids), 1)))
        return out


PRIOR = PriorMethod()
