"""Atomic writes: the final name appears only on success, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest
from killed_writer import killed_writer

from wlbench import atomic
from wlbench.atomic import atomic_dir, atomic_path, check_output_path, ensure_writable_dir, leftovers, write_text_atomic
from wlbench.errors import WlbenchError


def test_success_renames_with_umask_permissions(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "hello")
    assert target.read_text() == "hello"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_leaves_the_previous_file_untouched(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("previous")
    with pytest.raises(error):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise error()
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_directory_is_replaced_whole(tmp_path):
    target = tmp_path / "bank"
    target.mkdir()
    (target / "old").write_text("x")
    with atomic_dir(target) as tmp:
        (tmp / "new").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "newer").write_text("z")
        raise RuntimeError
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank"]


@pytest.mark.parametrize("below", ["x.json", "a/b/x.json"])
def test_parent_that_is_a_file_is_named(tmp_path, below):
    """``score --json <file>/x.json`` and ``--board <file>/b``: the file in the way is named, not "--out"."""
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    with pytest.raises(WlbenchError) as info:
        write_text_atomic(blocker / below, "")
    assert f"{blocker} is a file, not a folder" in str(info.value) and "--out" not in str(info.value)
    with pytest.raises(WlbenchError, match="is a file, not a folder"):
        ensure_writable_dir(blocker / "board")
    assert blocker.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_folder_where_a_file_goes_is_refused_before_any_work(tmp_path):
    taken = tmp_path / "out.h5"
    (taken / "inside").mkdir(parents=True)
    with pytest.raises(WlbenchError, match="a folder of that name is in the way"):
        check_output_path(taken)
    with pytest.raises(WlbenchError, match="a folder of that name is in the way"):
        with atomic_path(taken):
            raise AssertionError("the body must not run")
    blocker = tmp_path / "bank"
    blocker.write_text("")
    with pytest.raises(WlbenchError, match="a file of that name is in the way"):
        with atomic_dir(blocker):
            raise AssertionError("the body must not run")
    check_output_path(tmp_path / "new" / "deeper" / "x.h5")  # creates nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank", "out.h5"]


def test_name_taken_during_the_write_is_one_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(WlbenchError, match="the new output was discarded"):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            (target / "x").mkdir(parents=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_expected_size_beyond_the_free_space_is_refused(tmp_path):
    import shutil

    free = shutil.disk_usage(tmp_path).free
    check_output_path(tmp_path / "x.h5", expected_bytes=1000)
    with pytest.raises(WlbenchError, match="needs about .* free"):
        check_output_path(tmp_path / "x.h5", expected_bytes=free * 2 + 10**12)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "x.txt").write_text("old")
    folder.chmod(0o555)
    try:
        with pytest.raises(WlbenchError, match="not writable"):
            check_output_path(folder / "x.txt")
    finally:
        folder.chmod(0o755)


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    """After SIGKILL the temporaries stay; the next atomic write into the same folder removes those whose
    process is provably gone, and leaves those of a live process, another machine or an unknown owner."""
    pid = killed_writer(tmp_path / "report.json", tmp_path / "sub")
    stale = sorted(p.name for p in tmp_path.iterdir())
    assert len(stale) == 2 and all(f"-{pid}-" in name for name in stale), stale
    assert {lo.owner for lo in leftovers(tmp_path)} == {"gone"}
    assert all("no longer exists" in lo.describe() for lo in leftovers(tmp_path))
    live = tmp_path / f".other.json.{atomic._host_tag()}-{os.getpid()}-0123abcd.partial"
    foreign = tmp_path / f".other.json.{'0' * 8 if atomic._host_tag() != '0' * 8 else '1' * 8}-{pid}-0123abcd.partial"
    unowned = tmp_path / ".other.json.x1y2z3.partial"
    for path in (live, foreign, unowned):
        path.write_text("")
    write_text_atomic(tmp_path / "next.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["next.json", live.name, foreign.name, unowned.name])
    assert {lo.path.name: lo.owner for lo in leftovers(tmp_path)} == {
        live.name: "running", foreign.name: "another machine", unowned.name: "unknown"}


def test_previous_version_moved_aside_by_a_killed_writer_is_restored(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    aside = tmp_path / f".bank.{atomic._host_tag()}-{dead}-0123abcd.old"
    aside.mkdir()
    (aside / "a.wav").write_text("previous")
    write_text_atomic(tmp_path / "other.txt", "")
    assert (tmp_path / "bank" / "a.wav").read_text() == "previous" and not aside.exists()
