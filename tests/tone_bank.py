"""Tiny real soundbanks written to disk for tests: one tone (or noise) family per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def tone(freq: float, duration: float, sr: int = SR, level: float = 0.3) -> np.ndarray:
    """A Hann-windowed sine of ``duration`` seconds."""
    t = np.arange(int(round(duration * sr))) / sr
    return level * np.sin(2 * np.pi * freq * t) * np.hanning(t.size)


def make_tone_bank(root: Path, classes: tuple[str, ...] = ("Dog", "Cat", "Speech"),
                   durations: tuple[float, ...] = (0.5, 1.5, 3.0, 6.0), parts: tuple[str, ...] = ("train", "eval"),
                   groups_per_class: int = 4, background_seconds: float = 12.0, seed: int = 0) -> Path:
    """Write a ``parts``-layout bank: per part and class ``groups_per_class`` sources of one file per duration,
    and two noise backgrounds per part; a ``sources.csv`` groups each source's files."""
    rng = np.random.default_rng(seed)
    rows = ["path,group"]
    for p, part in enumerate(parts):
        for c, label in enumerate(classes):
            folder = root / part / "foreground" / label
            folder.mkdir(parents=True, exist_ok=True)
            for g in range(groups_per_class):
                for d, duration in enumerate(durations):
                    name = f"{label.lower()}_{g}_{d}.wav"
                    sf.write(folder / name, tone(200.0 * (c + 1) + 20 * g + 5 * p, duration), SR, subtype="PCM_16")
                    rows.append(f"{part}/foreground/{label}/{name},{part}-{label}-{g}")
        for b in range(2):
            folder = root / part / "background" / f"noise{b}"
            folder.mkdir(parents=True, exist_ok=True)
            noise = 0.05 * rng.standard_normal(int(background_seconds * SR))
            sf.write(folder / f"bg{b}.wav", noise, SR, subtype="PCM_16")
    (root / "sources.csv").write_text("\n".join(rows) + "\n")
    return root


def render_recipe_text(text: str, bank: Path, out: Path, name: str) -> Path:
    """Write recipe ``text`` to ``out/<name>.toml``, render it from ``bank`` with one worker; the HDF5 path."""
    from wlbench.recipes import load_recipe
    from wlbench.soundbank import load_soundbank
    from wlbench.synth.pipeline import synthesize

    recipe = out / f"{name}.toml"
    recipe.write_text(text)
    return synthesize(load_recipe(recipe), load_soundbank(bank), out, workers=1, progress=False).path
