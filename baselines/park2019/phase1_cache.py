"""Phase 1 shared between runs (``phase1_cache``): the runs of a tri-training grid that differ only in phase 2
(the agreement threshold tau, the no-pseudo and oracle-pseudo controls) train the very same phase 1 (54 % of
the training time of park2019-tri's tri runs). With a cache folder the first such run trains it and saves where phase 2 starts from; the
others load it (a file lock serialises parallel runs) and go on bit for bit as if they had trained it.

What phase 2 starts from, all saved: every network's weights and mode, the step count of the alpha schedule,
the run's numpy generator and torch's generator (and CUDA's on a GPU), the phase's summary and its learning-curve
rows (replayed into the run's log, so ``log.jsonl`` and the curves are the same). The key hashes everything
phase 1 depends on: the preset, the numerics version, the dataset's content id, the training clips (by id),
the validation split and the labels it is read through, the seed, the device and every option but the
phase-2-only ones (:data:`PHASE2_ONLY`). ``phase2_max_epochs`` stays in the key: the alpha schedule of phase
1 runs over the step budget of both phases.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import wlbench
from wlbench.atomic import atomic_path
from wlbench.dataset.training_data import TrainingData
from wlbench.errors import WlbenchError
from wlbench.training import data
from wlbench.training.fit import Stage
from wlbench.training.method import Run, clip_set_id, validation_labels

PHASE2_ONLY = ("phase1_cache", "pseudo_threshold", "pseudo_labels", "pseudo_oracle")
KEY_VERSION = 1


def phase1_key(preset: str, run: Run, train: TrainingData) -> str:
    """The cache key of the run's phase 1 (24 hex digits)."""
    c = run.config
    payload = {"key_version": KEY_VERSION, "preset": preset, "numerics_version": wlbench.NUMERICS_VERSION,
               "content_id": data.dataset_info(run.ctx.dataset).content_id, "seed": run.ctx.seed,
               "clips": clip_set_id(train.clip_ids), "n_train": len(train), "device": str(run.device),
               "valid": [c["valid_split"], validation_labels(run.ctx.dataset, c)],
               "options": {k: v for k, v in sorted(c.items()) if k not in PHASE2_ONLY}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def fit_phase1(folder: str, key: str, modules: dict[str, torch.nn.Module], trainer: Any, run: Run,
               stage: Callable[[], Stage]) -> dict[str, Any]:
    """Phase 1's summary: loaded from ``folder`` (everything phase 2 starts from restored, its log rows
    replayed) or trained through ``stage()`` and saved. ``trainer`` holds the step count (``steps``) and the
    run its stage logs through (``run``)."""
    from filelock import FileLock

    cache = Path(folder)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{key}.pt"
    with FileLock(str(cache / f"{key}.lock")):
        if path.is_file():
            try:
                saved = torch.load(path, map_location="cpu", weights_only=True)
                meta = json.loads(saved["meta"])
            except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
                raise WlbenchError(f"phase-1 cache file {path} cannot be read ({type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())[:200]})",
                                   hint="delete it: the next run trains phase 1 again and saves it") from None
            for name, module in modules.items():
                module.load_state_dict(saved["states"][name])
                module.train(meta["modes"][name])
            trainer.steps = meta["steps"]
            run.rng.bit_generator.state = meta["rng"]
            torch.set_rng_state(saved["torch_rng"])
            if "cuda_rng" in saved:
                torch.cuda.set_rng_state(saved["cuda_rng"], run.device)
            for row in meta["log"]:
                run.ctx.log(row)
            return {**meta["summary"], "cached": key}
        rows: list[dict[str, Any]] = []

        def record(row: dict[str, Any]) -> None:
            rows.append(row)
            run.ctx.log(row)

        recording = dataclasses.replace(run, ctx=dataclasses.replace(run.ctx, log=record))
        trainer.run = recording  # the stage logs its loss parts through the trainer's run
        try:
            summary = recording.fit(stage())
        finally:
            trainer.run = run
        saved = {"states": {name: m.state_dict() for name, m in modules.items()},
                 "torch_rng": torch.get_rng_state(),
                 "meta": json.dumps({"modes": {name: m.training for name, m in modules.items()},
                                     "steps": trainer.steps, "rng": run.rng.bit_generator.state, "log": rows,
                                     "summary": summary})}
        if run.device.type == "cuda":
            saved["cuda_rng"] = torch.cuda.get_rng_state(run.device)
        with atomic_path(path, suffix=".pt.partial") as tmp:
            torch.save(saved, tmp)
        return {**summary, "cached": None}
