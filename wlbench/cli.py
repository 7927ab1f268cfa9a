"""The ``wlbench`` command line: parse options, call the library, print. No logic of its own.

Each capability keeps its commands in ``wlbench/commands/<name>.py`` and they are registered below.
Every :class:`~wlbench.errors.WlbenchError`, and every bad option or argument, is printed on one line
(``error: ...``) with exit status 2, without a traceback (the failure policy: docs/errors.md).
"""

from __future__ import annotations

import sys

import click

from wlbench import __version__
from wlbench.errors import WlbenchError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # noqa: D401 - click hook
        from wlbench.paths import command_scope
        from wlbench.threads import harness_threads

        try:
            harness_threads()  # a bad WLBENCH_THREADS is refused before any work, not after a training run
            with command_scope():  # inputs are noted, and outputs refused over them (docs/errors.md)
                return super().invoke(ctx)
        except WlbenchError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)
            sys.exit(2)
        except click.UsageError as exc:  # a bad option or argument of a command: the same one line
            where = exc.ctx.command_path if exc.ctx is not None else "wlbench"
            click.echo(f"error: {one_line(exc.format_message())} (see '{where} --help')", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: nothing was written under the final name", err=True)
            sys.exit(130)


def one_line(message: str) -> str:
    """A message on one line: line breaks become "; " (the failure policy: one ``error:`` line)."""
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())


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
