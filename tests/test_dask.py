"""Rendering on a Dask cluster: a LocalCluster of 2 worker processes, shared by the tests of this module."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import signal
import threading
import time

import pytest
from click.testing import CliRunner

from wlbench.cli import main
from wlbench.errors import WlbenchError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as local:
        yield local


def _ids(path):
    from wlbench.dataset.inspect import verify_dataset

    result = verify_dataset(path)
    assert result.ok, result.problems
    return result.truth_id, result.split_truth_ids, result.computed_content_id


def test_dask_render_has_the_ids_of_the_local_renderer(cluster, tiny_recipe_path, tone_bank, tiny_dataset, tmp_path):
    for extra in ([], ["--shards", "3"]):
        out = tmp_path / f"out{len(extra)}"
        result = CliRunner().invoke(main, ["synth", str(tiny_recipe_path), "--soundbank", str(tone_bank), "--out",
                                           str(out), "--executor", "dask", "--scheduler", cluster.scheduler_address,
                                           "--quiet", *extra])
        assert result.exit_code == 0, result.output
        assert "on Dask (" in result.output
        path = out / "tiny.shards" / "index.h5" if extra else out / "tiny.h5"
        assert _ids(path) == _ids(tiny_dataset)


def _recipe(tmp_path, train_clips: int):
    from conftest import TINY_RECIPE

    path = tmp_path / "long.toml"
    path.write_text(TINY_RECIPE.format(cut=0.0).replace("clips = 9", f"clips = {train_clips}")
                    .replace('"tiny"', '"long"'))
    return path


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("shard-*.h5"))}


def _render_killing_the_shard_writer(recipe, bank, out, scheduler: str) -> tuple[dict, int | None]:
    """Render ``recipe`` sharded on the cluster at ``scheduler`` in a thread and SIGKILL the worker (by the
    pid in its temporary's name) while it writes a shard; returns (``{"result"|"error": ...}``, killed pid)."""
    from wlbench.synth.executors import DaskExecutor
    from wlbench.synth.pipeline import synthesize

    outcome: dict = {}

    def render():
        try:
            outcome["result"] = synthesize(recipe, bank, out, progress=False, shards=2,
                                           executor=DaskExecutor(scheduler=scheduler))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=render)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        partials = glob.glob(str(out / ".long.shards.*" / ".shard-*.partial"))
        if partials:
            pid = int(os.path.basename(partials[0]).split(".")[-3].split("-")[1])
            time.sleep(0.2)  # well inside the shard (it renders 25-32 clips)
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.01)
    thread.join(timeout=300)
    return outcome, killed


def test_a_worker_killed_mid_render_is_replaced_and_nothing_changes(cluster, tone_bank, tmp_path):
    """The worker writing a shard is killed by PID (the pid is in its temporary's name); Dask runs its job again
    on a worker, which writes the same bytes: the ids and every shard file equal those of a clean render."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    recipe, bank = load_recipe(_recipe(tmp_path, 48)), load_soundbank(tone_bank)
    reference = synthesize(recipe, bank, tmp_path / "local", workers=1, progress=False, shards=2)
    single = synthesize(recipe, bank, tmp_path / "single", workers=1, progress=False)
    out = tmp_path / "dask"
    client = distributed.Client(cluster.scheduler_address)
    try:
        client.wait_for_workers(2, timeout=60)
        workers = set(client.run(os.getpid).values())
    finally:
        client.close()

    outcome, killed = _render_killing_the_shard_writer(recipe, bank, out, cluster.scheduler_address)
    assert killed in workers, "no shard was seen being written by a worker"
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    client = distributed.Client(cluster.scheduler_address)
    try:
        client.wait_for_workers(2, timeout=60)
        assert killed not in client.run(os.getpid).values()  # the killed worker was replaced
    finally:
        client.close()
    assert (result.content_id, result.truth_id) == (reference.content_id, reference.truth_id)
    assert _ids(result.path) == _ids(reference.path) == _ids(single.path)
    assert _digests(result.path.parent) == _digests(reference.path.parent)
    assert sorted(p.name for p in result.path.parent.iterdir()) == sorted(p.name for p in reference.path.parent.iterdir())


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_soundbank_the_workers_cannot_read_is_one_error_before_rendering(cluster, tone_bank, tiny_recipe_path,
                                                                           tmp_path, damage):
    """The client plans from its soundbank; the workers see it gone (or with other bytes) at the same path."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.executors import DaskExecutor
    from wlbench.synth.pipeline import synthesize

    copy = tmp_path / "bank"
    shutil.copytree(tone_bank, copy)
    bank = load_soundbank(copy)
    if damage == "missing":
        copy.rename(tmp_path / "elsewhere")
        needle = "is not there"
    else:
        wav = sorted(copy.rglob("*.wav"))[0]
        data = bytearray(wav.read_bytes())
        data[-2:] = bytes([data[-2] ^ 1, data[-1] ^ 1])
        wav.write_bytes(bytes(data))
        needle = "but the plan was made from"
    out = tmp_path / "out"
    for shards in (None, 2):
        with pytest.raises(WlbenchError) as error:
            synthesize(load_recipe(tiny_recipe_path), bank, out, progress=False, shards=shards,
                       executor=DaskExecutor(scheduler=cluster.scheduler_address))
        message = str(error.value)
        assert "2 of 2 Dask workers cannot render" in message and needle in message and "\n" not in message
        assert "nothing was rendered" in message and "shared storage" in message
        assert not out.exists() or not any(out.iterdir())


def test_scheduler_needs_the_dask_executor(tiny_recipe_path, tone_bank, tmp_path):
    from test_cli_bad_inputs import assert_one_clean_error

    result = CliRunner().invoke(main, ["synth", str(tiny_recipe_path), "--soundbank", str(tone_bank), "--out",
                                       str(tmp_path), "--scheduler", "tcp://127.0.0.1:8786"])
    assert_one_clean_error(result, "--scheduler needs --executor dask")


def test_the_only_worker_killed_mid_render_is_replaced_and_its_work_rerun(tone_bank, tmp_path):
    """With one worker, nothing the render needs may live only on that worker: the render context is a task
    the scheduler can run again (not scattered data), so the replacement worker finishes the render."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    recipe, bank = load_recipe(_recipe(tmp_path, 48)), load_soundbank(tone_bank)
    reference = synthesize(recipe, bank, tmp_path / "local", workers=1, progress=False, shards=2)
    out = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as single:
        outcome, killed = _render_killing_the_shard_writer(recipe, bank, out, single.scheduler_address)
    assert killed is not None, "no shard was seen being written by the worker"
    assert "error" not in outcome, outcome.get("error")
    assert (outcome["result"].content_id, outcome["result"].truth_id) == (reference.content_id, reference.truth_id)
