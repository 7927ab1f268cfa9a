"""Where render jobs run: in this process, in local worker processes, or on a Dask cluster.

Every executor maps jobs (:mod:`wlbench.synth.jobs`) to their results *in job order* with at most
``window`` jobs in flight, so the parent's memory stays bounded however large the dataset, and the output
never depends on the executor, the number of workers or the scheduling.

* :class:`LocalExecutor`: ``workers=1`` runs the jobs in this process; more start a pool of worker
  processes (forkserver). The features and audio of returned clips travel through shared memory (slots of
  a buffer the workers inherit), not through pickles.
* :class:`DaskExecutor`: a ``dask.distributed`` cluster, a ``LocalCluster`` of ``workers`` processes when
  no scheduler address is given. Before any job runs, every worker checks that it reads the soundbank the
  plan was made from (its fingerprint) and can write the output folder of a sharded render; a worker that
  dies mid-job has its job rerun elsewhere by Dask (jobs are pure: same values, same bytes).
"""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.synth.jobs import (
    SHARED_STORAGE_HINT,
    Piece,
    RenderContext,
    SharedSlots,
    SlotLayout,
    execute,
    set_worker_state,
    worker_problem,
)
from wlbench.threads import available_cores


def default_workers() -> int:
    """All cores this process may use."""
    return available_cores()


def resolve_workers(workers: int | None) -> int:
    """``--workers``: None means all cores (:func:`default_workers`); below 1 is refused."""
    if workers is not None and workers < 1:
        raise WlbenchError(f"--workers must be at least 1, got {workers}",
                           hint="leave it out to use every core")
    return workers or default_workers()


def slot_layout(context: RenderContext) -> SlotLayout:
    """The features and audio of one clip, as the render settings produce them."""
    settings = context.settings
    n_samples = int(round(settings.clip_duration * settings.sample_rate))
    features = ((settings.feature_dtype, (settings.features.n_frames(n_samples), settings.features.n_mels))
                if settings.store_features else None)
    audio = ("float32", (n_samples,)) if settings.store_audio else None
    return SlotLayout(features=features, audio=audio)


# ------------------------------------------------------------------------------------------------ local

def _exit_with_parent(sentinel: int) -> None:
    """Block until the parent process is gone, then end this worker at once and silently: a parent killed
    outright (SIGKILL) cannot stop its pool, and a worker would otherwise finish its clip and print a
    BrokenPipeError traceback when it hands the result to nobody."""
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


