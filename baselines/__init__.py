"""Reference baselines for wlbench: ordinary clients of the store and the evaluation harness.

Each method plugs into wlbench through the ``wlbench.methods`` entry point (see ``pyproject.toml``);
what all trainers share (data access, nets, seeding, fit loop, early stopping, checkpoints) lives in
:mod:`wlbench_baselines.common`.
"""
