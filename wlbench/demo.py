"""The main job, end to end, on the embedded default soundbank: render a small WAA dataset, train a
baseline, score it with the harness, add it to a leaderboard beside the repository's reference entries,
and render the board.

Every step is an ordinary client of the library; re-running reuses what is already there (a dataset whose
spec id matches is not rendered again).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError

# The quick baseline of the demo and the README tour: a reference method by name (the registry finds it).
QUICK_METHOD = "turpault-classifier"
QUICK_CONFIG: dict[str, Any] = {"train_segment": "1s", "max_epochs": 30, "warmup": 30, "patience": 30,
                                "lr": 3e-3, "threads": 1}


def quick_baseline(dataset: str | Path, run_dir: str | Path, method: str = QUICK_METHOD,
                   echo: Callable[[str], None] | None = None, force: bool = False, **overrides: Any) -> dict[str, Any]:
    """Train a small reference baseline in under a minute on one CPU core for a scale-0.2 WAA render (the
    end-to-end classifier of Turpault et al. on 1 s segments, 30 epochs) and write its submissions and
    reports under ``run_dir``; same as ``wlbench train turpault-classifier --dataset D --set
    train_segment=1s --set max_epochs=30 --set warmup=30 --set lr=3e-3 --set threads=1 --out RUN``. Returns
    the run summary (``summary["map"][split][segment]``). Trained on 1 s windows, it scores well on 1 s /
    200 ms segments and less well on whole 10 s clips (the paper's point)."""
    from wlbench.methods.runs import train_run

    return train_run(method, dataset, run_dir, overrides={**QUICK_CONFIG, **overrides}, bootstrap=200,
                     echo=echo, force=force)

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO_BOARD = REPO_ROOT / "leaderboard"
RECIPE = REPO_ROOT / "datasets" / "waa.toml"


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """What the demo renders and trains (defaults: about two minutes on 2 cores)."""

    out: Path = Path("out/demo")
    scale: float = 0.2  # the scale of the repository's reference entries, so the demo run joins their table
    overrides: tuple[str, ...] = ()  # on top of QUICK_CONFIG
    workers: int | None = None


def validate(settings: DemoSettings) -> dict[str, Any]:
    """Every check the demo's steps would make, before the first of them runs: the worker count, the scale,
    the output folder, the board copy's folder, and the training config (``--set`` keys and values,
    through :func:`wlbench.methods.resolve_config`). Returns the training config; raises
    :class:`WlbenchError` naming the first bad setting."""
    from wlbench.atomic import check_output_path
    from wlbench.methods import get_method, parse_override, resolve_config
    from wlbench.recipes import load_recipe
    from wlbench.synth.executors import resolve_workers

    resolve_workers(settings.workers)
    load_recipe(RECIPE).scaled(settings.scale)
    check_output_path(settings.out, directory=True)
    _check_board_folder(settings)
    method = get_method(QUICK_METHOD)
    resolve_config(method, overrides=list(settings.overrides))  # names a bad --set as "--set"
    return resolve_config(method, overrides={**QUICK_CONFIG, **dict(parse_override(item)
                                                                     for item in settings.overrides)})


def _dataset(settings: DemoSettings, echo: Callable[[str], None]) -> Path:
    from wlbench.dataset.ids import spec_id
    from wlbench.dataset.reader import open_dataset
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.executors import resolve_workers
    from wlbench.synth.pipeline import dataset_filename, synthesize

    bank = load_soundbank(None)  # the embedded default soundbank
    echo(f"[1/5] default soundbank: {len(bank.foreground)} events, {len(bank.background)} backgrounds, "
         f"classes {', '.join(bank.classes)}\n      {bank.root} (fingerprint {bank.fingerprint[:16]})")
    recipe = load_recipe(RECIPE).scaled(settings.scale)
    path = settings.out / dataset_filename(recipe)
    wanted = spec_id(recipe.canonical(), bank.fingerprint)
    if path.is_file():
        with open_dataset(path) as ds:
            if ds.spec_id == wanted:
                echo(f"[2/5] dataset {path} is already rendered (spec id {wanted[:16]}); reusing it")
                return path
    result = synthesize(recipe, bank, settings.out, workers=resolve_workers(settings.workers), progress=True)
    echo(f"[2/5] rendered {result.path}: {', '.join(f'{k} {v}' for k, v in result.clips.items())} clips in "
         f"{result.seconds:.1f} s (eval truth id {result.split_truth_ids.get('eval', '')[:16]})")
    return result.path


DEMO_MARKER = ".wlbench-demo-copy"


def _check_board_folder(settings: DemoSettings) -> Path:
    """The folder of the demo's board copy, if the demo may (re)place it: not the repository's board, and
    not a folder the demo did not make (one holding :data:`DEMO_MARKER`)."""
    board = settings.out / "leaderboard"
    if board.resolve() == REPO_BOARD.resolve():
        raise WlbenchError(f"--out {settings.out}: the demo's board copy would replace the repository's own "
                           f"leaderboard {REPO_BOARD}", hint="choose another --out, e.g. out/demo")
    if board.exists() and not (board / DEMO_MARKER).is_file():
        raise WlbenchError(f"{board} exists and was not made by `wlbench demo`; the demo will not replace it",
                           hint="choose another --out, e.g. out/demo")
    return board


def _board(settings: DemoSettings) -> Path:
    """A fresh copy of the repository's board, so the demo run lands beside the reference entries without
    touching the repository. Only a folder the demo made itself (it holds :data:`DEMO_MARKER`) is replaced."""
    board = _check_board_folder(settings)
    if board.exists():
        shutil.rmtree(board)
    if REPO_BOARD.is_dir():
        shutil.copytree(REPO_BOARD, board, ignore=shutil.ignore_patterns(".lock", ".*.partial", ".*.old"))
    board.mkdir(parents=True, exist_ok=True)
    (board / DEMO_MARKER).write_text("made by `wlbench demo`; replaced on every run\n", encoding="utf-8")
    return board


def run_demo(settings: DemoSettings = DemoSettings(), echo: Callable[[str], None] = print) -> Path:
    """Run every step; returns the rendered leaderboard page."""
    import json

    from wlbench.dataset.inspect import verify_dataset
    from wlbench.leaderboard import render_board, submit_run
    from wlbench.methods import parse_override
    from wlbench.scoring import render_report

    started = time.perf_counter()
    validate(settings)
    dataset = _dataset(settings, echo)
    check = verify_dataset(dataset)
    if not check.ok:
        raise WlbenchError(f"{dataset} failed verification: {'; '.join(check.problems)}")
    run_dir = settings.out / "runs" / QUICK_METHOD
    config = {**QUICK_CONFIG, **dict(parse_override(item) for item in settings.overrides)}
    echo(f"[3/5] training {QUICK_METHOD} ({', '.join(f'{k}={v}' for k, v in config.items())}) -> {run_dir}")
    quick_baseline(dataset, run_dir, force=True, **dict(parse_override(item) for item in settings.overrides))
    report = json.loads((run_dir / "reports" / "eval.json").read_text(encoding="utf-8"))
    echo("[4/5] eval split scored by the harness:\n" + render_report(report, max_classes=10))
    board = _board(settings)
    try:
        entry = submit_run(board, dataset, f"{QUICK_METHOD} (demo)", [run_dir / "predictions" / "eval.csv"],
                           method_version="demo", description="quick baseline trained by `wlbench demo`",
                           config=config, seeds=[0])
        echo(f"[5/5] leaderboard entry {entry.name} added to {board}")
    except WlbenchError as exc:
        echo(f"[5/5] leaderboard: the demo run was not added ({exc})")
    _, html = render_board(board)
    echo(f"\ndone in {time.perf_counter() - started:.0f} s. Open the leaderboard: file://{html.resolve()}")
    return html
