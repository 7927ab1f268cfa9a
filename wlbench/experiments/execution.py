"""Where the runs of a grid train: in this process, in local worker processes (``--jobs``), or on a Dask
cluster (``--executor dask [--scheduler tcp://host:8786]``).

Every run is one task, :func:`run_task`: train, predict and score one run into its folder under ``--out``.
The folder is built beside its final name and moved into place when the run has finished, so a worker lost
mid-run leaves nothing under the final name (Dask reruns the task on another worker). The same function runs
in every place with the same torch thread count (the run's ``threads``, 1 when 0), so a run's checkpoint,
predictions and reports are byte-identical wherever it ran.

On Dask, workers must see the grid's dataset files and ``--out`` at the client's (absolute) paths: shared
storage, as for a sharded render (docs/cluster.md). Each worker is checked before the first task.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from wlbench.errors import WlbenchError
from wlbench.threads import ENV as THREADS_ENV

Echo = Callable[[str], None]
RunArgs = tuple  # (method, dataset, run_dir, overrides, seed, bootstrap, segments, decoding)
EXECUTORS = ("local", "dask")


def run_task(args: RunArgs) -> tuple[str, str]:
    """Train one run (see :func:`wlbench.methods.runs.train_run`); returns (run folder, ``done`` or ``error:
    ...``): a run's own error never stops the grid."""
    method, dataset, run_dir, overrides, seed, bootstrap, segments, decoding = args
    import torch

    from wlbench.methods.runs import train_run

    threads = int(overrides.get("threads", 1)) or 1
    torch.set_num_threads(threads)
    was = os.environ.get(THREADS_ENV)
    os.environ[THREADS_ENV] = str(threads)  # the run's scoring threads too (runs side by side share the cores)
    try:
        train_run(method, dataset, run_dir, overrides=overrides, seed=seed, bootstrap=bootstrap, segments=segments,
                  force=True, decoding=decoding)
        return str(run_dir), "done"
    except WlbenchError as exc:
        return str(run_dir), f"error: {exc}"
    except Exception as exc:  # noqa: BLE001 - a method's own bug fails its run, not the grid
        return str(run_dir), f"error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    finally:
        if was is None:
            os.environ.pop(THREADS_ENV, None)
        else:
            os.environ[THREADS_ENV] = was


def run_local(tasks: Sequence[RunArgs], jobs: int) -> Iterator[tuple[str, str, int]]:
    """(run folder, status, runs still in flight) of each task as it finishes: in this process with
    ``jobs <= 1``, else in ``jobs`` spawned worker processes (one task per process)."""
    if jobs <= 1:
        for args in tasks:
            folder, status = run_task(args)
            yield folder, status, 0
        return
    import multiprocessing as mp

    pool = mp.get_context("spawn").Pool(jobs, maxtasksperchild=1)
    try:
        for i, (folder, status) in enumerate(pool.imap_unordered(run_task, tasks), 1):
            yield folder, status, min(jobs, len(tasks) - i)
    except BaseException:  # Ctrl-C or an early stop: the queued runs are dropped, the running ones stopped
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()


def _worker_problem(datasets: Sequence[str], out: str) -> str | None:
    """On a worker: None when it reads every dataset file and may write ``out``; else what is wrong."""
    for path in datasets:
        if not os.path.isfile(path):
            return f"cannot read the dataset {path}"
    if not os.path.isdir(out) or not os.access(out, os.W_OK):
        return f"cannot write the experiment folder {out}"
    return None


SHARED_HINT = ("run the workers where the dataset files and --out are at the same absolute paths (shared storage), "
               "or leave --executor out to train on this machine")


