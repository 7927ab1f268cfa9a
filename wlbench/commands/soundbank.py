"""``wlbench soundbank check [PATH]`` and ``wlbench soundbank default [--out PATH]``.

Also the shared ``--soundbank`` option for other commands: :func:`soundbank_option` and
:func:`resolve_soundbank`, so every command says the same thing about the default bank.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from wlbench.errors import WlbenchError
from wlbench.soundbank import DEFAULT_BANK_HELP


def soundbank_option(function):
    """Decorator: a ``--soundbank PATH`` option (None when left out: the default bank)."""
    return click.option("--soundbank", "soundbank", type=click.Path(path_type=Path), default=None,
                        help=DEFAULT_BANK_HELP)(function)


def resolve_soundbank(path: Path | None, quiet: bool = False):
    """Load the soundbank at ``path``, or the default one (saying so on stderr unless ``quiet``)."""
    from wlbench.soundbank import default_bank_path, load_soundbank

    if path is None and not quiet:
        click.echo(f"using the default soundbank at {default_bank_path()} (pass --soundbank to use another)",
                   err=True)
    return load_soundbank(path)


@click.group("soundbank")
def soundbank_group() -> None:
    """Find, check and fingerprint soundbanks; build the embedded default soundbank."""


@soundbank_group.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of text.")
def check_command(path: Path | None, as_json: bool) -> None:
    """Check the soundbank at PATH and report every problem.

    PATH is a soundbank folder in the DESED, parts or plain layout (see docs/soundbank.md). Without PATH,
    the embedded default soundbank is checked (built first if missing). Prints classes, per-part file
    counts, duration ranges, sample rates, every problem (one per line) and the fingerprint. Exit status
    0 if no problem was found, 2 otherwise (with one ``error:`` line counting the problems).
    """
    from wlbench.soundbank import build_default_bank, check_soundbank, default_bank_path

    if path is None:
        if not as_json:
            click.echo(f"using the default soundbank at {default_bank_path()} (no PATH given)")
        build_default_bank(progress=sys.stderr.isatty())   # builds it (with a progress bar) only if missing
    report = check_soundbank(path)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        raise WlbenchError(f"soundbank {report.root}: {len(report.problems)} problem(s)"
                           + (" listed above" if not as_json else " listed in the report"))


@soundbank_group.command("default")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to build it. Default: $WLBENCH_CACHE/soundbanks/default-v<version> "
                   "(WLBENCH_CACHE defaults to ~/.cache/wlbench).")
@click.option("--force", is_flag=True, help="Rebuild even if a valid bank is already there.")
def default_command(out: Path | None, force: bool) -> None:
    """Build the embedded default soundbank (offline, deterministic, a few seconds).

    Ten DESED classes synthesised by wlbench, train and eval parts with disjoint sources, 10-second
    backgrounds, a README datasheet and sources.csv. Commands that take --soundbank use this bank when the
    option is left out. Returns at once if the bank is already built and its fingerprint matches.
    """
    from wlbench.soundbank import build_default_bank, load_soundbank

    started = time.perf_counter()
    path = build_default_bank(out, progress=sys.stderr.isatty(), force=force)
    bank = load_soundbank(path)
    seconds = time.perf_counter() - started
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    click.echo(f"default soundbank: {path}")
    click.echo(f"{len(bank.classes)} classes, parts {', '.join(bank.parts)}: {len(bank.foreground)} foreground "
               f"and {len(bank.background)} background files, {size / 1e6:.1f} MB")
    click.echo(f"fingerprint: {bank.fingerprint}")
    click.echo(f"ready in {seconds:.1f} s; datasheet: {path / 'README.md'}")


def register(group: click.Group) -> None:
    group.add_command(soundbank_group)
