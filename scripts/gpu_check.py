"""The CUDA path, checked on a GPU machine (issue 23): every method family trains there, deterministically per
seed, and how fast. Run by ``scripts/gpu-check.sh`` (which also runs a whole grid through
``scripts/gpu-grid.sh``); CI never has a GPU, so this script is the only test of that path.

    python3 scripts/gpu_check.py DATA OUT [--device cpu]

(``--device cpu`` rehearses the script on a machine without a GPU: the "CUDA" arms then run on the CPU.)

DATA holds the golden run's three tiny datasets (``gseg.h5``, ``ggap.h5``, ``gsemi.h5``: render them with
``python3 scripts/gpu_check.py --render DATA`` on a machine with scaper). Writes ``OUT/gpu-check.json`` and
prints a summary:

1. **Every method family on CUDA.** Each run of the golden record (tests/golden.py: the Turpault 2020
   classifier, triplet and prototypes, Dinkel's PSL, Fonseca's masking, Park's baseline and adversarial
   tri-training, Turpault 2019's triplet and CRNN) is trained through ``wlbench train`` with ``device = "cuda"``
   twice with the same seed, and once with ``device = "cpu"`` on the same machine. Checked: the summary names a
   CUDA device; the two CUDA runs' files (weights, predictions, reports; timings normalised as the golden
   record does) are byte-identical. Reported: the largest difference of a prediction between CUDA and CPU
   (they are not byte-identical: other kernels, other summation orders, torch's own dropout on CUDA).
2. **Throughput.** One epoch of each Turpault 2020 method at 200 ms, 1 s and 10 s training segments on random
   log-mels at the paper's sizes (batch 20, deterministic algorithms, as ``wlbench train`` runs), on CUDA and on
   one CPU thread of the same machine: examples/s of the first stage, best of 2 epochs after a warm-up.

Exit status 1 when a check fails (a run not on CUDA, or two CUDA runs of one seed that differ).
"""

from __future__ import annotations

import csv
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
try:
    import wlbench_baselines  # noqa: F401  (installed by scripts/setup.sh)
except ImportError:  # the GPU machine's own Python: the entry points and the baselines' name beside the source
    import tempfile

    sys.path.insert(0, str(ROOT / "scripts"))
    from gpu_env import write_env

    sys.path.insert(0, str(write_env(Path(tempfile.gettempdir()) / "wlbench-env")))

import golden  # noqa: E402  (tests/golden.py: the runs and their configs, frozen)

SEGMENTS = {"200ms": 20, "1s": 100, "10s": 1000}
EXAMPLES = {"cuda": {"200ms": 4000, "1s": 2000, "10s": 400}, "cpu": {"200ms": 400, "1s": 200, "10s": 40}}


def _predictions(run: Path) -> dict[str, list[list[str]]]:
    tables = {}
    for path in sorted((run / "predictions").glob("*.csv")):
        with path.open(newline="") as handle:
            tables[path.name] = list(csv.reader(handle))
    return tables


def _max_difference(a: dict[str, list[list[str]]], b: dict[str, list[list[str]]]) -> float:
    """Largest |difference| between numeric fields at the same place of the same prediction tables."""
    worst = 0.0
    for name, rows in a.items():
        for row_a, row_b in zip(rows, b[name], strict=True):
            for x, y in zip(row_a, row_b, strict=True):
                try:
                    worst = max(worst, abs(float(x) - float(y)))
                except ValueError:
                    if x != y:
                        raise ValueError(f"{name}: {x!r} against {y!r}") from None
    return worst


def check_methods(data: Path, out: Path, device: str) -> list[dict]:
    """Each golden run (the prior aside) twice on ``device`` and once on the CPU: device, determinism, drift."""
    rows = []
    for index, (_, method, *_rest) in enumerate(golden.RUNS):
        if method == "prior":
            continue
        t0 = time.perf_counter()
        try:
            runs = {arm: golden.train(index, data, out / arm, device="cpu" if arm == "cpu" else device)
                    for arm in ("cuda-a", "cuda-b", "cpu")}
        except Exception as exc:  # one family's failure must not hide the others' (one device call, all answers)
            print(f"run{index}-{method}: FAILED: {type(exc).__name__}: {exc}", flush=True)
            traceback.print_exc()
            rows.append({"run": f"run{index}-{method}", "device": None, "deterministic": False,
                         "error": f"{type(exc).__name__}: {exc}"})
            continue
        seconds = time.perf_counter() - t0
        train = json.loads((runs["cuda-a"] / "summary.json").read_text()).get("train", {})
        digests = {arm: {k.split("/", 1)[1]: v for k, v in golden.digests(out / arm).items()
                         if k.startswith(runs[arm].name + "/")} for arm in ("cuda-a", "cuda-b")}
        differing = sorted(k for k in digests["cuda-a"] if digests["cuda-a"][k] != digests["cuda-b"].get(k))
        row = {"run": runs["cuda-a"].name, "device": train.get("device"), "deterministic": not differing,
               "differing_files": differing,
               "max_prediction_difference_cuda_vs_cpu": _max_difference(_predictions(runs["cuda-a"]),
                                                                         _predictions(runs["cpu"])),
               "seconds_for_three_runs": round(seconds, 1)}
        print(f"{row['run']:<32} device {row['device']}, same seed twice on {device}: "
              f"{'identical' if not differing else 'DIFFERS in ' + ', '.join(differing)}; "
              f"{device} vs CPU predictions within {row['max_prediction_difference_cuda_vs_cpu']:.2e}", flush=True)
        rows.append(row)
    return rows


