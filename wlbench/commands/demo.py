"""``wlbench demo``: the main job end to end on the embedded default soundbank."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/demo"), show_default=True,
              help="Where the dataset, the run and the leaderboard copy go.")
@click.option("--scale", type=float, default=0.1, show_default=True,
              help="Size of the WAA render (0.1 = 375 clips; the reference entries use 0.1).")
@click.option("--method", default="turpault-classifier", show_default=True,
              help="Baseline to train (see `wlbench methods`).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a training config value (repeatable); replaces the demo's quick settings.")
@click.option("--workers", type=int, default=None, help="Rendering processes [default: all cores].")
def demo(out: Path, scale: float, method: str, sets: tuple[str, ...], workers: int | None) -> None:
    """Render a small WAA dataset from the embedded default soundbank, train a baseline, score it with the
    harness, add it to a copy of the repository's leaderboard and render that board to HTML.

    Nothing is downloaded: the soundbank is synthesised offline on first use. Re-running reuses the
    rendered dataset.
    """
    from wlbench.demo import DemoSettings, run_demo

    defaults = DemoSettings()
    run_demo(DemoSettings(out=out, scale=scale, method=method, overrides=tuple(sets) or defaults.overrides,
                          workers=workers), echo=click.echo)


def register(group: click.Group) -> None:
    group.add_command(demo)
