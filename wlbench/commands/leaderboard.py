"""``wlbench leaderboard submit|show|render|verify``: a board computed from predictions, never typed in."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wlbench.errors import WlbenchError
from wlbench.tasks import TASKS

BOARD = click.option("--board", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="the board directory (entries/, submissions/); default: $WLBENCH_BOARD, else ./leaderboard")
# commands that change a board: never the reference board ./leaderboard unless it is named
BOARD_W = click.option("--board", type=click.Path(file_okay=False, path_type=Path), default=None,
                       help="the board directory to change (entries/, submissions/); required unless "
                            "$WLBENCH_BOARD names one (./leaderboard, the reference board, only when named)")


def _bar(label: str, unit: str, first_line: str = ""):
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr (a terminal only), and its close.
    ``first_line`` is printed (stderr) at the first call: once the inputs have passed their checks, so that
    a refused command still prints one error line only."""
    from tqdm import tqdm

    state: dict[str, object] = {}

    def update(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            if first_line:
                click.echo(first_line.replace("{total}", str(total)), err=True)
            bar = state["bar"] = tqdm(total=total, desc=label, unit=unit, leave=False, disable=None)
        bar.update(done - bar.n)

    def close() -> None:
        if state.get("bar") is not None:
            state["bar"].close()

    return update, close


def _short(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


_CONFIG_LIMIT = 1_000_000  # bytes: a config is a few settings


def _config(value: str | None) -> dict:
    """``--config``: inline JSON when the value starts with ``{`` (or ``[``), else the path of a JSON file."""
    if not value:
        return {}
    hint = 'give an inline JSON object such as \'{"lr": 0.001}\', or the path of a JSON file'
    if value.lstrip().startswith(("{", "[")):
        where, text = "--config", value
    else:
        where = f"--config file {_short(value)}"
        from wlbench.paths import file_kind, read_text_input

        if file_kind(value) == "missing":
            raise WlbenchError(f"--config {_short(value)} is neither inline JSON (which starts with '{{') nor an "
                               "existing file", hint=hint) from None
        text = read_text_input(value, "--config file", hint=hint, limit=_CONFIG_LIMIT)
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise WlbenchError(f"{where}: not valid JSON ({exc})", hint=hint) from None
    if not isinstance(obj, dict):
        raise WlbenchError(f"{where} must hold a JSON object {{key: value}}, got a JSON {type(obj).__name__}",
                           hint=hint)
    return obj


def _seeds(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise WlbenchError(f"--seeds {value!r}: expected integers separated by commas, e.g. 0,1,2") from None
    bad = [s for s in seeds if not 0 <= s < 2 ** 63]
    if bad:
        raise WlbenchError(f"--seeds {_short(value)}: seed {bad[0]} is not in [0, 2**63)", hint="e.g. --seeds 0,1,2")
    if len(set(seeds)) != len(seeds):
        twice = next(s for s in seeds if seeds.count(s) > 1)
        raise WlbenchError(f"--seeds {_short(value)}: seed {twice} is given twice; each predictions file is one "
                           "run of its own seed", hint="e.g. --seeds 0,1,2")
    return seeds


@click.group("leaderboard")
def leaderboard() -> None:
    """The leaderboard: submit predictions (re-scored here), show, render (Markdown + HTML), verify."""


@leaderboard.command("submit")
@click.argument("predictions", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dataset", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the dataset file (HDF5) the predictions were made for")
@click.option("--name", required=True, help="method name")
@BOARD_W
@click.option("--method-version", default="", help="method version (a new version of a method is a new entry)")
@click.option("--description", default="", help="free text")
@click.option("--link", default="", help="paper or code URL")
@click.option("--config", "config", default=None, help="the method's config: a JSON object or a JSON file")
@click.option("--seeds", default=None, help="the seed of each predictions file, in order, e.g. 0,1,2")
@click.option("--split", default="eval", show_default=True)
@click.option("--task", type=click.Choice(list(TASKS)), default=None,
              help="default from the file extension")
@click.option("--threshold", default="0.5", show_default=True, help="decision threshold or JSON {class: t}")
@click.option("--k", "k", default=3, show_default=True, type=click.IntRange(min=1), help="k of mAP@k")
@click.option("--t-collar", default=0.2, show_default=True, type=float)
@click.option("--percentage-of-length", default=0.2, show_default=True, type=float)
@click.option("--segment", "resolution", default=1.0, show_default=True, type=float)
@click.option("--embedding-metric", "metric", type=click.Choice(["euclidean", "cosine"]), default="euclidean",
              show_default=True)
@click.option("--raw-scores", is_flag=True, help="scores are not probabilities")
@click.option("--bootstrap", "resamples", default=1000, show_default=True, type=click.IntRange(min=0))
@click.option("--bootstrap-seed", default=0, show_default=True, type=int)
@click.option("--ci", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
def submit_cmd(predictions, dataset, name, board, method_version, description, link, config, seeds, split, task,
               threshold, k, t_collar, percentage_of_length, resolution, metric, raw_scores, resamples,
               bootstrap_seed, ci):
    """Score PREDICTIONS (one file per seed of one method) against --dataset and add one entry."""
    from wlbench.commands.scoring import settings_from_options
    from wlbench.leaderboard import submit_run
    from wlbench.leaderboard.board import board_to_write, read_entry
    from wlbench.leaderboard.tables import cell

    board = board_to_write(board)
    settings = settings_from_options(threshold=threshold, k=k, t_collar=t_collar, pct=percentage_of_length, resolution=resolution, metric=metric, raw_scores=raw_scores,
                                     resamples=resamples, seed=bootstrap_seed, ci=ci)
    path = submit_run(board, dataset, name, list(predictions), split=split, task=task,
                      method_version=method_version, description=description, link=link,
                      config=_config(config), seeds=_seeds(seeds), settings=settings)
    entry = read_entry(path)
    click.echo(f"entry {entry['id']} written to {path}")
    from wlbench.leaderboard.entries import DEFAULT_METRIC

    head = entry["summary"]["headline"]
    first = DEFAULT_METRIC.get(entry["task"])
    for m in ([first] if first in head else []) + [m for m in head if m != first][:3]:
        h = head[m]
        click.echo(f"  {m:<26}{cell(h)}")
    click.echo(f"render the board with: wlbench leaderboard render --board {board}")


@leaderboard.command("show")
@BOARD
@click.option("--dataset", default=None, help="only this dataset (name or content id prefix)")
@click.option("--metric", default=None, help="rank by this headline metric (default per task)")
def show_cmd(board, dataset, metric):
    """Ranked tables grouped by dataset version and task, with intervals; '=' marks ties within intervals."""
    from wlbench.leaderboard import show_board
    from wlbench.leaderboard.board import board_to_read

    board = board_to_read(board)
    click.echo(show_board(board, dataset, metric))


@leaderboard.command("render")
@BOARD
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="output directory (default: the board directory)")
def render_cmd(board, out):
    """Write LEADERBOARD.md and a self-contained index.html (open it from disk, offline)."""
    from wlbench.leaderboard import render_board
    from wlbench.leaderboard.board import board_to_read

    board = board_to_read(board)
    update, close = _bar("render", "table", f"rendering {board}: " "{total} tables, figures for each (seconds a table)")
    try:
        md, page = render_board(board, out, progress=update)
    finally:
        close()
    click.echo(f"wrote {md}")
    click.echo(f"wrote {page}")
    click.echo(f"open it: file://{page.resolve()}")


@leaderboard.command("verify")
@BOARD
@click.option("--dataset", "datasets", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="dataset file(s): re-score every entry pinned to the truth of one of its splits (repeatable)")
def verify_cmd(board, datasets):
    """Check every entry: self-hash, kept predictions, summary, the hash chain (each entry as submitted) and
    the rendered page; with --dataset, also re-score the kept predictions against the pinned truth.
    docs/leaderboard.md says what each check catches. Exit 0 if the board checks out, 2 otherwise."""
    from wlbench.leaderboard.board import board_to_read
    from wlbench.leaderboard.verify import check_board

    board = board_to_read(board)
    first = (f"verifying {board}: " "{total} entries, re-scoring the kept predictions of those of "
             f"{', '.join(str(d) for d in datasets)} (seconds an entry)") if datasets else ""
    update, close = _bar("verify", "entry", first)
    try:
        result = check_board(board, list(datasets), progress=update)
    finally:
        close()
    if result.problems:
        for p in result.problems:
            click.echo(p, err=True)
        raise WlbenchError(f"{len(result.problems)} problem(s) on board {board}",
                           hint="entries are written by 'wlbench leaderboard submit', never edited by hand")
    rescored = (f"{result.rescored} re-scored from their kept predictions"
                + (f", {result.entries - result.rescored} not (no --dataset holds their truth)"
                   if result.rescored < result.entries else "")
                if datasets else "hashes and chain checked; pass --dataset to re-score")
    click.echo(f"board {board}: {result.entries} entries verified ({rescored}); board head {result.head}")


@leaderboard.command("remove")
@click.argument("entry_id")
@BOARD_W
@click.option("--reason", required=True, help="why the entry leaves the board (recorded in the chain)")
def remove_cmd(entry_id, board, reason):
    """Take entry ENTRY_ID off the board (its file and kept predictions), recording it in the chain."""
    from wlbench.leaderboard.board import board_to_write, remove_entry

    board = board_to_write(board)
    remove_entry(board, entry_id, reason)
    click.echo(f"removed {entry_id} from {board}; render the board with: wlbench leaderboard render --board {board}")


@leaderboard.command("migrate")
@BOARD_W
@click.option("--dataset", "datasets", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="a dataset file of each spec id the entries were scored on (repeatable)")
def migrate_cmd(board, datasets):
    """Re-pin a board made before truth ids: re-score every entry's kept predictions against --dataset,
    check they reproduce the recorded scores, rebuild the entries pinned to the split truth id, write the
    chain and render the pages. Nothing changes unless every entry reproduces."""
    from wlbench.leaderboard.board import board_to_write
    from wlbench.leaderboard.migrate import migrate_board

    board = board_to_write(board)
    moved = migrate_board(board, list(datasets), echo=click.echo)
    truths = sorted({m.split_truth_id for m in moved})
    click.echo(f"board {board}: {len(moved)} entries re-pinned to {len(truths)} split truth id(s) "
               f"({', '.join(t[:12] for t in truths)}); chain and pages written")


def register(group: click.Group) -> None:
    group.add_command(leaderboard)
