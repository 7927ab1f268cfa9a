"""Make an uninstalled checkout runnable by a Python that has its dependencies but not wlbench itself (a lent
GPU machine's own torch, where ``scripts/setup.sh`` cannot run: no package registry there).

    PYTHONPATH=$(python3 scripts/gpu_env.py /tmp/wlbench-env):$PWD python3 -m wlbench.cli ...

Writes into the given folder what an install would provide beside the source: ``wlbench_baselines`` (a link to
the repository's ``baselines/`` folder, the name pyproject.toml maps it to) and a ``wlbench`` distribution
record holding pyproject.toml's entry points, so that the reference methods are found the one way wlbench
finds any method (the ``wlbench.methods`` entry points). Prints the folder; safe to run again, also over a
folder written for another checkout or version (its link and record are replaced).
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_env(target: Path) -> Path:
    """Write the link and the distribution record into ``target`` (created if missing) and return it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    target.mkdir(parents=True, exist_ok=True)
    link = target / "wlbench_baselines"
    if link.is_symlink() and link.resolve() != (ROOT / "baselines").resolve():
        link.unlink()  # left by another checkout
    if not link.is_symlink():
        link.symlink_to(ROOT / "baselines", target_is_directory=True)
    record = target / f"wlbench-{project['version']}.dist-info"
    for other in target.glob("wlbench-*.dist-info"):
        if other != record:
            shutil.rmtree(other)  # another version's entry points would be found beside this one's
    record.mkdir(exist_ok=True)
    (record / "METADATA").write_text(f"Metadata-Version: 2.1\nName: wlbench\nVersion: {project['version']}\n")
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    (record / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target_}\n" for name, target_ in points.items()) + "\n"
        for group, points in groups.items()))
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 scripts/gpu_env.py FOLDER")
    print(write_env(Path(sys.argv[1]).resolve()))