def run_dask(tasks: Sequence[RunArgs], *, scheduler: str | None, workers: int, out: Path, echo: Echo
             ) -> Iterator[tuple[str, str, int]]:
    """(run folder, status, runs still in flight) of each task as it finishes, on the Dask cluster at
    ``scheduler`` (a local cluster of ``workers`` single-threaded processes when None). Paths are made absolute
    for the workers; every worker is checked first (one error naming the workers that cannot see the files).
    Ctrl-C cancels every queued task (a task already running on a remote worker finishes its run folder, which
    the next call then reuses); workers must run one task at a time (``--nthreads 1``)."""
    from wlbench.synth.executors import DaskExecutor, require_dask

    distributed = require_dask()
    # absolute, not resolved: a worker may see the shared storage without the client's symlinks
    absolute = [(m, str(Path(d).absolute()), str(Path(r).absolute()), o, s, b, g, c) for m, d, r, o, s, b, g, c in tasks]
    datasets = sorted({a[1] for a in absolute})
    with DaskExecutor(scheduler, workers) as ex:
        client = ex.client
        answers = client.run(_worker_problem, datasets, str(Path(out).absolute()))
        bad = {w: p for w, p in answers.items() if p}
        # one run per process: concurrent runs would share torch's global seed, switches and thread count
        bad.update({w: f"runs {n} tasks at once (start it with --nthreads 1)"
                    for w, n in client.nthreads().items() if n != 1 and w not in bad})
        if bad:
            shown = "; ".join(f"{w}: {p}" for w, p in sorted(bad.items())[:3])
            raise WlbenchError(f"{len(bad)} of {len(answers)} Dask workers cannot train this grid: {shown}; nothing "
                               "was trained", hint=SHARED_HINT)
        try:
            link = client.dashboard_link if "dashboard" in client.scheduler_info().get("services", {}) else None
        except (KeyError, AttributeError):
            link = None
        address = getattr(client.scheduler, "address", None) or scheduler
        echo(f"on {ex.describe()}: scheduler {address}" + (f", dashboard {link}" if link else ""))
        futures = [client.submit(run_task, args, pure=False, key=f"wlbench-run-{i}-{time.time_ns()}")
                   for i, args in enumerate(absolute)]
        folders = {f.key: args[2] for f, args in zip(futures, absolute)}
        pending = len(futures)
        try:
            for future in distributed.as_completed(futures):
                pending -= 1
                try:
                    folder, status = future.result()
                except distributed.KilledWorker as exc:
                    folder, status = folders[future.key], f"error: the run killed its Dask worker several times ({exc})"
                except (distributed.CancelledError, distributed.comm.core.CommClosedError) as exc:
                    raise WlbenchError(f"the Dask cluster stopped answering ({type(exc).__name__}: {exc}); finished "
                                       "runs are kept", hint="check the scheduler and rerun the same command") from None
                future.release()
                yield folder, status, pending
        except BaseException:
            client.cancel(futures)
            raise


def check_executor(executor: str, scheduler: str | None, jobs: int) -> None:
    """Options checked before anything runs: a known executor; ``--scheduler`` only with Dask."""
    if executor not in EXECUTORS:
        raise WlbenchError(f"unknown executor {executor!r}", hint=f"use one of {', '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise WlbenchError("--scheduler needs --executor dask", hint="add --executor dask")
    if jobs < 1:
        raise WlbenchError(f"--jobs must be at least 1, got {jobs}")
    if executor == "dask":
        from wlbench.synth.executors import require_dask

        require_dask()


def run_tasks(tasks: Sequence[RunArgs], *, executor: str = "local", jobs: int = 1, scheduler: str | None = None,
              out: Path, echo: Echo) -> Iterator[tuple[str, str, int]]:
    """The finished runs of ``tasks`` on the chosen executor (see :func:`run_local`, :func:`run_dask`);
    with Dask and no scheduler, ``jobs`` is the number of workers of the local cluster."""
    if executor == "dask":
        return run_dask(tasks, scheduler=scheduler, workers=jobs, out=out, echo=echo)
    return run_local(tasks, jobs)


def describe(executor: str, jobs: int, scheduler: str | None) -> str:
    if executor == "dask":
        return f"on Dask ({scheduler or f'a local cluster of {jobs} worker(s)'})"
    return f"with {jobs} job(s)"
