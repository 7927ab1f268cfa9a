#!/usr/bin/env bash
# The device check of the CUDA path (issue 23), one prepared script for a lent GPU machine:
#
#   bash scripts/gpu-check.sh DATA OUT
#
# DATA: the golden run's three tiny datasets (render them where scaper is installed:
# `python3 scripts/gpu_check.py --render DATA`; a GPU machine without scaper gets them copied). OUT: where the
# results go. Two steps:
#   1. scripts/gpu_check.py: every method family trains on CUDA, byte-identical per seed, beside a CPU run;
#      examples/s of the Turpault 2020 methods on CUDA and on one CPU thread (OUT/gpu-check.json, .log);
#   2. scripts/gpu-grid.sh on a small grid over DATA (the Turpault 2020 methods, two seeds, two training
#      segments, the prior and untrained controls): the whole grid path, packed into OUT/grid.tar.gz.
# Uses .venv's Python after `bash scripts/setup.sh`, else the machine's python3 (scripts/gpu-python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
    echo "usage: bash scripts/gpu-check.sh DATA OUT  (DATA: python3 scripts/gpu_check.py --render DATA)" >&2
    exit 2
fi
DATA=$(realpath "$1")
OUT=$(realpath -m "$2")
source scripts/gpu-python.sh
mkdir -p "$OUT"
status=0
"$PY" scripts/gpu_check.py "$DATA" "$OUT" 2>&1 | tee "$OUT/gpu-check.log" || status=$?

cat > "$OUT/grid.toml" <<GRID
# the device check's small grid (scripts/gpu-check.sh): the golden dataset gseg, tiny networks
[experiment]
name = "gpu-check"
methods = ["turpault-classifier", "turpault-triplet", "turpault-protonet"]
seeds = [0, 1]
split = "eval"
metrics = ["f1_macro", "map"]
test_segments = ["200ms", "1s"]
controls = ["prior", "untrained"]
bootstrap = 0

[axes]
train_segment = ["200ms", "1s"]

[config]
threads = 1
filters = [4, 8]
pools = [[2, 4], [1, 4]]
embedding_dim = 16
hidden = [8]
batch_size = 6
max_epochs = 3
patience = 2
warmup = 0
classifier_max_epochs = 3
classifier_patience = 2
classifier_warmup = 0

[method_config.turpault-protonet]
n_support = 2
n_query = 2

[[datasets]]
name = "gseg"
title = "golden tiny tones"
path = "$DATA/gseg.h5"
GRID
bash scripts/gpu-grid.sh "$OUT/grid.toml" 4 "$OUT/grid" || status=$?
exit "$status"
