"""CLI: ``wlbench synth``, ``wlbench plan``, ``wlbench info``, ``wlbench verify``, ``wlbench rerender``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wlbench.commands.soundbank import resolve_soundbank, soundbank_option
from wlbench.errors import WlbenchError


def _workers(value: int | None) -> int:
    from wlbench.synth.executors import resolve_workers

    return resolve_workers(value)


@click.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@soundbank_option
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"),
              show_default=True, help="Directory that receives <name>.h5 (written atomically), or with --shards "
              "the folder <name>.shards/.")
@click.option("--workers", type=int, default=None, help="Rendering processes [default: all cores]; with --executor "
              "dask and no --scheduler, the processes of the local Dask cluster. The output is identical for any "
              "value.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where clips are rendered: local worker processes, or a Dask cluster (needs wlbench[dask]).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="With --executor dask: the scheduler of an existing cluster (tcp://host:8786) [default: a local "
              "cluster of --workers processes]. Every worker must read the soundbank, and write --out for a sharded "
              "render, at the same path as this machine (shared storage); this is checked before rendering.")
@click.option("--shards", type=int, default=None, metavar="N",
              help="Write the dataset as N shard files written by the workers themselves, plus a small index "
              "(<name>.shards/index.h5, the path every other command takes); same ids as one file.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Render a proportional small version: round(clips x F) clips per split (file <name>-scaleF.h5).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def synth(recipe: Path, soundbank: Path | None, out_dir: Path, workers: int | None, executor: str,
          scheduler: str | None, shards: int | None, scale: float, quiet: bool) -> None:
    """Render the dataset described by RECIPE (a TOML file, see datasets/) into one HDF5 file.

    Every random draw of clip i of split s is seeded by (recipe seed, s, i), so the file's truth and content
    ids are the same for any --workers, --executor and --shards. Examples:

    \b
      wlbench synth datasets/waa.toml --scale 0.1 --out out/
      wlbench synth datasets/waa.toml --executor dask --scheduler tcp://head:8786 --shards 64 --out /shared/out
    """
    from wlbench.recipes import load_recipe
    from wlbench.synth.executors import DaskExecutor, LocalExecutor, check_scheduler_address
    from wlbench.synth.pipeline import synthesize

    n_workers = _workers(workers)
    if scheduler is not None and executor != "dask":
        raise WlbenchError("--scheduler needs --executor dask")
    if scheduler is not None:
        scheduler = check_scheduler_address(scheduler)  # parsed and probed before any work
    if shards is not None and shards < 1:
        raise WlbenchError(f"--shards must be at least 1, got {shards}")
    parsed = load_recipe(recipe)
    if scale != 1.0:
        parsed = parsed.scaled(scale)
    bank = resolve_soundbank(soundbank)
    runner = DaskExecutor(scheduler=scheduler, workers=n_workers) if executor == "dask" else LocalExecutor(n_workers)
    result = synthesize(parsed, bank, out_dir, progress=not quiet, echo=lambda line: click.echo(line, err=True),
                        executor=runner, shards=shards)
    total = sum(result.clips.values())
    where = f" on {result.executor}" if result.executor else ""
    click.echo(f"wrote {result.path} ({', '.join(f'{k} {v}' for k, v in result.clips.items())}; {total} clips "
               f"in {result.seconds:.1f} s{where})")
    click.echo(f"spec id    {result.spec_id}\ntruth id   {result.truth_id} ("
               + ", ".join(f"{k} {v[:12]}" for k, v in result.split_truth_ids.items())
               + f")\ncontent id {result.content_id}")


@click.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@soundbank_option
@click.option("--clips", type=int, default=None, metavar="N",
              help="Plan the recipe resized to N clips in all (split shares kept), e.g. 2000000.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def plan(recipe: Path, soundbank: Path | None, clips: int | None, as_json: bool, quiet: bool) -> None:
    """Plan every clip of RECIPE without rendering anything, and report time and memory per clip.

    Planning is what the parent of a render does alone: the split-level draws (small arrays); each clip's
    spec is planned by the worker that renders it. Use --clips to see how the cost grows with size."""
    from wlbench.memory import check_memory
    from wlbench.recipes import load_recipe
    from wlbench.synth.planning_cost import estimate_split_bytes, measure_planning, with_total_clips

    if clips is not None and clips < 1:
        raise WlbenchError(f"--clips must be at least 1, got {clips}")
    parsed = load_recipe(recipe)
    if clips is not None:
        parsed = with_total_clips(parsed, clips)
    def say_estimate(seconds: float, n: int) -> None:
        # first, on stderr (stdout stays the report / the JSON): what this command is about to cost
        when = f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
        click.echo(f"planning {n:,} clips of {parsed.name}: about {when} in all (estimated from the first clips "
                   "of each split; Ctrl-C stops it)", err=True)

    bank = resolve_soundbank(soundbank)
    total = sum(split.clips for split in parsed.splits)
    check_memory(estimate_split_bytes(parsed, bank), f"planning {total:,} clips",
                 hint="plan fewer clips (--clips), or plan on a machine with more memory")
    cost = measure_planning(parsed, bank, progress=not quiet and not as_json, on_estimate=say_estimate)
    if as_json:
        click.echo(json.dumps(cost.to_dict(), indent=2))
        return
    per = cost.per_clip()
    click.echo(f"planned {cost.clips} clips of {parsed.name} "
               f"({', '.join(f'{s.name} {s.clips}' for s in parsed.splits)})")
    click.echo(f"  split-level draws (the parent): {cost.split_seconds:.2f} s ({per['split_us']:.2f} us/clip), "
               f"kept {cost.split_bytes / 1e6:.1f} MB ({per['split_bytes']:.1f} B/clip), "
               f"peak {cost.split_peak_bytes / 1e6:.1f} MB")
    click.echo(f"  clip specs (the workers, here one process): {cost.spec_seconds:.1f} s "
               f"({per['spec_us']:.0f} us/clip)")
    click.echo(f"  peak resident memory of this process: {cost.peak_rss_bytes / 1e6:.0f} MB")


def _fmt_stats(stats: dict) -> str:
    if not stats.get("n"):
        return "-"
    return f"{stats['min']:.2f} / {stats['median']:.2f} / {stats['max']:.2f}"


def _echo_conditions(split: dict, classes: list[str]) -> None:
    """The label conditions of a split: events per clip, polyphony, roles, domains, label and chunk views."""
    epc = split["events_per_clip"]
    poly = split["polyphony"]
    hist = ", ".join(f"{k}: {v}" for k, v in poly["clips_by_polyphony"].items())
    left = split.get("events_left_out_by_cap")
    click.echo(f"  events per clip min/median/max {_fmt_stats(epc)} (mean {epc.get('mean', 0):.2f}); polyphony "
               f"max {poly['max']} (clips by polyphony {hist or '-'})"
               + (f"; {left} event(s) left out by the polyphony cap" if left else ""))
    if split["roles"] is not None:
        click.echo(f"  roles: {', '.join(f'{k} {v}' for k, v in split['roles'].items())}")
    if split["domains"] is not None:
        cross = split.get("role_domains")
        detail = f" ({', '.join(f'{k} {v}' for k, v in cross.items())})" if cross else ""
        click.echo(f"  domains: {', '.join(f'{k} {v}' for k, v in split['domains'].items())}{detail}")
    if split["views"]:
        positives = next(iter(split["views"].values()))["positives"]
        click.echo(f"  label views (positives kept/dropped; the true labels have {positives} positives):")
        short = [c[:10] for c in classes]
        click.echo(f"    {'view':<16}{'kept':>6}{'dropped':>8}{'rate':>7}  " + " ".join(f"{c:>10}" for c in short))
        for name, view in split["views"].items():
            cells = " ".join(f"{view['per_class'][c]['kept']:>5}/{view['per_class'][c]['dropped']:<4}" for c in classes)
            click.echo(f"    {name:<16}{view['kept']:>6}{view['dropped']:>8}{view['drop_rate']:>7.3f}  {cells}")
    if split["resolution"]:
        res = ", ".join(f"{k} ({v['chunks_per_clip']} chunks, {v['positives']} positives, "
                        f"{v['positives_per_chunk']:.2f}/chunk)" for k, v in split["resolution"].items())
        min_overlap = next(iter(split["resolution"].values()))["min_overlap"]
        click.echo(f"  resolution views (min overlap {min_overlap:g} s): {res}")


@click.command()
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole summary as JSON.")
def info(dataset: Path, as_json: bool) -> None:
    """Summarise a dataset file: ids, splits, clips per class, event durations and SNRs, views."""
    from wlbench.dataset.inspect import dataset_summary

    summary = dataset_summary(dataset)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{summary['name']}  ({summary['path']})")
    click.echo(f"  truth id   {summary['truth_id']}\n  content id {summary['content_id']}\n"
               f"  spec id    {summary['spec_id']}")
    for name in summary["truth_ids_edited"]:
        click.echo(f"  warning: the labels of split {name!r} no longer match its stored truth id; run "
                   f"`wlbench verify {dataset}`")
    click.echo(f"  seed {summary['seed']}, scale {summary['scale']}, soundbank {summary['soundbank_fingerprint'][:16]}"
               f", versions {', '.join(f'{k} {v}' for k, v in summary['versions'].items())}")
    if summary["shards"]:
        click.echo(f"  shards: {len(summary['shards'])} files beside the index ({summary['shards'][0]}, ...)")
    rates = summary["rates"]
    feats = rates.get("features")
    click.echo(f"  audio {rates['audio_sample_rate']} Hz, clips of {rates['clip_duration']:g} s; "
               + (f"features: {feats.get('n_mels', '?')} mel bands, {feats['frame_rate']:g} frames/s (hop "
                  f"{feats.get('hop_length')} samples at {feats.get('sample_rate')} Hz, {feats['frames_per_clip']} "
                  f"frames a clip); frame labels at the same {rates['frame_label_rate']:g} frames/s"
                  if feats else "no features stored (so no frame labels)"))
    if summary["domain_specs"]:
        click.echo("  domains (what differs between the clips of each; the split sections say which clips):")
        for d in summary["domain_specs"]:
            bg = d["backgrounds"] if isinstance(d["backgrounds"], str) else ", ".join(d["backgrounds"])
            snr = ", ".join(f"{k} {v}" for k, v in d["snr"].items())
            eq = [f"low-pass {d['lowpass_hz']:g} Hz" if d["lowpass_hz"] else "",
                  f"high-pass {d['highpass_hz']:g} Hz" if d["highpass_hz"] else "",
                  f"gain {d['gain_db']:+g} dB" if d["gain_db"] else ""]
            click.echo(f"    {d['name']:<12} backgrounds: {bg}; SNR ({d['snr_from']}): {snr}; "
                       f"EQ: {', '.join(e for e in eq if e) or 'none'}")
    for line in summary["warnings"]:
        click.echo(f"  warning: {line}")
    for name, split in summary["splits"].items():
        click.echo(f"\n[{name}] {split['clips']} clips from part {split['part']!r}, {split['events']} events; "
                   f"event duration (s) min/median/max {_fmt_stats(split['event_duration'])}; "
                   f"SNR (dB) {_fmt_stats(split['snr'])}")
        click.echo(f"  truth id {summary['split_truth_ids'][name]}")
        click.echo(f"  {'class':<28}{'clips':>6}  {'duration min/med/max':>22}  {'SNR min/med/max':>22}")
        for cls, row in split["per_class"].items():
            click.echo(f"  {cls:<28}{row['clips']:>6}  {_fmt_stats(row['event_duration']):>22}  "
                       f"{_fmt_stats(row['snr']):>22}")
        segs = ", ".join(f"{k} ({v['positives']} positives)" for k, v in split["segments"].items())
        click.echo(f"  segment views: {segs or 'none'}")
        _echo_conditions(split, summary["classes"])
        click.echo(f"  stored: {', '.join(split['stored'])}")


@click.command()
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
def verify(dataset: Path) -> None:
    """Check a dataset file's schema and recompute its truth ids and content id. Exit 0 if sound, 2 otherwise.

    The truth ids cover the clip ids and every reference label (what scoring depends on); the content id
    covers everything stored, features and JAMS included (docs/format.md)."""
    from wlbench.dataset.inspect import verify_dataset

    result = verify_dataset(dataset)
    if result.ok:
        click.echo(f"ok: {dataset}\n  truth id   {result.truth_id} ("
                   + ", ".join(f"{k} {v[:12]}" for k, v in result.split_truth_ids.items())
                   + f")\n  content id {result.computed_content_id}")
        return
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    raise WlbenchError(f"{dataset} failed verification ({len(result.problems)} problem(s) listed above)")


@click.command()
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@soundbank_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the re-rendered file.")
@click.option("--workers", type=int, default=None, help="Rendering processes [default: all cores].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def rerender(dataset: Path, soundbank: Path | None, out_path: Path, workers: int | None, quiet: bool) -> None:
    """Re-render DATASET from its stored JAMS with scaper and prove the result identical (same content id).

    Exit 0 when identical, 2 when the content differs.
    """
    from wlbench.synth.pipeline import rerender as run

    n_workers = _workers(workers)
    result, stored = run(dataset, resolve_soundbank(soundbank), out_path, workers=n_workers, progress=not quiet)
    if result.content_id != stored:
        raise WlbenchError(f"re-render differs: stored content id {stored}, re-rendered {result.content_id}",
                           hint="same soundbank bytes and the same scaper/numpy versions are needed")
    click.echo(f"identical: {result.path} has content id {result.content_id} and truth id {result.truth_id} "
               f"({result.seconds:.1f} s)")


def register(group: click.Group) -> None:
    for command in (synth, plan, info, verify, rerender):
        group.add_command(command)
