"""The golden reference run: tiny renders, one short training run of every registered method family, its
predictions and score reports, all through the public CLI. ``digests(out)`` returns a digest per produced
file (run folders with paths and timings normalised away), so a refactor can prove it changed no byte.

The recipes and configs repeat those of the method tests on purpose: the golden run is frozen, so that a test
edited elsewhere never changes what the record proves.

Recorded in tests/data/golden.json together with the CPU capability torch dispatched to (kernels of another
instruction set may round differently, so byte equality is only claimed on the same capability).

    python tests/golden.py --record   # rewrite tests/data/golden.json (only when a change is meant to
                                      # alter numbers: bump wlbench.NUMERICS_VERSION with it and say so
                                      # in the commit)
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
RECORD = HERE / "data" / "golden.json"

SEG = """
[dataset]
name = "gseg"
seed = 11

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
onset = { dist = "uniform", min = 0.0, max = 9.8 }

[splits.train]
clips = 12

[splits.validation]
clips = 6
part = "train"

[splits.eval]
clips = 6
part = "eval"

[views.missing]
rate = 0.4
splits = ["train", "validation"]

[segments]
durations = [0.2, 1.0]
"""

GAP = """
[dataset]
name = "ggap"
seed = 5

[audio]
clip_duration = 4.0

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
events_per_clip = { dist = "choose", values = [1, 2] }
onset = { dist = "uniform", min = 0.0, max = 3.0 }

[domains.synthetic]
backgrounds = ["noise0"]

[domains.real]
backgrounds = ["noise1"]
lowpass_hz = 1000.0
gain_db = -12.0

[splits.train]
clips = 24
roles = { strong = 10, weak = 4, unlabeled = 10 }
domain = { strong = "synthetic", weak = "real", unlabeled = "real" }

[splits.validation]
clips = 6
part = "train"
domain = "real"

[splits.eval]
clips = 8
part = "eval"
domain = "real"

[segments]
durations = [1.0]

[features]
hop_length = 640
"""

SEMI = """
[dataset]
name = "gsemi"
seed = 11

[classes]
names = ["Dog", "Cat", "Speech"]

[foreground]
events_per_clip = { dist = "choose", values = [1, 2] }
onset = { dist = "uniform", min = 0.0, max = 9.0 }

[splits.train]
clips = 20
roles = { weak = 0.2, unlabeled = 0.8 }

[splits.validation]
clips = 4
part = "train"

[splits.eval]
clips = 3
part = "eval"

[segments]
durations = []

