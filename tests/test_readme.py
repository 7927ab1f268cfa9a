"""Every Python block of README.md runs as written (in seconds): the documented calls exist, take the
keywords shown and return what the comments say. A block that reads a rendered dataset runs against a small
render of the same kind (a missing-label ladder, roles and domains) placed where the README names it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_conditions import multi_dataset  # noqa: F401 - fixture reused (views missing-0/20/50, roles, domains)

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
# the files README blocks read -> the fixture standing in for them
STAND_INS = {"out/desed-like-scale0.1.h5": "multi_dataset"}


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, request, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    for name, fixture in STAND_INS.items():
        if name in code:
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(request.getfixturevalue(fixture))
    unknown = [p for p in re.findall(r'"([\w./-]+\.h5)"', code) if p not in STAND_INS]
    assert not unknown, f"README block {index} reads {unknown}: add a stand-in to STAND_INS"
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip()  # every block shows its result
