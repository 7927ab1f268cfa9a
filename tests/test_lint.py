"""Lint and types, run by the test command: ruff over the repository (pyproject's [tool.ruff]) and mypy over
the public API (pyproject's [tool.mypy]). A failure prints what the tool printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# the modules outside code calls: the metrics, the dataset layer, the method protocol and config, the harness's
# file entry points, the training framework, the grids' statistics and verdicts, the task list
PUBLIC_API = ["wlbench/metrics", "wlbench/dataset", "wlbench/methods/protocol.py", "wlbench/methods/config.py",
              "wlbench/methods/runs.py", "wlbench/methods/discovery.py", "wlbench/tasks.py",
              "wlbench/scoring/core.py", "wlbench/training", "wlbench/experiments/statistics.py",
              "wlbench/experiments/findings.py"]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    res = _run(["ruff", "check", "--no-cache", "wlbench", "baselines", "tests", "scripts"])
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_mypy_passes_on_the_public_api(tmp_path):
    res = _run(["mypy", "--cache-dir", str(tmp_path / "mypy"), *PUBLIC_API])
    assert res.returncode == 0, res.stdout + res.stderr
