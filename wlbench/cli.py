"""The ``wlbench`` command line: parse options, call the library, print. No logic of its own.

Each capability keeps its commands in ``wlbench/commands/<name>.py`` and they are registered below.
Every :class:`~wlbench.errors.WlbenchError` is printed on one line (``error: ...``) with exit status 2.
"""

from __future__ import annotations

import sys

import click

from wlbench import __version__
from wlbench.errors import WlbenchError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # noqa: D401 - click hook
        try:
            return super().invoke(ctx)
        except WlbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: nothing was written under the final name", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="wlbench")
def main() -> None:
    """wlbench: weak-label sound event benchmark.

    Render controlled datasets from a soundbank (synth), inspect and verify them (info, verify), score
    submissions (score, compare), train reference baselines (train) and keep a leaderboard.
    Commands that take --soundbank use the embedded default soundbank when it is left out.
    """


def _register() -> None:
    from wlbench.commands import register_all

    register_all(main)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
