"""``wlbench score``, ``wlbench compare``, ``wlbench export`` and ``wlbench import desed``: validate and score
submissions against a dataset split or DCASE files, paired tests, the ground truth as DCASE TSVs (with the
audio in DESED's layout), and DESED-layout data into a dataset."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wlbench.commands.soundbank import resolve_soundbank, soundbank_option
from wlbench.errors import WlbenchError
from wlbench.tasks import TASKS

TASK = click.Choice(list(TASKS))


def settings_from_options(*, threshold, k, t_collar, pct, resolution, metric, raw_scores, resamples, seed, ci,
                          convention: str = "wlbench", strict: bool = False):
    """The harness :class:`~wlbench.scoring.Settings` from the scoring CLI options (shared by ``score``,
    ``compare`` and ``leaderboard submit``); ``threshold`` is a number or a JSON file {class: threshold}."""
    from wlbench.scoring import Settings

    thr: float | dict[str, float]
    try:
        thr = float(threshold)
    except ValueError:
        from wlbench.paths import file_kind, read_text_input

        path = Path(threshold)
        if file_kind(path) == "missing":
            raise WlbenchError(f"--threshold {threshold!r} is neither a number nor a JSON file",
                               hint="give e.g. 0.5 or a JSON file {class: threshold}") from None
        text = read_text_input(path, "--threshold file", hint="a JSON file {class: threshold}", limit=10_000_000)
        try:
            obj = json.loads(text)
            if not isinstance(obj, dict):
                raise TypeError(f"got a JSON {type(obj).__name__}")
            # values are checked by Settings (finite numbers only, naming the class at fault)
            thr = {str(k_): v for k_, v in obj.items()}
        except (ValueError, AttributeError, TypeError, OSError) as exc:
            raise WlbenchError(f"{path}: expected a JSON object {{class: threshold}} ({exc})") from None
    return Settings(threshold=thr, k=k, t_collar=t_collar, percentage_of_length=pct, time_resolution=resolution,
                    embedding_metric=metric, probabilities=not raw_scores, n_resamples=resamples, seed=seed, ci=ci,
                    convention=convention, strict=strict)


def _scoring_options(f):
    """The options every scoring command shares: what is scored against, the task, every metric setting."""
    options = [
        click.option("--split", default="eval", show_default=True, help="dataset split to score against"),
        click.option("--truth", "truth", type=click.Path(path_type=Path), default=None,
                     help="score against a DCASE annotation instead of a dataset: strong "
                          "(filename onset offset event_label) or weak (filename event_labels) TSV, or a folder "
                          "written by `wlbench export` (strong.tsv, durations.tsv, classes.txt)"),
        click.option("--durations", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="with --truth: DCASE durations TSV (filename duration) listing every evaluated clip "
                          "(default in a --truth folder: its durations.tsv)"),
        click.option("--classes", default=None,
                     help="with --truth: the class list (comma-separated, or a file with one class a line); "
                          "default: the labels of the annotation"),
        click.option("--labels", "labels", default="true", show_default=True,
                     help="score against the true labels, or a stored missing-label view of the split (clip tasks)"),
        click.option("--task", type=TASK, default=None,
                     help="tagging (.csv), detection (.tsv), embedding (.npy/.npz/.h5), frame_scores (a directory "
                          "or archive of sed_scores_eval score tables); default from the path"),
        click.option("--threshold", default="0.5", show_default=True,
                     help="decision threshold (score >= threshold), or a JSON file {class: threshold}"),
        click.option("--k", "k", default=3, show_default=True, type=click.IntRange(min=1), help="k of mAP@k"),
        click.option("--t-collar", default=0.2, show_default=True, type=float, help="onset collar (s)"),
        click.option("--percentage-of-length", default=0.2, show_default=True, type=float,
                     help="offset collar = max(t-collar, this x reference length)"),
        click.option("--segment", "resolution", default=1.0, show_default=True, type=float,
                     help="segment length for segment-based metrics (s)"),
        click.option("--convention", type=click.Choice(["wlbench", "dcase"]), default="wlbench", show_default=True,
                     help="detection lists: 'dcase' reproduces DESED_task's sed_eval numbers (a class never output "
                          "is left out of the segment macro F1; collars compared as exact floats)"),
        click.option("--strict", is_flag=True,
                     help="refuse events, frames and reference events outside their clip, and zero-length "
                          "reference events (default: clip them to the clip and count it in the report, as the "
                          "DCASE tools accept them)"),
        click.option("--embedding-metric", "metric", type=click.Choice(["euclidean", "cosine"]),
                     default="euclidean", show_default=True),
        click.option("--raw-scores", is_flag=True, help="scores are not probabilities: allow values outside [0, 1]"),
        click.option("--bootstrap", "resamples", default=1000, show_default=True, type=click.IntRange(min=0),
                     help="bootstrap resamples over clips (score: 0 = no intervals; compare needs >= 1)"),
        click.option("--seed", default=0, show_default=True, type=int, help="bootstrap seed"),
        click.option("--ci", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True,
                                                                                    max_open=True)),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _classes(value: str | None) -> list[str] | None:
    if value is None:
        return None
    from wlbench.paths import file_kind, read_text_input

    path = Path(value)
    if file_kind(path) not in ("missing", "directory") and "," not in value:  # a file, or what must not be opened
        text = read_text_input(path, "--classes file", hint="one class name a line", limit=10_000_000)
        names = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        names = [v.strip() for v in value.split(",") if v.strip()]
    if not names or len(set(names)) != len(names):
        raise WlbenchError(f"--classes {value!r}: expected distinct class names", hint="e.g. --classes Dog,Cat,Speech")
    return names


def _truth_source(dataset: Path | None, truth: Path | None, durations: Path | None, classes: str | None,
                  what: str, strict: bool = False):
    """Check that exactly one of a dataset and --truth/--durations is given; returns a truth for files."""
    if truth is None and durations is None:
        if dataset is None:
            raise WlbenchError(f"{what}: give the dataset the submissions were made for, or --truth and --durations",
                               hint="see --help")
        if classes is not None:
            raise WlbenchError("--classes goes with --truth: a dataset carries its classes")
        return None
    if dataset is not None:
        raise WlbenchError("give a dataset or --truth/--durations, not both")
    if truth is not None and truth.is_dir():
        from wlbench.scoring import truth_from_folder

        return truth_from_folder(truth, _classes(classes), durations=durations, strict=strict)
    if truth is None or durations is None:
        raise WlbenchError("--truth needs --durations (and the other way round): the durations file lists every "
                           "evaluated clip, those without events too")
    from wlbench.scoring import truth_from_files

    return truth_from_files(truth, durations, _classes(classes), strict=strict)


def _progress(label: str, total: int):
    """A tqdm bar for the bootstrap on a terminal (returns (callback, close))."""
    from tqdm import tqdm

    if total <= 0:
        return None, lambda: None
    bar = tqdm(total=total, desc=label, unit="resample", leave=False, disable=None)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


@click.command("score")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="[DATASET] SUBMISSION")
@_scoring_options
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the full JSON report here (atomically)")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="frame scores: write the PSD-ROC figure here (.png, .pdf or .svg)")
@click.option("--max-classes", default=50, show_default=True, type=click.IntRange(min=1),
              help="classes shown in the table")
def score_cmd(paths, split, truth, durations, classes, labels, task, threshold, k, t_collar, percentage_of_length,
              resolution, convention, strict, metric, raw_scores, resamples, seed, ci, json_out, plot_out,
              max_classes):
    """Validate SUBMISSION and score it (exit 2 listing every problem if invalid).

    \b
    wlbench score DATASET.h5 SUBMISSION                 against a split of a wlbench dataset
    wlbench score --truth strong.tsv --durations durations.tsv SUBMISSION
                                                        against DCASE ground truth files
    wlbench score --truth EXPORT_FOLDER SUBMISSION      against a folder written by `wlbench export`

    SUBMISSION: clip scores (.csv), detections (.tsv), embeddings (.npy/.npz/.h5), or a directory (or .zip /
    .tar.gz) of sed_scores_eval score tables (one <clip id>.tsv per clip: onset, offset, one column per
    class) for PSDS1, PSDS2 and F1 at the best threshold.
    """
    from wlbench.atomic import check_output_path
    from wlbench.scoring import plot_psd_roc, render_report, score_file, score_submission, write_report

    if len(paths) > 2:
        raise WlbenchError(f"expected [DATASET] SUBMISSION, got {len(paths)} paths")
    dataset, submission = (paths[0], paths[1]) if len(paths) == 2 else (None, paths[0])
    settings = settings_from_options(threshold=threshold, k=k, t_collar=t_collar, pct=percentage_of_length, resolution=resolution, metric=metric, raw_scores=raw_scores,
                                     resamples=resamples, seed=seed, ci=ci, convention=convention, strict=strict)
    external = _truth_source(dataset, truth, durations, classes, "score", strict)
    if plot_out is not None:  # a figure that cannot be drawn is refused before the scoring, not after it
        from wlbench.scoring.render import check_plot_path, check_plot_request
        from wlbench.submissions import infer_task

        check_plot_path(plot_out)
        check_plot_request(task or infer_task(submission), plot_out)
    for out in (json_out, plot_out):
        if out is not None:  # before scoring: a bad output path costs nothing, an input is never overwritten
            check_output_path(out, inputs=(*paths, truth, durations))
    update, close = _progress("bootstrap", resamples)
    try:
        if external is None:
            report = score_file(dataset, submission, split=split, task=task, settings=settings, progress=update, labels=labels)
        else:
            if labels != "true":
                raise WlbenchError("--labels names a label view of a dataset; DCASE truth files have none")
            report = score_submission(external, submission, task, settings, update)
    finally:
        close()
    read_as = (report.get("submission") or {}).get("notes", {}).get("read_as")
    if read_as:
        click.echo(f"{submission}: {read_as}")
    click.echo(render_report(report, max_classes=max_classes))
    if json_out is not None:
        write_report(report, json_out)
        click.echo(f"report written to {json_out}")
    if plot_out is not None:
        plot_psd_roc(report, plot_out)
        click.echo(f"PSD-ROC written to {plot_out}")


@click.command("compare")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--dataset", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the dataset both submissions were made for (or give --truth and --durations)")
@_scoring_options
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the comparison as JSON (atomically)")
def compare_cmd(a, b, dataset, split, truth, durations, classes, labels, task, threshold, k, t_collar,
                percentage_of_length, resolution, convention, strict, metric, raw_scores, resamples, seed, ci,
                json_out):
    """Paired bootstrap test of submissions A and B on the same clips (A - B, interval, p-value)."""
    from wlbench.atomic import check_output_path
    from wlbench.scoring import compare_files, compare_submissions, render_comparison, write_report

    if json_out is not None:
        check_output_path(json_out, inputs=(a, b, dataset, truth, durations))
    settings = settings_from_options(threshold=threshold, k=k, t_collar=t_collar, pct=percentage_of_length, resolution=resolution, metric=metric, raw_scores=raw_scores,
                                     resamples=resamples, seed=seed, ci=ci, convention=convention, strict=strict)
    if resamples < 1:
        raise WlbenchError("--bootstrap 0: the paired test's interval and p-value come from bootstrap resamples",
                           hint="use --bootstrap 1000 (the default), or at least 200")
    external = _truth_source(dataset, truth, durations, classes, "compare", strict)
    update, close = _progress("paired bootstrap", resamples)
    try:
        if external is None:
            result = compare_files(dataset, a, b, split=split, task=task, settings=settings, labels=labels, progress=update)
        else:
            result = compare_submissions(external, a, b, task, settings, update)
    finally:
        close()
    click.echo(render_comparison(result))
    if json_out is not None:
        write_report(result, json_out)
        click.echo(f"comparison written to {json_out}")


@click.command("export")
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--split", required=True, help="the split to export (e.g. eval)")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="output directory (created if needed)")
@click.option("--force", is_flag=True, help="replace export files already in --out")
@click.option("--audio", is_flag=True,
              help="write the split in DESED's layout under --out: audio/<split>/*.wav (the stored audio, or "
                   "re-rendered from the stored JAMS) and metadata/<split>/*.tsv, for DESED_task or any DCASE "
                   "recipe")
@soundbank_option
def export_cmd(dataset, split, out, force, audio, soundbank):
    """Write a split's ground truth as DCASE TSVs (strong, weak, durations, classes) and a README of the
    conventions, for sed_eval, sed_scores_eval, psds_eval or DESED tools; with --audio, the split with its
    audio in DESED's folder layout."""
    if audio:
        from wlbench.desed import export_desed, stores_audio

        bank = None if stores_audio(dataset, split) else resolve_soundbank(soundbank)
        written = export_desed(dataset, split, out, bank=bank, force=force)
    else:
        if soundbank is not None:
            raise WlbenchError("--soundbank goes with --audio (it re-renders audio the dataset does not store)")
        from wlbench.export import export_split

        written = export_split(dataset, split, out, force=force)
    for path in written:
        click.echo(f"wrote {path}")


@click.group("import")
def import_group():
    """Read data of other layouts into a wlbench dataset."""


@import_group.command("desed")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the wlbench dataset to write (.h5)")
@click.option("--name", default=None, help="dataset name (default: the folder's name)")
@click.option("--pad", is_flag=True, help="zero-pad clips shorter than the longest (a dataset holds clips of one "
                                          "duration; the number padded is recorded in the file)")
def import_desed_cmd(root, out, name, pad):
    """Read a DESED-layout folder (audio/<split>/*.wav, metadata/<split>/*.tsv, classes.txt) into a wlbench
    dataset: log-mel features from the audio, events, clip labels and segment views from the TSVs."""
    from wlbench.atomic import check_output_path
    from wlbench.desed import import_desed

    check_output_path(out)
    writer = import_desed(root, out, name=name, pad=pad)
    click.echo(f"wrote {out}: truth id {writer.truth_id}, content id {writer.content_id}")


def register(group: click.Group) -> None:
    group.add_command(score_cmd)
    group.add_command(compare_cmd)
    group.add_command(export_cmd)
    group.add_command(import_group)