class _StderrWhileParentLives:
    """This worker's stderr, which ends the worker silently instead of writing once the parent is gone.

    The watcher thread of :func:`_exit_with_parent` may not be scheduled before the worker's own loop meets
    the broken result pipe and starts printing a traceback; the first write of that traceback ends the
    worker here instead. While the parent lives every write goes through unchanged."""

    def __init__(self, stream: Any, sentinel: int) -> None:
        self._stream, self._sentinel = stream, sentinel

    def write(self, text: str) -> int:
        if multiprocessing.connection.wait([self._sentinel], timeout=0):
            os._exit(0)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _init_pool_worker(context: RenderContext, buffer: Any, layout: SlotLayout) -> None:
    """Initializer of a pool worker: the context, the shared slots, and an exit as soon as the parent is gone."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool and cleans up
    set_worker_state(context, SharedSlots(buffer, layout) if buffer is not None else None)
    sentinel = multiprocessing.parent_process().sentinel
    sys.stderr = _StderrWhileParentLives(sys.stderr, sentinel)
    threading.Thread(target=_exit_with_parent, args=(sentinel,), daemon=True, name="exit-with-parent").start()


_QUIET_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"


class LocalExecutor:
    """Jobs in this process (``workers <= 1``) or in a pool of ``workers`` processes living as long as the
    ``with`` block. Use :meth:`start` with the render context, then :meth:`map_ordered`."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool = None
        self._slots: SharedSlots | None = None
        self._slots_per_job = 0

    @property
    def slots(self) -> int:
        """Jobs that run at once."""
        return max(1, self.workers)

    def describe(self) -> str:
        return f"{self.workers} local worker{'s' * (self.workers != 1)}"

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._pool is not None:
            if exc_info[0] is None:
                self._pool.close()
            else:
                self._pool.terminate()
            self._pool.join()
            self._pool = None
        set_worker_state(None)

    def start(self, context: RenderContext, *, window: int = 0, clips_per_job: int = 0) -> None:
        """Hand ``context`` to the workers; with a pool and ``window`` jobs of up to ``clips_per_job`` clips
        returned to the parent, also the shared slots their features and audio travel in."""
        if self.workers <= 1:
            set_worker_state(context)
            return
        # the helper processes multiprocessing starts inherit these options: after a SIGKILL of this process
        # its resource tracker frees the pool's semaphores without a warning about "leaks"
        if _QUIET_TRACKER not in sys.warnoptions:
            sys.warnoptions.append(_QUIET_TRACKER)
        methods = multiprocessing.get_all_start_methods()
        mp = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if mp.get_start_method() == "forkserver":  # workers fork with scaper already imported
            mp.set_forkserver_preload(["wlbench.synth.jobs"])
        layout = slot_layout(context)
        buffer = None
        if window and clips_per_job and layout.nbytes:
            buffer = mp.RawArray("B", window * clips_per_job * layout.nbytes)
            self._slots = SharedSlots(buffer, layout)
            self._slots_per_job = clips_per_job
        self._pool = mp.Pool(self.workers, initializer=_init_pool_worker, initargs=(context, buffer, layout))

    def map_ordered(self, jobs: Iterable, window: int) -> Iterator[list[Piece]]:
        """Each job's pieces, in job order, at most ``window`` jobs in flight. With shared slots, the features
        and audio of a job's clips are valid until the next job's pieces are requested."""
        if self._pool is None:
            for job in jobs:
                yield execute(job)
            return
        gate = threading.Semaphore(window)
        stopped = threading.Event()
        slots = self._slots

        def feed():
            for k, job in enumerate(jobs):
                gate.acquire()
                if stopped.is_set():
                    return
                if slots is not None and job.clips:
                    job = dataclasses.replace(job, slot=(k % window) * self._slots_per_job)
                yield job

        try:
            for pieces in self._pool.imap(execute, feed()):
                if slots is not None:
                    for piece in pieces:
                        for clip in piece.clips:
                            slots.take(clip)
                yield pieces
                gate.release()
        finally:
            stopped.set()
            gate.release()


# ------------------------------------------------------------------------------------------------- dask

