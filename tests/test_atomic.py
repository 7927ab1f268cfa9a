"""Atomic writes: the final name appears only on success, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from wlbench.atomic import atomic_dir, atomic_path, write_text_atomic
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


def test_unusable_directory_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(WlbenchError, match="exists and is not a directory"):
        write_text_atomic(blocker / "x.txt", "")
