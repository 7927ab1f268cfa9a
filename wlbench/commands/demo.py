"""``wlbench demo``: the main job end to end on the embedded default soundbank."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/demo"), show_default=True,
              help="Where the dataset, the run and the leaderboard copy go.")
@click.option("--scale", type=float, default=0.2, show_default=True,
              help="Size of the WAA render (0.2 = 750 clips, the dataset version of the reference entries).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a value of the quick baseline's training config (repeatable), e.g. max_epochs=60.")
@click.option("--workers", type=int, default=None, help="Rendering processes [default: all cores].")
def demo(out: Path, scale: float, sets: tuple[str, ...], workers: int | None) -> None:
    """Render a small WAA dataset from the embedded default soundbank, train a quick baseline (the end-to-end
    classifier of Turpault et al. 2020 on 1 s segments), score it with the harness, add it to a copy of the
    repository's leaderboard (beside the reference entries of the same dataset version) and render that
    board to HTML.

    Nothing is downloaded: the soundbank is synthesised offline on first use. Re-running reuses the
    rendered dataset.
    """
    from wlbench.demo import DemoSettings, run_demo

    run_demo(DemoSettings(out=out, scale=scale, overrides=tuple(sets), workers=workers), echo=click.echo)


def register(group: click.Group) -> None:
    group.add_command(demo)
