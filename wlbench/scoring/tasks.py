"""The table of tasks: for each, how its statistic is built and described, and what it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.scoring import detection, embedding, frame_scores, tagging
from wlbench.scoring.settings import Settings
from wlbench.tasks import TASKS as SUBMISSION_TASKS


@dataclass(frozen=True)
class Task:
    """One task: ``build(truth, parsed, settings)`` makes the bootstrap statistic; ``describe(stat, truth,
    settings)`` gives per_class, excluded, notes (and optionally curves and extra settings);
    ``clip_level``: scored against clip labels (label and segment views apply); ``needs_events``: needs the
    truth's event times."""

    name: str
    build: Callable[..., Any]
    describe: Callable[..., dict[str, Any]]
    clip_level: bool
    needs_events: bool
    headline_names: Callable[[Settings], dict[str, str]] = lambda settings: {}


_SCORERS = {
    "tagging": Task("tagging", tagging.build, tagging.describe, True, False, tagging.names),
    "detection": Task("detection", detection.build, detection.describe, False, True),
    "embedding": Task("embedding", embedding.build, embedding.describe, True, False),
    "frame_scores": Task("frame_scores", frame_scores.build, frame_scores.describe, False, True),
}
if set(_SCORERS) != set(SUBMISSION_TASKS):  # the one list of tasks is wlbench.tasks.TASKS
    raise ImportError(f"scoring tasks {sorted(_SCORERS)} differ from the submission tasks {sorted(SUBMISSION_TASKS)}")
TASKS: dict[str, Task] = {name: _SCORERS[name] for name in SUBMISSION_TASKS}


def task_named(name: str) -> Task:
    if name not in TASKS:
        raise WlbenchError(f"unknown task {name!r}", hint="use " + ", ".join(TASKS))
    return TASKS[name]
