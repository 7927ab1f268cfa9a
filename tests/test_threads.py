"""The evaluation harness's threads (wlbench.threads): the setting and the ordered map."""

from __future__ import annotations

import threading

import pytest

from wlbench.errors import WlbenchError
from wlbench.threads import ENV, MAX_THREADS, available_cores, harness_threads, map_in_threads


def test_harness_threads_from_the_environment_or_the_cores(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert harness_threads() == min(available_cores(), MAX_THREADS)
    monkeypatch.setenv(ENV, " 3 ")
    assert harness_threads() == 3
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(WlbenchError, match=f"{ENV}=.*not a positive number"):
            harness_threads()


def test_map_in_threads_keeps_the_order_and_runs_in_threads():
    seen: set[str] = set()

    def work(x: int) -> int:
        seen.add(threading.current_thread().name)
        return x * x

    assert map_in_threads(work, range(20), 3) == [x * x for x in range(20)]
    assert threading.current_thread().name not in seen  # the work ran on the pool's threads
    seen.clear()
    assert map_in_threads(work, [4], 3) == [16] and seen == {threading.current_thread().name}
    assert map_in_threads(work, [], 3) == []


def test_a_bad_setting_is_refused_before_any_command_runs(tmp_path):
    """One error line, exit 2, before the work (not after a training run, when the scoring first asks)."""
    from click.testing import CliRunner

    from wlbench.cli import main

    res = CliRunner().invoke(main, ["train", "prior", "--dataset", str(tmp_path / "missing.h5"), "--out",
                                    str(tmp_path / "run")], env={ENV: "abc"})
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {ENV}='abc'"), res.output
    assert not (tmp_path / "run").exists()