def throughput(device: str) -> list[dict]:
    """Examples/s of one epoch of each Turpault 2020 method per training segment, ``device`` against one CPU
    thread of this machine."""
    import numpy as np
    import torch

    from wlbench.methods import get_method
    from wlbench.training.method import Run

    sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
    from test_bench_training import _Ctx, _data  # the benchmark's random inputs and loop context

    rows = []
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in ("turpault-classifier", "turpault-triplet", "turpault-protonet"):
        method = get_method(name)
        base = {**method.config_schema().defaults(), "max_epochs": 1, "warmup": 0, "patience": 1,
                "classifier_max_epochs": 1, "n_support": 1, "n_query": 1}
        for segment, length in SEGMENTS.items():
            row = {"method": name, "segment": segment}
            for arm in ("cuda", "cpu"):
                n = EXAMPLES[arm if device.startswith("cuda") else "cpu"][segment]
                train, valid = _data(n, length, 0), _data(10, length, 1)
                rates = []
                for _ in range(3):  # a warm-up epoch, then 2 measured
                    torch.manual_seed(0)
                    mods = method.build(base, 64, 10)
                    for module in mods.values():
                        module.to(device if arm == "cuda" else "cpu")
                    run = Run(_Ctx(), base, torch.device(device if arm == "cuda" else "cpu"),
                              np.random.default_rng(0), 10)
                    rates.append(method.fit(mods, train, valid, run)[0]["examples_per_second"])
                row[f"{arm}_examples_per_second"] = round(max(rates[1:]), 1)
            row["ratio"] = round(row["cuda_examples_per_second"] / row["cpu_examples_per_second"], 1)
            print(f"{name:<20} {segment:>5}: CUDA {row['cuda_examples_per_second']:9.1f}, one CPU thread "
                  f"{row['cpu_examples_per_second']:8.1f} examples/s ({row['ratio']}x)", flush=True)
            rows.append(row)
    return rows


def environment() -> dict:
    """torch, CUDA, cuDNN, the GPU and the machine's cores."""
    import os

    import torch

    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "cpu_count": os.cpu_count(),
           "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}
    print(json.dumps(env), flush=True)
    return env


def main(argv: list[str]) -> int:
    if argv[:1] == ["--render"] and len(argv) == 2:  # needs scaper: not on the GPU machine
        from tone_bank import make_tone_bank

        golden.render(Path(argv[1]), make_tone_bank(Path(argv[1]) / "bank"))
        return 0
    device = "cuda"
    if len(argv) == 4 and argv[2] == "--device":
        device, argv = argv[3], argv[:2]
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        print("error: torch sees no CUDA device here; this check is for a GPU machine", file=sys.stderr)
        return 2
    data, out = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    missing = [f"{name}.h5" for name in ("gseg", "ggap", "gsemi") if not (data / f"{name}.h5").is_file()]
    if missing:
        print(f"error: {data} lacks {', '.join(missing)}; render them with python3 scripts/gpu_check.py --render "
              f"{data} where scaper is installed", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    result = {"environment": environment()}
    result["methods"] = check_methods(data, out / "runs", device)
    result["throughput"] = throughput(device)
    (out / "gpu-check.json").write_text(json.dumps(result, indent=1) + "\n")
    failed = [r["run"] for r in result["methods"] if not r["deterministic"] or not str(r["device"]).startswith(device)]
    if failed:
        print(f"error: {len(failed)} run(s) not on CUDA or not deterministic: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"every method family trained on {device}, byte-identical per seed; written to {out / 'gpu-check.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
