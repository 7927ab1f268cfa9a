"""Planning: deterministic, balanced, disjoint source groups, the 200 ms dataset shares WAA's draws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import TINY_RECIPE

from wlbench.errors import WlbenchError
from wlbench.recipes import parse_recipe
from wlbench.soundbank import load_soundbank
from wlbench.synth.plan import plan_dataset, segment_window


@pytest.fixture(scope="module")
def bank(tone_bank):
    return load_soundbank(tone_bank)


def test_plan_is_deterministic_and_balanced(bank):
    recipe = parse_recipe(TINY_RECIPE.format(cut=0.0))
    first, second = plan_dataset(recipe, bank), plan_dataset(recipe, bank)
    assert first == second
    for split, specs in first.items():
        counts = np.unique([s.events[0].label for s in specs], return_counts=True)[1]
        assert counts.max() - counts.min() <= 1, split
        assert [s.clip_id for s in specs] == [f"{split}_{i:06d}" for i in range(len(specs))]


def test_train_and_validation_use_disjoint_source_groups(bank):
    recipe = parse_recipe(TINY_RECIPE.format(cut=0.0))
    plans = plan_dataset(recipe, bank)
    group_of = {f.relpath: f.group for f in bank.foreground}
    groups = {split: {group_of[s.events[0].source_file] for s in specs} for split, specs in plans.items()}
    assert not groups["train"] & groups["validation"]
    assert all(g.startswith("eval-") for g in groups["eval"])


def test_200ms_plan_keeps_the_waa_clips(bank):
    waa = plan_dataset(parse_recipe(TINY_RECIPE.format(cut=0.0)), bank)
    short = plan_dataset(parse_recipe(TINY_RECIPE.format(cut=0.2)), bank)
    duration = {f.relpath: f.duration for f in bank.foreground}
    for split in waa:
        for a, b in zip(waa[split], short[split]):
            ea, eb = a.events[0], b.events[0]
            assert (a.background_file, a.background_source_time, ea.source_file, ea.onset, ea.snr) == \
                   (b.background_file, b.background_source_time, eb.source_file, eb.onset, eb.snr)
            assert eb.duration == pytest.approx(min(0.2, duration[eb.source_file]))
            assert 0 <= eb.source_time and eb.source_time + eb.duration <= duration[eb.source_file]
            assert ea.source_time == 0.0 and ea.offset <= 10.0


def test_segment_windows_hold_the_event_or_lie_inside_it(bank):
    recipe = parse_recipe(TINY_RECIPE.format(cut=0.0))
    for specs in plan_dataset(recipe, bank).values():
        for spec in specs:
            event = spec.events[0]
            for start, length in zip(spec.segment_starts, recipe.segment_durations):
                assert 0 <= start and start + length <= recipe.clip_duration + 1e-9
                if event.duration >= length:
                    assert event.onset - 1e-9 <= start and start + length <= event.offset + 1e-9
                else:
                    assert start <= event.onset + 1e-9 and event.offset <= start + length + 1e-9


@pytest.mark.parametrize("onset, offset, length, u, expected", [
    (2.0, 2.5, 1.0, 0.0, 1.5), (2.0, 2.5, 1.0, 1.0, 2.0),     # short event: window covers it
    (2.0, 6.0, 1.0, 0.0, 2.0), (2.0, 6.0, 1.0, 1.0, 5.0),     # long event: window inside it
    (9.9, 10.0, 1.0, 1.0, 9.0), (0.0, 0.1, 1.0, 0.0, 0.0),   # clip edges
    (3.0, 4.0, 10.0, 0.5, 0.0),
])
def test_segment_window_edges(onset, offset, length, u, expected):
    assert segment_window(onset, offset, length, 10.0, u) == pytest.approx(expected)


def test_missing_class_and_missing_part_are_named(bank):
    recipe = parse_recipe(TINY_RECIPE.format(cut=0.0).replace('"Speech"]', '"Speech", "Blender"]'))
    with pytest.raises(WlbenchError, match="no foreground files for recipe class\\(es\\) Blender"):
        plan_dataset(recipe, bank)
    recipe = parse_recipe(TINY_RECIPE.format(cut=0.0).replace('part = "eval"', 'part = "validation"'))
    with pytest.raises(WlbenchError, match="in its 'validation' part"):
        plan_dataset(recipe, bank)


def test_too_many_splits_for_the_source_groups_is_refused(bank):
    recipe = parse_recipe(TINY_RECIPE.format(cut=0.0))
    splits = recipe.splits + tuple(dataclasses.replace(recipe.splits[1], name=f"extra{i}", share=0.05)
                                   for i in range(3))
    crowded = dataclasses.replace(recipe, splits=tuple(dataclasses.replace(s, share=0.2) if s.part == "train"
                                                       else s for s in splits))
    with pytest.raises(WlbenchError, match="gets no foreground file for class"):
        plan_dataset(crowded, bank)


def test_plan_command_says_its_cost_first(tone_bank, tiny_recipe_path):
    """`wlbench plan` estimates its own cost from the first clips of each split and says so on stderr before
    the rest is planned; the report (stdout) follows, and --json keeps stdout pure JSON."""
    import json

    from click.testing import CliRunner

    from wlbench.cli import main
    from wlbench.recipes import load_recipe
    from wlbench.synth.planning_cost import measure_planning, with_total_clips

    seen = []
    recipe = with_total_clips(load_recipe(tiny_recipe_path), 600)
    cost = measure_planning(recipe, load_soundbank(tone_bank), on_estimate=lambda s, n: seen.append((s, n)))
    assert len(seen) == 1 and seen[0][1] == cost.clips == 600 and seen[0][0] > 0
    res = CliRunner().invoke(main, ["plan", str(tiny_recipe_path), "--soundbank", str(tone_bank), "--clips", "300",
                                    "--quiet"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    first = next(i for i, line in enumerate(lines) if "about" in line and "in all" in line)
    report = next(i for i, line in enumerate(lines) if line.startswith("planned "))
    assert first < report and "300 clips" in lines[first]
    res = CliRunner().invoke(main, ["plan", str(tiny_recipe_path), "--soundbank", str(tone_bank), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["clips"] > 0 and "in all" in res.stderr