[features]
hop_length = 320
"""

TURPAULT = {"filters": [4, 8], "pools": [[2, 4], [1, 4]], "embedding_dim": 16, "hidden": [8], "dropout": 0.0,
            "batch_size": 6, "max_epochs": 2, "patience": 2, "warmup": 0, "threads": 1, "train_segment": "200ms"}
TURPAULT_G = {"classifier_max_epochs": 2, "classifier_patience": 2, "classifier_warmup": 0}
TS = {"filters": [4, 8], "pools": [[4, 4], [2, 4]], "head_dropout": 0.0, "threads": 1, "labels": "missing",
      "teacher_max_epochs": 2, "teacher_patience": 2, "max_epochs": 2, "patience": 2, "warmup": 0,
      "teacher_batch_size": 8, "batch_size": 8}
PARK = {"filters": [4, 8], "pools": [[2, 4], [1, 4]], "rnn_hidden": 4, "max_epochs": 1, "batch_roles": [4, 2, 4],
        "threads": 1, "lr": 3e-3}
T2019 = {"threads": 1, "filters": [4, 4, 4], "rnn_hidden": 4, "max_epochs": 2, "patience": 2, "warmup": 0,
         "batch_size": 16}

# (dataset, method, config, seed, extra train options)
RUNS = [
    ("gseg", "prior", {}, 0, []),
    ("gseg", "turpault-classifier", TURPAULT, 0, ["--bootstrap", "20"]),
    ("gseg", "turpault-classifier", {**TURPAULT, "labels": "missing", "train_clips": 6}, 1, []),
    ("gseg", "turpault-triplet", {**TURPAULT, **TURPAULT_G}, 0, []),
    ("gseg", "turpault-protonet", {**TURPAULT, **TURPAULT_G, "n_support": 2, "n_query": 2}, 0, []),
    ("gseg", "dinkel-psl", {**TS, "chunk": 5.0, "top_k": 2}, 0, []),
    ("gseg", "fonseca-masking", {**TS, "discard_percent": 25.0}, 0, []),
    ("ggap", "park-baseline", PARK, 0, []),
    ("ggap", "park-adv-time-tri", {**PARK, "domain_hidden": [8]}, 0, []),
    ("gsemi", "turpault2019-triplet", {**T2019, **TURPAULT_G, "validation_triplets": 50}, 1, []),
    ("gsemi", "turpault2019-crnn", {**T2019, "max_epochs": 2, "lr": 1e-2}, 0, []),
]


def _toml_value(value) -> str:
    return json.dumps(value)


def _invoke(args: list[str]) -> None:
    from click.testing import CliRunner

    from wlbench.cli import main

    result = CliRunner().invoke(main, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"wlbench {' '.join(args)} exited {result.exit_code}:\n{result.output}")


def render(out: Path, bank: Path) -> None:
    """Render the three tiny datasets (``gseg.h5``, ``ggap.h5``, ``gsemi.h5``) from ``bank`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("gseg", SEG), ("ggap", GAP), ("gsemi", SEMI)):
        recipe = out / f"{name}.toml"
        recipe.write_text(text)
        _invoke(["synth", str(recipe), "--soundbank", str(bank), "--out", str(out), "--workers", "1", "--quiet"])


def train(index: int, data: Path, out: Path, **overrides) -> Path:
    """Train run ``index`` of RUNS on the datasets in ``data`` into ``out/run<index>-<method>`` (its config with
    ``overrides`` on top, e.g. ``device``); returns the run folder."""
    dataset, method, config, seed, extra = RUNS[index]
    config = {**config, **overrides}
    out.mkdir(parents=True, exist_ok=True)
    run = out / f"run{index}-{method}"
    args = ["train", method, "--dataset", str(data / f"{dataset}.h5"), "--out", str(run), "--seed", str(seed),
            "--quiet"]
    if config:
        cfg = out / f"run{index}.toml"
        cfg.write_text("".join(f"{k} = {_toml_value(v)}\n" for k, v in config.items()))
        args += ["--config", str(cfg)]
    _invoke(args + (extra if extra else ["--bootstrap", "0"]))
    return run


def build(out: Path, bank: Path) -> None:
    """Render the three tiny datasets from ``bank`` and train every run of RUNS under ``out``."""
    render(out, bank)
    for i in range(len(RUNS)):
        train(i, out, out)


def _normalise(data: bytes, out: Path) -> bytes:
    data = data.replace(str(out).encode(), b"OUT")
    return re.sub(rb'"(seconds|wall_seconds|elapsed|started|finished|created|time)": ("[^"]*"|[0-9.e+-]+)',
                  rb'"\1": 0', data)


def digests(out: Path) -> dict[str, str]:
    """sha256 of every dataset's ids and of every file in each run folder, paths and timings normalised."""
    import h5py

    found: dict[str, str] = {}
    for h5 in sorted(out.glob("*.h5")):
        with h5py.File(h5, "r") as handle:
            found[h5.name] = json.dumps({k: str(handle.attrs[k]) for k in ("spec_id", "truth_id", "content_id")
                                         if k in handle.attrs})
    for run in sorted(p for p in out.iterdir() if p.is_dir()):
        for path in sorted(run.rglob("*")):
            if not path.is_file() or path.suffix == ".png" or path.name == "summary.json":
                continue
            data = path.read_bytes()
            if path.suffix in (".json", ".jsonl", ".md", ".txt", ".tsv", ".csv"):
                data = _normalise(data, out)
            found[str(path.relative_to(out))] = hashlib.sha256(data).hexdigest()
    return found


def capability() -> str:
    """What decides the kernels torch's CPU convolutions run: the instruction set torch dispatches to, and the
    CPU model and cache size oneDNN tunes its blocking to (another blocking sums in another order)."""
    import torch

    cpu = {}
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "cache size") and key.strip() not in cpu:
                cpu[key.strip()] = value.strip()
    except OSError:
        pass
    return " | ".join([torch.backends.cpu.get_cpu_capability(), cpu.get("model name", "?"), cpu.get("cache size", "?")])


def main(argv: list[str]) -> int:
    import tempfile

    sys.path.insert(0, str(HERE))
    from tone_bank import make_tone_bank

    with tempfile.TemporaryDirectory() as tmp:
        bank = make_tone_bank(Path(tmp) / "bank")
        build(Path(tmp) / "out", bank)
        found = digests(Path(tmp) / "out")
    if "--record" in argv:
        RECORD.parent.mkdir(exist_ok=True)
        RECORD.write_text(json.dumps({"capability": capability(), "digests": found}, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(found)} digests in {RECORD}")
    else:
        print(json.dumps(found, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
