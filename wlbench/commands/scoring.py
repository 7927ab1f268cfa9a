"""``wlbench score`` and ``wlbench compare``: validate and score submissions, paired tests."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wlbench.errors import WlbenchError

TASK = click.Choice(["tagging", "detection", "embedding"])


def settings_from_options(threshold, k, t_collar, pct, resolution, metric, raw_scores, resamples, seed, ci):
    """The harness :class:`~wlbench.scoring.Settings` from the scoring CLI options (shared by ``score``,
    ``compare`` and ``leaderboard submit``); ``threshold`` is a number or a JSON file {class: threshold}."""
    from wlbench.scoring import Settings

    thr: float | dict[str, float]
    try:
        thr = float(threshold)
    except ValueError:
        path = Path(threshold)
        if not path.is_file():
            raise WlbenchError(f"--threshold {threshold!r} is neither a number nor a JSON file",
                               hint="give e.g. 0.5 or a JSON file {class: threshold}") from None
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(obj, dict):
                raise TypeError(f"got a JSON {type(obj).__name__}")
            # values are checked by Settings (finite numbers only, naming the class at fault)
            thr = {str(k_): v for k_, v in obj.items()}
        except (ValueError, AttributeError, TypeError, OSError) as exc:
            raise WlbenchError(f"{path}: expected a JSON object {{class: threshold}} ({exc})") from None
    return Settings(threshold=thr, k=k, t_collar=t_collar, percentage_of_length=pct, time_resolution=resolution,
                    embedding_metric=metric, probabilities=not raw_scores, n_resamples=resamples, seed=seed, ci=ci)


def _common(f):
    options = [
        click.option("--split", default="eval", show_default=True, help="dataset split to score against"),
        click.option("--task", type=TASK, default=None,
                     help="tagging (.csv), detection (.tsv) or embedding (.npy/.npz/.h5); default from extension"),
        click.option("--threshold", default="0.5", show_default=True,
                     help="decision threshold, or a JSON file {class: threshold}"),
        click.option("--k", "k", default=3, show_default=True, type=click.IntRange(min=1), help="k of mAP@k"),
        click.option("--t-collar", default=0.2, show_default=True, type=float, help="onset collar (s)"),
        click.option("--percentage-of-length", default=0.2, show_default=True, type=float,
                     help="offset collar = max(t-collar, this x reference length)"),
        click.option("--segment", "resolution", default=1.0, show_default=True, type=float,
                     help="segment length for segment-based metrics (s)"),
        click.option("--embedding-metric", "metric", type=click.Choice(["euclidean", "cosine"]),
                     default="euclidean", show_default=True),
        click.option("--raw-scores", is_flag=True, help="scores are not probabilities: allow values outside [0, 1]"),
        click.option("--bootstrap", "resamples", default=1000, show_default=True, type=click.IntRange(min=0),
                     help="bootstrap resamples over clips (0: no intervals)"),
        click.option("--seed", default=0, show_default=True, type=int, help="bootstrap seed"),
        click.option("--ci", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True,
                                                                                    max_open=True)),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command("score")
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("submission", type=click.Path(dir_okay=False, path_type=Path))
@_common
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the full JSON report here (atomically)")
@click.option("--max-classes", default=50, show_default=True, type=int, help="classes shown in the table")
@click.option("--labels", "labels", default="true", show_default=True,
              help="score against the true labels, or a stored missing-label view of the split (clip tasks)")
def score_cmd(dataset, submission, split, task, threshold, k, t_collar, percentage_of_length, resolution, metric,
              raw_scores, resamples, seed, ci, json_out, max_classes, labels):
    """Validate SUBMISSION and score it against DATASET.h5 (exit 2 listing every problem if invalid)."""
    from wlbench.atomic import check_output_path
    from wlbench.scoring import render_report, score_file, write_report

    if json_out is not None:
        check_output_path(json_out)  # before scoring: a bad --json path costs nothing
    settings = settings_from_options(threshold, k, t_collar, percentage_of_length, resolution, metric, raw_scores,
                                     resamples, seed, ci)
    report = score_file(dataset, submission, split, task, settings, labels=labels)
    click.echo(render_report(report, max_classes=max_classes))
    if json_out is not None:
        write_report(report, json_out)
        click.echo(f"report written to {json_out}")


@click.command("compare")
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dataset", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the dataset both submissions were made for")
@_common
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the comparison as JSON (atomically)")
def compare_cmd(a, b, dataset, split, task, threshold, k, t_collar, percentage_of_length, resolution, metric,
                raw_scores, resamples, seed, ci, json_out):
    """Paired bootstrap test of submissions A and B on the same dataset split (A - B, interval, p-value)."""
    from wlbench.atomic import check_output_path
    from wlbench.scoring import compare_files, render_comparison, write_report

    if json_out is not None:
        check_output_path(json_out)
    settings = settings_from_options(threshold, k, t_collar, percentage_of_length, resolution, metric, raw_scores,
                         max(1, resamples), seed, ci)
    result = compare_files(dataset, a, b, split, task, settings)
    click.echo(render_comparison(result))
    if json_out is not None:
        write_report(result, json_out)
        click.echo(f"comparison written to {json_out}")


def register(group: click.Group) -> None:
    group.add_command(score_cmd)
    group.add_command(compare_cmd)
