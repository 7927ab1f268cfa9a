#!/usr/bin/env bash
# Run one experiment grid on a GPU machine and leave everything to copy back under one directory.
#
#   bash scripts/gpu-grid.sh GRID [JOBS] [OUT]
#   bash scripts/gpu-grid.sh baselines/experiments/turpault2020.toml 4 gpu-out/turpault2020
#
# GRID: a grid file (baselines/experiments/*.toml); JOBS: runs in parallel on the one GPU (default 4; the
# reference networks use a small part of a GPU, so several runs share it); OUT: the experiment directory
# (default gpu-out/<grid name>). Runs with .venv's Python after `bash scripts/setup.sh`, or else with the
# machine's own python3 (a GPU machine's torch, wlbench uninstalled: scripts/gpu-python.sh).
#
# The grid's methods train with their `device` option left at `auto`, which picks CUDA when present; this
# script refuses to start when torch sees no CUDA device (a silent CPU run would take days). Every run is
# deterministic per seed on one GPU model and software stack (wlbench/training/fit.py: seed_everything:
# torch.use_deterministic_algorithms(True), cuDNN deterministic without autotuning, and
# CUBLAS_WORKSPACE_CONFIG=:4096:8, exported for every worker by scripts/gpu-python.sh); GPU runs are not byte-identical to CPU
# runs of the same seed. Datasets the grid names by recipe are rendered on the machine when missing (CPU).
#
# At the end it checks that every run's summary says it trained on CUDA, writes OUT/gpu-info.txt (GPU,
# driver, torch, clips/s of every run) and packs OUT into OUT.tar.gz: copy that file back and unpack it
# beside the CPU runs; `wlbench experiment GRID --out OUT --table-only` rewrites the table there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: bash scripts/gpu-grid.sh GRID [JOBS] [OUT]  (GRID: a grid file, e.g. baselines/experiments/turpault2020.toml)" >&2
    exit 2
fi
GRID=$1
JOBS=${2:-4}
NAME=$(basename "$GRID" .toml)
OUT=${3:-gpu-out/$NAME}
source scripts/gpu-python.sh  # PY: .venv's Python after scripts/setup.sh, else the machine's python3

"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' || {
    echo "error: torch sees no CUDA device here (torch.cuda.is_available() is False); this script is for a GPU machine" >&2
    exit 2
}
mkdir -p "$OUT"

start=$(date +%s)
status=0
"$PY" -m wlbench.cli experiment "$GRID" --out "$OUT" --jobs "$JOBS" 2>&1 | tee "$OUT/gpu-grid.log" || status=$?
seconds=$(( $(date +%s) - start ))

"$PY" - "$OUT" "$seconds" <<'EOF' | tee "$OUT/gpu-info.txt" || status=$?
import json, subprocess, sys
from pathlib import Path

import torch

out, seconds = Path(sys.argv[1]), int(sys.argv[2])
print(f"gpu: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}")
try:
    print(subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True, check=False).stdout.strip())
except OSError:
    pass
print(f"grid wall time: {seconds} s")
not_cuda = []
for summary in sorted(out.glob("runs/**/summary.json")):
    s = json.loads(summary.read_text())
    train = s.get("train") or {}
    device = train.get("device", "-")
    if "device" in train and not str(device).startswith("cuda"):  # the prior trains no network
        not_cuda.append(str(summary.parent))
    rates = ", ".join(f"{st.get('stage')} {st.get('examples_per_second')}/s" for st in train.get("stages", []))
    print(f"{summary.parent.relative_to(out)}: {device}, train {s.get('seconds', {}).get('train')} s, {rates}")
if not_cuda:
    print(f"error: {len(not_cuda)} run(s) did not train on CUDA, first: {not_cuda[0]}")
    sys.exit(1)
EOF

tar -czf "$OUT.tar.gz" -C "$(dirname "$OUT")" "$(basename "$OUT")"
echo "packed $OUT into $OUT.tar.gz (copy it back and unpack it beside the CPU runs)"
exit "$status"
