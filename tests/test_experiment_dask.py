"""``wlbench experiment --executor dask``: each run is one task on a Dask cluster; run folders are
byte-identical to local runs; a worker killed mid-grid loses nothing; bad cluster options fail before work."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from grid_files import config_lines
from test_baselines import seg_dataset, tiny_config  # noqa: F401 - fixture reused

from wlbench.cli import main

distributed = pytest.importorskip("distributed")
torch.set_num_threads(1)

GRID = """
[experiment]
name = "daskgrid"
methods = ["turpault-classifier"]
seeds = [0, 1]
metrics = ["map"]
test_segments = ["1s"]
controls = ["prior"]
bootstrap = 0

[axes]
train_segment = ["200ms", "1s"]

[config]
{config}

[[datasets]]
name = "tiny"
path = "{path}"
"""

# what a run folder holds that must not depend on where it ran (summary.json also holds timings)
COMPARED = ("checkpoint.pt", "predictions", "reports", "log.jsonl", "audit.jsonl")


def _grid(tmp_path: Path, dataset: Path, **more) -> Path:
    cfg = tiny_config("turpault-classifier", **{"max_epochs": 2, **more})
    cfg.pop("train_segment")
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(config=config_lines(cfg), path=dataset))
    return grid


def _digests(out: Path) -> dict[str, str]:
    """Digests of the files that must not depend on where a run trained; reports with their own folder's
    path written as OUT, and learning curves without the seconds each epoch took."""
    runs = out / "runs"
    found = {}
    for path in sorted(runs.rglob("*")):
        rel = path.relative_to(runs)
        if not path.is_file() or not any(part in COMPARED for part in rel.parts):
            continue
        data = path.read_bytes()
        if path.suffix in (".json", ".jsonl"):
            data = re.sub(rb'"seconds": [0-9.e-]+', b'"seconds": 0', data.replace(str(out).encode(), b"OUT"))
        found[str(rel)] = hashlib.sha256(data).hexdigest()
    return found


def test_dask_runs_equal_local_runs_even_when_a_worker_is_killed_mid_run(seg_dataset, tmp_path):  # noqa: F811
    """The same grid locally and on a Dask cluster of 2 workers, one of which is SIGKILLed while it builds a
    run folder: Dask reruns that run elsewhere; every checkpoint, prediction and report equals the local
    one, nothing half-built is left, and a second call finds every run finished."""
    grid = _grid(tmp_path, seg_dataset, max_epochs=4)
    local, out = tmp_path / "local", tmp_path / "remote"
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(local), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        workers = set(client.run(os.getpid).values())
        killed: list[int] = []

        def kill_a_worker_with_a_run_in_flight() -> None:
            """SIGKILL the worker process that owns a run folder being built (``.seed-N.<host>-<pid>-...``)."""
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                for p in list(out.rglob(".seed-*.partial")) if out.is_dir() else []:
                    m = re.search(r"-(\d+)-[0-9a-f]{8}\.partial$", p.name)
                    if m and int(m.group(1)) in workers:
                        os.kill(int(m.group(1)), signal.SIGKILL)
                        killed.append(int(m.group(1)))
                        return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_worker_with_a_run_in_flight, daemon=True)
        killer.start()
        args = ["experiment", str(grid), "--out", str(out), "--executor", "dask", "--scheduler",
                cluster.scheduler_address]
        res = CliRunner().invoke(main, args)
        killer.join(timeout=5)
        assert res.exit_code == 0, res.output
        assert killed, "no run was ever seen in flight"
        assert "8 to run on Dask (tcp://" in res.output and f"scheduler {cluster.scheduler_address}" in res.output
        assert res.output.count(": done") == 8
        assert not list((out / "runs").rglob("*.partial"))  # the killed run's half-built folder was cleaned
        a, b = _digests(local), _digests(out)
        assert len(a) > 20 and a == b
        assert (local / "daskgrid" / "table.md").read_text() == (out / "daskgrid" / "table.md").read_text()
        res = CliRunner().invoke(main, args)  # resumes like a local grid: nothing left to run
        assert res.exit_code == 0 and "8 runs (8 finished), 0 to run" in res.output


@pytest.mark.parametrize(("extra", "message"), [
    (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler needs --executor dask"),
])
def test_cluster_options_are_checked_before_work(seg_dataset, tmp_path, extra, message):  # noqa: F811
    grid = _grid(tmp_path, seg_dataset)
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 2 and message in res.output
    assert not (tmp_path / "o" / "runs").exists()