def require_dask():
    """The ``distributed`` module, or one error naming the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        raise WlbenchError("--executor dask needs dask.distributed, which is not installed",
                           hint="pip install 'wlbench[dask]'") from exc
    return distributed


SCHEDULER_SCHEMES = ("tcp", "tls")
PROBE_SECONDS = 5.0


def check_scheduler_address(address: str, *, timeout: float = PROBE_SECONDS) -> str:
    """Parse a Dask scheduler address (``tcp://host:port``, ``tls://host:port`` or ``host:port``) and probe it
    within ``timeout`` seconds: a TCP connection, and for ``tcp`` the scheduler's opening message (a Dask
    scheduler speaks first; an HTTP or other server stays silent, or answers with text). Returns the address
    with its scheme; one :class:`WlbenchError` naming what is wrong otherwise. Never waits longer."""
    import socket
    from urllib.parse import urlsplit

    hint = "give the address `dask scheduler` prints, e.g. tcp://host:8786"
    text = address.strip()
    full = text if "://" in text else f"tcp://{text}"
    try:
        parts = urlsplit(full)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise WlbenchError(f"--scheduler {address!r} is not a scheduler address ({exc})", hint=hint) from None
    if parts.scheme not in SCHEDULER_SCHEMES:
        raise WlbenchError(f"--scheduler {address!r}: the scheme {parts.scheme!r} is not one of a Dask scheduler "
                           f"({', '.join(SCHEDULER_SCHEMES)})", hint=hint)
    if not host or port is None or (parts.path not in ("", "/")) or parts.query or " " in text:
        raise WlbenchError(f"--scheduler {address!r} is not a scheduler address (host and port needed)", hint=hint)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if parts.scheme == "tcp":
                sock.settimeout(timeout)
                first = sock.recv(16)
                if len(first) < 8 or int.from_bytes(first[:8], "little") >= 2 ** 32:
                    said = first[:24].decode("ascii", "replace").split("\n")[0].strip()
                    raise WlbenchError(f"the server at {full} is not a Dask scheduler (it "
                                       + (f"answered {said!r})" if first else "did not speak first, as one does)"),
                                       hint=hint)
    except TimeoutError:
        raise WlbenchError(f"the server at {full} is not a Dask scheduler (nothing answered within {timeout:g} s)",
                           hint=hint) from None
    except OSError as exc:
        raise WlbenchError(f"cannot reach the Dask scheduler at {full} ({exc.strerror or exc})",
                           hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, or leave "
                                "--scheduler out for a local cluster") from None
    return full


def _the_context(context: RenderContext) -> RenderContext:
    """The render context as the result of a task (see :meth:`DaskExecutor.start`)."""
    return context


class DaskExecutor:
    """Jobs on a ``dask.distributed`` cluster: the scheduler at ``scheduler`` (``tcp://host:8786``), or a
    ``LocalCluster`` of ``workers`` single-threaded processes started for the ``with`` block."""

    def __init__(self, scheduler: str | None = None, workers: int = 1) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self._cluster = None
        self.client = None
        self._context = None

    def __enter__(self) -> DaskExecutor:
        distributed = require_dask()
        if self.scheduler is None:
            self._cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=None, silence_logs=40)
            self.client = distributed.Client(self._cluster)
        else:
            self.scheduler = check_scheduler_address(self.scheduler)
            try:
                self.client = distributed.Client(self.scheduler, timeout="20s")
            except OSError as exc:
                raise WlbenchError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc})",
                                   hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                                        "or leave --scheduler out for a local cluster") from exc
            if not self.client.scheduler_info().get("workers"):
                try:
                    self.client.wait_for_workers(1, timeout=60)
                except (TimeoutError, OSError):  # distributed's WorkerStartTimeoutError is a TimeoutError
                    self.client.close()
                    self.client = None
                    raise WlbenchError(f"no Dask worker joined the scheduler at {self.scheduler} within 60 s",
                                       hint="start workers with `dask worker ADDRESS --nthreads 1`, or leave "
                                            "--scheduler out for a local cluster") from None
        return self

    def __exit__(self, *exc_info) -> None:
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client = self._cluster = self._context = None

    @property
    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def describe(self) -> str:
        where = self.scheduler or "a local cluster"
        return f"Dask ({where}, {len(self.client.nthreads())} workers, {self.slots} threads)"

    def check_workers(self, context: RenderContext) -> None:
        """Every worker must read the soundbank at the client's path with the client's fingerprint, and write
        the output folder of a sharded render: one :class:`WlbenchError` naming the workers otherwise."""
        folder = context.shards.folder if context.shards is not None else None
        answers = self.client.run(worker_problem, context.settings.bank_root, context.fingerprint, folder)
        bad = {worker: problem for worker, problem in answers.items() if problem}
        if bad:
            shown = "; ".join(f"{worker}: {problem}" for worker, problem in sorted(bad.items())[:3])
            more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise WlbenchError(f"{len(bad)} of {len(answers)} Dask workers cannot render: {shown}{more}; nothing "
                               "was rendered", hint=SHARED_STORAGE_HINT)

    def start(self, context: RenderContext, **_: Any) -> None:
        """Check the workers (:meth:`check_workers`), then send them the context once, as a task (not scattered
        data): the scheduler keeps the task, so when the worker holding the context dies (the only one,
        say) it is computed again on a replacement and the lost jobs rerun, as Dask does for any task."""
        self.check_workers(context)
        self._context = self.client.submit(_the_context, context, pure=False)

    def map_ordered(self, jobs: Iterable, window: int) -> Iterator[list[Piece]]:
        distributed = require_dask()
        pending: collections.deque = collections.deque()
        iterator = iter(jobs)

        def submit(job) -> None:
            # a job's worker also checks itself (once per process): workers that join later are checked too
            pending.append(self.client.submit(execute, job, self._context, True, pure=False))

        try:
            for job in iterator:
                submit(job)
                if len(pending) >= window:
                    break
            while pending:
                future = pending.popleft()
                try:
                    pieces = future.result()
                except distributed.KilledWorker as exc:
                    raise WlbenchError(f"a render job killed its Dask worker several times ({exc})",
                                       hint="look at the workers' logs (memory limit?)") from None
                except (distributed.CancelledError, distributed.comm.core.CommClosedError) as exc:  # scheduler lost
                    raise WlbenchError(f"the Dask cluster stopped answering during the render "
                                       f"({type(exc).__name__}: {exc}); nothing was written under the final name",
                                       hint="check the scheduler and rerun the same command") from None
                future.release()
                job = next(iterator, None)
                if job is not None:
                    submit(job)
                yield pieces
        finally:
            for future in pending:
                future.cancel()
