"""CLI command modules, one per capability; each exposes ``register(group)``."""

from __future__ import annotations

import importlib

import click

# Each module adds its commands to the top-level group in ``register(main)``.
COMMAND_MODULES = [
    "wlbench.commands.soundbank",
    "wlbench.commands.datasets",
    "wlbench.commands.scoring",
    "wlbench.commands.training",
    "wlbench.commands.leaderboard",
    "wlbench.commands.demo",
]


def register_all(group: click.Group) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(group)
