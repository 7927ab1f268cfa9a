"""Render jobs: what a worker (this process, a local worker process or a Dask worker) does with a run of clips.

A worker receives the :class:`RenderContext` once (the render settings and the split planners) and then
jobs naming clip ranges; it plans each clip itself (:meth:`wlbench.synth.plan.SplitPlanner.clip`), renders
it and either returns it (:class:`BlockJob`, :class:`RerenderJob`: the parent writes one file) or writes a
shard file itself and returns only the small per-clip records (:class:`ShardJob`). Every job is pure: run
twice (a retried task), it returns the same values and writes the same bytes.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from wlbench.dataset.labels import frame_labels
from wlbench.dataset.shards import ShardFileWriter, ShardPart, shard_name
from wlbench.dataset.writer import ClipLayout, ShardRows, SplitShape
from wlbench.errors import WlbenchError
from wlbench.synth.plan import SplitPlanner
from wlbench.synth.render import RenderedClip, RenderSettings, render_clip, rerender_clip


@dataclasses.dataclass(frozen=True)
class ShardTarget:
    """Where and how the workers write shards: a folder every worker can write (shared storage)."""

    folder: str
    token: str
    layout: ClipLayout
    shapes: dict[str, SplitShape]
    classes: tuple[str, ...]
    frame_rate: float


@dataclasses.dataclass(frozen=True)
class RenderContext:
    """What every worker needs besides its jobs; sent to each worker once."""

    settings: RenderSettings
    planners: dict[str, SplitPlanner]
    fingerprint: str                      # of the soundbank the plan was made from
    shards: ShardTarget | None = None


@dataclasses.dataclass
class Piece:
    """Consecutive clips ``first, first + 1, ...`` of split ``split``, as a job returns them; ``shard_rows`` when
    a worker wrote them to a shard (the clips then carry no JAMS, features or audio)."""

    split: str
    first: int
    clips: list[RenderedClip]
    shard_rows: ShardRows | None = None


# ------------------------------------------------------------------------------------- shared memory

@dataclasses.dataclass(frozen=True)
class SlotLayout:
    """One clip's features and audio in a shared-memory slot: byte offsets, dtypes and shapes."""

    features: tuple[str, tuple[int, ...]] | None
    audio: tuple[str, tuple[int, ...]] | None

    @property
    def parts(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        out, offset = [], 0
        for name, spec in (("features", self.features), ("audio", self.audio)):
            if spec is not None:
                out.append((name, spec[0], spec[1], offset))
                offset += int(np.prod(spec[1])) * np.dtype(spec[0]).itemsize
        return out

    @property
    def nbytes(self) -> int:
        return sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for _, dtype, shape, _ in self.parts)


class SharedSlots:
    """Clip slots in a shared buffer: a worker copies a clip's features and audio into slot ``k`` instead of
    pickling them; the parent reads them in place (:meth:`take`). Who may use which slot is decided by the
    executor (:class:`wlbench.synth.executors.LocalExecutor`)."""

    def __init__(self, buffer: Any, layout: SlotLayout) -> None:
        self.layout = layout
        self.array = np.frombuffer(buffer, dtype=np.uint8)
        self.slots = self.array.size // max(1, layout.nbytes)

    def _view(self, slot: int, dtype: str, shape: tuple[int, ...], offset: int) -> np.ndarray:
        start = slot * self.layout.nbytes + offset
        count = int(np.prod(shape))
        return self.array[start:start + count * np.dtype(dtype).itemsize].view(dtype).reshape(shape)

    def put(self, slot: int, clip: RenderedClip) -> None:
        for name, dtype, shape, offset in self.layout.parts:
            self._view(slot, dtype, shape, offset)[...] = getattr(clip, name)
            setattr(clip, name, None)
        clip.slot = slot

    def take(self, clip: RenderedClip) -> None:
        """Point a received clip's features and audio at its slot (valid until the slot is reused)."""
        if clip.slot is None:
            return
        for name, dtype, shape, offset in self.layout.parts:
            setattr(clip, name, self._view(clip.slot, dtype, shape, offset))


# ----------------------------------------------------------------------------------------------- jobs

_WORKER: dict[str, Any] = {"context": None, "slots": None, "checked": set()}
_CHECK_LOCK = threading.Lock()


def set_worker_state(context: RenderContext | None, slots: SharedSlots | None = None) -> None:
    """The context (and shared slots) of jobs run in this process without an explicit context."""
    _WORKER["context"] = context
    _WORKER["slots"] = slots


def _with_meta(clip: RenderedClip, planner: SplitPlanner, index: int, spec=None) -> RenderedClip:
    spec = spec if spec is not None else planner.clip(index)
    clip.segment_starts = tuple(spec.segment_starts)
    clip.requested_events = spec.requested_events
    return clip


def _hand_over(clips: list[RenderedClip], slot: int | None) -> list[RenderedClip]:
    slots = _WORKER["slots"]
    if slot is not None and slots is not None:
        for k, clip in enumerate(clips):
            slots.put(slot + k, clip)
    return clips


