"""Experiment grids: methods x axes x datasets x seeds, each cell beside its controls, with the headroom and
claims contrasts a grid declares. Modules, bottom to top::

    statistics   Student-t intervals, paired differences and p values, Holm correction
    findings     contrasts ([[headroom]], [[claims]]) and their verdicts (judge), findings tables
    grid         the grid file: schema, checks, Experiment / Cell / Run
    planning     cells, controls and arms as runs; the order they train in
    datasets     each grid dataset's file, rendered from its recipe when missing
    reuse        which stored runs a grid reuses: finished runs (checked), run records (adopted, written)
    execution    running tasks: local processes or a Dask cluster
    figures      heatmaps and mean learning curves
    tables       values per cell beside controls, verdicts, table.md / table.json
    runner       run_experiment: validate, reuse finished runs and records, train the rest, tabulate

Leaderboard submission of a grid's cells: :func:`wlbench.leaderboard.experiments.submit_experiment`.
"""

from wlbench.experiments.grid import Cell, Experiment, Run, load_experiment
from wlbench.experiments.planning import plan_arms, plan_cells
from wlbench.experiments.runner import run_experiment

__all__ = ["Cell", "Experiment", "Run", "load_experiment", "plan_arms", "plan_cells", "run_experiment"]
