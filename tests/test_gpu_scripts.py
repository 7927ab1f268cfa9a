"""The GPU machine's scripts, on what a CPU machine can check: the entry-point record that lets an uninstalled
checkout run (scripts/gpu_env.py), and the refusals of scripts/gpu_check.py and scripts/gpu-check.sh. Their
CUDA path itself runs only on a lent GPU machine (docs/performance.md, "GPU")."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PathDistribution, distribution
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from gpu_env import write_env  # noqa: E402


def test_gpu_env_records_every_method_of_the_install(tmp_path):
    env = write_env(tmp_path / "env")
    assert write_env(tmp_path / "env") == env  # safe to run again
    assert (env / "wlbench_baselines").resolve() == ROOT / "baselines"
    record = PathDistribution(next(env.glob("wlbench-*.dist-info")))
    written = {(ep.group, ep.name, ep.value) for ep in record.entry_points}
    installed = {(ep.group, ep.name, ep.value) for ep in distribution("wlbench").entry_points}
    assert written == installed and any(g == "wlbench.methods" for g, _, _ in written)
    assert record.version == distribution("wlbench").version


def test_gpu_env_replaces_what_another_checkout_left(tmp_path):
    env = tmp_path / "env"
    env.mkdir()
    (tmp_path / "other").mkdir()
    (env / "wlbench_baselines").symlink_to(tmp_path / "other", target_is_directory=True)
    (env / "wlbench-0.0.9.dist-info").mkdir()
    write_env(env)
    assert (env / "wlbench_baselines").resolve() == ROOT / "baselines"
    assert [p.name for p in env.glob("wlbench-*.dist-info")] == [f"wlbench-{distribution('wlbench').version}.dist-info"]


def test_gpu_check_refuses_without_cuda_or_data(tmp_path):
    run = [sys.executable, str(ROOT / "scripts" / "gpu_check.py")]
    usage = subprocess.run(run, capture_output=True, text=True)
    assert usage.returncode == 2 and "DATA OUT" in usage.stderr
    (tmp_path / "data").mkdir()
    missing = subprocess.run(run + [str(tmp_path / "data"), str(tmp_path / "out"), "--device", "cpu"],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "gseg.h5" in missing.stderr and "--render" in missing.stderr
    if not torch.cuda.is_available():
        no_gpu = subprocess.run(run + [str(tmp_path / "data"), str(tmp_path / "out")], capture_output=True, text=True)
        assert no_gpu.returncode == 2 and "no CUDA device" in no_gpu.stderr
    assert not (tmp_path / "out").exists()
    shell = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh")], capture_output=True, text=True)
    assert shell.returncode == 2 and "usage" in shell.stderr