@dataclasses.dataclass(frozen=True)
class BlockJob:
    """Render clips ``[first, stop)`` of ``split`` and return them (the parent writes them)."""

    split: str
    first: int
    stop: int
    slot: int | None = None  # first shared-memory slot of the block, set by a local executor

    @property
    def clips(self) -> int:
        return self.stop - self.first

    def run(self, context: RenderContext) -> list[Piece]:
        planner = context.planners[self.split]
        clips = []
        for index in range(self.first, self.stop):
            spec = planner.clip(index)
            clips.append(_with_meta(render_clip(spec, context.settings), planner, index, spec))
        return [Piece(self.split, self.first, _hand_over(clips, self.slot))]


@dataclasses.dataclass(frozen=True)
class RerenderJob:
    """Re-render clips ``first, first + 1, ...`` of ``split`` from their stored JAMS (``items``: clip id, JAMS)."""

    split: str
    first: int
    items: tuple[tuple[str, str], ...]
    slot: int | None = None

    @property
    def clips(self) -> int:
        return len(self.items)

    def run(self, context: RenderContext) -> list[Piece]:
        planner = context.planners[self.split]
        clips = [_with_meta(rerender_clip(clip_id, jams, context.settings, planner.domain(self.first + k)),
                            planner, self.first + k)
                 for k, (clip_id, jams) in enumerate(self.items)]
        return [Piece(self.split, self.first, _hand_over(clips, self.slot))]


@dataclasses.dataclass(frozen=True)
class ShardJob:
    """Render the clips of one shard and write the shard file; return the clips' small records."""

    index: int
    count: int
    parts: tuple[ShardPart, ...]

    @property
    def clips(self) -> int:
        return sum(part.stop - part.first for part in self.parts)

    @property
    def file(self) -> str:
        return shard_name(self.index, self.count)

    def run(self, context: RenderContext) -> list[Piece]:
        target = context.shards
        assert target is not None, "a ShardJob needs RenderContext.shards"
        class_index = {c: k for k, c in enumerate(target.classes)}
        pieces = []
        with ShardFileWriter(Path(target.folder) / self.file, token=target.token, layout=target.layout,
                             shapes=target.shapes) as shard:
            for part in self.parts:
                planner = context.planners[part.split]
                shape = target.shapes[part.split]
                shard.begin(part)
                records = []
                for index in range(part.first, part.stop):
                    spec = planner.clip(index)
                    clip = _with_meta(render_clip(spec, context.settings), planner, index, spec)
                    row: dict[str, Any] = {"jams": clip.jams_text}
                    if target.layout.store_features:
                        row["features"] = clip.features
                        events = clip.events
                        row["frame_labels"] = frame_labels(
                            np.zeros(len(events), dtype=np.int64), np.array([class_index[e[0]] for e in events]),
                            np.array([e[1] for e in events]), np.array([e[2] for e in events]), n_clips=1,
                            n_classes=len(target.classes), n_frames=shape.n_frames, frame_rate=target.frame_rate)[0]
                    if target.layout.store_audio:
                        row["audio"] = clip.audio
                    shard.write(part.split, index, row)
                    records.append(dataclasses.replace(clip, jams_text="", features=None, audio=None))
                pieces.append(Piece(part.split, part.first, records, shard.end(part.split)))
        return pieces


# --------------------------------------------------------------------------------------- worker checks

def worker_problem(bank_root: str, fingerprint: str, folder: str | None) -> str:
    """What keeps this process from rendering for a plan made from soundbank ``fingerprint`` at ``bank_root``
    and writing shards into ``folder``: "" when nothing. Reads the whole soundbank (its per-file digests are
    cached, see :mod:`wlbench.soundbank.fingerprint`)."""
    from wlbench.soundbank import soundbank_fingerprint

    where = f"on {os.uname().nodename} (pid {os.getpid()})"
    if not os.path.isdir(bank_root):
        return f"soundbank {bank_root} is not there {where}"
    try:
        found = soundbank_fingerprint(bank_root)
    except (OSError, WlbenchError) as exc:
        return f"soundbank {bank_root} cannot be read {where} ({exc})"
    if found != fingerprint:
        return (f"soundbank {bank_root} {where} has fingerprint {found[:12]}, but the plan was made from "
                f"{fingerprint[:12]} (other files, or other bytes)")
    if folder is not None and not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
        return f"output folder {folder} is not there or not writable {where}"
    return ""


def check_this_worker(context: RenderContext) -> None:
    """Raise :class:`WlbenchError` when :func:`worker_problem` finds a problem (checked once per process)."""
    folder = context.shards.folder if context.shards is not None else None
    key = (context.settings.bank_root, context.fingerprint, folder)
    with _CHECK_LOCK:
        if key in _WORKER["checked"]:
            return
        problem = worker_problem(*key)
        if problem:
            raise WlbenchError(f"a worker cannot render: {problem}", hint=SHARED_STORAGE_HINT)
        _WORKER["checked"].add(key)


SHARED_STORAGE_HINT = ("every worker must read the soundbank, and write the output folder of a sharded render, "
                       "at the same path as the client (shared storage)")


def execute(job: BlockJob | RerenderJob | ShardJob, context: RenderContext | None = None,
            check: bool = False) -> list[Piece]:
    """Run ``job`` in this worker with ``context`` (default: the one :func:`set_worker_state` set); with
    ``check``, first make sure this worker reads the same soundbank (:func:`check_this_worker`)."""
    context = context if context is not None else _WORKER["context"]
    assert context is not None, "no render context in this worker"
    if check:
        check_this_worker(context)
    return job.run(context)
