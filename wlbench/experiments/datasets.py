"""The dataset file of each grid entry, rendered from its recipe when missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.experiments.grid import Echo, check_dataset_file


def dataset_path(d: dict[str, Any], out: Path, echo: Echo, render: bool = True) -> Path:
    """The file of a grid dataset, rendered from its recipe when missing (and ``render``)."""
    target = Path(d["path"]) if "path" in d else out / "data" / f"{d['name']}.h5"
    if target.is_file():
        check_dataset_file(d, target)
    if target.is_file() or not render:
        return target
    if "recipe" not in d:
        raise WlbenchError(f"dataset {d['name']!r}: {target} not found and no recipe to render it from")
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    recipe = load_recipe(Path(d["recipe"]))
    scale = float(d.get("scale", 1.0))
    if scale != 1.0:
        recipe = recipe.scaled(scale)
    echo(f"rendering {d['name']} from {d['recipe']} (scale {scale}) -> {target}")
    return synthesize(recipe, load_soundbank(d.get("soundbank")), target.parent, workers=int(d.get("workers", 1)),
                      progress=False, filename=target.name).path
